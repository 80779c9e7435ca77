"""Is Neo4j's store lock free? Neo4j holds a file lock (Java FileChannel.tryLock, i.e. a POSIX fcntl lock on Linux)
on `store_lock` / `database_lock` files in its data directory for as long as it runs."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

LOCK_FILE_NAMES = frozenset({"store_lock", "database_lock"})
_MAX_DEPTH = 3  # data/databases/<db>/database_lock


def find_lock_files(data_dir: Path) -> list[Path]:
    """Lock files in the data directory (up to databases/<db>/)."""
    found: list[Path] = []
    base_depth = len(data_dir.parts)
    for current, dirs, files in os.walk(data_dir):
        depth = len(Path(current).parts) - base_depth
        if depth >= _MAX_DEPTH:
            dirs[:] = []
        found.extend(Path(current) / name for name in files if name in LOCK_FILE_NAMES)
    return sorted(found)


def held_locks(data_dir: Path) -> list[Path]:
    """Lock files that some process still holds (tested with a non-blocking exclusive lock, released at once)."""
    held: list[Path] = []
    for path in find_lock_files(data_dir):
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError as exc:
            logger.debug("cannot open %s: %s", path, exc)
            held.append(path)
            continue
        try:
            if not _free(fd):
                held.append(path)
        finally:
            os.close(fd)
    return held


def _free(fd: int) -> bool:
    """Try a POSIX record lock (what the JVM uses) and a BSD flock; release both at once."""
    for take, release in (
        (lambda: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB), lambda: fcntl.lockf(fd, fcntl.LOCK_UN)),
        (lambda: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB), lambda: fcntl.flock(fd, fcntl.LOCK_UN)),
    ):
        try:
            take()
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN, errno.EWOULDBLOCK):
                raise
            return False
        release()
    return True
