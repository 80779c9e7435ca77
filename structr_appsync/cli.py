"""Command-line parsing and the single error boundary. The only module that sees argparse."""

from __future__ import annotations

import argparse
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
from structr_appsync.errors import EXIT_BUG, EXIT_INTERRUPTED, EXIT_USAGE, AppsyncError, Interrupted

logger = logging.getLogger(__name__)

# Each module in structr_appsync.commands exposes register(subparsers); the parser it adds sets
# `handler`, a callable taking the parsed namespace and returning an exit code.
COMMAND_MODULES: tuple[str, ...] = (
    "init",
    "export",
    "status",
    "diff",
    "log",
    "hooks",
    "hook_run",
    "watch",
    "backup",
    "import_ref",
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
    """Turn SIGTERM into an exception so that every `finally` (restarting services, removing temp files) runs."""
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
    except Exception:  # noqa: BLE001 - the boundary of last resort
        if verbosity >= 1:
            traceback.print_exc()
        exc_type, exc_value = sys.exc_info()[:2]
        name = exc_type.__name__ if exc_type else "error"
        sys.stderr.write(f"appsync: internal error ({name}: {exc_value}); this is a bug, rerun with -v and report it\n")
        return EXIT_BUG
