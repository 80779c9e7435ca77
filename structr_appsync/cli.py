"""Command-line parsing and the single error boundary. The only module that sees argparse."""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any, TextIO

from structr_appsync import __version__, logs
from structr_appsync.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_BUG,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    AppsyncError,
    CommandError,
    Interrupted,
)
from structr_appsync.interrupts import HELD_SIGNALS

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
    "check",
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
    _accept_verbosity_after_commands(parser)
    return parser


def _accept_verbosity_after_commands(parser: argparse.ArgumentParser, depth: int = 1) -> None:
    """Let -v/-q stand after any (sub)command too, as every error message suggests `rerun with -v`.

    They count into their own destinations: argparse lets a subcommand's defaults overwrite the main parser's
    values of the same name, which would lose an `appsync -v status` (hence one destination per depth)."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        summaries = {choice.dest: choice.help for choice in action._choices_actions}
        for name, subparser in action.choices.items():
            summary = summaries.get(name)
            if subparser.description is None and summary:
                # `appsync X --help` shows the description only: give it the one-line summary of `appsync --help`
                subparser.description = f"{summary[0].upper()}{summary[1:]}."
            for flags, dest in ((("-v", "--verbose"), "verbose"), (("-q", "--quiet"), "quiet")):
                subparser.add_argument(
                    *flags, dest=f"{dest}_after_{depth}", action="count", default=0, help=argparse.SUPPRESS
                )
            _accept_verbosity_after_commands(subparser, depth + 1)


def verbosity_of(args: argparse.Namespace) -> int:
    """-v minus -q, counted wherever they stood on the command line."""
    counts = vars(args)
    verbose = sum(int(value) for key, value in counts.items() if key.startswith("verbose_after_"))
    quiet = sum(int(value) for key, value in counts.items() if key.startswith("quiet_after_"))
    return int(args.verbose) + verbose - int(args.quiet) - quiet


class OutputClosed(Exception):
    """Whoever reads appsync's standard output went away (`appsync log | head`)."""


class _ClosedPipeGuard:
    """Standard output that turns a reader gone away into OutputClosed, told apart from a broken socket."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError as error:
            raise OutputClosed from error

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError as error:
            raise OutputClosed from error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so that the interpreter's final flush does not complain about the closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError):
        os.dup2(devnull, 1)
    os.close(devnull)


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(f"interrupted by {signal.Signals(signum).name}")


@contextmanager
def _signals_raise() -> Iterator[None]:
    """Turn the stop signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT) into Interrupted so that every `finally` (restarting
    services, removing temp files) runs, and handlers of AppsyncError (an import's rollback hint) see it too."""
    previous = {sig: signal.signal(sig, _raise_interrupted) for sig in HELD_SIGNALS}
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


def _command_output(error: BaseException | None) -> str:
    """The whole output of the failed command behind ``error`` (its cause chain), if a command failed."""
    while error is not None:
        if isinstance(error, CommandError):
            return error.details
        error = error.__cause__
    return ""


def _report(error: AppsyncError, *, verbose: bool = False) -> None:
    sys.stderr.write(f"appsync: error: {error}\n")
    output = _command_output(error) if verbose else ""
    if output:
        sys.stderr.write(f"the command's output:\n{output}\n")
    if error.hint:
        sys.stderr.write(f"hint: {error.hint}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run appsync with ``argv`` and return the exit code (never raises, never calls sys.exit)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    verbosity = verbosity_of(args)
    logs.configure(verbosity)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    real_stdout = sys.stdout
    sys.stdout = _ClosedPipeGuard(real_stdout)
    try:
        return _run_handler(args, handler, verbosity)
    except OutputClosed:
        # Like `git log | head`: the reader has what it wanted; the work itself was done before printing.
        if real_stdout is sys.__stdout__:
            _silence_stdout()
        return EXIT_BROKEN_PIPE
    finally:
        sys.stdout = real_stdout


def _run_handler(args: argparse.Namespace, handler: Handler, verbosity: int) -> int:
    try:
        with _signals_raise():
            code = handler(args)
            sys.stdout.flush()
            return code
    except OutputClosed:
        raise
    except AppsyncError as error:
        if verbosity >= 1:
            traceback.print_exc()
        _report(error, verbose=verbosity >= 1)
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
