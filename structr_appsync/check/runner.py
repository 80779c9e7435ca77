"""Running a check: against any Structr client and files/ directory (backup --check and drills use this), or
against a configured environment (`appsync check`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from structr_appsync.check.compare import Comparer
from structr_appsync.check.disk import walk_files
from structr_appsync.check.listing import DEFAULT_PAGE_SIZE, PageSource, iter_files
from structr_appsync.check.report import CheckCounts, CheckReport, Finding
from structr_appsync.config import LoadedConfig
from structr_appsync.errors import ConfigError
from structr_appsync.server import StructrClient

logger = logging.getLogger(__name__)

STRUCTR_CONF = "structr.conf"


def files_dir_of(structr_dir: Path) -> Path:
    """`files.path` from structr.conf when it is set (relative to the Structr directory), else `<dir>/files`."""
    conf = structr_dir / STRUCTR_CONF
    if conf.is_file():
        for line in conf.read_text(encoding="utf-8", errors="replace").splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() == "files.path" and value.strip():
                configured = Path(value.strip())
                return configured if configured.is_absolute() else structr_dir / configured
    return structr_dir / "files"


@dataclass(frozen=True)
class CheckOptions:
    """How a check runs: sizes only (``quick``), where findings and progress go, paging and hashing threads."""

    quick: bool = False
    on_finding: Callable[[Finding], None] | None = None
    on_progress: Callable[[CheckCounts], None] | None = None
    keep_findings: bool = True
    page_size: int = DEFAULT_PAGE_SIZE
    workers: int | None = None


def check_files(source: PageSource, files_dir: Path, options: CheckOptions | None = None) -> CheckReport:
    """Compare the server's File nodes with ``files_dir``.

    Findings go to ``on_finding`` as they are found; with ``keep_findings`` they are also kept in the report
    (memory then grows with the number of problems, never with the number of files).

    Raises:
        ConfigError: when ``files_dir`` is not a directory.
        ServerError family: when the listing cannot be read.
    """
    options = options or CheckOptions()
    quick, on_finding, keep_findings = options.quick, options.on_finding, options.keep_findings
    if not files_dir.is_dir():
        raise ConfigError(f"{files_dir} is not a directory: is structr_dir right?")
    kept: list[Finding] = []

    def found(finding: Finding) -> None:
        if keep_findings:
            kept.append(finding)
        if on_finding is not None:
            on_finding(finding)

    began = time.monotonic()
    comparer = Comparer(
        files_dir, quick=quick, on_finding=found, on_progress=options.on_progress, workers=options.workers
    )
    counts = comparer.run(iter_files(source, page_size=options.page_size), walk_files(files_dir))
    report = CheckReport(
        files_dir=str(files_dir), quick=quick, counts=counts, seconds=time.monotonic() - began, findings=kept
    )
    logger.debug("check of %s: %s", files_dir, report.summary())
    return report


def structr_dir_for(loaded: LoadedConfig, env_name: str) -> Path:
    """The environment's Structr directory (`[env.NAME.backup] structr_dir`).

    Raises:
        ConfigError: when the environment has no backup table to say where it is.
    """
    _, env = loaded.environment(env_name)
    if env.backup is None:
        raise ConfigError(
            f"{loaded.path}: env {env_name!r} has no [env.{env_name}.backup] table with structr_dir",
            hint="appsync check compares the File nodes with files/ under backup.structr_dir",
        )
    path = Path(env.backup.structr_dir).expanduser()
    return path if path.is_absolute() else loaded.root / path


def check_environment(
    loaded: LoadedConfig, env_name: str | None, options: CheckOptions | None = None
) -> tuple[str, str, CheckReport]:
    """Check a configured environment; returns (env name, url, report)."""
    name = loaded.env_name(env_name)
    files_dir = files_dir_of(structr_dir_for(loaded, name))
    with StructrClient.for_env(loaded, name) as client:
        report = check_files(client, files_dir, options)
        return name, client.url, report
