"""Console logging on stderr; results go to stdout from the command layer only."""

from __future__ import annotations

import logging
import sys


class _OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
        return prefix + record.getMessage()


def configure(verbosity: int) -> None:
    """Set the console level from -v/-q counts (0 = warnings and info from appsync)."""
    level = {-2: logging.ERROR, -1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    if verbosity < -2:
        level = logging.CRITICAL
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter())
    root = logging.getLogger("structr_appsync")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    # Third-party chatter (urllib3, git) only with -vv.
    logging.getLogger().setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)
