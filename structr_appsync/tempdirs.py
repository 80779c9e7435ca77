"""A temporary folder whose parts can be deleted in the background while the server works."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from structr_appsync.interrupts import signals_deferred


class Scratch:
    """The import's temporary folder. Folders no longer needed are deleted in the background, while the server
    works; deleting three copies of a large export takes seconds."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="appsync-import-"))
        self._threads: list[threading.Thread] = []

    def discard(self, name: str) -> None:
        folder = self.path / name
        if not folder.exists():
            return
        aside = self.path / f"discarded-{len(self._threads)}"
        folder.rename(aside)
        thread = threading.Thread(target=shutil.rmtree, args=(aside, True), name="appsync-discard", daemon=True)
        thread.start()
        self._threads.append(thread)

    def close(self) -> None:
        with signals_deferred():  # a second Ctrl-C must not leave half a scratch folder behind
            for thread in self._threads:
                thread.join()
            shutil.rmtree(self.path, ignore_errors=True)


@contextmanager
def scratch_dir() -> Iterator[Scratch]:
    scratch = Scratch()
    try:
        yield scratch
    finally:
        scratch.close()
