"""`appsync backup restore ID`: put a generation back, behind health checks, with a way back.

1. verify the generation and stage a private copy next to each live directory (services still running);
2. stop Structr, then Neo4j, and prove they are down;
3. move the live directories aside (renamed, not deleted) and rename the staged copies into place;
4. start Neo4j, then Structr, behind their health checks;
5. if they do not come up healthy: stop them, put the previous directories back, start again, and fail.
The moved-aside directories are removed after success unless --keep-previous.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from structr_appsync.backup import services, store
from structr_appsync.backup.context import BackupContext
from structr_appsync.backup.copier import CHUNK_SIZE, Cloner
from structr_appsync.backup.engine import resolve_sources
from structr_appsync.backup.manifest import FileEntry, TreeManifest
from structr_appsync.backup.phases import as_rows, largest_phase
from structr_appsync.backup.recovery import recover_locked
from structr_appsync.backup.verify import verify_generation
from structr_appsync.errors import ArchiveError, BackupError, ServiceError
from structr_appsync.lock import exclusive_lock

logger = logging.getLogger(__name__)


@dataclass
class RestoreOutcome:
    id: str
    downtime_seconds: float = 0.0
    previous: list[str] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "downtime_seconds": round(self.downtime_seconds, 3),
            "phases": as_rows(self.phases),
            "largest_phase": largest_phase(self.phases),
            "previous": self.previous,
        }


@dataclass(frozen=True)
class _Move:
    target: Path
    staged: Path
    aside: Path

    def as_state(self) -> dict[str, str]:
        return {"target": str(self.target), "staged": str(self.staged), "aside": str(self.aside)}


def _materialize(tree: TreeManifest, source: Path, target: Path) -> None:
    """Copy one backed-up tree to ``target`` with the recorded modes, owners and timestamps."""
    cloner = Cloner()
    can_chown = os.geteuid() == 0
    entries = sorted(tree.entries, key=lambda entry: (entry.path != ".", entry.path))
    directories: list[tuple[Path, FileEntry]] = []
    for entry in entries:
        path = target if entry.path == "." else target / entry.path
        origin = source / entry.path if entry.path != "." else source
        if entry.kind == "dir":
            path.mkdir(mode=0o700, exist_ok=True)
            directories.append((path, entry))
            continue
        if entry.kind == "symlink":
            path.symlink_to(entry.target or "")
            if can_chown:
                os.lchown(path, entry.uid, entry.gid)
            if os.utime in os.supports_follow_symlinks:
                os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns), follow_symlinks=False)
            continue
        if not cloner.clone(origin, path):
            _copy(origin, path)
        _apply(path, entry, can_chown)
    for path, entry in reversed(directories):  # children first, so their mtimes are not disturbed afterwards
        _apply(path, entry, can_chown)


def _copy(origin: Path, path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with origin.open("rb") as handle:
            while data := handle.read(CHUNK_SIZE):
                view = memoryview(data)
                while view:  # os.write may write less than asked
                    view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _apply(path: Path, entry: FileEntry, can_chown: bool) -> None:
    if can_chown:
        os.chown(path, entry.uid, entry.gid)
    path.chmod(entry.mode)
    os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns))


def run_restore(context: BackupContext, wanted: str, *, keep_previous: bool = False) -> RestoreOutcome:
    """Restore generation ``wanted`` (``latest`` = newest complete one).

    Raises:
        ArchiveError: when the generation is missing, incomplete or fails verification (nothing was touched).
        BackupError: when the restored services did not come up (the previous state is back and running).
        ServiceError: when services could not be stopped or started.
    """
    neo4j_dir, structr_dir = resolve_sources(context)
    with exclusive_lock(context.lock_path, timeout=context.lock_timeout, what="a backup or restore"):
        recover_locked(context)
        generation = store.find_generation(context.destination, wanted)
        logger.info("Verifying backup %s before restoring it...", generation.id)
        report = verify_generation(generation)
        if not report.ok:
            raise ArchiveError(
                f"backup {generation.id} fails verification ({len(report.missing)} missing, "
                f"{len(report.changed)} changed, {len(report.extra)} extra); nothing was restored",
                hint=f"run `appsync backup verify {generation.id}` for details",
            )
        manifest = generation.load()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        moves = []
        for live in (neo4j_dir, structr_dir):
            if os.path.ismount(live):
                raise BackupError(
                    f"{live} is a mount point; appsync restores by renaming directories",
                    hint="restore into the volume by hand, or point the config at a parent directory",
                )
            moves.append(
                _Move(
                    target=live,
                    staged=live.with_name(f".{live.name}.appsync-restore-{generation.id}"),
                    aside=live.with_name(f".{live.name}.appsync-previous-{stamp}"),
                )
            )
        try:
            for move, name in zip(moves, ("neo4j", "structr"), strict=True):
                shutil.rmtree(move.staged, ignore_errors=True)
                logger.info("Staging %s next to %s...", name, move.target)
                _materialize(manifest.trees[name], generation.path / name, move.staged)
            downtime, phases = _swap(context, moves, neo4j_dir)
        finally:
            for move in moves:
                shutil.rmtree(move.staged, ignore_errors=True)
        previous = [str(move.aside) for move in moves]
        if not keep_previous:
            for move in moves:
                shutil.rmtree(move.aside, ignore_errors=True)
            previous = []
        logger.debug("Restored backup %s (downtime %.2fs)", generation.id, downtime)
        return RestoreOutcome(generation.id, downtime, previous, phases)


def _swap(context: BackupContext, moves: list[_Move], neo4j_dir: Path) -> tuple[float, dict[str, float]]:
    """Stop, swap directories, start behind health checks; roll back on failure. Returns the downtime and its
    phases."""
    chosen = services.services_for(context)
    attempts = context.config.start_attempts
    placed = False
    problems = ""
    try:
        with services.stopped_services(
            chosen,
            services.StateFile(context.state_path),
            env_name=context.env_name,
            operation="restore",
            neo4j_data=neo4j_dir,
            attempts=1,
            state_extra={"moves": [move.as_state() for move in moves]},
            body_phase="swap",
        ) as downtime:
            _place(moves)
            placed = True
    except ServiceError as exc:
        if not placed:
            raise
        problems = str(exc)
    except BaseException:
        # Interrupted (Ctrl-C, SIGTERM) after the swap: the signal, held back during the restart, can hide that
        # the restored services did not come up. Then the previous state must still come back before we stop.
        if placed and not _all_up(chosen):
            logger.error("Interrupted while the restored services were not up; putting the previous state back")
            _roll_back(context, chosen, moves, neo4j_dir, attempts)
        raise
    else:
        problems = "; ".join(downtime.start_problems)
        if not problems and not _all_up(chosen):
            problems = "services not healthy"
    if problems:
        logger.error("The restored services did not come up (%s); putting the previous state back", problems)
        _roll_back(context, chosen, moves, neo4j_dir, attempts)
        raise BackupError(
            f"the restored services did not come up healthy ({problems}); the previous state is back and running"
        )
    return downtime.seconds, downtime.phases.rounded()


def _place(moves: list[_Move]) -> None:
    """Move the live directories aside and the staged ones in; undo a half-done swap before re-raising."""
    done: list[_Move] = []
    try:
        for move in moves:
            move.target.rename(move.aside)
            try:
                move.staged.rename(move.target)
            except BaseException:
                move.aside.rename(move.target)
                raise
            done.append(move)
    except BaseException:
        for move in reversed(done):
            move.target.rename(move.staged)
            move.aside.rename(move.target)
        raise


def _all_up(chosen: list[services.Service]) -> bool:
    return all(services.is_up(service)[0] for service in chosen)


def _roll_back(
    context: BackupContext, chosen: list[services.Service], moves: list[_Move], neo4j_dir: Path, attempts: int
) -> None:
    """Stop whatever runs, put the previous directories back, start again. The state file covers a crash here."""
    state = services.StateFile(context.state_path)
    state.write(
        context.env_name,
        "restore rollback",
        [service.name for service in chosen],
        {"moves": [move.as_state() for move in moves]},
    )
    for service in chosen:
        if not services.is_down(service)[0]:
            services.stop_service(service)
    services.prove_store_unlocked(neo4j_dir)
    for move in moves:
        failed = move.target.with_name(f".{move.target.name}.appsync-failed-restore")
        shutil.rmtree(failed, ignore_errors=True)
        move.target.rename(failed)
        move.aside.rename(move.target)
        shutil.rmtree(failed, ignore_errors=True)
    _problems, failures = services.restart(chosen, attempts)
    if failures:
        raise ServiceError(
            "the previous directories are back, but the services did not start: " + "; ".join(failures),
            hint="fix the service, then run `appsync backup recover`",
        )
    state.remove()
