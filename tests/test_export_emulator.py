"""appsync export against the Structr emulator: the must-show behaviour of issue 3."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from structr_appsync.errors import EXIT_REFUSED, EXIT_SERVER, EXIT_UNREACHABLE
from tests.exportutil import commit_count, head, make_export_repo, message, write_config
from tests.gitutil import git, repo_state
from tests.helpers import run_cli
from tests.paths import FIXTURES
from tests.structr_emulator.harness import Emulator
from tests.structr_emulator.pytest_fixtures import EmulatorFactory


def export(root: Path, *args: str) -> tuple[int, str, str]:
    result = run_cli("export", *args, cwd=root)
    return result.code, result.out, result.err


def test_meetdown_export_history(tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch)
    start = commit_count(root)

    code, out, err = export(root)
    assert code == 0, err
    assert commit_count(root) == start + 1
    first = message(root)
    assert first.startswith("Export dev: initial export of 13 pages, 4 components, 2 templates")
    # an initial export names a few per kind and counts the rest
    assert "Pages: 13 added (edit-event, edit-group, event, … and 10 more)" in first
    assert "Templates: 2 added (Header, Main Page Template)" in first
    assert "Components: 4 added" in first
    assert "\nFiles: " in first and " added (/" in first
    assert f"Structr-URL: {meetdown_emulator.url}\n" in first
    assert "Appsync-Env: dev" in first and "Structr-Version: 6.1.0" in first and "Export-Duration: " in first
    assert "admin@" not in first and "X-Password" not in first
    # only the export folder is in the commit; appsync.toml (untracked) is not
    files = git(root, "show", "--name-only", "--format=", "HEAD").split("\n")
    assert all(name.startswith("webapp/") for name in files if name)
    last_export = git(root, "rev-parse", "refs/appsync/dev/last-export^{tree}").strip()
    assert git(root, "rev-parse", f"{last_export}:webapp").strip() == git(root, "rev-parse", "HEAD:webapp").strip()

    # nothing changed: no commit
    before = head(root)
    code, out, _err = export(root)
    assert code == 0 and "no changes" in out
    assert head(root) == before

    # one page changed through the REST API: a commit naming only that page
    meetdown_emulator.set_page_content("home", "<html><body><h1>Changed</h1></body></html>")
    untouched = root / "webapp" / "pages" / "login.html"
    inode = untouched.stat().st_ino
    code, _out, err = export(root)
    assert code == 0, err
    assert untouched.stat().st_ino == inode  # only the changed file was replaced in the working tree
    text = message(root)
    assert text.startswith("Export dev: change page home\n")
    body = text.split("\n\n")[1]
    assert body == "Page: 1 changed (home)"
    assert git(root, "show", "--name-only", "--format=", "HEAD").split() == ["webapp/pages/home.html"]

    # a file deleted in Structr disappears from git and from the working tree
    meetdown_emulator.delete_file("/img/meetdown.png")
    code, _out, err = export(root)
    assert code == 0, err
    assert "File: 1 removed (/img/meetdown.png)" in message(root)
    assert "webapp/files/img/meetdown.png" not in git(root, "ls-files")
    assert not (root / "webapp" / "files" / "img" / "meetdown.png").exists()
    assert git(root, "status", "--porcelain", "--", "webapp") == ""


def test_v5_deployment_date_changes_but_gives_no_commit(
    tmp_path: Path, emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = emulator_factory(version="5.2.1")
    emulator.import_dir(FIXTURES / "meetdown")
    first_conf = (emulator.export_dir(tmp_path / "raw1") / "deployment.conf").read_text()
    assert "deployment-date" in first_conf
    root = make_export_repo(tmp_path, emulator, monkeypatch)
    assert export(root)[0] == 0
    committed = git(root, "show", "HEAD:webapp/deployment.conf")
    assert "deployment-date" not in committed and "structr-version = 5.2.1" in committed
    before = head(root)
    time.sleep(1.1)  # deployment-date has one-second resolution; make sure the raw exports really differ
    second_conf = (emulator.export_dir(tmp_path / "raw2") / "deployment.conf").read_text()
    assert second_conf != first_conf
    code, out, _err = export(root)
    assert code == 0 and "no changes" in out
    assert head(root) == before


def test_new_build_stamp_and_reordered_grantees_and_moved_schema_boxes_give_no_commit(
    tmp_path: Path, emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "structr"
    emulator = emulator_factory(data_dir=data, build="aaaaa 202601010000")
    emulator.import_dir(FIXTURES / "meetdown")
    root = make_export_repo(tmp_path, emulator, monkeypatch)
    assert export(root)[0] == 0
    before = head(root)
    emulator.stop()
    emulator = emulator_factory(data_dir=data, build="bbbbb 202602020000", port=0)
    write_config(root, emulator)
    emulator.set_fault("shuffle_order", enabled=True)
    emulator.move_schema_box("Member")
    code, out, err = export(root)
    assert code == 0, err
    assert "no changes" in out
    assert head(root) == before
    assert "aaaaa 202601010000" in git(root, "show", "HEAD:webapp/deployment.conf")


@pytest.mark.parametrize(
    ("fault", "params", "exit_code", "words"),
    [
        ("status", {"code": 500, "path": "/structr/deploy"}, EXIT_SERVER, "500"),
        ("hang", {"seconds": 8, "path": "/structr/deploy"}, EXIT_UNREACHABLE, "did not answer"),
        ("truncate_zip", {}, EXIT_SERVER, "ZIP"),
        ("drop_zip", {}, EXIT_SERVER, "cut off"),
        ("noop_deploy", {}, EXIT_SERVER, "empty body"),
        ("wrong_password", {}, EXIT_UNREACHABLE, "refused"),
    ],
)
def test_server_faults_leave_the_repository_untouched(
    tmp_path: Path,
    meetdown_emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
    params: dict[str, object],
    exit_code: int,
    words: str,
) -> None:
    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch)
    assert export(root)[0] == 0
    write_config(root, meetdown_emulator, deploy_timeout=4)
    # the user has other work in progress: staged, unstaged and untracked
    (root / "README.md").write_text("staged edit\n")
    git(root, "add", "README.md")
    (root / "README.md").write_text("unstaged edit on top\n")
    (root / "scratch.txt").write_text("untracked\n")
    meetdown_emulator.set_page_content("home", "<html><body>changed on the server</body></html>")
    before = repo_state(root)
    if fault == "wrong_password":
        monkeypatch.setenv("APPSYNC_PASSWORD", "wrong")
    else:
        meetdown_emulator.set_fault(fault, **params)
    code, out, err = export(root)
    assert code == exit_code, err
    assert out == ""
    error_lines = [line for line in err.splitlines() if not line.startswith("hint:")]
    assert len(error_lines) == 1 and error_lines[0].startswith("appsync: error: "), err
    assert words in error_lines[0]
    assert repo_state(root) == before
    assert not (root / ".git" / "appsync-tmp").exists()


def test_both_transfer_modes_give_identical_commits(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    zip_root = make_export_repo(tmp_path / "zip", meetdown_emulator, monkeypatch)
    path_root = make_export_repo(
        tmp_path / "path", meetdown_emulator, monkeypatch, transfer="path", server_dir=tmp_path / "shared"
    )
    assert export(zip_root)[0] == 0
    code, _out, err = export(path_root)
    assert code == 0, err
    assert git(zip_root, "rev-parse", "HEAD^{tree}") == git(path_root, "rev-parse", "HEAD^{tree}")
    summary = message(zip_root).split("\n\n")[1]
    assert message(path_root).split("\n\n")[1] == summary
    assert list((tmp_path / "shared").iterdir()) == []  # the per-run transfer folder is removed


def test_path_mode_silent_noop_is_detected(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch, transfer="path", server_dir=tmp_path / "shared")
    before = repo_state(root)
    meetdown_emulator.set_fault("noop_deploy")
    code, _out, err = export(root)
    assert code == EXIT_SERVER
    assert "without an end header" in err
    assert repo_state(root) == before


def test_other_staged_work_is_never_committed(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch)
    (root / "README.md").write_text("staged, not for the export commit\n")
    (root / "notes.md").write_text("new staged file\n")
    git(root, "add", "README.md", "notes.md")
    (root / "README.md").write_text("and an unstaged edit\n")
    code, _out, err = export(root)
    assert code == 0, err
    committed = git(root, "show", "--name-only", "--format=", "HEAD").split("\n")
    assert all(name.startswith("webapp/") for name in committed if name)
    assert git(root, "diff", "--cached", "--name-only").split() == ["README.md", "notes.md"]
    assert git(root, "show", ":README.md") == "staged, not for the export commit\n"
    assert (root / "README.md").read_text() == "and an unstaged edit\n"
    assert git(root, "status", "--porcelain", "--", "webapp") == ""


def test_local_edits_in_export_folder_are_refused_unless_forced(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch)
    assert export(root)[0] == 0
    page = root / "webapp" / "pages" / "home.html"
    page.write_text("my local edit\n")
    before = repo_state(root)
    code, _out, err = export(root)
    assert code == EXIT_REFUSED
    assert "uncommitted local edits" in err and "--force" in err
    assert repo_state(root) == before
    code, _out, err = export(root, "--force")
    assert code == 0, err
    assert page.read_text() != "my local edit\n"
    assert git(root, "status", "--porcelain").strip() == "?? appsync.toml"


def test_no_commit_then_export_commits_without_force(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch)
    before = head(root)
    code, out, err = export(root, "--no-commit")
    assert code == 0, err
    assert "export folder updated, not committed" in out
    assert head(root) == before
    assert (root / "webapp" / "pages" / "home.html").is_file()
    assert git(root, "diff", "--cached", "--name-only") == ""
    code, _out, err = export(root, "-m", "Snapshot of the workshop app")
    assert code == 0, err
    assert message(root).startswith("Snapshot of the workshop app\n\nPages: 13 added")


def test_json_output(tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch)
    code, out, _err = export(root, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["changed"] is True and data["commit"] == head(root)
    assert data["summary"]["counts"]["pages"]["added"] == 13
    assert data["structr_version"] == "6.1.0"
    assert data["last_export"] == git(root, "rev-parse", "refs/appsync/dev/last-export").strip()


def test_empty_dom_folders_keep_a_placeholder(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.import_dir(FIXTURES / "hello-world")
    root = make_export_repo(tmp_path, emulator, monkeypatch)
    assert export(root)[0] == 0
    tracked = git(root, "ls-files", "webapp").split()
    assert "webapp/pages/hello-world.html" in tracked
    assert "webapp/components/.appsync-keep" in tracked
    assert "webapp/templates/.appsync-keep" in tracked


def test_lock_held_by_another_process(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys

    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch, lock_timeout=0.3)
    lock = root / ".git" / "appsync.lock"
    script = (
        "import fcntl, sys, time\n"
        "handle = open(sys.argv[1], 'a+')\n"
        "fcntl.flock(handle, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "time.sleep(30)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script, str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        before = repo_state(root)
        code, _out, err = export(root)
        assert code == 6, err
        assert "another appsync process" in err
        assert repo_state(root) == before
    finally:
        holder.kill()
        holder.wait()


def test_without_normalization_the_same_noise_would_commit(
    tmp_path: Path, emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control for the no-commit tests above: the noise is real, only normalization removes it."""
    emulator = emulator_factory(version="5.2.1")
    emulator.import_dir(FIXTURES / "meetdown")
    off = "[normalize]\nstrip_deployment_date = false\nstrip_schema_layouts = false\n"
    root = make_export_repo(tmp_path, emulator, monkeypatch, normalize=off)
    assert export(root)[0] == 0
    before = head(root)
    time.sleep(1.1)
    emulator.move_schema_box("Member")
    code, _out, err = export(root)
    assert code == 0, err
    assert head(root) != before
    changed = git(root, "show", "--name-only", "--format=", "HEAD").split()
    assert changed == ["webapp/application-configuration-data.json", "webapp/deployment.conf"]


