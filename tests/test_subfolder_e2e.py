"""appsync.toml in a subfolder `app/` of the repository (a monorepo): every flow uses `app/webapp/`."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest

from structr_appsync.errors import EXIT_FAILED, EXIT_OK, EXIT_REFUSED
from tests.helpers import run_cli
from tests.hookutil import git, hook_env, init_repo
from tests.paths import FIXTURES
from tests.structr_emulator.harness import Emulator
from tests.test_watch_e2e import WatchProcess, edited

PAGE = "hello-world"
PAGE_PATH = f"app/webapp/pages/{PAGE}.html"


def page_html(text: str) -> str:
    return f"<!DOCTYPE html>\n<html><head><title>{text}</title></head><body><h1>{text}</h1></body></html>"


def server_page(emulator: Emulator) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        return (emulator.export_dir(Path(tmp)) / "pages" / f"{PAGE}.html").read_text()


def rev(repo: Path, spec: str) -> str:
    return git(repo, "rev-parse", "--verify", "-q", spec, check=False).stdout.strip()


@pytest.fixture
def monorepo(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository whose Structr app lives in app/, with app/appsync.toml committed and one export."""
    monkeypatch.setenv("APPSYNC_PASSWORD", "admin")
    emulator.import_dir(FIXTURES / "hello-world")
    repo = init_repo(tmp_path / "repo")
    (repo / "app").mkdir()
    created = run_cli("--config", "app/appsync.toml", "init", "--url", emulator.url, cwd=repo)
    assert created.code == 0, created.err
    git(repo, "add", "app/appsync.toml")
    git(repo, "commit", "-q", "-m", "appsync config", env=hook_env({"APPSYNC_SKIP": "1"}))
    exported = run_cli("export", cwd=repo / "app")
    assert exported.code == 0, exported.err
    return repo


def test_export_status_diff_log_and_import_use_the_subfolder(monorepo: Path, emulator: Emulator) -> None:
    app = monorepo / "app"
    first = rev(monorepo, "HEAD")
    assert rev(monorepo, f"HEAD:{PAGE_PATH}")
    assert not rev(monorepo, "HEAD:webapp")  # nothing at the top of the repository
    assert rev(monorepo, f"refs/appsync/dev/last-export:{PAGE_PATH}")  # the snapshot has the same prefix

    status = run_cli("status", cwd=app)
    assert status.code == EXIT_OK, status.err
    assert "in sync with app/webapp/ at HEAD" in status.out

    emulator.set_page_content(PAGE, page_html("second version"))
    assert run_cli("status", cwd=app).code == EXIT_FAILED
    diff = run_cli("diff", "--color", "never", cwd=app)
    assert diff.code == EXIT_FAILED
    assert f"+++ b/{PAGE_PATH}" in diff.out
    assert "second version" in diff.out

    assert run_cli("export", cwd=app).code == EXIT_OK
    second = rev(monorepo, "HEAD")
    assert second != first
    log = run_cli("log", "--json", cwd=app)
    assert log.code == EXIT_OK
    assert [entry["commit"] for entry in json.loads(log.out)] == [second, first]

    dry = run_cli("import", first, "--dry-run", cwd=app)
    assert dry.code == EXIT_OK, dry.err
    assert "Dry run" in dry.out
    assert "second version" in server_page(emulator)

    # The seal: a server change that no commit has stops the import.
    emulator.set_page_content(PAGE, page_html("uncommitted"))
    sealed = run_cli("import", first, "--yes", cwd=app)
    assert sealed.code == EXIT_REFUSED, sealed.out + sealed.err
    assert run_cli("export", cwd=app).code == EXIT_OK  # kept in a commit: the seal holds again

    imported = run_cli("import", first, "--yes", cwd=app)
    assert imported.code == EXIT_OK, imported.err
    assert "verified" in imported.out
    point = re.search(r"Rollback point: (\S+)", imported.out)
    assert point is not None
    # The rollback point holds the server's state before the import, under the same folder.
    assert "uncommitted" in git(monorepo, "show", f"{point.group(1)}:{PAGE_PATH}").stdout
    assert "uncommitted" not in server_page(emulator)
    # The import recorded what the server holds now (verify's export), under the same folder.
    recorded = git(monorepo, "show", f"refs/appsync/dev/last-export:{PAGE_PATH}").stdout
    assert recorded == git(monorepo, "show", f"{first}:{PAGE_PATH}").stdout
    assert git(monorepo, "status", "--porcelain").stdout == ""  # the checkout is never touched


def test_post_checkout_and_post_merge_hooks_import_the_subfolder(monorepo: Path, emulator: Emulator) -> None:
    app = monorepo / "app"
    with (app / "appsync.toml").open("a") as handle:
        handle.write("\n[hooks.post-checkout]\nenabled = true\n[hooks.post-merge]\nenabled = true\n")
    git(monorepo, "add", "app/appsync.toml")
    git(monorepo, "commit", "-q", "-m", "enable post hooks", env=hook_env({"APPSYNC_SKIP": "1"}))
    installed = run_cli("hooks", "install", "--hooks", "post-checkout,post-merge", cwd=app)
    assert installed.code == 0, installed.err
    main_html = server_page(emulator)

    git(monorepo, "checkout", "-q", "-b", "feature")
    emulator.set_page_content(PAGE, page_html("feature work"))
    assert run_cli("export", cwd=app).code == 0
    switched = git(monorepo, "checkout", "main", stdin="")  # git runs the hook at the top of the work tree
    assert "appsync post-checkout: imported HEAD into env 'dev'" in switched.stderr
    assert server_page(emulator) == main_html

    merged = git(monorepo, "merge", "--no-edit", "feature", stdin="")
    assert "appsync post-merge: imported HEAD into env 'dev'" in merged.stderr
    assert "feature work" in server_page(emulator)


def test_watch_imports_edits_of_the_subfolder(monorepo: Path, emulator: Emulator) -> None:
    app = monorepo / "app"
    process = WatchProcess(app, "--debounce", "0.3")
    try:
        process.wait_for("watching .*app/webapp -> env 'dev'")
        page = monorepo / PAGE_PATH
        page.write_text(edited(page.read_text(), "saved in the monorepo"))
        process.wait_for(r"imported .*into env 'dev'")
        assert "saved in the monorepo</h1>" in server_page(emulator)
    finally:
        assert process.stop() == 0
    assert "local edits" not in "\n".join(process.lines)
