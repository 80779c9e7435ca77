"""appsync status, diff, log and init."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from structr_appsync.config import load_config
from structr_appsync.errors import EXIT_FAILED, EXIT_OK, EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_USAGE
from tests.exportutil import make_export_repo
from tests.gitutil import git, repo_state
from tests.helpers import run_cli
from tests.structr_emulator.harness import Emulator


def objects(root: Path) -> str:
    return git(root, "count-objects", "-v")


def test_status_exit_codes_and_writes_nothing(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch)
    # nothing exported yet: everything is drift
    assert run_cli("status", cwd=root).code == EXIT_FAILED
    assert run_cli("export", cwd=root).code == EXIT_OK

    before, before_objects = repo_state(root), objects(root)
    result = run_cli("status", cwd=root)
    assert result.code == EXIT_OK, result.err
    assert "in sync" in result.out

    meetdown_emulator.set_page_content("login", "<html><body>new login</body></html>")
    result = run_cli("status", "--json", cwd=root)
    assert result.code == EXIT_FAILED
    data = json.loads(result.out)
    assert data["in_sync"] is False
    assert data["summary"]["categories"] == {"pages": {"added": [], "changed": ["login"], "removed": []}}
    assert repo_state(root) == before
    assert objects(root) == before_objects

    monkeypatch.setenv("APPSYNC_PASSWORD", "wrong")
    result = run_cli("status", cwd=root)
    assert result.code == EXIT_UNREACHABLE
    assert "refused" in result.err
    monkeypatch.setenv("APPSYNC_PASSWORD", "admin")

    meetdown_emulator.stop()
    result = run_cli("status", cwd=root)
    assert result.code == EXIT_UNREACHABLE
    assert "cannot reach Structr" in result.err
    assert repo_state(root) == before


def test_status_config_error_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "appsync.toml").write_text('export_dir = "webapp"\nbogus = 1\n')
    result = run_cli("status", cwd=tmp_path)
    assert result.code == EXIT_USAGE
    assert "bogus: unknown key" in result.err


def test_diff_shows_the_unified_diff(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch)
    assert run_cli("export", cwd=root).code == EXIT_OK
    result = run_cli("diff", cwd=root)
    assert (result.code, result.out) == (EXIT_OK, "")
    meetdown_emulator.set_page_content("home", "<html><body><p>Hello diff</p></body></html>")
    before = repo_state(root)
    result = run_cli("diff", cwd=root)
    assert result.code == EXIT_FAILED
    assert "--- a/webapp/pages/home.html\n+++ b/webapp/pages/home.html" in result.out
    assert "Hello diff" in result.out
    assert "\x1b[" not in result.out  # not a terminal: no colour
    coloured = run_cli("diff", "--color", "always", cwd=root)
    assert "\x1b[" in coloured.out
    assert repo_state(root) == before


def test_log_lists_export_commits_with_summaries(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch)
    assert run_cli("export", cwd=root).code == EXIT_OK
    meetdown_emulator.set_page_content("home", "<html><body>v2</body></html>")
    assert run_cli("export", cwd=root).code == EXIT_OK
    (root / "other.txt").write_text("x")
    git(root, "add", "other.txt")
    git(root, "commit", "-q", "-m", "unrelated commit")
    result = run_cli("log", cwd=root)
    assert result.code == EXIT_OK
    assert "unrelated commit" not in result.out and "user commit" not in result.out
    assert "Export dev: change page home" in result.out
    assert "    Page: 1 changed (home)" in result.out
    records = json.loads(run_cli("log", "--json", cwd=root).out)
    assert len(records) == 2
    assert records[0]["summary"] == ["Page: 1 changed (home)"]
    assert records[0]["trailers"]["Appsync-Env"] == "dev"
    assert records[1]["subject"].startswith("Export dev: initial export of 13 pages")


def test_init_writes_config_and_repo_and_says_to_commit_the_config(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    result = run_cli("init", "--url", "http://localhost:8082", "--user", "admin", cwd=project)
    assert result.code == EXIT_OK, result.err
    assert (project / ".git").is_dir()
    assert not (project / ".gitignore").exists()  # nothing of appsync's own is kept in the checkout
    assert "git add appsync.toml && git commit" in result.out
    loaded = load_config(project / "appsync.toml")
    assert loaded.settings.export_dir == "webapp"
    assert loaded.environment(None)[0] == "dev"
    assert loaded.settings.env["dev"].url == "http://localhost:8082"
    assert loaded.settings.env["dev"].transfer == "zip"
    again = run_cli("init", "--url", "http://other:8082", cwd=project)
    assert again.code == EXIT_REFUSED and "--force" in again.err
    forced = run_cli("init", "--url", "http://other:8082", "--env", "prod", "--export-dir", "app/structr",
                     "--force", cwd=project)  # fmt: skip
    assert forced.code == EXIT_OK
    loaded = load_config(project / "appsync.toml")
    assert loaded.settings.export_dir == "app/structr" and loaded.settings.default_env == "prod"


def test_init_inside_existing_repo_uses_its_root(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "sub").mkdir(parents=True)
    git(root, "init", "-q")
    result = run_cli("init", "--url", "http://localhost:8082", cwd=root / "sub")
    assert result.code == EXIT_OK
    assert (root / "appsync.toml").is_file()
    assert "created a git repository" not in result.out


def test_init_rejects_credentials_in_url(tmp_path: Path) -> None:
    result = run_cli("init", "--url", "http://admin:admin@localhost:8082", cwd=tmp_path)
    assert result.code == EXIT_USAGE
    assert not (tmp_path / "appsync.toml").exists()
