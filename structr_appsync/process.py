"""The one gateway for external processes: argument lists, timeouts, masked logging, CommandError."""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from structr_appsync.errors import CommandError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    """What a finished command produced."""

    returncode: int
    stdout: str
    stderr: str


def _display(cmd: Sequence[str] | str, secrets: Sequence[str]) -> str:
    text = cmd if isinstance(cmd, str) else shlex.join(cmd)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def run(  # noqa: PLR0913 - the subprocess gateway mirrors subprocess.run's keyword options
    cmd: Sequence[str] | str,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = 600.0,
    check: bool = True,
    shell: bool = False,
    secrets: Sequence[str] = (),
    input_text: str | None = None,
) -> Result:
    """Run a command and return its output.

    ``shell=True`` is only for commands the user wrote in the configuration. ``secrets`` are masked in logs.

    Raises:
        CommandError: when the command exits non-zero (with check), cannot start, or times out.
    """
    shown = _display(cmd, secrets)
    if shell and not isinstance(cmd, str):
        raise TypeError("shell commands must be a single string")
    logger.debug("running: %s", shown)
    full_env = None if env is None else {**os.environ, **env}
    try:
        completed = subprocess.run(  # a list, or a user-configured shell command
            cmd,
            cwd=cwd,
            env=full_env,
            shell=shell,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input_text,
            check=False,
        )
    except FileNotFoundError as exc:
        raise CommandError(shown, 127, "", f"{exc.filename}: command not found") from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandError(shown, -1, "", f"timed out after {timeout:g}s") from exc
    result = Result(completed.returncode, completed.stdout, completed.stderr)
    if check and completed.returncode != 0:
        raise CommandError(shown, completed.returncode, completed.stdout, completed.stderr)
    return result
