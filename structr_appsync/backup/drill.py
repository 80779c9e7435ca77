"""`appsync backup drill ID`: a restore rehearsal that touches nothing live.

1. verify the generation, then recreate it in a scratch directory beside it (same filesystem: reflinks or hard
   links where that is safe, copies elsewhere);
2. run the offline Neo4j store check if one is configured;
3. start a scratch Neo4j and a scratch Structr on free ports over the scratch copy (`[env.NAME.backup.drill]`);
4. check the database against files/ through the scratch Structr, count nodes per type and the pages, and require
   `appsync status` against the scratch server to be 0 for the commit recorded in the manifest;
5. stop the scratch services, remove the scratch copy (unless kept), record the result in the manifest.
Without a drill table (or without one of its services) only the offline part runs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from structr_appsync import process
from structr_appsync.backup import health, services, store
from structr_appsync.backup.context import BackupContext
from structr_appsync.backup.drill_scratch import (
    DRILL_PREFIX,
    ScratchStats,
    free_port,
    materialize_scratch,
    remove_scratch,
    render,
)
from structr_appsync.backup.manifest import DrillRecord, Manifest, read_manifest, write_manifest
from structr_appsync.backup.verify import verify_generation
from structr_appsync.check import check_files
from structr_appsync.check.runner import files_dir_of
from structr_appsync.config import (
    DrillConfig,
    DrillService,
    LoadedConfig,
    ServiceConfig,
    resolve_password,
    resolve_user,
)
from structr_appsync.errors import AppsyncError, CommandError
from structr_appsync.lock import exclusive_lock
from structr_appsync.server import StructrClient
from structr_appsync.sync.exporter import check_status  # the status logic's public entry point
from structr_appsync.workspace import Workspace

logger = logging.getLogger(__name__)

MAX_REASONS_PER_STEP = 10


@dataclass
class DrillOutcome:
    id: str
    passed: bool
    mode: str
    seconds: float
    reasons: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    scratch: Path | None = None  # kept with --keep

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "passed": self.passed,
            "mode": self.mode,
            "seconds": round(self.seconds, 3),
            "reasons": self.reasons,
            "counts": self.counts,
            "notes": self.notes,
            "scratch": str(self.scratch) if self.scratch else None,
        }


@dataclass
class _Drill:
    loaded: LoadedConfig
    context: BackupContext
    manifest: Manifest
    scratch: Path
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def fail(self, step: str, details: list[str]) -> None:
        shown = details[:MAX_REASONS_PER_STEP]
        more = f" (and {len(details) - len(shown)} more)" if len(details) > len(shown) else ""
        self.reasons.append(f"{step}: {'; '.join(shown)}{more}")


def run_drill(loaded: LoadedConfig, context: BackupContext, wanted: str, *, keep: bool = False) -> DrillOutcome:
    """Rehearse the restore of generation ``wanted`` (``latest`` = newest) on scratch copies and record the result.

    Raises:
        ArchiveError: when there is no such complete generation.
        LockHeld: when a backup, restore or prune holds the backup lock.
    """
    began = time.monotonic()
    started_at = datetime.now(UTC)
    with exclusive_lock(context.lock_path, timeout=context.lock_timeout, what="a backup or restore"):
        generation = store.find_generation(context.destination, wanted)
        manifest = generation.load()
        scratch = context.destination / f"{DRILL_PREFIX}{generation.id}-{started_at.strftime('%H%M%S')}"
        drill = _Drill(loaded, context, manifest, scratch)
        drill_config = context.config.drill
        full = drill_config is not None and drill_config.neo4j is not None and drill_config.structr is not None
        try:
            _verify(drill, generation)
            _restore_scratch(drill, generation.path)
            if drill_config is not None and drill_config.store_check:
                _store_check(drill, drill_config.store_check)
            if full and drill_config is not None:
                _online(drill, drill_config)
            else:
                drill.notes.append(
                    "no scratch services configured ([env.NAME.backup.drill] neo4j and structr): offline checks only"
                )
        finally:
            if keep:
                logger.info("Scratch copy kept at %s", scratch)
            else:
                remove_scratch(scratch)
        outcome = DrillOutcome(
            id=generation.id,
            passed=not drill.reasons,
            mode="full" if full else "offline",
            seconds=time.monotonic() - began,
            reasons=drill.reasons,
            counts=drill.counts,
            notes=drill.notes,
            scratch=scratch if keep else None,
        )
        _record(generation.path, outcome, started_at, manifest.app_commit)
    _ping(context, outcome)
    return outcome


def _verify(drill: _Drill, generation: store.Generation) -> None:
    logger.info("Verifying backup %s...", generation.id)
    report = verify_generation(generation)
    drill.counts["backup_files_verified"] = report.checked
    if not report.ok:
        details = [f"missing {name}" for name in report.missing] + [f"changed {name}" for name in report.changed]
        details += [f"extra {name}" for name in report.extra]
        drill.fail("backup verification", details)


def _restore_scratch(drill: _Drill, generation_path: Path) -> None:
    logger.info("Restoring into the scratch directory %s...", drill.scratch)
    drill.scratch.mkdir(mode=0o700)
    stats = ScratchStats()
    for name in store.TREES:
        tree = drill.manifest.trees.get(name)
        if tree is not None:
            materialize_scratch(name, tree, generation_path / name, drill.scratch / name, stats)
    drill.counts.update(scratch_linked=stats.linked, scratch_cloned=stats.cloned, scratch_copied=stats.copied)
    if stats.missing:
        logger.warning(
            "%d file(s) of the manifest are missing from the backup; restored without them", len(stats.missing)
        )


def _values(drill: _Drill, ports: dict[str, int]) -> dict[str, str]:
    return {
        "neo4j_data": str(drill.scratch / "neo4j"),
        "structr_dir": str(drill.scratch / "structr"),
        "scratch": str(drill.scratch),
        "neo4j_port": str(ports.get("neo4j", "")),
        "structr_port": str(ports.get("structr", "")),
    }


def _store_check(drill: _Drill, template: str) -> None:
    command = render(template, _values(drill, {}), shell=True)
    logger.info("Running the Neo4j store check...")
    try:
        result = process.run(command, shell=True, check=False, timeout=3600)
    except CommandError as exc:
        drill.fail("Neo4j store check", [str(exc)])
        return
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        drill.fail("Neo4j store check", [f"exit {result.returncode}", *tail])


def _scratch_service(name: str, spec: DrillService, values: dict[str, str], port: int) -> services.Service:
    own = {**values, "port": str(port)}
    config = ServiceConfig(
        start=render(spec.start, own, shell=True),
        stop=render(spec.stop, own, shell=True),
        status=render(spec.status, own, shell=True) if spec.status else None,
        health_url=render(spec.health_url, own, shell=False),
        start_timeout=spec.start_timeout,
        stop_timeout=spec.stop_timeout,
    )
    return services.Service(name, config, services.CommandManager())


def _online(drill: _Drill, config: DrillConfig) -> None:
    assert config.neo4j is not None and config.structr is not None
    ports = {"neo4j": free_port(), "structr": free_port()}
    values = _values(drill, ports)
    started: list[services.Service] = []
    try:
        for name, spec in (("neo4j", config.neo4j), ("structr", config.structr)):
            service = _scratch_service(name, spec, values, ports[name])
            started.append(service)  # stopped in any case: a failed start may have left a process behind
            try:
                services.start_service(service)
            except AppsyncError as exc:
                drill.fail(f"scratch {service.label} did not start", [str(exc)])
                return
        _check_scratch_server(
            drill, config, render(config.structr_url, {**values, "port": values["structr_port"]}, shell=False)
        )
    finally:
        for service in reversed(started):
            try:
                services.stop_service(service)
            except AppsyncError as exc:
                drill.fail(f"scratch {service.label} did not stop", [str(exc)])


def _check_scratch_server(drill: _Drill, config: DrillConfig, url: str) -> None:
    name, env = drill.loaded.environment(drill.context.env_name)
    client = StructrClient(url=url, user=resolve_user(env), password=resolve_password(env, name), timeouts=env.timeouts)
    with client:
        logger.info("Checking the database against files/ on the scratch Structr %s...", url)
        try:
            report = check_files(client, files_dir_of(drill.scratch / "structr"))
            drill.counts.update(files_checked=report.counts.checked, files_hashed=report.counts.hashed)
            if not report.consistent:
                drill.fail("consistency check", [finding.line() for finding in report.findings])
            for type_name in dict.fromkeys(["Page", *config.count_types]):
                drill.counts[f"nodes_{type_name}"] = client.count(type_name)
        except AppsyncError as exc:
            drill.fail("consistency check against the scratch Structr", [str(exc)])
            return
    _status(drill, url)


def _status(drill: _Drill, url: str) -> None:
    commit = drill.manifest.app_commit
    if commit is None:
        drill.notes.append("the manifest records no app commit: the application was not compared")
        return
    name, env = drill.loaded.environment(drill.context.env_name)
    settings = drill.loaded.settings
    scratch_env = env.model_copy(update={"url": url, "transfer": "zip"})
    scratch_loaded = LoadedConfig(
        path=drill.loaded.path, settings=settings.model_copy(update={"env": {**settings.env, name: scratch_env}})
    )
    logger.info("Comparing the scratch Structr's application with commit %s...", commit[:12])
    try:
        outcome = check_status(Workspace.open(scratch_loaded), name, commit=commit)
    except AppsyncError as exc:
        drill.fail(f"status against commit {commit[:12]}", [str(exc)])
        return
    if not outcome.in_sync:
        drill.fail(f"status against commit {commit[:12]} is 1 (drift)", outcome.summary.lines())


def _record(generation_path: Path, outcome: DrillOutcome, started_at: datetime, commit: str | None) -> None:
    manifest = read_manifest(generation_path)
    record = DrillRecord(
        started_at=started_at,
        finished_at=datetime.now(UTC),
        seconds=outcome.seconds,
        passed=outcome.passed,
        mode="full" if outcome.mode == "full" else "offline",
        reasons=outcome.reasons,
        counts=outcome.counts,
        app_commit=commit,
    )
    write_manifest(generation_path, manifest.model_copy(update={"drills": [*manifest.drills, record]}))


def _ping(context: BackupContext, outcome: DrillOutcome) -> None:
    monitoring = context.config.monitoring
    if outcome.passed:
        health.ping(monitoring.drill_success_url, "drill success", f"drill of backup {outcome.id} passed")
    else:
        health.ping(
            monitoring.drill_failure_url or monitoring.failure_url,
            "drill failure",
            f"drill of backup {outcome.id} failed: " + " | ".join(outcome.reasons),
        )
