"""An exclusive inter-process lock shared by the CLI, the git hooks and the watcher."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from structr_appsync.errors import LockHeld, RefusedError

logger = logging.getLogger(__name__)

LOCK_ENV_VAR = "APPSYNC_LOCK_HELD"


@dataclass(frozen=True)
class HeldLock:
    """Proof that this process holds the lock at ``path``: passed down to the steps that need it."""

    path: Path


@contextmanager
def flock_held(path: Path, *, timeout: float, what: str) -> Iterator[HeldLock]:
    """Hold an flock on ``path`` for the duration of the block and yield the token that says so.

    Raises:
        LockHeld: if another process keeps the lock longer than ``timeout`` seconds.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # Never through a symlink planted in a shared directory (appsync may run as root).
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RefusedError(f"lock file {path} is a symbolic link; appsync does not write through links") from exc
        raise
    handle = os.fdopen(fd, "a+")
    try:
        deadline = time.monotonic() + timeout
        announced = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as exc:
                if time.monotonic() >= deadline:
                    raise LockHeld(
                        f"another appsync process is busy with {what} (lock {path})",
                        hint="wait for it to finish, or raise lock_timeout",
                    ) from exc
                if not announced:
                    logger.warning("waiting for another appsync process (%s)...", what)
                    announced = True
                time.sleep(0.1)
        try:
            yield HeldLock(path)
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()


@contextmanager
def exclusive_lock(path: Path, *, timeout: float, what: str) -> Iterator[None]:
    """Hold an flock on ``path`` (the backup lock) for the duration of the block.

    The backup code still learns that it holds its lock from ``APPSYNC_LOCK_HELD`` naming this path (a
    recovery inside a backup does not wait for itself); the repository lock passes a `HeldLock` instead.

    Raises:
        LockHeld: if another process keeps the lock longer than ``timeout`` seconds.
    """
    if os.environ.get(LOCK_ENV_VAR) == str(path):
        yield
        return
    with flock_held(path, timeout=timeout, what=what):
        previous = os.environ.get(LOCK_ENV_VAR)
        os.environ[LOCK_ENV_VAR] = str(path)
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(LOCK_ENV_VAR, None)
            else:
                os.environ[LOCK_ENV_VAR] = previous
