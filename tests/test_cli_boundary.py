"""The CLI boundary does no domain work: non-backup commands pay one stat of the stopped-services marker."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from structr_appsync.errors import EXIT_UNREACHABLE
from tests.gitutil import make_repo
from tests.helpers import run_cli


def write_backup_config(root: Path, ran: Path) -> Path:
    """An appsync.toml with a backup table whose service commands only append to ``ran`` (and fail)."""
    (root / "neo4j").mkdir()
    (root / "structr").mkdir()
    log = shlex.quote(str(ran))
    lines = [
        'default_env = "test"',
        "[env.test]",
        'url = "http://127.0.0.1:9"',
        "[env.test.backup]",
        f'destination = "{root / "backups"}"',
        f'neo4j_data = "{root / "neo4j"}"',
        f'structr_dir = "{root / "structr"}"',
        'service_manager = "command"',
        "start_attempts = 3",
    ]
    for name in ("structr", "neo4j"):
        lines += [
            f"[env.test.backup.{name}]",
            f"start = {json.dumps(f'echo start-{name} >> {log}; exit 1')}",
            f"stop = {json.dumps(f'echo stop-{name} >> {log}; exit 1')}",
            f"status = {json.dumps(f'echo status-{name} >> {log}; exit 3')}",
            "start_timeout = 5",
        ]
    path = root / "appsync.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_status_runs_no_service_command_without_the_marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPSYNC_PASSWORD", "admin")
    root = make_repo(tmp_path / "repo")
    ran = tmp_path / "ran.log"
    write_backup_config(root, ran)
    for command in (("status",), ("log",), ("diff",)):
        result = run_cli(*command, cwd=root)
        assert not ran.exists(), f"appsync {command[0]} ran service commands: {ran.read_text()}"
        assert "services" not in result.err
    assert run_cli("status", cwd=root).code == EXIT_UNREACHABLE  # it went on to its own work


def test_with_the_marker_a_command_tries_once_warns_and_goes_on(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    ran = tmp_path / "ran.log"
    write_backup_config(root, ran)
    (root / "backups").mkdir()
    marker = root / "backups" / ".appsync-stopped.json"
    marker.write_text(json.dumps({"env": "test", "operation": "backup", "services": ["structr", "neo4j"], "pid": 1}))
    result = run_cli("log", cwd=root)
    assert result.code == 0, result.err
    starts = [line for line in ran.read_text().splitlines() if line.startswith("start-")]
    assert sorted(starts) == ["start-neo4j", "start-structr"]  # one attempt each, not start_attempts = 3
    assert "are still down; one start attempt failed" in result.err
    assert "interrupted" not in result.err
    assert marker.exists()  # kept for `appsync backup recover`
