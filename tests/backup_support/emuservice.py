"""The Structr emulator run as a service through emuctl.py, for backup tests with real processes."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.backup_support.install import free_port
from tests.structr_emulator.harness import Emulator

EMUCTL = Path(__file__).resolve().parent / "emuctl.py"


class EmulatorService:
    """The emulator run as a service through emuctl.py; `api` talks to it like the harness does."""

    def __init__(self, data: Path, run: Path, port: int | None = None) -> None:
        self.data, self.run, self.port = data, run, port or free_port()
        self.api = Emulator(data, port=self.port)
        self.api.url = f"http://127.0.0.1:{self.port}"

    @property
    def health_url(self) -> str:
        return f"{self.api.url}/structr/health/ready"

    def command(self, action: str) -> str:
        parts = [sys.executable, str(EMUCTL), action, "--run", str(self.run)]
        if action == "start":
            parts += ["--data", str(self.data), "--port", str(self.port)]
        return shlex.join(parts)

    def call(self, action: str) -> int:
        return subprocess.run(self.command(action), shell=True, check=False, timeout=60).returncode

    def digest(self) -> str:
        self.api.flush()
        return self.api.state_digest()


@contextmanager
def running_emulator(root: Path) -> Iterator[EmulatorService]:
    """An emulator service with empty data under ``root``, started for the block and stopped after it."""
    service = EmulatorService(root / "structr", root / "emu-run")
    service.data.mkdir()
    assert service.call("start") == 0
    try:
        yield service
    finally:
        service.call("stop")


def logged(command: str, log: Path, label: str) -> str:
    """``command`` prefixed with a line appended to ``log``: the service manager's log of what it was asked."""
    return f"echo {shlex.quote(label)} >> {shlex.quote(str(log))} && {command}"
