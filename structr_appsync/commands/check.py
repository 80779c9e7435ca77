"""`appsync check`: are the database's File nodes and the files in files/ consistent?"""

from __future__ import annotations

import argparse
import sys
import time

from structr_appsync.check import Finding, check_environment
from structr_appsync.check.report import CheckCounts
from structr_appsync.check.runner import CheckOptions
from structr_appsync.commands._shared import add_env_option, add_json_option, load, print_json
from structr_appsync.errors import EXIT_FAILED, EXIT_OK

PROGRESS_INTERVAL = 0.5


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check",
        help="compare Structr's File nodes with files/ (missing, size, checksum, orphans; exit 1 on problems)",
        description="Reads GET /structr/rest/File page by page and walks files/ under the environment's "
        "backup.structr_dir. Exit codes: 0 consistent, 1 problems found, 2 usage or configuration error, "
        "3 server unreachable or credentials refused, 4 the server sent an unusable listing.",
    )
    add_env_option(parser)
    parser.add_argument("--quick", action="store_true", help="check presence and size only, no checksums")
    add_json_option(parser)
    parser.set_defaults(handler=_handle)


class _Progress:
    """Files checked, bytes hashed and rate, rewritten in place on a terminal (stderr) at most twice a second."""

    def __init__(self) -> None:
        self.began = time.monotonic()
        self.last = 0.0
        self.shown = False

    def update(self, counts: CheckCounts) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_INTERVAL:
            return
        self.last = now
        elapsed = max(now - self.began, 1e-6)
        rate = counts.bytes_hashed / elapsed / (1024 * 1024)
        sys.stderr.write(
            f"\r{counts.checked} files checked, {counts.bytes_hashed / (1024 * 1024):.1f} MiB hashed, "
            f"{rate:.1f} MiB/s  "
        )
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _handle(args: argparse.Namespace) -> int:
    loaded = load(args)
    progress = _Progress() if sys.stderr.isatty() else None

    def show(finding: Finding) -> None:
        if progress is not None:
            progress.clear()
        print(finding.line(), flush=True)

    try:
        options = CheckOptions(
            quick=args.quick,
            on_finding=None if args.json else show,
            on_progress=progress.update if progress is not None else None,
            keep_findings=args.json,
        )
        name, url, report = check_environment(loaded, args.env, options)
    finally:
        if progress is not None:
            progress.clear()
    if args.json:
        print_json({"env": name, "url": url, **report.as_json()})
    else:
        print(f"{name} ({url}): {report.summary()}")
    return EXIT_OK if report.consistent else EXIT_FAILED
