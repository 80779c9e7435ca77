"""Backup building blocks: service managers (with systemctl/docker stand-ins on PATH), probes, the store lock
check, the page-level delta copy, manifest scrubbing, state-file recovery."""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from structr_appsync.backup import health, services, storelock
from structr_appsync.backup.context import context_for
from structr_appsync.backup.copier import PAGE_SIZE, Cloner, TreeCopy
from structr_appsync.backup.manifest import scrub
from structr_appsync.config import BackupConfig, ServiceConfig
from structr_appsync.errors import ServiceError

STAND_IN = """#!/bin/sh
# Records its argv, one call per line, and answers like the real tool would for a running/stopped unit.
printf '%s\\n' "$(basename "$0") $*" >> "$RECORD"
case "$*" in
  *is-active*) test -e "$STATE/running-$3" ;;
  *"ps --status running"*) eval last=\\${$#}; test -e "$STATE/running-$last" && echo "abc123" ; exit 0 ;;
  *"volume inspect"*) echo "$STATE/volumes/$5" ;;
  *" stop "*|"stop "*) eval last=\\${$#}; rm -f "$STATE/running-$last" ;;
  *" start "*|"start "*) eval last=\\${$#}; touch "$STATE/running-$last" ;;
esac
"""


@pytest.fixture
def stand_ins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("systemctl", "docker"):
        script = bin_dir / name
        script.write_text(STAND_IN)
        script.chmod(0o755)
    record, state = tmp_path / "calls.txt", tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("RECORD", str(record))
    monkeypatch.setenv("STATE", str(state))
    yield record, state


def _context(tmp_path: Path, manager: str, **extra: object):  # type: ignore[no-untyped-def]
    (tmp_path / "neo4j").mkdir(exist_ok=True)
    (tmp_path / "structr").mkdir(exist_ok=True)
    config = BackupConfig(
        destination=str(tmp_path / "dest"),
        neo4j_data=str(tmp_path / "neo4j"),
        structr_dir=str(tmp_path / "structr"),
        service_manager=manager,  # type: ignore[arg-type]
        structr=ServiceConfig(unit="structr-app", stop_timeout=5, start_timeout=5),
        neo4j=ServiceConfig(unit="neo4j-db", stop_timeout=5, start_timeout=5),
        **extra,  # type: ignore[arg-type]
    )
    return context_for(config, "prod", tmp_path, 5)


def test_systemd_commands_and_order(tmp_path: Path, stand_ins: tuple[Path, Path]) -> None:
    record, state = stand_ins
    (state / "running-structr-app").touch()
    (state / "running-neo4j-db").touch()
    context = _context(tmp_path, "systemd")
    chosen = services.services_for(context)
    with services.stopped_services(
        chosen,
        services.StateFile(context.state_path),
        env_name="prod",
        operation="backup",
        neo4j_data=context.neo4j_data,
        attempts=1,
    ) as downtime:
        assert json.loads(context.state_path.read_text())["services"] == ["structr", "neo4j"]
        assert not (state / "running-structr-app").exists()
    assert downtime.seconds > 0
    assert not context.state_path.exists()
    calls = [line for line in record.read_text().splitlines() if "is-active" not in line]
    assert calls == [
        "systemctl stop structr-app",
        "systemctl stop neo4j-db",
        "systemctl start neo4j-db",
        "systemctl start structr-app",
    ]
    assert "systemctl is-active --quiet neo4j-db" in record.read_text()


def test_compose_commands_and_volume_lookup(tmp_path: Path, stand_ins: tuple[Path, Path]) -> None:
    record, state = stand_ins
    (state / "running-structr-app").touch()
    (state / "running-neo4j-db").touch()
    context = _context(tmp_path, "compose", compose_project_dir="deploy")
    manager = services.make_manager(context.config, context.root)
    assert isinstance(manager, services.ComposeManager)
    assert manager.volume_path("neo4j-database") == state / "volumes" / "neo4j-database"
    chosen = services.services_for(context)
    with services.stopped_services(
        chosen, services.StateFile(context.state_path), env_name="prod", operation="backup", neo4j_data=None, attempts=1
    ):
        pass
    project = str(tmp_path / "deploy")
    calls = [line for line in record.read_text().splitlines() if " ps " not in line]
    assert calls == [
        "docker volume inspect --format {{ .Mountpoint }} neo4j-database",
        f"docker compose --project-directory {project} stop --timeout 1 structr-app",
        f"docker compose --project-directory {project} stop --timeout 1 neo4j-db",
        f"docker compose --project-directory {project} start neo4j-db",
        f"docker compose --project-directory {project} start structr-app",
    ]


