"""Stopping and starting Structr and Neo4j: the three service managers, the `stopped_services` bracket that always
restarts, and the state file that lets the next appsync command restart services after appsync itself died."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from structr_appsync import process
from structr_appsync.backup import health, storelock
from structr_appsync.backup.context import BackupContext
from structr_appsync.backup.manifest import create_private, write_all
from structr_appsync.backup.phases import PhaseClock
from structr_appsync.config import BackupConfig, ServiceConfig
from structr_appsync.errors import CommandError, ConfigError, ServiceError
from structr_appsync.interrupts import signals_deferred

logger = logging.getLogger(__name__)

STOP_ORDER = ("structr", "neo4j")  # start order is the reverse
LABELS = {"structr": "Structr", "neo4j": "Neo4j"}
_RETRY_PAUSE = 2.0
LOCK_GRACE_SECONDS = 10.0  # a process that just exited may release the store lock a moment later


class Manager(Protocol):
    """How one kind of service manager stops, starts and queries a service."""

    def stop(self, service: ServiceConfig, timeout: float) -> None: ...

    def start(self, service: ServiceConfig, timeout: float) -> None: ...

    def is_running(self, service: ServiceConfig) -> bool | None:
        """True/False, or None when the manager cannot tell (no status command)."""
        ...


class SystemdManager:
    def _unit(self, service: ServiceConfig) -> str:
        if not service.unit:
            raise ConfigError("service_manager = systemd needs `unit` for every service")
        return service.unit

    def stop(self, service: ServiceConfig, timeout: float) -> None:
        process.run(["systemctl", "stop", self._unit(service)], timeout=timeout)

    def start(self, service: ServiceConfig, timeout: float) -> None:
        process.run(["systemctl", "start", self._unit(service)], timeout=timeout)

    def is_running(self, service: ServiceConfig) -> bool | None:
        result = process.run(["systemctl", "is-active", "--quiet", self._unit(service)], check=False, timeout=60)
        return result.returncode == 0


class ComposeManager:
    def __init__(self, project_dir: Path | None) -> None:
        self.project_dir = project_dir

    def _base(self) -> list[str]:
        base = ["docker", "compose"]
        if self.project_dir is not None:
            base += ["--project-directory", str(self.project_dir)]
        return base

    def _name(self, service: ServiceConfig) -> str:
        if not service.unit:
            raise ConfigError("service_manager = compose needs `unit` (the compose service) for every service")
        return service.unit

    def stop(self, service: ServiceConfig, timeout: float) -> None:
        # docker's own grace period before SIGKILL must not cut a Neo4j checkpoint short.
        grace = str(int(max(timeout - 5, 1)))
        process.run([*self._base(), "stop", "--timeout", grace, self._name(service)], timeout=timeout)

    def start(self, service: ServiceConfig, timeout: float) -> None:
        process.run([*self._base(), "start", self._name(service)], timeout=timeout)

    def is_running(self, service: ServiceConfig) -> bool | None:
        result = process.run(
            [*self._base(), "ps", "--status", "running", "--quiet", self._name(service)], check=False, timeout=60
        )
        if result.returncode != 0:
            return None
        return bool(result.stdout.strip())

    def volume_path(self, volume: str) -> Path:
        """Where a named docker volume lives on this host (`docker volume inspect`)."""
        result = process.run(["docker", "volume", "inspect", "--format", "{{ .Mountpoint }}", volume], timeout=60)
        mountpoint = result.stdout.strip()
        if not mountpoint:
            raise ConfigError(f"docker volume {volume!r} has no mountpoint")
        return Path(mountpoint)


class CommandManager:
    def stop(self, service: ServiceConfig, timeout: float) -> None:
        if not service.stop:
            raise ConfigError("service_manager = command needs a `stop` command for every service")
        process.run(service.stop, shell=True, timeout=timeout)

    def start(self, service: ServiceConfig, timeout: float) -> None:
        if not service.start:
            raise ConfigError("service_manager = command needs a `start` command for every service")
        process.run(service.start, shell=True, timeout=timeout)

    def is_running(self, service: ServiceConfig) -> bool | None:
        if not service.status:
            return None
        return process.run(service.status, shell=True, check=False, timeout=60).returncode == 0


def make_manager(config: BackupConfig, root: Path) -> Manager:
    if config.service_manager == "systemd":
        return SystemdManager()
    if config.service_manager == "compose":
        project = Path(config.compose_project_dir) if config.compose_project_dir else None
        if project is not None and not project.is_absolute():
            project = root / project
        return ComposeManager(project)
    return CommandManager()


@dataclass(frozen=True)
class Service:
    name: str  # "structr" or "neo4j"
    config: ServiceConfig
    manager: Manager

    @property
    def label(self) -> str:
        return LABELS.get(self.name, self.name)


def services_for(context: BackupContext) -> list[Service]:
    """The services in stop order."""
    manager = make_manager(context.config, context.root)
    configs = {"structr": context.config.structr, "neo4j": context.config.neo4j}
    return [Service(name, configs[name], manager) for name in STOP_ORDER]


def is_down(service: Service) -> tuple[bool, str]:
    """Whether the service is proven down: its manager says stopped and nothing listens on its health port."""
    running = service.manager.is_running(service.config)
    if running:
        return False, "its status still says running"
    if service.config.health_url and health.listening(service.config.health_url):
        return False, f"{service.config.health_url} still accepts connections"
    if running is None and not service.config.health_url:
        return True, "no status command or health URL to check (assumed down)"
    return True, "stopped"


def is_up(service: Service) -> tuple[bool, str]:
    """Whether the service is running and healthy. The probe goes first, so a poll during a start runs no status
    command; the status is asked once the probe answers (a stale process on the port must not count as up)."""
    if service.config.health_url:
        result = health.probe(service.config.health_url)
        if not result.up:
            return False, result.detail
    if service.manager.is_running(service.config) is False:
        return False, "its status says stopped"
    return True, "running"


def stop_service(service: Service, clock: PhaseClock | None = None) -> None:
    """Stop one service and wait until it is proven down (timed as ``stop.NAME`` and ``down.NAME``).

    Raises:
        ServiceError: when the stop command fails or the service does not go down in time.
    """
    timeout = service.config.stop_timeout
    deadline = time.monotonic() + timeout
    clock = clock or PhaseClock()
    logger.info("Stopping %s...", service.label)
    try:
        with clock.measure(f"stop.{service.name}"):
            service.manager.stop(service.config, timeout)
    except CommandError as exc:
        raise ServiceError(f"could not stop {service.label}: {exc}") from exc
    detail = ""

    def down() -> bool:
        nonlocal detail
        ok, detail = is_down(service)
        return ok

    with clock.measure(f"down.{service.name}"):
        proven = health.wait_until(down, timeout=max(deadline - time.monotonic(), 0.0))
    if not proven:
        raise ServiceError(f"{service.label} did not stop within {timeout:g}s ({detail})")


def start_service(service: Service, attempts: int = 1, clock: PhaseClock | None = None) -> list[str]:
    """Start one service and wait until it is healthy (timed as ``start.``, ``health.``, ``retry.NAME``); return the
    problems of failed attempts.

    Raises:
        ServiceError: when no attempt brought the service up.
    """
    clock = clock or PhaseClock()
    problems: list[str] = []
    for attempt in range(1, attempts + 1):
        timeout = service.config.start_timeout
        deadline = time.monotonic() + timeout
        logger.info("Starting %s%s...", service.label, f" (attempt {attempt})" if attempt > 1 else "")
        try:
            with clock.measure(f"start.{service.name}"):
                service.manager.start(service.config, timeout)
        except CommandError as exc:
            problems.append(f"{service.label} start failed: {exc}")
        else:
            detail = ""

            def up() -> bool:
                nonlocal detail
                ok, detail = is_up(service)
                return ok

            with clock.measure(f"health.{service.name}"):
                healthy = health.wait_until(up, timeout=max(deadline - time.monotonic(), 0.0))
            if healthy:
                return problems
            problems.append(f"{service.label} did not become healthy within {timeout:g}s ({detail})")
        if attempt < attempts:
            with clock.measure(f"retry.{service.name}"):
                time.sleep(_RETRY_PAUSE)
    raise ServiceError("; ".join(problems))


# ----------------------------------------------------------------------------------------------- state file


@dataclass
class StateFile:
    """`destination/.appsync-stopped.json`: written before the first stop, removed once everything runs again."""

    path: Path

    def write(self, env_name: str, operation: str, services: list[str], extra: dict[str, Any] | None = None) -> None:
        self._write_raw(
            {
                "env": env_name,
                "operation": operation,
                "services": services,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "since": datetime.now(UTC).isoformat(timespec="seconds"),
                **(extra or {}),
            }
        )

    def _write_raw(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        fd = create_private(temporary)  # the destination may be writable by others
        try:
            write_all(fd, json.dumps(data, indent=1).encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        temporary.replace(self.path)

    def read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            logger.warning("unreadable state file %s (%s); assuming both services were stopped", self.path, exc)
            return {"services": list(STOP_ORDER), "operation": "unknown"}
        return data if isinstance(data, dict) else {"services": list(STOP_ORDER)}

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


# ----------------------------------------------------------------------------------------------- the bracket


@dataclass
class Downtime:
    """Timing of one stop/start bracket; monotonic seconds, plus wall-clock stamps for the manifest."""

    stopped_at: datetime | None = None
    restarted_at: datetime | None = None
    began: float = 0.0
    ended: float = 0.0
    start_problems: list[str] = field(default_factory=list)
    phases: PhaseClock = field(default_factory=PhaseClock)

    @property
    def seconds(self) -> float:
        return max(self.ended - self.began, 0.0)


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGTERM/SIGINT back while services are restarted, so a second signal cannot skip the restart.

    Held by handlers, not by blocking them with the signal mask: a blocked mask is inherited by every process
    started meanwhile, and a service started from it (by a start command run through bash) would ignore the
    SIGTERM that is meant to stop it next time.
    """
    with signals_deferred():
        yield


