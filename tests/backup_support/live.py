"""A live installation for check, backup --check and drill tests: a fake Neo4j (fakesvc.py) and the emulator as
Structr, both real processes driven by the `command` service manager through a logging wrapper, so a test can
read what the service manager was asked to do."""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.backup_support.emuservice import EMUCTL, EmulatorService, logged
from tests.backup_support.install import FAKESVC, FakeService, make_install


@dataclass
class LiveInstall:
    neo4j: FakeService
    structr: EmulatorService
    destination: Path
    config: Path
    service_log: Path
    drill_lines: list[str] = field(default_factory=list)

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
            "[env.live.backup.retention]",
            "keep_last = 1",
            "keep_daily = 0",
            "keep_weekly = 0",
            "keep_monthly = 0",
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
            *self.drill_lines,
        ]
        self.config.write_text("\n".join(lines) + "\n")

    def log_lines(self) -> list[str]:
        return self.service_log.read_text().split("\n")[:-1] if self.service_log.exists() else []


def fake_neo4j_drill_table(env: str = "live") -> list[str]:
    """`[env.NAME.backup.drill]` that starts a fake Neo4j and the emulator over the scratch copy."""
    python = shlex.quote(sys.executable)
    fake = shlex.quote(str(FAKESVC))
    return [
        f"[env.{env}.backup.drill.neo4j]",
        f'start = "{python} {fake} start --run {{scratch}}/neo4j-run --data {{neo4j_data}} --port {{port}} --pages 0"',
        f'stop = "{python} {fake} stop --run {{scratch}}/neo4j-run"',
        f'status = "{python} {fake} status --run {{scratch}}/neo4j-run"',
        'health_url = "bolt://127.0.0.1:{port}"',
        "start_timeout = 30",
        "stop_timeout = 30",
        *emulator_drill_service(env),
    ]


def emulator_drill_service(env: str) -> list[str]:
    python, emu = shlex.quote(sys.executable), shlex.quote(str(EMUCTL))
    return [
        f"[env.{env}.backup.drill.structr]",
        f'start = "{python} {emu} start --data {{structr_dir}} --run {{scratch}}/emu-run --port {{port}}"',
        f'stop = "{python} {emu} stop --run {{scratch}}/emu-run"',
        f'status = "{python} {emu} status --run {{scratch}}/emu-run"',
        'health_url = "http://127.0.0.1:{port}/structr/health/ready"',
        "start_timeout = 60",
        "stop_timeout = 60",
    ]


def make_live(root: Path) -> LiveInstall:
    """Directories and config; nothing is started (start with start_live)."""
    fake = make_install(root / "install")
    structr = EmulatorService(root / "structr", root / "emu-run")
    structr.data.mkdir()
    install = LiveInstall(fake.neo4j, structr, root / "backups", root / "appsync.toml", root / "svc.log")
    install.write_config()
    return install


def start_live(install: LiveInstall) -> None:
    install.neo4j.start()
    if install.structr.call("start") != 0:
        raise RuntimeError("the emulator did not start")


def stop_live(install: LiveInstall) -> None:
    install.structr.call("stop")
    install.neo4j.stop()
