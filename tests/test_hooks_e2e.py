"""Installed hooks run by real `git commit`, `git push`, `git checkout` and `git merge` against the emulator."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.helpers import run_cli
from tests.hookutil import git, hook_env, init_repo, write_executable
from tests.paths import FIXTURES
from tests.structr_emulator.harness import Emulator

PAGE = "hello-world"
PAGE_FILE = f"webapp/pages/{PAGE}.html"


def server_page(emulator: Emulator) -> str:
    """The page as the server exports it (what an import must have changed)."""
    with tempfile.TemporaryDirectory() as tmp:
        return (emulator.export_dir(Path(tmp)) / "pages" / f"{PAGE}.html").read_text()


def page_html(text: str) -> str:
    return f"<!DOCTYPE html>\n<html><head><title>{text}</title></head><body><h1>{text}</h1></body></html>"


@pytest.fixture
def project(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with appsync.toml, one export of hello-world committed, and the hooks installed."""
    monkeypatch.setenv("APPSYNC_PASSWORD", "admin")
    emulator.import_dir(FIXTURES / "hello-world")
    repo = init_repo(tmp_path / "repo")
    assert run_cli("init", "--url", emulator.url, cwd=repo).code == 0
    git(repo, "add", "appsync.toml")
    git(repo, "commit", "-q", "-m", "appsync config", env=hook_env({"APPSYNC_SKIP": "1"}))
    exported = run_cli("export", cwd=repo)
    assert exported.code == 0, exported.err
    installed = run_cli("hooks", "install", cwd=repo)
    assert installed.code == 0, installed.err
    return repo


def append_config(repo: Path, text: str) -> None:
    with (repo / "appsync.toml").open("a") as handle:
        handle.write("\n" + text + "\n")


def committed_files(repo: Path, rev: str = "HEAD") -> list[str]:
    return git(repo, "show", "--name-only", "--format=", rev).stdout.split()


def test_pre_commit_adds_the_server_change_to_the_commit(project: Path, emulator: Emulator) -> None:
    emulator.set_page_content(PAGE, page_html("changed on the server"))
    (project / "README.md").write_text("docs changed\n")
    git(project, "add", "README.md")
    # As from a GUI client: stdin not a TTY, a bare PATH without appsync's virtualenv, no TERM.
    gui_env = hook_env({"PATH": "/usr/bin:/bin"})
    gui_env.pop("TERM", None)
    result = git(project, "commit", "-m", "docs", stdin="", env=gui_env)
    assert "appsync pre-commit: added the export of env 'dev' to this commit" in result.stderr
    assert committed_files(project) == ["README.md", PAGE_FILE]
    assert "changed on the server" in git(project, "show", f"HEAD:{PAGE_FILE}").stdout
    assert git(project, "status", "--porcelain", "--", "webapp").stdout == ""

    # Nothing changed on the server: the next commit carries only the user's change.
    (project / "README.md").write_text("docs changed again\n")
    git(project, "commit", "-q", "-a", "-m", "more docs")
    assert committed_files(project) == ["README.md"]


def test_pre_commit_with_commit_all_uses_gits_temporary_index(project: Path, emulator: Emulator) -> None:
    # `git commit -a` gives the hook a temporary index in GIT_INDEX_FILE; the export must land in that one.
    emulator.set_page_content(PAGE, page_html("changed before commit -a"))
    (project / "README.md").write_text("docs for commit -a\n")
    git(project, "commit", "-q", "-a", "-m", "all")
    assert committed_files(project) == ["README.md", PAGE_FILE]
    assert git(project, "status", "--porcelain").stdout == ""


