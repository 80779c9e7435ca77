"""`appsync backup`: pre-pass while running, stop, prove down, delta copy, restart, then the slow work."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from structr_appsync import process
from structr_appsync.backup import checkpoint, health, neo4j_advice, services, store, versions
from structr_appsync.backup.context import BackupContext
from structr_appsync.backup.copier import TreeCopy, previous_files
from structr_appsync.backup.manifest import MANIFEST_NAME, CheckRecord, Manifest, scrub, write_manifest
from structr_appsync.backup.phases import as_rows, describe_largest, largest_phase
from structr_appsync.backup.prune import prune_generations
from structr_appsync.backup.recovery import recover_locked
from structr_appsync.backup.retention import Decision
from structr_appsync.errors import ArchiveError, CommandError, ConfigError, ServiceError
from structr_appsync.lock import exclusive_lock

logger = logging.getLogger(__name__)


@dataclass
class BackupOutcome:
    id: str | None
    dry_run: bool
    downtime_seconds: float = 0.0
    copy_seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    checkpoint_seconds: float | None = None
    advice: list[str] = field(default_factory=list)
    method: str = "delta"
    bytes_total: int = 0
    bytes_new: int = 0
    bytes_copied_during_downtime: int = 0
    files_total: int = 0
    path: Path | None = None
    plan: list[str] = field(default_factory=list)
    pruned: list[Decision] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "dry_run": self.dry_run,
            "downtime_seconds": round(self.downtime_seconds, 3),
            "copy_seconds": round(self.copy_seconds, 3),
            "phases": as_rows(self.phases),
            "largest_phase": largest_phase(self.phases),
            "checkpoint_seconds": None if self.checkpoint_seconds is None else round(self.checkpoint_seconds, 3),
            "advice": self.advice,
            "method": self.method,
            "bytes_total": self.bytes_total,
            "bytes_new": self.bytes_new,
            "bytes_copied_during_downtime": self.bytes_copied_during_downtime,
            "files_total": self.files_total,
            "path": str(self.path) if self.path else None,
            "plan": self.plan,
            "pruned": [decision.archive.id for decision in self.pruned],
        }


def resolve_sources(context: BackupContext) -> tuple[Path, Path]:
    """The two source directories; `volume:NAME` (compose) is located through `docker volume inspect`.

    Raises:
        ConfigError: when a source is missing or the destination lies inside one.
    """
    resolved: list[Path] = []
    for key, path in (("neo4j_data", context.neo4j_data), ("structr_dir", context.structr_dir)):
        if str(path).startswith("volume:"):
            manager = services.make_manager(context.config, context.root)
            if not isinstance(manager, services.ComposeManager):
                raise ConfigError(f"backup.{key}: volume:NAME needs service_manager = compose")
            path = manager.volume_path(str(path).removeprefix("volume:"))
        if not path.is_dir():
            raise ConfigError(f"env.{context.env_name}.backup.{key}: {path} is not a directory")
        resolved.append(path.resolve())
    destination = context.destination.resolve()
    for source in resolved:
        if destination == source or source in destination.parents or destination in source.parents:
            raise ConfigError(f"backup destination {destination} must not be inside or above {source}")
    return resolved[0], resolved[1]


def _plan(context: BackupContext, neo4j: Path, structr: Path) -> list[str]:
    steps = [
        f"copy {neo4j} and {structr} into {context.destination} while the services run (pre-pass)",
        "stop Structr, then Neo4j; check their status and that Neo4j's store lock is free",
    ]
    if context.config.snapshot_command:
        steps.append("run the snapshot command")
    else:
        steps.append("copy what changed since the pre-pass (changed 8 KiB pages of large files)")
    steps += [
        "start Neo4j and wait until it answers, then start Structr and wait for its health check",
        "compute checksums, share unchanged files with the previous generation, write the manifest last",
    ]
    if context.config.prune_after_backup:
        steps.append("apply the retention policy")
    return steps


def run_backup(
    context: BackupContext, *, dry_run: bool = False, pre_check: Callable[[], CheckRecord] | None = None
) -> BackupOutcome:
    """Take one cold backup of the environment.

    Raises:
        ServiceError: when a service did not stop or start (services are started again before this is raised).
        ArchiveError: when copying or writing the generation failed (nothing partial is left).
        Interrupted: on SIGTERM (services are started again first).
        RefusedError: from ``pre_check`` (run before the pre-pass, services running), when it refuses.
    """
    neo4j_source, structr_source = resolve_sources(context)
    if dry_run:
        plan = _plan(context, neo4j_source, structr_source)
        for step in plan:
            logger.debug("Would %s (dry run)", step)
        return BackupOutcome(id=None, dry_run=True, plan=plan)
    store.prepare_destination(context.destination)
    with exclusive_lock(context.lock_path, timeout=context.lock_timeout, what="a backup or restore"):
        recover_locked(context)
        store.remove_stale(context.destination)
        health.ping(context.config.monitoring.start_url, "start")
        try:
            try:
                check = pre_check() if pre_check is not None else None
                outcome = _backup_locked(context, neo4j_source, structr_source, check)
            except OSError as exc:
                raise ArchiveError(f"backup failed: {exc}") from exc
        except BaseException as exc:
            health.ping(context.config.monitoring.failure_url, "failure", f"appsync backup failed: {exc}")
            raise
        health.ping(
            context.config.monitoring.success_url,
            "success",
            f"backup {outcome.id}: downtime {outcome.downtime_seconds:.2f}s",
        )
        if context.config.prune_after_backup:
            outcome.pruned = prune_generations(context, dry_run=False)
        return outcome


@dataclass
class _Generation:
    """Where a new generation is staged and where it goes once complete."""

    id: str
    started_at: datetime
    staging: Path
    final: Path

    def discard(self) -> None:
        """Undo: remove the staged tree, and a renamed one that never got its manifest."""
        shutil.rmtree(self.staging, ignore_errors=True)
        if self.final.exists() and not (self.final / MANIFEST_NAME).exists():
            shutil.rmtree(self.final, ignore_errors=True)


@dataclass
class _Window:
    """What happened while the services were down."""

    method: str
    downtime: services.Downtime
    copy_seconds: float
    bytes_copied: int


def _backup_locked(
    context: BackupContext, neo4j_source: Path, structr_source: Path, check: CheckRecord | None = None
) -> BackupOutcome:
    started_at = datetime.now(UTC)
    generation_id = store.new_id(context.destination, started_at)
    generation = _Generation(
        id=generation_id,
        started_at=started_at,
        staging=context.destination / f"{store.STAGING_PREFIX}{generation_id}",
        final=context.destination / generation_id,
    )
    copies = _tree_copies(context, generation.staging, neo4j_source, structr_source)
    with ExitStack() as undo:
        generation.staging.mkdir(mode=0o700)
        undo.callback(generation.discard)
        logger.info("Pre-pass: copying while the services run...")
        for copy in copies:
            copy.prepass()
        checkpoint_seconds = checkpoint.before_stop(context.config)
        window = _copy_while_down(context, copies, generation.staging / ".snapshot", neo4j_source, structr_source)
        manifest = _complete(context, generation, copies, window, checkpoint_seconds)
        if check is not None:
            manifest = manifest.model_copy(update={"check": check})
        generation.staging.rename(generation.final)
        write_manifest(generation.final, manifest)
        undo.pop_all()
    logger.info("Backup %s complete: %s", generation.id, generation.final)
    return BackupOutcome(
        id=generation.id,
        dry_run=False,
        downtime_seconds=manifest.downtime_seconds,
        copy_seconds=window.copy_seconds,
        phases=dict(manifest.phases),
        checkpoint_seconds=checkpoint_seconds,
        advice=neo4j_advice.after_backup(context.config, manifest.phases, context.root),
        method=window.method,
        bytes_total=manifest.bytes_total,
        bytes_new=manifest.bytes_new,
        bytes_copied_during_downtime=window.bytes_copied,
        files_total=manifest.files_total,
        path=generation.final,
    )


def _tree_copies(context: BackupContext, staging: Path, neo4j_source: Path, structr_source: Path) -> list[TreeCopy]:
    """One copy per tree, delta against the newest complete generation if there is one."""
    previous = store.list_generations(context.destination)
    last = previous[-1] if previous else None
    last_trees = last.load().trees if last else {}
    return [
        TreeCopy(
            name=name,
            source=source,
            staged=staging / name,
            previous=(last.path / name) if last else None,
            previous_entries=previous_files(last_trees[name]) if name in last_trees else {},
            verify_all=(name == "neo4j"),
        )
        for name, source in (("neo4j", neo4j_source), ("structr", structr_source))
    ]


def _copy_while_down(
    context: BackupContext, copies: list[TreeCopy], snapshot_dir: Path, neo4j_source: Path, structr_source: Path
) -> _Window:
    """Stop, prove down, copy what changed (or snapshot), start again behind health checks.

    Raises:
        ServiceError: when a start needed retries (the services run again, the copy is not trusted).
    """
    bracket = services.stopped_services(
        services.services_for(context),
        services.StateFile(context.state_path),
        env_name=context.env_name,
        operation="backup",
        neo4j_data=neo4j_source,
        attempts=context.config.start_attempts,
    )
    method = "delta"
    with bracket as downtime:
        copy_began = time.monotonic()
        if context.config.snapshot_command:
            method = "snapshot"
            _run_snapshot(context, snapshot_dir, neo4j_source, structr_source)
        else:
            logger.info("Copying what changed since the pre-pass...")
            for copy in copies:
                copy.delta()
            if any(copy.cloner.supported for copy in copies):
                method = "reflink"
        copy_seconds = time.monotonic() - copy_began
    if downtime.start_problems:
        raise ServiceError(
            "the services are running again, but starting them failed at first: "
            + "; ".join(downtime.start_problems)
            + "; the backup was discarded",
        )
    logger.info(
        "Downtime %.2fs (%s); computing checksums...", downtime.seconds, describe_largest(downtime.phases.seconds)
    )
    if method == "snapshot":
        _copy_from_snapshot(context, copies, snapshot_dir)
    shutil.rmtree(snapshot_dir, ignore_errors=True)
    return _Window(method, downtime, copy_seconds, sum(copy.stats.delta_bytes for copy in copies))


def _complete(
    context: BackupContext,
    generation: _Generation,
    copies: list[TreeCopy],
    window: _Window,
    checkpoint_seconds: float | None,
) -> Manifest:
    """Checksum the staged trees (sharing unchanged files with the previous generation) and describe them."""
    results = {}
    for copy in copies:
        results[copy.name] = store.complete_tree(copy, str(copy.source))
        copy.release_memory()
    downtime = window.downtime
    return Manifest(
        id=generation.id,
        env=context.env_name,
        started_at=generation.started_at,
        stopped_at=downtime.stopped_at or generation.started_at,
        restarted_at=downtime.restarted_at or generation.started_at,
        finished_at=datetime.now(UTC),
        downtime_seconds=downtime.seconds,
        copy_seconds=window.copy_seconds,
        phases=downtime.phases.rounded(),
        checkpoint_seconds=checkpoint_seconds,
        method=window.method,
        bytes_total=sum(result.manifest.total_bytes for result in results.values()),
        bytes_copied_during_downtime=window.bytes_copied,
        bytes_new=sum(result.new_bytes for result in results.values()),
        files_total=sum(1 for result in results.values() for entry in result.manifest.entries if entry.kind == "file"),
        structr_version=versions.structr_version(copies[1].source),
        neo4j_version=versions.neo4j_version(copies[0].source, context.config.neo4j.health_url),
        app_commit=versions.app_commit(context.root),
        config=scrub(context.config.model_dump(mode="json")),
        trees={name: result.manifest for name, result in results.items()},
    )


def _snapshot_env(snapshot_dir: Path, neo4j: Path, structr: Path) -> dict[str, str]:
    return {
        "APPSYNC_SNAPSHOT_DIR": str(snapshot_dir),
        "APPSYNC_NEO4J_DATA": str(neo4j),
        "APPSYNC_STRUCTR_DIR": str(structr),
    }


def _run_snapshot(context: BackupContext, snapshot_dir: Path, neo4j: Path, structr: Path) -> None:
    snapshot_dir.mkdir(mode=0o700, exist_ok=True)
    command = context.config.snapshot_command or ""
    logger.info("Running the snapshot command...")
    try:
        process.run(command, shell=True, env=_snapshot_env(snapshot_dir, neo4j, structr), timeout=3600)
    except CommandError as exc:
        raise ArchiveError(f"the snapshot command failed: {exc}") from exc
    for name in ("neo4j", "structr"):
        if not (snapshot_dir / name).is_dir():
            raise ArchiveError(f"the snapshot command did not provide $APPSYNC_SNAPSHOT_DIR/{name}")


def _copy_from_snapshot(context: BackupContext, copies: list[TreeCopy], snapshot_dir: Path) -> None:
    try:
        for copy in copies:
            copy.delta(source=snapshot_dir / copy.name)
    finally:
        release = context.config.snapshot_release_command
        if release:
            env = _snapshot_env(snapshot_dir, copies[0].source, copies[1].source)
            try:
                process.run(release, shell=True, env=env, timeout=3600)
            except CommandError as exc:
                logger.warning("the snapshot release command failed: %s", exc)