def await_stop(service: Service) -> bool:
    """Wait until a stop that was cut short (timed out, interrupted) has taken the service down.

    The service may have received its stop signal and still be shutting down, answering its health port until
    the last moment: "starting" it then is a no-op, and it goes down a moment later. So a service whose stop was
    not seen through counts as back only once it was seen down and started again. Returns whether it went down
    within its `stop_timeout`; if not, the stop never took effect and the service is still running.
    """
    if health.wait_until(lambda: is_down(service)[0], timeout=service.config.stop_timeout):
        return True
    logger.warning("%s did not go down after its stop was cut short; it is still running", service.label)
    return False


def restart(
    services: list[Service],
    attempts: int,
    clock: PhaseClock | None = None,
    unsettled: frozenset[str] = frozenset(),
) -> tuple[list[str], list[str]]:
    """Start services (given in stop order) in reverse order; return (problems, failures).

    Services named in ``unsettled`` were not proven down (their stop was cut short): their stop is waited for
    before they are started.
    """
    problems: list[str] = []
    failures: list[str] = []
    for service in reversed(services):
        try:
            if service.name in unsettled:
                await_stop(service)
            problems += start_service(service, attempts, clock)
        except ServiceError as exc:
            failures.append(str(exc))
        except Exception as exc:  # a bug or an unexpected error must not keep the next service down
            logger.exception("starting %s failed unexpectedly", service.label)
            failures.append(f"{service.label} start failed: {exc!r}")
    return problems, failures