def test_a_failed_stop_restarts_what_was_stopped(tmp_path: Path, stand_ins: tuple[Path, Path]) -> None:
    _record, state = stand_ins
    (state / "running-structr-app").touch()
    (state / "running-neo4j-db").touch()
    context = _context(tmp_path, "systemd")
    chosen = services.services_for(context)
    # Neo4j's stop "succeeds" but the unit stays active: it is not proven down.
    quick = chosen[1].config.model_copy(update={"stop_timeout": 0.5})
    broken = services.Service("neo4j", quick, _StaysUp(chosen[1].manager))
    with (
        pytest.raises(ServiceError, match="Neo4j did not stop"),
        services.stopped_services(
            [chosen[0], broken],
            services.StateFile(context.state_path),
            env_name="prod",
            operation="backup",
            neo4j_data=None,
            attempts=1,
        ),
    ):
        pytest.fail("the body must not run")
    assert (state / "running-structr-app").exists()
    assert not context.state_path.exists()


class _StartBug:
    """Delegates to a real manager, but starting the named service raises an unexpected (non-appsync) error."""

    def __init__(self, inner: services.Manager, broken_unit: str, error: BaseException) -> None:
        self.inner, self.broken_unit, self.error = inner, broken_unit, error

    def stop(self, service: ServiceConfig, timeout: float) -> None:
        self.inner.stop(service, timeout)

    def start(self, service: ServiceConfig, timeout: float) -> None:
        if service.unit == self.broken_unit:
            raise self.error
        self.inner.start(service, timeout)

    def is_running(self, service: ServiceConfig) -> bool | None:
        return self.inner.is_running(service)


def test_a_bug_starting_neo4j_still_starts_structr(tmp_path: Path, stand_ins: tuple[Path, Path]) -> None:
    _record, state = stand_ins
    (state / "running-structr-app").touch()
    (state / "running-neo4j-db").touch()
    context = _context(tmp_path, "systemd")
    real = services.services_for(context)
    manager = _StartBug(real[0].manager, "neo4j-db", RuntimeError("bug in start"))
    chosen = [services.Service(service.name, service.config, manager) for service in real]
    with (
        pytest.raises(ServiceError, match=r"could not start the services again.*bug in start"),
        services.stopped_services(
            chosen,
            services.StateFile(context.state_path),
            env_name="prod",
            operation="backup",
            neo4j_data=None,
            attempts=1,
        ),
    ):
        pass
    assert (state / "running-structr-app").exists(), "Structr must be started even though Neo4j's start crashed"
    assert context.state_path.exists(), "the state file stays so that the next command retries Neo4j"


def test_ctrl_c_while_stopping_neo4j_restarts_both(tmp_path: Path, stand_ins: tuple[Path, Path]) -> None:
    _record, state = stand_ins
    (state / "running-structr-app").touch()
    (state / "running-neo4j-db").touch()
    context = _context(tmp_path, "systemd")
    real = services.services_for(context)

    class _InterruptedStop(_StartBug):
        def stop(self, service: ServiceConfig, timeout: float) -> None:
            self.inner.stop(service, timeout)
            if service.unit == "neo4j-db":
                raise KeyboardInterrupt

    manager = _InterruptedStop(real[0].manager, "none", RuntimeError())
    chosen = [services.Service(service.name, service.config, manager) for service in real]
    with (
        pytest.raises(KeyboardInterrupt),
        services.stopped_services(
            chosen,
            services.StateFile(context.state_path),
            env_name="prod",
            operation="backup",
            neo4j_data=None,
            attempts=1,
        ),
    ):
        pytest.fail("the body must not run")
    assert (state / "running-structr-app").exists()
    assert (state / "running-neo4j-db").exists()
    assert not context.state_path.exists()


