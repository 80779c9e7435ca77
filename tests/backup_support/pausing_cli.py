"""Run appsync's CLI with a pause in the copy, so a test can signal it there.

    python pausing_cli.py MARKER PHASE PATH_PREFIX -- appsync arguments...

When the copier reaches PHASE ("prepass" or "delta") at a path starting with PATH_PREFIX, this writes MARKER
and sleeps, until a signal arrives.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from structr_appsync.backup import copier
from structr_appsync.cli import main


def _install(marker: Path, phase: str, prefix: str) -> None:
    def hook(current: str, relative: str) -> None:
        if current == phase and relative.startswith(prefix) and not marker.exists():
            marker.write_text("paused\n")
            time.sleep(120)

    copier.fault_hook = hook


if __name__ == "__main__":
    marker_arg, phase_arg, prefix_arg, separator, *rest = sys.argv[1:]
    assert separator == "--"
    _install(Path(marker_arg), phase_arg, prefix_arg)
    sys.exit(main(rest))
