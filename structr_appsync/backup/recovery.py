"""Restarting services that a dead appsync left stopped (SIGKILL, power loss), as the state file records."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from structr_appsync.backup import services, store
from structr_appsync.backup.context import BackupContext, all_contexts
from structr_appsync.config import AppsyncConfig, LoadedConfig, load_config
from structr_appsync.errors import AppsyncError, ConfigError, LockHeld, ServiceError
from structr_appsync.lock import LOCK_ENV_VAR, exclusive_lock

logger = logging.getLogger(__name__)


def recover_stopped_services(config: LoadedConfig | AppsyncConfig, *, strict: bool = False) -> list[str]:
    """Restart services left stopped by an appsync that died; return one message per recovered environment.

    Cheap when there is nothing to do (one stat per environment with a backup table). A state file whose backup
    lock is held belongs to a live appsync process and is left alone. With ``strict`` a failed restart raises;
    otherwise it is logged and reported in the returned messages (every command calls this, and must still run).

    Raises:
        ServiceError: with ``strict``, when a service cannot be started.
    """
    messages: list[str] = []
    for context in all_contexts(config):
        if not context.state_path.exists() or os.environ.get(LOCK_ENV_VAR) == str(context.lock_path):
            continue
        try:
            with exclusive_lock(context.lock_path, timeout=0, what="a backup or restore"):
                messages += recover_locked(context, strict=strict)
        except LockHeld:
            logger.debug("%s: a live appsync process holds the backup lock", context.env_name)
        except ServiceError:
            raise
        except AppsyncError as exc:
            if strict:
                raise
            messages.append(f"env {context.env_name}: could not recover stopped services: {exc}")
            logger.error("%s", messages[-1])
    return messages


def recover_on_startup(config_path: str | Path | None = None) -> list[str]:
    """For the CLI boundary: load the config if there is one and recover; never raises.

    What it did is logged (warning level, so it shows even with -q); the messages are also returned.
    """
    try:
        loaded = load_config(config_path)
    except ConfigError:
        return []
    try:
        return recover_stopped_services(loaded)
    except AppsyncError as exc:
        logger.error("could not restart services left stopped by an earlier appsync run: %s", exc)
        return [str(exc)]


def restart_left_stopped_once(config: LoadedConfig | AppsyncConfig) -> list[str]:
    """For the commands other than `backup`: one stat of each stopped-services marker, and only when one exists,
    one attempt to start what it names; never raises, never waits for a lock.

    `appsync backup recover` and the backup commands retry (start_attempts); everything else warns and goes on.
    """
    messages: list[str] = []
    for context in all_contexts(config):
        if not context.state_path.exists():
            continue
        try:
            with exclusive_lock(context.lock_path, timeout=0, what="a backup or restore"):
                messages += recover_locked(context, strict=False, attempts=1)
        except LockHeld:
            logger.debug("%s: a live appsync process holds the backup lock", context.env_name)
        except AppsyncError as exc:
            messages.append(f"env {context.env_name}: could not start the services appsync left stopped: {exc}")
            logger.warning("%s", messages[-1])
    return messages


def recover_locked(context: BackupContext, *, strict: bool = True, attempts: int | None = None) -> list[str]:
    """Recover one environment; the caller holds its backup lock.

    ``attempts`` (default: the config's start_attempts) is 1 for the quick check of the non-backup commands,
    which warn instead of naming an interrupted run: the marker may be from a run whose restart failed.
    """
    quick = attempts is not None
    state_file = services.StateFile(context.state_path)
    state = state_file.read()
    if state is None:
        return []
    store.remove_stale(context.destination)
    notes = _undo_restore_moves(state.get("moves", []))
    wanted = set(state.get("services") or services.STOP_ORDER)
    chosen = [service for service in services.services_for(context) if service.name in wanted]
    started: list[str] = []
    failures: list[str] = []
    for service in reversed(chosen):
        try:
            up, _detail = services.is_up(service)
            if up:
                continue
            services.start_service(service, attempts or context.config.start_attempts)
            started.append(service.label)
        except ServiceError as exc:
            failures.append(str(exc))
        except Exception as exc:  # a bug or an unexpected error must not keep the next service down
            logger.exception("starting %s failed unexpectedly", service.label)
            failures.append(f"{service.label} start failed: {exc!r}")
    who = (
        f"an interrupted appsync {state.get('operation', 'run')} (pid {state.get('pid', '?')}, since "
        f"{state.get('since', '?')})"
    )
    if failures and quick:
        message = (
            f"env {context.env_name}: services that appsync {state.get('operation', 'run')} stopped (pid "
            f"{state.get('pid', '?')}, since {state.get('since', '?')}) are still down; one start attempt failed: "
            + "; ".join(failures)
            + "; continuing (`appsync backup recover` retries)"
        )
        logger.warning("%s", message)
        return [message]
    if failures:
        message = f"env {context.env_name}: services stopped by {who} could not be started: " + "; ".join(failures)
        if strict:
            raise ServiceError(message, hint=f"fix the service; the state file {context.state_path} stays")
        logger.error("%s", message)
        return [message]
    state_file.remove()
    done = ", ".join(started) if started else "nothing (they were already running)"
    message = f"env {context.env_name}: found services stopped by {who}; started {done}"
    if notes:
        message += "; " + "; ".join(notes)
    logger.warning("%s", message)
    return [message]


def _undo_restore_moves(moves: list[dict[str, str]]) -> list[str]:
    """A restore that died between moving the live directories aside and putting the backup in place."""
    notes: list[str] = []
    for move in moves:
        target, aside = Path(move["target"]), Path(move["aside"])
        if not target.exists() and aside.exists():
            aside.rename(target)
            notes.append(f"put {target} back from {aside}")
        elif target.exists() and aside.exists():
            notes.append(f"the directory in use before the restore is kept at {aside}")
    return notes
