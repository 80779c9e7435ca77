"""A synthetic install for backup tests: two fake services (see fakesvc.py) and an appsync.toml driving them."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

FAKESVC = Path(__file__).resolve().with_name("fakesvc.py")
REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _q(value: str) -> str:
    return json.dumps(value)


@dataclass
class FakeService:
    name: str
    data: Path
    run: Path
    port: int
    pages: int
    interval: float = 0.02
    shutdown_seconds: float = 0.0
    start_flag: Path = field(init=False)
    stop_flag: Path = field(init=False)

    def __post_init__(self) -> None:
        self.start_flag = self.run.parent / f"{self.name}-fail-start"
        self.stop_flag = self.run.parent / f"{self.name}-fail-stop"

    def _cmd(self, action: str, *extra: str) -> str:
        parts = [sys.executable, str(FAKESVC), action, "--run", str(self.run)]
        if action == "start":
            parts += ["--data", str(self.data), "--port", str(self.port), "--pages", str(self.pages)]
            parts += ["--interval", str(self.interval), "--fail-if", str(self.start_flag)]
            parts += ["--shutdown-seconds", str(self.shutdown_seconds)]
        if action == "stop":
            parts += ["--fail-if", str(self.stop_flag)]
        return shlex.join([*parts, *extra])

    @property
    def start_command(self) -> str:
        return self._cmd("start")

    @property
    def stop_command(self) -> str:
        return self._cmd("stop")

    @property
    def status_command(self) -> str:
        # Plain shell, like `systemctl is-active`: fast. `run` removes its pid file on the way out.
        pid_file = shlex.quote(str(self.run / "pid"))
        return f'test -s {pid_file} && kill -0 "$(cat {pid_file})" 2>/dev/null'

    def start(self) -> None:
        subprocess.run(self.start_command, shell=True, check=True, timeout=30)

    def stop(self) -> None:
        subprocess.run(
            self.stop_command.replace(str(self.stop_flag), "/nonexistent"), check=False, shell=True, timeout=30
        )

    def running(self) -> bool:
        return subprocess.run(self.status_command, check=False, shell=True, timeout=30).returncode == 0

    def header(self) -> str:
        return (self.data / "databases" / "neo4j" / "header").read_text()


@dataclass
class FakeInstall:
    root: Path
    neo4j: FakeService
    structr: FakeService
    destination: Path
    config: Path

    def start(self) -> None:
        self.neo4j.start()
        self.structr.start()

    def stop(self) -> None:
        self.structr.stop()
        self.neo4j.stop()

    def both_running(self) -> bool:
        return self.neo4j.running() and self.structr.running()

    def write_config(self, *, stop_timeout: float = 20, **backup_extra: object) -> None:
        lines = [
            'default_env = "test"',
            "[env.test]",
            'url = "http://127.0.0.1:9"',
            "[env.test.backup]",
            f"destination = {_q(str(self.destination))}",
            f"neo4j_data = {_q(str(self.neo4j.data))}",
            f"structr_dir = {_q(str(self.structr.data))}",
            'service_manager = "command"',
            *(f"{key} = {json.dumps(value)}" for key, value in backup_extra.items()),
            "[env.test.backup.retention]",
            "keep_last = 20",
        ]
        for service, url in (
            (self.structr, f"http://127.0.0.1:{self.structr.port}/structr/health/ready"),
            (self.neo4j, f"bolt://127.0.0.1:{self.neo4j.port}"),
        ):
            lines += [
                f"[env.test.backup.{service.name}]",
                f"start = {_q(service.start_command)}",
                f"stop = {_q(service.stop_command)}",
                f"status = {_q(service.status_command)}",
                f"health_url = {_q(url)}",
                f"stop_timeout = {stop_timeout}",
                "start_timeout = 20",
            ]
        self.config.write_text("\n".join(lines) + "\n")


def make_install(
    root: Path, *, neo4j_pages: int = 600, interval: float = 0.02, shutdown_seconds: float = 0.0
) -> FakeInstall:
    """Create the directories, Structr-like files and config; the services are not started.

    ``shutdown_seconds`` makes both services take that long to shut down (as a Neo4j checkpoint does).
    """
    neo4j = FakeService(
        "neo4j", root / "neo4j" / "data", root / "run" / "neo4j", free_port(), neo4j_pages, interval, shutdown_seconds
    )
    structr = FakeService("structr", root / "structr", root / "run" / "structr", free_port(), 0, 0.05, shutdown_seconds)
    for service in (neo4j, structr):
        service.data.mkdir(parents=True, exist_ok=True)
        service.run.mkdir(parents=True, exist_ok=True)
    files = structr.data / "files"
    for index in range(30):
        uuid = f"{index:02d}" + "ab" * 15
        path = files / uuid[0] / uuid[1] / uuid[2] / uuid[3] / uuid
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(1000 + index * 100))
    (structr.data / "structr.conf").write_text("superuser.password = s3cret-value\napplication.http.port = 8082\n")
    (structr.data / "structr.conf").chmod(0o640)
    (structr.data / "scripts").mkdir()
    (structr.data / "scripts" / "hello.sh").write_text("#!/bin/sh\necho hi\n")
    (structr.data / "scripts" / "hello.sh").chmod(0o750)
    (structr.data / "scripts" / "latest").symlink_to("hello.sh")
    (neo4j.data / "marker").write_text("v1\n")
    install = FakeInstall(root, neo4j, structr, root / "backups", root / "appsync.toml")
    install.write_config()
    return install


@contextmanager
def running_install(root: Path) -> Iterator[FakeInstall]:
    """A fresh install with both fake services running; they are stopped on the way out."""
    install = make_install(root)
    install.start()
    try:
        yield install
    finally:
        install.stop()