@contextmanager
def stopped_services(  # noqa: PLR0913 - backup/ is being reworked separately (issue 11); left as it is
    services: list[Service],
    state: StateFile,
    *,
    env_name: str,
    operation: str,
    neo4j_data: Path | None,
    attempts: int,
    state_extra: dict[str, Any] | None = None,
    body_phase: str = "copy",
) -> Iterator[Downtime]:
    """Stop the services in order, prove they are down, yield; always start them again in reverse order.

    ``downtime.phases`` times every step; the block inside the bracket counts as phase ``body_phase``.

    If stopping fails part-way, the ones already touched are started again before the error propagates. If a
    start fails even after retries, the state file stays so that the next appsync command tries again.

    Raises:
        ServiceError: when a stop or a start fails, or the Neo4j store lock is still held.
    """
    downtime = Downtime()
    touched: list[Service] = []
    proven_down: set[str] = set()
    state.write(env_name, operation, [service.name for service in services], state_extra)
    downtime.stopped_at = datetime.now(UTC)
    downtime.began = time.monotonic()
    primary: BaseException | None = None
    clock = downtime.phases
    try:
        for service in services:
            touched.append(service)
            stop_service(service, clock)
            proven_down.add(service.name)
        if neo4j_data is not None:
            with clock.measure("store_lock"):
                prove_store_unlocked(neo4j_data)
        with clock.measure(body_phase):
            yield downtime
    except BaseException as exc:
        primary = exc
        raise
    finally:
        with _signals_deferred():
            unsettled = frozenset(service.name for service in touched) - proven_down
            problems, failures = restart(touched, attempts, clock, unsettled)
            downtime.ended = time.monotonic()
            downtime.restarted_at = datetime.now(UTC)
            downtime.start_problems = problems
            if not failures:
                state.remove()
                logger.info("Services running again after %.2fs of downtime", downtime.seconds)
        if failures:
            cause = f" (after: {primary})" if primary is not None else ""
            raise ServiceError(
                "could not start the services again: " + "; ".join(failures) + cause,
                hint="fix the service, then run `appsync backup recover` (the state file "
                f"{state.path} remembers what is stopped)",
            ) from primary


def prove_store_unlocked(data_dir: Path) -> None:
    held = storelock.held_locks(data_dir)
    if held:
        # The process may still be exiting: give the lock a few seconds to go.
        if health.wait_until(lambda: not storelock.held_locks(data_dir), timeout=LOCK_GRACE_SECONDS):
            return
        names = ", ".join(str(path) for path in held)
        raise ServiceError(f"Neo4j's store lock is still held ({names}); refusing to copy a live store")