def test_a_failing_git_step_rolls_back_worktree_and_index(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from structr_appsync.errors import GitError
    from structr_appsync.gitrepo import GitRepo

    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch)
    assert export(root)[0] == 0
    (root / "README.md").write_text("staged\n")
    git(root, "add", "README.md")
    meetdown_emulator.delete_page("login")
    before = repo_state(root)
    original = GitRepo.update_ref

    def failing_update_ref(self: GitRepo, name: str, sha: str, **kwargs: object) -> None:
        if name == "HEAD":
            raise GitError("simulated failure while moving HEAD")
        original(self, name, sha, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(GitRepo, "update_ref", failing_update_ref)
    code, _out, err = export(root)
    assert code == 1 and "simulated failure" in err
    assert repo_state(root) == before
    assert (root / "webapp" / "pages" / "login.html").is_file()


def test_ignored_local_files_survive_and_ignore_rules_do_not_shrink_the_export(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch)
    (root / ".gitignore").write_text("*.swp\n*.css\n")
    git(root, "add", ".gitignore")
    git(root, "commit", "-q", "-m", "ignore rules")
    assert export(root)[0] == 0
    # an exported file matching the user's ignore rules is still committed, and the index agrees
    assert "webapp/files/css/main.css" in git(root, "ls-files", "webapp")
    assert git(root, "status", "--porcelain", "--", "webapp") == ""
    swap = root / "webapp" / "pages" / ".home.html.swp"
    swap.write_text("editor state\n")
    meetdown_emulator.set_page_content("home", "<html><body>new</body></html>")
    code, _out, err = export(root)
    assert code == 0, err
    assert swap.read_text() == "editor state\n"
    assert ".home.html.swp" not in git(root, "ls-files", "webapp")
    assert git(root, "status", "--porcelain", "--ignored", "--", "webapp").split() == [
        "!!",
        "webapp/pages/.home.html.swp",
    ]


def test_export_into_a_repository_without_commits(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.import_dir(FIXTURES / "hello-world")
    project = tmp_path / "fresh"
    project.mkdir()
    monkeypatch.setenv("APPSYNC_PASSWORD", "admin")
    assert run_cli("init", "--url", emulator.url, cwd=project).code == 0
    (project / "todo.txt").write_text("staged before the first commit\n")
    git(project, "add", "todo.txt")
    code, out, err = export(project)
    assert code == 0, err
    assert "committed" in out
    assert commit_count(project) == 1
    assert git(project, "show", "--name-only", "--format=", "HEAD").split()[0].startswith("webapp/")
    assert "todo.txt" not in git(project, "ls-tree", "-r", "--name-only", "HEAD")
    assert git(project, "diff", "--cached", "--name-only").split() == ["todo.txt"]
    assert git(project, "status", "--porcelain", "--", "webapp") == ""


@pytest.mark.parametrize("transfer", ["zip", "path"])
def test_export_during_another_deployment_says_structr_is_busy(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, transfer: str
) -> None:
    import threading

    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch, transfer=transfer, server_dir=tmp_path / "shared")
    before = repo_state(root)
    meetdown_emulator.set_fault("slow_deploy", seconds=6, path="/structr/deploy")
    other = threading.Thread(target=meetdown_emulator.import_dir, args=(FIXTURES / "hello-world",))
    other.start()
    try:
        deadline = time.monotonic() + 5
        while meetdown_emulator.rest("GET", "/structr/health/ready").status_code != 503:
            assert time.monotonic() < deadline, "the other deployment never started"
            time.sleep(0.05)
        code, _out, err = export(root)
    finally:
        other.join()
    assert code == EXIT_SERVER
    assert "busy with another deployment" in err
    assert repo_state(root) == before


def test_config_in_a_subfolder_exports_below_it(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.import_dir(FIXTURES / "hello-world")
    root = make_export_repo(tmp_path, emulator, monkeypatch)
    sub = root / "structr"
    sub.mkdir()
    (root / "appsync.toml").rename(sub / "appsync.toml")
    code, _out, err = export(sub)
    assert code == 0, err
    assert "structr/webapp/pages/hello-world.html" in git(root, "ls-files").split()
    assert not (root / "webapp").exists()
    result = run_cli("log", cwd=sub)
    assert "Export dev: initial export" in result.out
    assert run_cli("status", cwd=sub).code == 0


def test_stage_mode_updates_and_stages_without_committing(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the pre-commit hook uses: the export lands in the index of the commit being made."""
    from structr_appsync.config import load_config
    from structr_appsync.sync.exporter import ExportOptions, export_app
    from structr_appsync.workspace import Workspace

    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch)
    assert export(root)[0] == 0
    before = head(root)
    meetdown_emulator.set_page_content("home", "<html><body>staged by the hook</body></html>")
    outcome = export_app(Workspace.open(load_config(root / "appsync.toml")), ExportOptions(stage=True))
    assert outcome.changed and outcome.staged and outcome.commit is None
    assert head(root) == before
    assert git(root, "diff", "--cached", "--name-only").split() == ["webapp/pages/home.html"]
    assert git(root, "status", "--porcelain", "--", "webapp").split() == ["M", "webapp/pages/home.html"]


def test_force_with_server_unchanged_restores_the_exported_state(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch)
    assert export(root)[0] == 0
    before = head(root)
    (root / "webapp" / "pages" / "home.html").write_text("local edit\n")
    (root / "webapp" / "pages" / "extra.html").write_text("untracked local page\n")
    code, out, err = export(root, "--force")
    assert code == 0, err
    assert "no changes" in out
    assert head(root) == before
    assert git(root, "status", "--porcelain", "--", "webapp") == ""
    assert not (root / "webapp" / "pages" / "extra.html").exists()


def test_the_normalized_export_imports_back_to_the_same_app(
    tmp_path: Path, meetdown_emulator: Emulator, emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Normalization drops nothing an import needs: commit -> fresh Structr -> export gives the same tree."""
    from structr_appsync.gitrepo import GitRepo

    first = make_export_repo(tmp_path / "one", meetdown_emulator, monkeypatch)
    assert export(first)[0] == 0
    committed = GitRepo.open(first).materialize("HEAD", "webapp", tmp_path / "checkout" / "webapp")
    fresh = emulator_factory()
    fresh.import_dir(committed)
    second = make_export_repo(tmp_path / "two", fresh, monkeypatch)
    code, _out, err = export(second)
    assert code == 0, err
    assert git(first, "rev-parse", "HEAD:webapp") == git(second, "rev-parse", "HEAD:webapp")
