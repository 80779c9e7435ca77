"""The one gateway for external processes: argument lists, timeouts, masked logging, CommandError."""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
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
        # A session (and so a process group) of its own: a command that times out or is interrupted is killed
        # with everything it started, not just its shell.
        child = subprocess.Popen(  # a list, or a user-configured shell command
            cmd,
            cwd=cwd,
            env=full_env,
            shell=shell,
            stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise CommandError(shown, 127, "", f"{exc.filename}: command not found") from exc
    try:
        stdout, stderr = child.communicate(input=input_text, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        _kill_group(child)
        raise CommandError(shown, -1, "", f"timed out after {timeout:g}s") from exc
    except BaseException:
        _kill_group(child)
        raise
    result = Result(child.returncode, stdout, stderr)
    if check and child.returncode != 0:
        raise CommandError(shown, child.returncode, stdout, stderr)
    return result


def _kill_group(child: subprocess.Popen[str]) -> None:
    """Kill the command's whole process group and reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.communicate(timeout=5)
