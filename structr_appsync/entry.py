"""The console script's entry point: a Ctrl-C while appsync is still starting up is a quiet exit, not a traceback."""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130  # the same as errors.EXIT_INTERRUPTED; not imported, so that nothing is loaded first


def run() -> None:
    """Load the command line and run it; exits with its code."""
    try:
        from structr_appsync.cli import main

        code = main()
    except KeyboardInterrupt:
        sys.stderr.write("appsync: interrupted while starting; nothing was done\n")
        code = EXIT_INTERRUPTED
    raise SystemExit(code)
