"""`appsync backup --check`: the quick check runs while the services run; an inconsistent installation is
refused before anything stops (the service manager's log shows no stop), or backed up with a warning."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from structr_appsync.backup.manifest import read_manifest
from structr_appsync.errors import EXIT_OK, EXIT_REFUSED
from tests.backup_support.emuservice import EmulatorService, logged
from tests.backup_support.install import FakeService, make_install
from tests.helpers import run_cli


@dataclass
class LiveInstall:
    neo4j: FakeService
    structr: EmulatorService
    destination: Path
    config: Path
    service_log: Path

    def write_config(self, **backup_extra: object) -> None:
        log = self.service_log
        lines = [
            "[env.live]",
            f'url = "{self.structr.api.url}"',
            "[env.live.backup]",
            f"destination = {json.dumps(str(self.destination))}",
            f"neo4j_data = {json.dumps(str(self.neo4j.data))}",
            f"structr_dir = {json.dumps(str(self.structr.data))}",
            'service_manager = "command"',
            *(f"{key} = {json.dumps(value)}" for key, value in backup_extra.items()),
            "[env.live.backup.structr]",
            f"start = {json.dumps(logged(self.structr.command('start'), log, 'start structr'))}",
            f"stop = {json.dumps(logged(self.structr.command('stop'), log, 'stop structr'))}",
            f"status = {json.dumps(self.structr.command('status'))}",
            f'health_url = "{self.structr.api.url}/structr/health/ready"',
            "[env.live.backup.neo4j]",
            f"start = {json.dumps(logged(self.neo4j.start_command, log, 'start neo4j'))}",
            f"stop = {json.dumps(logged(self.neo4j.stop_command, log, 'stop neo4j'))}",
            f"status = {json.dumps(self.neo4j.status_command)}",
            f'health_url = "bolt://127.0.0.1:{self.neo4j.port}"',
        ]
        self.config.write_text("\n".join(lines) + "\n")

    def log_lines(self) -> list[str]:
        return self.service_log.read_text().split("\n")[:-1] if self.service_log.exists() else []


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveInstall]:
    monkeypatch.setenv("APPSYNC_PASSWORD", "admin")
    fake = make_install(tmp_path / "install")
    structr = EmulatorService(tmp_path / "structr", tmp_path / "emu-run")
    structr.data.mkdir()
    install = LiveInstall(fake.neo4j, structr, tmp_path / "backups", tmp_path / "appsync.toml", tmp_path / "svc.log")
    install.write_config()
    fake.neo4j.start()
    assert structr.call("start") == 0
    try:
        structr.api.upload_file("/docs/a.txt", b"alpha" * 100)
        structr.api.upload_file("/docs/b.txt", b"beta" * 100)
        yield install
    finally:
        structr.call("stop")
        fake.neo4j.stop()


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
