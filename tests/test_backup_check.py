"""`appsync backup --check`: the quick check runs while the services run; an inconsistent installation is
refused before anything stops (the service manager's log shows no stop), or backed up with a warning."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from structr_appsync.backup.manifest import read_manifest
from structr_appsync.errors import EXIT_OK, EXIT_REFUSED
from tests.backup_support.live import LiveInstall, make_live, start_live, stop_live
from tests.helpers import run_cli


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveInstall]:
    monkeypatch.setenv("APPSYNC_PASSWORD", "admin")
    install = make_live(tmp_path)
    start_live(install)
    try:
        install.structr.api.upload_file("/docs/a.txt", b"alpha" * 100)
        install.structr.api.upload_file("/docs/b.txt", b"beta" * 100)
        yield install
    finally:
        stop_live(install)


def _break(install: LiveInstall) -> None:
    info = install.structr.api.file_info("/docs/b.txt")
    assert info is not None
    uuid = str(info["id"])
    (install.structr.data / "files" / uuid[0] / uuid[1] / uuid[2] / uuid[3] / uuid).unlink()


def test_inconsistent_installation_is_refused_and_nothing_stops(live: LiveInstall) -> None:
    _break(live)
    result = run_cli("-c", str(live.config), "backup", "--check")
    assert result.code == EXIT_REFUSED, result.err
    assert "inconsistent before the backup" in result.err
    assert "nothing was stopped" in result.err
    assert live.log_lines() == [], "the service manager was never asked to stop (or start) anything"
    assert live.neo4j.running()
    assert live.structr.call("status") == 0
    assert not any(path.name[0].isdigit() for path in live.destination.iterdir()), "no backup was taken"


def test_configured_check_refuses_without_the_flag(live: LiveInstall) -> None:
    live.write_config(check_before_backup=True)
    _break(live)
    assert run_cli("-c", str(live.config), "backup").code == EXIT_REFUSED
    assert live.log_lines() == []


def test_warn_backs_up_anyway_and_records_it(live: LiveInstall) -> None:
    live.write_config(on_inconsistent="warn")
    _break(live)
    result = run_cli("-c", str(live.config), "backup", "--check", "--json")
    assert result.code == EXIT_OK, result.err
    assert "Backing up an inconsistent installation" in result.err
    manifest = read_manifest(live.destination / json.loads(result.out)["id"])
    assert manifest.check is not None
    assert manifest.check.outcome == "warned"
    assert manifest.check.problems["missing"] == 1
    assert live.log_lines() == ["stop structr", "stop neo4j", "start neo4j", "start structr"]


def test_consistent_installation_is_backed_up_with_the_check_recorded(live: LiveInstall) -> None:
    result = run_cli("-c", str(live.config), "backup", "--check", "--json")
    assert result.code == EXIT_OK, result.err
    manifest = read_manifest(live.destination / json.loads(result.out)["id"])
    assert manifest.check is not None
    assert manifest.check.consistent and manifest.check.quick
    assert manifest.check.checked == 2
    without = run_cli("-c", str(live.config), "backup", "--json")
    assert read_manifest(live.destination / json.loads(without.out)["id"]).check is None