class _RecordsSignalMask:
    """Starting a service runs a real child process (as a start command would) and records its blocked signals."""

    def __init__(self, record: Path, signal_self_on_start: int | None = None) -> None:
        self.record, self.signal_self_on_start = record, signal_self_on_start
        self.started: list[str] = []

    def stop(self, service: ServiceConfig, timeout: float) -> None:
        pass

    def start(self, service: ServiceConfig, timeout: float) -> None:
        from structr_appsync import process

        if self.signal_self_on_start is not None and not self.started:
            os.kill(os.getpid(), self.signal_self_on_start)  # arrives in the middle of the restart
        blocked = process.run(
            [sys.executable, "-c", "print(open('/proc/self/status').read().split('SigBlk:')[1].split()[0])"],
            timeout=30,
        ).stdout.strip()
        with self.record.open("a") as handle:
            handle.write(f"{service.unit} {blocked}\n")
        self.started.append(str(service.unit))

    def is_running(self, service: ServiceConfig) -> bool | None:
        return None


def _two_services(manager: services.Manager) -> list[services.Service]:
    config = ServiceConfig(stop_timeout=1, start_timeout=1)
    return [
        services.Service("structr", config.model_copy(update={"unit": "structr-app"}), manager),
        services.Service("neo4j", config.model_copy(update={"unit": "neo4j-db"}), manager),
    ]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the signal mask from /proc")
def test_services_are_not_started_with_sigterm_blocked(tmp_path: Path) -> None:
    """The restart holds signals back without the signal mask, which every started process would inherit."""
    record = tmp_path / "masks.txt"
    manager = _RecordsSignalMask(record)
    with services.stopped_services(
        _two_services(manager),
        services.StateFile(tmp_path / "state.json"),
        env_name="prod",
        operation="backup",
        neo4j_data=None,
        attempts=1,
    ):
        pass
    masks = dict(line.split() for line in record.read_text().splitlines())
    assert set(masks) == {"structr-app", "neo4j-db"}
    held = (1 << (signal.SIGTERM - 1)) | (1 << (signal.SIGINT - 1))
    for unit, mask in masks.items():
        assert int(mask, 16) & held == 0, f"{unit} was started with SIGTERM/SIGINT blocked ({mask})"


def test_sigterm_during_the_restart_is_delivered_after_it(tmp_path: Path) -> None:
    class Stop(Exception):
        pass

    def raise_stop(_signum: int, _frame: object) -> None:
        raise Stop

    record = tmp_path / "masks.txt"
    manager = _RecordsSignalMask(record, signal_self_on_start=signal.SIGTERM)
    previous = signal.signal(signal.SIGTERM, raise_stop)
    try:
        with (
            pytest.raises(Stop),
            services.stopped_services(
                _two_services(manager),
                services.StateFile(tmp_path / "state.json"),
                env_name="prod",
                operation="backup",
                neo4j_data=None,
                attempts=1,
            ),
        ):
            pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert manager.started == ["neo4j-db", "structr-app"], "the signal must not cut the restart short"
    assert not (tmp_path / "state.json").exists()


class _DataDependentService:
    """Starts only when its data directory holds good data; stops always. Optionally signals itself on a start."""

    def __init__(self, data: dict[str, Path], signal_on_failed_start: int | None = None) -> None:
        self.data, self.signal_on_failed_start = data, signal_on_failed_start
        self.running = {"structr-app": True, "neo4j-db": True}

    def stop(self, service: ServiceConfig, timeout: float) -> None:
        self.running[str(service.unit)] = False

    def start(self, service: ServiceConfig, timeout: float) -> None:
        from structr_appsync.errors import CommandError

        if (self.data[str(service.unit)] / "bad").exists():
            if self.signal_on_failed_start is not None:
                signal_now, self.signal_on_failed_start = self.signal_on_failed_start, None
                os.kill(os.getpid(), signal_now)  # Ctrl-C / SIGTERM while the restored services fail to start
            raise CommandError("start", 1, "", "cannot open the store")
        self.running[str(service.unit)] = True

    def is_running(self, service: ServiceConfig) -> bool | None:
        return self.running[str(service.unit)]


