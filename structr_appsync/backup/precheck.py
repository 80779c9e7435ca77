"""`appsync backup --check`: the quick consistency check, run while the services still run, before anything stops.
An inconsistent installation is refused (or, with `on_inconsistent = "warn"`, backed up with a warning), and the
result goes into the manifest."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from structr_appsync.backup.context import BackupContext
from structr_appsync.backup.manifest import CheckRecord
from structr_appsync.check import CheckReport, check_files
from structr_appsync.check.runner import CheckOptions, files_dir_of
from structr_appsync.config import LoadedConfig
from structr_appsync.errors import RefusedError
from structr_appsync.server import StructrClient

logger = logging.getLogger(__name__)

MAX_LOGGED_FINDINGS = 20


def record_of(report: CheckReport, *, warned: bool) -> CheckRecord:
    counts = report.counts
    return CheckRecord(
        at=datetime.now(UTC),
        quick=report.quick,
        consistent=report.consistent,
        nodes=counts.nodes,
        checked=counts.checked,
        unchecked=counts.unchecked,
        problems=dict(counts.by_kind),
        outcome="warned" if warned else "consistent",
    )


def pre_backup_check(loaded: LoadedConfig, context: BackupContext) -> Callable[[], CheckRecord]:
    """The hook run_backup calls before its pre-pass: quick check against the live server and files/.

    The returned callable raises RefusedError (nothing was stopped) when the installation is inconsistent and
    `on_inconsistent` is `refuse`.
    """

    def run() -> CheckRecord:
        logger.info("Checking that the database and files/ agree (quick check, services running)...")
        with StructrClient.for_env(loaded, context.env_name) as client:
            report = check_files(client, files_dir_of(context.structr_dir), CheckOptions(quick=True))
        for finding in report.findings[:MAX_LOGGED_FINDINGS]:
            logger.warning("%s", finding.line())
        if report.consistent:
            logger.info("Check: %s", report.summary())
            return record_of(report, warned=False)
        if context.config.on_inconsistent == "refuse":
            raise RefusedError(
                f"env {context.env_name!r} is inconsistent before the backup ({report.summary()}); "
                "nothing was stopped and no backup was taken",
                hint="run `appsync check` for the full list, or set on_inconsistent = \"warn\" to back up anyway",
            )
        logger.warning("Backing up an inconsistent installation (on_inconsistent = warn): %s", report.summary())
        return record_of(report, warned=True)

    return run
