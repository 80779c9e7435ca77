"""Command-line parsing and the single error boundary. The only module that sees argparse."""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

from structr_appsync import __version__, logs
from structr_appsync.backup import recover_on_startup
from structr_appsync.errors import (
    EXIT_BUG,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    AppsyncError,
    Interrupted,
)

logger = logging.getLogger(__name__)

# Each module in structr_appsync.commands exposes register(subparsers); the parser it adds sets
# `handler`, a callable taking the parsed namespace and returning an exit code.
COMMAND_MODULES: tuple[str, ...] = (
    "init",
    "export",
    "import_ref",
    "status",
    "diff",
    "log",
    "hooks",
    "hook_run",
    "watch",
    "backup",
    "schedule",
)

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"appsync: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="appsync",
        description="Version a Structr application in git, import it back safely, and take cold backups.",
    )
    parser.add_argument("--version", action="version", version=f"appsync {__version__}")
    parser.add_argument("-c", "--config", help="path to appsync.toml (default: search upward from here)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more output; -v shows tracebacks")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="less output")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"structr_appsync.commands.{name}")
        module.register(subparsers)
    return parser


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(f"interrupted by {signal.Signals(signum).name}")


@contextmanager
def _signals_raise() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into Interrupted so that every `finally` (restarting services, removing temp files)
    runs, and handlers of AppsyncError (an import's rollback hint) see the interruption too."""
    previous = {sig: signal.signal(sig, _raise_interrupted) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


_LOCAL_IO_HINTS = {
    errno.ENOSPC: "free disk space where the repository and the temporary folder (TMPDIR) live, then run it again",
    errno.EDQUOT: "your disk quota is used up: free some space, then run it again",
    errno.EROFS: "the repository or the temporary folder (TMPDIR) is on a read-only filesystem",
    errno.EACCES: "check that you may write to the repository and to the temporary folder (TMPDIR)",
    errno.EIO: "the disk reported an I/O error: check it before running appsync again",
}


def _report(error: AppsyncError) -> None:
    sys.stderr.write(f"appsync: error: {error}\n")
    if error.hint:
        sys.stderr.write(f"hint: {error.hint}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run appsync with ``argv`` and return the exit code (never raises, never calls sys.exit)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    verbosity = args.verbose - args.quiet
    logs.configure(verbosity)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        with _signals_raise():
            # Services that an appsync killed mid-backup left stopped are restarted by whatever command runs next
            # (the backup commands do it themselves, under their own lock).
            if args.command != "backup":
                recover_on_startup(getattr(args, "config", None))
            return handler(args)
    except AppsyncError as error:
        if verbosity >= 1:
            traceback.print_exc()
        _report(error)
        return error.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("appsync: interrupted; nothing was left half-done\n")
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - the boundary of last resort
        if verbosity >= 1:
            traceback.print_exc()
        if isinstance(error, OSError) and error.errno in _LOCAL_IO_HINTS:
            # the disk of this machine, not appsync, failed (e.g. ENOSPC while the export downloads)
            where = f" ({error.filename})" if error.filename else ""
            message = f"cannot write on this machine: {error.strerror}{where}"
            _report(AppsyncError(message, hint=_LOCAL_IO_HINTS[error.errno]))
            return EXIT_FAILED
        exc_type, exc_value = sys.exc_info()[:2]
        name = exc_type.__name__ if exc_type else "error"
        sys.stderr.write(f"appsync: internal error ({name}: {exc_value}); this is a bug, rerun with -v and report it\n")
        return EXIT_BUG