def test_an_interrupt_while_restored_services_fail_still_puts_the_previous_state_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from structr_appsync.backup import restore

    class Stop(Exception):
        pass

    def raise_stop(_signum: int, _frame: object) -> None:
        raise Stop

    context = _context(tmp_path, "command")
    live = {"neo4j-db": tmp_path / "neo4j", "structr-app": tmp_path / "structr"}
    moves = []
    for path in live.values():
        (path / "current").write_text("in use before the restore\n")
        staged = path.with_name(f".{path.name}.appsync-restore-x")
        staged.mkdir()
        (staged / "bad").write_text("the backed-up data does not start\n")
        moves.append(restore._Move(target=path, staged=staged, aside=path.with_name(f".{path.name}.previous")))
    manager = _DataDependentService(live, signal_on_failed_start=signal.SIGTERM)
    chosen = [
        services.Service(name, ServiceConfig(unit=unit, stop_timeout=1, start_timeout=1), manager)
        for name, unit in (("structr", "structr-app"), ("neo4j", "neo4j-db"))
    ]
    monkeypatch.setattr(services, "services_for", lambda _context: chosen)
    monkeypatch.setattr(services, "_RETRY_PAUSE", 0.0)
    previous = signal.signal(signal.SIGTERM, raise_stop)
    try:
        with pytest.raises(Stop):
            restore._swap(context, moves, tmp_path / "neo4j")
    finally:
        signal.signal(signal.SIGTERM, previous)
    for path in live.values():
        assert (path / "current").exists(), f"{path} must hold the previous data again"
        assert not (path / "bad").exists()
    assert manager.running == {"structr-app": True, "neo4j-db": True}
    assert not context.state_path.exists()


class _StaysUp:
    def __init__(self, inner: services.Manager) -> None:
        self.inner = inner

    def stop(self, service: ServiceConfig, timeout: float) -> None:
        pass

    def start(self, service: ServiceConfig, timeout: float) -> None:
        self.inner.start(service, timeout)

    def is_running(self, service: ServiceConfig) -> bool | None:
        return True


def test_probes(tmp_path: Path) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            code = 200 if self.path.endswith("/ready") else 503
            body = b'{"neo4j_version": "5.26.30"}'
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert health.probe(f"http://127.0.0.1:{port}/structr/health/ready").up
        assert not health.probe(f"http://127.0.0.1:{port}/structr/health").up
        assert health.probe(f"bolt://127.0.0.1:{port}").up
        assert health.listening(f"http://127.0.0.1:{port}/x")
        assert health.neo4j_version(f"http://127.0.0.1:{port}/ready") == "5.26.30"
    finally:
        server.shutdown()
        server.server_close()
    assert not health.probe(f"bolt://127.0.0.1:{port}").up
    assert not health.probe("ftp://example.invalid/").up


HOLD_LOCK = (
    "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR); fcntl.lockf(fd, fcntl.LOCK_EX);"
    " print('locked', flush=True); sys.stdin.read()"
)


