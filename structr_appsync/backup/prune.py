"""Applying the retention policy to the generations on disk (the deleting half; the deciding half is pure)."""

from __future__ import annotations

import logging
import shutil

from structr_appsync.backup import store
from structr_appsync.backup.context import BackupContext
from structr_appsync.backup.manifest import MANIFEST_NAME
from structr_appsync.backup.retention import Archive, Decision, select_archives

logger = logging.getLogger(__name__)


DRILL_REASON = "newest backup that passed a restore drill"


def plan_prune(context: BackupContext) -> list[Decision]:
    """Keep/prune decisions for every complete generation, newest first. The newest generation that passed a
    restore drill is always kept, whatever the policy says."""
    generations = store.list_generations(context.destination)
    archives = [Archive(generation.id, generation.manifest.started_at) for generation in generations]
    decisions = select_archives(archives, context.config.retention)
    drilled = [generation.id for generation in generations if generation.manifest.last_passed_drill() is not None]
    if not drilled:
        return decisions
    newest_drilled = drilled[-1]
    return [
        Decision(decision.archive, True, (*decision.reasons, DRILL_REASON))
        if decision.archive.id == newest_drilled
        else decision
        for decision in decisions
    ]


def prune_generations(context: BackupContext, *, dry_run: bool) -> list[Decision]:
    """Delete the generations the policy does not keep (call under the backup lock); return what was pruned.

    The manifest goes first, so an interrupted prune leaves an incomplete (unlisted) directory, never a listed
    generation with missing files.
    """
    pruned = [decision for decision in plan_prune(context) if not decision.keep]
    suffix = " (dry run)" if dry_run else ""
    for decision in pruned:
        logger.info("Pruning %s%s", decision.archive.id, suffix)
        if dry_run:
            continue
        path = context.destination / decision.archive.id
        (path / MANIFEST_NAME).unlink(missing_ok=True)
        shutil.rmtree(path, ignore_errors=True)
    return pruned
