"""`appsync backup`: pre-pass while running, stop, prove down, delta copy, restart, then the slow work."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from structr_appsync import process
from structr_appsync.backup import health, services, store, versions
from structr_appsync.backup.context import BackupContext
from structr_appsync.backup.copier import TreeCopy, previous_files
from structr_appsync.backup.manifest import CheckRecord, Manifest, scrub, write_manifest
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
            logger.info("Would %s (dry run)", step)
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


def _backup_locked(
    context: BackupContext, neo4j_source: Path, structr_source: Path, check: CheckRecord | None = None
) -> BackupOutcome:
    started_at = datetime.now(UTC)
    generation_id = store.new_id(context.destination, started_at)
    staging = context.destination / f"{store.STAGING_PREFIX}{generation_id}"
    final = context.destination / generation_id
    previous = store.list_generations(context.destination)
    last = previous[-1] if previous else None
    last_manifest = last.load() if last else None
    copies = [
        TreeCopy(
            name=name,
            source=source,
            staged=staging / name,
            previous=(last.path / name) if last else None,
            previous_entries=(
                previous_files(last_manifest.trees[name]) if last_manifest and name in last_manifest.trees else {}
            ),
            verify_all=(name == "neo4j"),
        )
        for name, source in (("neo4j", neo4j_source), ("structr", structr_source))
    ]
    del last_manifest  # only the per-tree dicts are needed from here on
    staging.mkdir(mode=0o700)
    finished = False
    try:
        logger.info("Pre-pass: copying while the services run...")
        for copy in copies:
            copy.prepass()
        snapshot_dir = staging / ".snapshot"
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
            downtime_bytes = sum(copy.stats.delta_bytes for copy in copies)
        if downtime.start_problems:
            raise ServiceError(
                "the services are running again, but starting them failed at first: "
                + "; ".join(downtime.start_problems)
                + "; the backup was discarded",
            )
        logger.info("Downtime %.2fs (copying %.2fs); computing checksums...", downtime.seconds, copy_seconds)
        if method == "snapshot":
            _copy_from_snapshot(context, copies, snapshot_dir)
        results = {}
        for copy in copies:
            results[copy.name] = store.complete_tree(copy, str(copy.source))
            copy.release_memory()
        manifest = Manifest(
            id=generation_id,
            env=context.env_name,
            started_at=started_at,
            stopped_at=downtime.stopped_at or started_at,
            restarted_at=downtime.restarted_at or started_at,
            finished_at=datetime.now(UTC),
            downtime_seconds=downtime.seconds,
            copy_seconds=copy_seconds,
            method=method,
            bytes_total=sum(result.manifest.total_bytes for result in results.values()),
            bytes_copied_during_downtime=downtime_bytes,
            bytes_new=sum(result.new_bytes for result in results.values()),
            files_total=sum(
                1 for result in results.values() for entry in result.manifest.entries if entry.kind == "file"
            ),
            structr_version=versions.structr_version(structr_source),
            neo4j_version=versions.neo4j_version(neo4j_source, context.config.neo4j.health_url),
            app_commit=versions.app_commit(context.root),
            config=scrub(context.config.model_dump(mode="json")),
            trees={name: result.manifest for name, result in results.items()},
            check=check,
        )
        shutil.rmtree(snapshot_dir, ignore_errors=True)
        staging.rename(final)
        write_manifest(final, manifest)
        finished = True
    finally:
        if not finished:
            shutil.rmtree(staging, ignore_errors=True)
            if final.exists() and not (final / "manifest.json").exists():
                shutil.rmtree(final, ignore_errors=True)
    logger.info("Backup %s complete: %s", generation_id, final)
    return BackupOutcome(
        id=generation_id,
        dry_run=False,
        downtime_seconds=manifest.downtime_seconds,
        copy_seconds=copy_seconds,
        method=method,
        bytes_total=manifest.bytes_total,
        bytes_new=manifest.bytes_new,
        bytes_copied_during_downtime=downtime_bytes,
        files_total=manifest.files_total,
        path=final,
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