def test_pre_commit_fails_on_an_unreachable_server_unless_configured_to_warn(project: Path, emulator: Emulator) -> None:
    emulator.stop()
    head = git(project, "rev-parse", "HEAD").stdout
    (project / "README.md").write_text("offline\n")
    git(project, "add", "README.md")
    failed = git(project, "commit", "-m", "offline", check=False, stdin="")
    assert failed.returncode != 0
    assert "error: appsync pre-commit:" in failed.stderr
    assert "on_unreachable" in failed.stderr and "Traceback" not in failed.stderr
    assert git(project, "rev-parse", "HEAD").stdout == head

    append_config(project, '[hooks.pre-commit]\non_unreachable = "warn"')
    passed = git(project, "commit", "-m", "offline", stdin="")
    assert "warning: appsync pre-commit:" in passed.stderr
    assert committed_files(project) == ["README.md"]


def test_pre_push_refuses_on_drift_and_passes_in_sync(project: Path, emulator: Emulator, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(project, "remote", "add", "origin", str(remote))

    emulator.set_page_content(PAGE, page_html("not exported yet"))
    refused = git(project, "push", "origin", "main", check=False, stdin="")
    assert refused.returncode != 0
    assert "appsync pre-push: push refused: env 'dev' holds changes that are not committed" in refused.stderr
    assert "Page: 1 changed (hello-world)" in refused.stderr
    assert "run `appsync export --env dev`" in refused.stderr
    assert git(remote, "branch", "--list").stdout == ""

    assert run_cli("export", cwd=project).code == 0
    git(project, "push", "-q", "origin", "main", stdin="")
    assert git(remote, "rev-parse", "main").stdout == git(project, "rev-parse", "HEAD").stdout


def test_foreign_pre_commit_hook_runs_after_install_and_is_back_after_uninstall(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APPSYNC_PASSWORD", "admin")
    emulator.import_dir(FIXTURES / "hello-world")
    repo = init_repo(tmp_path / "repo")
    log = tmp_path / "foreign.log"
    foreign = write_executable(repo / ".git" / "hooks" / "pre-commit", f'#!/bin/sh\necho "ran" >> {log}\n')
    foreign_text = foreign.read_text()
    assert run_cli("init", "--url", emulator.url, cwd=repo).code == 0
    assert run_cli("export", cwd=repo).code == 0
    assert run_cli("hooks", "install", cwd=repo).code == 0

    emulator.set_page_content(PAGE, page_html("with a foreign hook"))
    git(repo, "add", "appsync.toml")
    git(repo, "commit", "-q", "-m", "config")
    assert log.read_text().splitlines() == ["ran"]
    assert PAGE_FILE in committed_files(repo)  # and appsync's part ran too

    assert run_cli("hooks", "uninstall", cwd=repo).code == 0
    assert foreign.read_text() == foreign_text
    emulator.set_page_content(PAGE, page_html("after uninstall"))
    git(repo, "commit", "-q", "--allow-empty", "-m", "plain")
    assert log.read_text().splitlines() == ["ran", "ran"]
    assert committed_files(repo) == []  # appsync no longer exports on commit


def test_post_checkout_imports_branch_checkouts_only_and_never_mid_rebase(project: Path, emulator: Emulator) -> None:
    append_config(project, "[hooks.post-checkout]\nenabled = true")
    git(project, "add", "appsync.toml")
    git(project, "commit", "-q", "-m", "enable post-checkout")
    assert run_cli("hooks", "install", "--hooks", "post-checkout", cwd=project).code == 0
    main_html = server_page(emulator)

    git(project, "checkout", "-q", "-b", "feature")
    emulator.set_page_content(PAGE, page_html("feature work"))
    assert run_cli("export", cwd=project).code == 0
    assert "feature work" in server_page(emulator)

    # A file checkout (third argument 0) does not import.
    git(project, "checkout", "main", "--", "README.md")
    assert "feature work" in server_page(emulator)

    # A branch checkout imports the new HEAD, without a prompt.
    switched = git(project, "checkout", "main", stdin="")
    assert "appsync post-checkout: imported HEAD into env 'dev'" in switched.stderr
    assert server_page(emulator) == main_html

    # In the middle of a rebase nothing is imported.
    (project / ".git" / "rebase-merge").mkdir()
    try:
        git(project, "checkout", "-q", "feature")
        assert server_page(emulator) == main_html
    finally:
        (project / ".git" / "rebase-merge").rmdir()


def test_post_checkout_never_imports_into_a_protected_env(project: Path, emulator: Emulator) -> None:
    append_config(project, "[hooks.post-checkout]\nenabled = true")
    text = (project / "appsync.toml").read_text().replace('transfer = "zip"', 'transfer = "zip"\nprotected = true')
    (project / "appsync.toml").write_text(text)
    git(project, "add", "appsync.toml")
    git(project, "commit", "-q", "-m", "protected", env=hook_env({"APPSYNC_SKIP": "1"}))
    assert run_cli("hooks", "install", "--hooks", "post-checkout", cwd=project).code == 0
    git(project, "checkout", "-q", "-b", "feature")
    emulator.set_page_content(PAGE, page_html("feature work"))
    assert run_cli("export", cwd=project).code == 0
    switched = git(project, "checkout", "main")
    assert switched.returncode == 0
    assert "env 'dev' is protected; hooks never import into it" in switched.stderr
    assert "feature work" in server_page(emulator)


def test_post_merge_imports_the_merged_export(project: Path, emulator: Emulator) -> None:
    append_config(project, "[hooks.post-merge]\nenabled = true")
    git(project, "add", "appsync.toml")
    git(project, "commit", "-q", "-m", "enable post-merge")
    assert run_cli("hooks", "install", "--hooks", "post-merge", cwd=project).code == 0
    main_html = server_page(emulator)
    git(project, "checkout", "-q", "-b", "feature")
    emulator.set_page_content(PAGE, page_html("merged work"))
    assert run_cli("export", cwd=project).code == 0
    git(project, "checkout", "-q", "main")
    # Put the server back to main's state, as a colleague's server would be, and record that in git.
    emulator.set_page_content(PAGE, main_html)
    assert run_cli("export", cwd=project).code == 0
    merged = git(project, "merge", "--no-edit", "feature", stdin="")
    assert "appsync post-merge: imported HEAD into env 'dev'" in merged.stderr
    assert "merged work" in server_page(emulator)


def test_pre_commit_never_overwrites_local_edits_the_server_does_not_have(project: Path, emulator: Emulator) -> None:
    emulator.set_page_content(PAGE, page_html("server edit"))
    page = project / PAGE_FILE
    local = page.read_text().replace("</body>", "<p>local edit</p></body>")
    page.write_text(local)
    git(project, "add", PAGE_FILE)
    head = git(project, "rev-parse", "HEAD").stdout
    refused = git(project, "commit", "-m", "local page edit", check=False, stdin="")
    assert refused.returncode != 0
    assert "uncommitted local edits" in refused.stderr and "APPSYNC_SKIP=pre-commit" in refused.stderr
    assert page.read_text() == local
    assert git(project, "rev-parse", "HEAD").stdout == head

    git(project, "commit", "-q", "-m", "local page edit", env=hook_env({"APPSYNC_SKIP": "pre-commit"}))
    assert "local edit" in git(project, "show", f"HEAD:{PAGE_FILE}").stdout


def test_pre_commit_does_not_export_into_commits_replayed_by_a_rebase(project: Path, emulator: Emulator) -> None:
    emulator.set_page_content(PAGE, page_html("server edit during a rebase"))
    (project / ".git" / "rebase-merge").mkdir()
    try:
        git(project, "commit", "-q", "--allow-empty", "-m", "replayed")
    finally:
        (project / ".git" / "rebase-merge").rmdir()
    assert committed_files(project) == []


def test_a_gui_client_without_the_password_is_told_about_password_file(project: Path, emulator: Emulator) -> None:
    (project / "README.md").write_text("from a GUI client\n")
    git(project, "add", "README.md")
    gui_env = hook_env({"PATH": "/usr/bin:/bin"})
    gui_env.pop("APPSYNC_PASSWORD", None)
    failed = git(project, "commit", "-m", "gui", check=False, stdin="", env=gui_env)
    assert failed.returncode != 0
    assert "APPSYNC_PASSWORD" in failed.stderr
    assert "password_file" in failed.stderr and "GUI" in failed.stderr
