"""`appsync check`: is every file the database references in `files/`, with the right size and xxh64, and the
other way round? The listing is read page by page and merged with a sorted walk of `files/`, so memory stays flat
however many files there are."""

from __future__ import annotations

from structr_appsync.check.report import CheckReport, Finding
from structr_appsync.check.runner import check_environment, check_files

__all__ = ["CheckReport", "Finding", "check_environment", "check_files"]
