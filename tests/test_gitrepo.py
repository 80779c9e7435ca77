from __future__ import annotations

from pathlib import Path

import pytest

from structr_appsync.config import AppsyncConfig, LoadedConfig
from structr_appsync.errors import GitError, RefNotFound
from structr_appsync.gitrepo import GitRepo
from structr_appsync.workspace import Workspace
from tests.gitutil import git, make_repo, repo_state


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    root = make_repo(tmp_path / "repo")
    (root / "README").write_text("hello\n")
    (root / "webapp").mkdir()
    (root / "webapp" / "a.html").write_text("a\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    return GitRepo.open(root / "webapp")


def test_open_finds_root_and_refuses_outside(tmp_path: Path, repo: GitRepo) -> None:
    assert repo.root == (tmp_path / "repo").resolve()
    outside = tmp_path / "plain"
    outside.mkdir()
    with pytest.raises(GitError, match="not inside a git repository"):
        GitRepo.open(outside)


def test_hash_directory_matches_git_and_touches_nothing(tmp_path: Path, repo: GitRepo) -> None:
    before = repo_state(repo.root)
    source = tmp_path / "src"
    (source / "pages").mkdir(parents=True)
    (source / "pages" / "x.html").write_text("x\n")
    tree = repo.hash_directory(source)
    assert git(repo.root, "ls-tree", "-r", "--name-only", tree).split() == ["pages/x.html"]
    assert repo_state(repo.root) == before


def test_scratch_objects_env_writes_no_objects_into_the_repo(tmp_path: Path, repo: GitRepo) -> None:
    count = git(repo.root, "count-objects").split()[0]
    source = tmp_path / "src"
    source.mkdir()
    (source / "new.txt").write_text("brand new content\n")
    env = repo.scratch_objects_env(tmp_path / "scratch")
    tree = repo.hash_directory(source, env=env)
    assert repo.diff_trees(None, tree, env=env) == [("A", "new.txt")]
    assert git(repo.root, "count-objects").split()[0] == count


def test_tree_with_subtree_nested_prefix(tmp_path: Path, repo: GitRepo) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "f").write_text("f\n")
    subtree = repo.hash_directory(source)
    head_tree = repo.tree_id("HEAD")
    root = repo.tree_with_subtree(head_tree, "apps/structr", subtree)
    listing = git(repo.root, "ls-tree", "-r", "--name-only", root).split()
    assert listing == ["README", "apps/structr/f", "webapp/a.html"]
    removed = repo.tree_with_subtree(head_tree, "webapp", None)
    assert git(repo.root, "ls-tree", "-r", "--name-only", removed).split() == ["README"]


def test_commit_paths_commits_only_those_paths(repo: GitRepo) -> None:
    root = repo.root
    (root / "README").write_text("user edit, staged\n")
    git(root, "add", "README")
    (root / "notes.txt").write_text("untracked user file\n")
    (root / "webapp" / "a.html").write_text("changed\n")
    (root / "webapp" / "b.html").write_text("new\n")
    sha = repo.commit_paths(["webapp"], "export")
    assert sha is not None
    assert git(root, "show", "--name-status", "--format=", sha).split() == ["M", "webapp/a.html", "A", "webapp/b.html"]
    # the user's staged README is still staged, not committed; the untracked file is untouched
    assert git(root, "diff", "--cached", "--name-only").split() == ["README"]
    assert "?? notes.txt" in git(root, "status", "--porcelain")
    assert repo.commit_paths(["webapp"], "again") is None


def test_snapshot_commit_and_refs(tmp_path: Path, repo: GitRepo) -> None:
    before = repo_state(repo.root)
    source = tmp_path / "src"
    source.mkdir()
    (source / "deployment.conf").write_text("x\n")
    sha = repo.snapshot_commit(source, "webapp", "snapshot")
    repo.update_ref("refs/appsync/dev/last-export", sha)
    assert repo.read_ref("refs/appsync/dev/last-export") == sha
    assert repo.list_refs("refs/appsync/") == ["refs/appsync/dev/last-export"]
    assert repo.ref_has_path(sha, "webapp") and not repo.ref_has_path(sha, "README")
    assert repo_state(repo.root) == before


def test_materialize_reads_objects_not_worktree(tmp_path: Path, repo: GitRepo) -> None:
    (repo.root / "webapp" / "a.html").write_text("dirty worktree\n")
    dest = repo.materialize("HEAD", "webapp", tmp_path / "out")
    assert (dest / "a.html").read_text() == "a\n"
    with pytest.raises(RefNotFound):
        repo.materialize("nope", "webapp", tmp_path / "out2")
    with pytest.raises(RefNotFound):
        repo.materialize("HEAD", "missing", tmp_path / "out3")


def test_path_is_dirty(repo: GitRepo) -> None:
    assert not repo.path_is_dirty("webapp")
    (repo.root / "README").write_text("elsewhere\n")
    assert not repo.path_is_dirty("webapp")
    (repo.root / "webapp" / "new.html").write_text("x")
    assert repo.path_is_dirty("webapp")


def test_update_ref_with_old_value_refuses_a_moved_ref(repo: GitRepo) -> None:
    head = repo.head_sha()
    assert head
    with pytest.raises(GitError):
        repo.update_ref("HEAD", head, old="0" * 40)


def test_log_paths_and_blob_reads(repo: GitRepo) -> None:
    (repo.root / "README").write_text("other\n")
    git(repo.root, "commit", "-q", "-am", "not an export")
    entries = repo.log_paths("webapp")
    assert [entry.subject for entry in entries] == ["first"]
    assert repo.read_blob("HEAD", "webapp/a.html") == b"a\n"
    assert repo.read_blob("HEAD", "webapp/none") is None


def test_interrupted_runs_are_reported_or_cleaned(repo: GitRepo) -> None:
    import subprocess
    import sys

    base = repo.git_dir / "appsync-tmp"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    dead_pid = dead.stdout.strip()
    (base / "run-saved" / "previous-worktree").mkdir(parents=True)
    (base / "run-saved" / "owner.pid").write_text(dead_pid)
    (base / "run-empty").mkdir()
    (base / "run-empty" / "owner.pid").write_text(dead_pid)
    ws = Workspace(LoadedConfig(path=repo.root / "appsync.toml", settings=AppsyncConfig()), repo)
    with ws.run_folder() as live:
        assert ws.interrupted_runs() == [base / "run-saved"]
        assert live.is_dir()
    assert not (base / "run-empty").exists()
    assert (base / "run-saved" / "previous-worktree").is_dir()


def test_status_outside_a_git_repository_is_a_setup_error_not_drift(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `appsync status` promises 1 for drift only; a missing repository is a usage/setup problem (2).
    from structr_appsync.errors import EXIT_USAGE
    from tests.helpers import run_cli

    (tmp_path / "appsync.toml").write_text('[env.dev]\nurl = "http://127.0.0.1:9"\n')
    monkeypatch.setenv("APPSYNC_PASSWORD", "pw")
    for command in ("status", "diff"):
        result = run_cli(command, cwd=tmp_path)
        assert result.code == EXIT_USAGE, (command, result.err)
        assert "is not inside a git repository" in result.err
