"""Advice on Neo4j's stop: is it idling after its data is already safe?

Neo4j 5 logs its shutdown in debug.log: "Shutdown started", a checkpoint per database ("Checkpoint triggered by
"Database shutdown" ... completed in N ms"), "Stopped 'DatabaseId{...}' successfully", then the Bolt server's
shutdown, whose network layer waits a graceful quiet period (about 5 s, twice) before the process exits and
frees the store lock. Two settings in neo4j.conf remove that wait; appsync names them and never edits the file.

The functions without I/O (`missing_settings`, `last_shutdown`, `shutdown_advice`) are for any caller, such as a
`doctor` command; `after_backup` reads the files the backup config points at.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from structr_appsync.config import BackupConfig

logger = logging.getLogger(__name__)

QUICK_SHUTDOWN_SETTINGS = {
    "internal.dbms.bolt.netty_server_shutdown_quiet_period": "0",
    "internal.dbms.bolt.netty_server_shutdown_timeout": "1",
}
IDLE_WORTH_ADVICE = 2.0  # seconds of stop after the databases were closed
_LOG_TAIL_BYTES = 4 * 1024 * 1024
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}[+-]\d{4}) ")
_CHECKPOINT_DONE = re.compile(r'Checkpoint triggered by "Database shutdown".* completed in (\d+)ms')
_DATABASE_STOPPED = re.compile(r"Stopped 'DatabaseId\{.*\}' successfully")
_LAST_WORD = "Bolt server has been shut down"  # the end of a shutdown
_NEXT_START = "GlobalModule] Logging config in use"  # the first line of the next start


def parse_conf(text: str) -> dict[str, str]:
    """`key=value` settings of a neo4j.conf (comments and blank lines skipped; the last value wins)."""
    settings: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        key, _, value = stripped.partition("=")
        settings[key.strip()] = value.strip()
    return settings


def missing_settings(conf_text: str) -> dict[str, str]:
    """The quick-shutdown settings that neo4j.conf does not set (or sets to something else), with their value."""
    present = parse_conf(conf_text)
    return {key: value for key, value in QUICK_SHUTDOWN_SETTINGS.items() if present.get(key) != value}


@dataclass(frozen=True)
class ShutdownRecord:
    """Neo4j's last shutdown as its debug.log tells it."""

    began: datetime
    databases_closed: datetime
    ended: datetime
    checkpoint_seconds: float

    @property
    def seconds(self) -> float:
        return (self.ended - self.began).total_seconds()

    @property
    def idle_seconds(self) -> float:
        """How long the stop went on after every database was closed (checkpoint done, store consistent)."""
        return (self.ended - self.databases_closed).total_seconds()


def _stamp(line: str) -> datetime | None:
    match = _STAMP.match(line)
    return datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S.%f%z") if match else None


def last_shutdown(debug_log: str) -> ShutdownRecord | None:
    """The last complete shutdown in a debug.log text (None when there is none, or it is still going on)."""
    lines = debug_log.splitlines()
    starts = [index for index, line in enumerate(lines) if "Shutdown started" in line]
    if not starts:
        return None
    block = lines[starts[-1] :]
    began = _stamp(block[0])
    closed: datetime | None = None
    ended: datetime | None = None
    checkpoint_ms = 0
    for line in block[1:]:
        if _NEXT_START in line:
            break
        stamp = _stamp(line)
        if stamp is not None:
            ended = stamp
        if _DATABASE_STOPPED.search(line):
            closed = stamp
        done = _CHECKPOINT_DONE.search(line)
        if done:
            checkpoint_ms += int(done[1])
        if _LAST_WORD in line:
            break
    if began is None or closed is None or ended is None:
        return None
    return ShutdownRecord(began, closed, ended, checkpoint_ms / 1000)


def shutdown_advice(conf_text: str, record: ShutdownRecord | None, stop_seconds: float | None = None) -> str | None:
    """One line of advice when Neo4j's stop is much longer than its checkpoint and the settings are missing.

    ``stop_seconds`` is the stop as appsync measured it (stop command plus proof of stop); without it the log's
    own duration is used.
    """
    missing = missing_settings(conf_text)
    if record is None or not missing:
        return None
    stop = stop_seconds if stop_seconds is not None else record.seconds
    if record.idle_seconds < IDLE_WORTH_ADVICE or stop < record.checkpoint_seconds + IDLE_WORTH_ADVICE:
        return None
    lines = ", ".join(f"{key}={value}" for key, value in missing.items())
    return (
        f"Neo4j's stop took {stop:.1f}s but its checkpoint only {record.checkpoint_seconds:.2f}s; it idled "
        f"{record.idle_seconds:.1f}s in Bolt's shutdown quiet period after the data was safe. Adding {lines} to "
        f"neo4j.conf would save about {record.idle_seconds:.1f}s of downtime (appsync does not edit neo4j.conf)"
    )


def logs_dir(conf_path: Path, conf_text: str) -> Path:
    """Neo4j's log directory: server.directories.logs, relative to NEO4J_HOME (the parent of conf/)."""
    home = conf_path.resolve().parent.parent
    configured = parse_conf(conf_text).get("server.directories.logs", "logs")
    path = Path(configured).expanduser()
    return path if path.is_absolute() else home / path


def _read_tail(path: Path) -> str:
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(size - _LOG_TAIL_BYTES, 0))
        return handle.read().decode("utf-8", errors="replace")


def after_backup(config: BackupConfig, phases: dict[str, float], root: Path | None = None) -> list[str]:
    """Advice after a backup, from the neo4j.conf the config names and the debug.log it points at."""
    if not config.neo4j_conf:
        return []
    conf_path = Path(config.neo4j_conf).expanduser()
    if not conf_path.is_absolute() and root is not None:
        conf_path = root / conf_path
    try:
        conf_text = conf_path.read_text(encoding="utf-8", errors="replace")
        debug_log = _read_tail(logs_dir(conf_path, conf_text) / "debug.log")
    except OSError as exc:
        logger.debug("no Neo4j shutdown advice: %s", exc)
        return []
    stop = phases.get("stop.neo4j", 0.0) + phases.get("down.neo4j", 0.0) or None
    advice = shutdown_advice(conf_text, last_shutdown(debug_log), stop)
    return [advice] if advice else []