def test_store_lock_check_sees_posix_locks(tmp_path: Path) -> None:
    lock = tmp_path / "databases" / "store_lock"
    lock.parent.mkdir(parents=True)
    lock.touch()
    (tmp_path / "databases" / "neo4j").mkdir()
    (tmp_path / "databases" / "neo4j" / "database_lock").touch()
    assert set(storelock.find_lock_files(tmp_path)) == {lock, tmp_path / "databases" / "neo4j" / "database_lock"}
    assert storelock.held_locks(tmp_path) == []
    holder = subprocess.Popen(  # holds a POSIX lock like the JVM until stdin closes
        [sys.executable, "-c", HOLD_LOCK, str(lock)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert storelock.held_locks(tmp_path) == [lock]
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert storelock.held_locks(tmp_path) == []


def test_delta_writes_only_changed_pages(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "db").mkdir(parents=True)
    big = source / "db" / "store.db"
    big.write_bytes(os.urandom(PAGE_SIZE * 1024))  # 8 MiB
    (source / "small").write_text("one")
    copy = TreeCopy(name="neo4j", source=source, staged=tmp_path / "staged", verify_all=True, cloner=Cloner(False))
    copy.prepass()
    with big.open("r+b") as handle:
        for page in (3, 700):
            handle.seek(page * PAGE_SIZE + 5)
            handle.write(b"changed")
    (source / "small").write_text("two")
    (source / "new").write_text("new")
    copy.delta()
    assert (copy.staged / "db" / "store.db").read_bytes() == big.read_bytes()
    assert (copy.staged / "small").read_text() == "two"
    assert (copy.staged / "new").read_text() == "new"
    assert copy.stats.pages_written == 2
    assert copy.stats.delta_bytes == 2 * PAGE_SIZE + len("two") + len("new")
    # Vanished files disappear from staging.
    (source / "new").unlink()
    copy.delta()
    assert not (copy.staged / "new").exists()


def test_hard_linked_files_are_replaced_not_modified(tmp_path: Path) -> None:
    source, previous = tmp_path / "src", tmp_path / "prev"
    source.mkdir()
    previous.mkdir()
    (source / "a").write_text("old")
    os.utime(source / "a", (1_000_000, 1_000_000))
    (previous / "a").write_text("old")
    from structr_appsync.backup.manifest import FileEntry

    entry = FileEntry(path="a", kind="file", size=3, mode=0o644, uid=0, gid=0, mtime_ns=1_000_000 * 10**9)
    copy = TreeCopy(name="structr", source=source, staged=tmp_path / "staged", previous=previous,
                    previous_entries={"a": entry})  # fmt: skip
    copy.prepass()
    assert (copy.staged / "a").stat().st_ino == (previous / "a").stat().st_ino
    (source / "a").write_text("new")
    copy.delta()
    assert (copy.staged / "a").read_text() == "new"
    assert (previous / "a").read_text() == "old", "the previous generation must never change"


def test_reflink_attempt_falls_back_quietly(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("data")
    cloner = Cloner()
    cloned = cloner.clone(tmp_path / "a", tmp_path / "b")
    if cloned:  # btrfs / XFS
        assert (tmp_path / "b").read_text() == "data"
        assert stat.S_IMODE((tmp_path / "b").stat().st_mode) == 0o600
    else:
        assert cloner.supported is False
        assert not (tmp_path / "b").exists()


def test_scrub_drops_secrets() -> None:
    config = {
        "structr": {"health_url": "http://admin:pw@localhost:8082/structr/health/ready", "password": "x"},
        "neo4j": {"start": "neo4j start", "auth_token": "t"},
        "items": [{"api_key": "k", "ok": 1}],
    }
    assert scrub(config) == {
        "structr": {"health_url": "http://***@localhost:8082/structr/health/ready"},
        "neo4j": {"start": "neo4j start"},
        "items": [{"ok": 1}],
    }


@pytest.mark.parametrize(
    ("config", "secret"),
    [
        ({"structr": {"health_url": "http://admin:p@ss-word@localhost:8082/ready"}}, "ss-word"),
        ({"structr": {"health_url": "http://localhost:8082/ready?access_token=tok123&x=1"}}, "tok123"),
        ({"neo4j": {"stop": "PGPASSWORD=hunter2 /opt/stop-db"}}, "hunter2"),
        ({"neo4j": {"status": "cypher-shell -u neo4j --password 'hunter 2' 'RETURN 1'"}}, "hunter 2"),
        ({"snapshot_command": "zfs-snap --api-key=k3y tank/structr"}, "k3y"),
        ({"monitoring": {"success_url": "https://hc-ping.com/5f1c2a9e-0b6d-4c1e-9d7a-2f7e3b1a9c44"}}, "5f1c2a9e"),
    ],
)
def test_scrub_removes_secrets_inside_values(config: dict[str, object], secret: str) -> None:
    assert secret not in json.dumps(scrub(config))


def test_scrub_keeps_what_is_not_secret() -> None:
    config = {
        "monitoring": {"start_url": "https://hc-ping.com/abc/start", "failure_url": None},
        "structr": {"start": "systemctl start structr", "health_url": "http://localhost:8082/structr/health/ready"},
    }
    assert scrub(config) == {
        "monitoring": {"start_url": "https://hc-ping.com/***", "failure_url": None},
        "structr": {"start": "systemctl start structr", "health_url": "http://localhost:8082/structr/health/ready"},
    }


def test_destination_inside_a_source_is_refused(tmp_path: Path) -> None:
    from structr_appsync.backup.engine import resolve_sources
    from structr_appsync.errors import ConfigError

    context = _context(tmp_path, "command")
    bad = context_for(
        context.config.model_copy(update={"destination": str(tmp_path / "structr" / "backups")}), "prod", tmp_path, 5
    )
    with pytest.raises(ConfigError, match="must not be inside"):
        resolve_sources(bad)


def test_recover_without_state_is_a_no_op(tmp_path: Path) -> None:
    from structr_appsync.backup import recover_on_startup, recover_stopped_services
    from structr_appsync.config import AppsyncConfig

    context = _context(tmp_path, "command")
    settings = AppsyncConfig.model_validate(
        {"env": {"prod": {"url": "http://localhost:8082", "backup": context.config.model_dump()}}}
    )
    assert recover_stopped_services(settings) == []
    assert recover_on_startup(tmp_path / "missing.toml") == []


def test_free_port_helper_is_free() -> None:
    from tests.backup_support.install import free_port

    port = free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # raises if the helper handed out a port that is in use


def test_incomplete_generations_are_never_listed_and_get_removed(tmp_path: Path) -> None:
    from structr_appsync.backup import store
    from structr_appsync.errors import ArchiveError

    destination = tmp_path / "dest"
    (destination / "20260101T000000Z" / "neo4j").mkdir(parents=True)
    (destination / ".staging-20260102T000000Z" / "structr").mkdir(parents=True)
    (destination / "20260103T000000Z").mkdir()
    (destination / "20260103T000000Z" / "manifest.json").write_text("{not json")
    assert store.list_generations(destination) == []
    with pytest.raises(ArchiveError, match="incomplete"):
        store.find_generation(destination, "20260101T000000Z")
    with pytest.raises(ArchiveError, match="no complete backup"):
        store.find_generation(destination, "latest")
    removed = store.remove_stale(destination)
    assert sorted(removed) == [".staging-20260102T000000Z", "20260101T000000Z"]
    assert (destination / "20260103T000000Z").exists(), "a directory with a manifest is not removed"


def test_manifest_and_state_file_survive_short_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """os.write may write less than asked (a filling disk): the rest must still be written, never dropped."""
    from datetime import UTC, datetime

    from structr_appsync.backup import manifest as manifest_module

    now = datetime.now(UTC)
    manifest = manifest_module.Manifest(
        id="20260101T000000Z",
        env="prod",
        started_at=now,
        stopped_at=now,
        restarted_at=now,
        finished_at=now,
        downtime_seconds=1.0,
        copy_seconds=0.5,
        method="delta",
        bytes_total=0,
        bytes_copied_during_downtime=0,
        bytes_new=0,
        files_total=0,
        config={"service_manager": "command"},
        trees={},
    )
    real_write = os.write

    def short_write(fd: int, data: bytes | memoryview) -> int:
        return real_write(fd, bytes(data)[:64])

    monkeypatch.setattr(os, "write", short_write)
    manifest_module.write_manifest(tmp_path, manifest)
    services.StateFile(tmp_path / "state.json").write("prod", "backup", ["structr", "neo4j"])
    monkeypatch.setattr(os, "write", real_write)
    assert manifest_module.read_manifest(tmp_path) == manifest
    assert json.loads((tmp_path / "state.json").read_text())["services"] == ["structr", "neo4j"]
