"""How scheduled jobs call this very appsync: an absolute path, never a bare name looked up on PATH."""

from __future__ import annotations

import pwd
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path


def appsync_command() -> list[str]:
    """The absolute command that runs the appsync of this installation.

    The console script beside the interpreter when there is one (a venv, pipx, a system install), else the
    interpreter itself with ``-m structr_appsync``.
    """
    interpreter = Path(sys.executable).absolute()
    script = interpreter.parent / "appsync"
    if script.is_file():
        return [str(script)]
    return [str(interpreter), "-m", "structr_appsync"]


def command_line(config_path: Path, arguments: Sequence[str]) -> str:
    """A shell-quoted `appsync -c CONFIG ARGS...` line."""
    return shlex.join([*appsync_command(), "-c", str(config_path), *arguments])


def owner_of(path: Path) -> str:
    """The login name owning ``path`` (the numeric uid when it has no passwd entry)."""
    uid = path.stat().st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
