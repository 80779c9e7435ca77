"""Filesystem watching for `appsync watch`: which events count, and an observer feeding a debouncer.

The watcher only says "something under the folder changed". Whether that is a real change is decided by
comparing folder states (``tree_state``), which also hides appsync's own writes: after appsync writes the
folder itself it records the new state, and the events its writes cause then compare equal and are dropped.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from structr_appsync.sync.debounce import BatchAction, Debouncer, ErrorHandler, Periodic

logger = logging.getLogger(__name__)

# Editor droppings: vim swap and backup files and its write test file 4913, emacs lock and autosave files,
# JetBrains safe-write files, gedit/GIO temp files, generic *.tmp, macOS Finder metadata.
_IGNORED_SUFFIXES = (".swp", ".swo", ".swx", ".swpx", "~", ".tmp", "___jb_tmp___", "___jb_old___", ".crswap")
_IGNORED_PREFIXES = (".#", ".goutputstream-", ".~lock.")
_IGNORED_NAMES = frozenset({"4913", ".DS_Store", "Thumbs.db"})
_IGNORED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".idea", ".vscode"})
# Only these mean "content changed"; opened/closed(-no-write)/attrib are also reported by inotify and our own
# reads of the folder would otherwise retrigger us.
_RELEVANT_EVENTS = frozenset({"created", "modified", "deleted", "moved"})

FileState = tuple[int, int]  # (size, mtime in ns)


def is_ignored(relative: str) -> bool:
    """True for paths (relative, '/'-separated) that never trigger an import: VCS dirs and editor temp files."""
    parts = PurePosixPath(relative).parts
    if not parts or any(part in _IGNORED_DIRS for part in parts):
        return True
    name = parts[-1]
    return (
        name in _IGNORED_NAMES
        or name.endswith(_IGNORED_SUFFIXES)
        or name.startswith(_IGNORED_PREFIXES)
        or (name.startswith("#") and name.endswith("#"))
    )


def tree_state(folder: Path) -> dict[str, FileState]:
    """Return size and mtime of every file under ``folder`` that is not ignored (a cheap change detector)."""
    state: dict[str, FileState] = {}
    for directory, dirnames, filenames in os.walk(folder):
        dirnames[:] = [name for name in dirnames if name not in _IGNORED_DIRS]
        base = Path(directory)
        for name in filenames:
            path = base / name
            relative = path.relative_to(folder).as_posix()
            if is_ignored(relative):
                continue
            try:
                info = path.lstat()
            except FileNotFoundError:  # deleted while we walked; the next event rescans
                continue
            state[relative] = (info.st_size, info.st_mtime_ns)
    return state


def changed_paths(before: dict[str, FileState], after: dict[str, FileState]) -> list[str]:
    """Return the paths added, removed or changed between two states, sorted."""
    keys = before.keys() | after.keys()
    return sorted(key for key in keys if before.get(key) != after.get(key))


class _Handler(FileSystemEventHandler):
    def __init__(self, folder: Path, trigger: Callable[[str], None]) -> None:
        self._folder = folder
        self._trigger = trigger

    def _relative(self, raw: str | bytes) -> str | None:
        text = os.fsdecode(raw)
        if not text:
            return None
        try:
            relative = Path(text).relative_to(self._folder).as_posix()
        except ValueError:
            return None
        return None if relative == "." or is_ignored(relative) else relative

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _RELEVANT_EVENTS:
            return
        if event.is_directory and event.event_type == "modified":
            return  # a file inside changed; that file's own event counts
        # An atomic save writes a temp file and renames it over the target: the destination is what counts.
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            relative = self._relative(raw)
            if relative is not None:
                self._trigger(relative)


class FolderWatcher:
    """Watch ``folder`` recursively and call ``on_batch`` with the changed paths once saves have settled."""

    def __init__(
        self,
        folder: Path,
        on_batch: BatchAction,
        *,
        debounce: float,
        on_error: ErrorHandler,
        every: Periodic | None = None,
    ) -> None:
        self.folder = folder
        # A folder that never settles (a build writing into it) is still imported now and then.
        max_delay = max(30.0, debounce * 10)
        self._debouncer = Debouncer(on_batch, delay=debounce, on_error=on_error, max_delay=max_delay, every=every)
        self._observer: Observer | None = None  # type: ignore[valid-type]
        self._watched_inode: int | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        self._debouncer.start()
        with self._lock:
            self._arm()

    def _arm(self) -> None:
        observer = Observer()
        observer.schedule(_Handler(self.folder.resolve(), self._debouncer.trigger), str(self.folder), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer
        self._watched_inode = self.folder.stat().st_ino

    def _disarm(self) -> None:
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout=10)

    def check_folder(self) -> None:
        """Re-arm when the folder was replaced (for example by an export that swapped it in) or came back."""
        with self._lock:
            try:
                inode: int | None = self.folder.stat().st_ino
            except FileNotFoundError:
                inode = None
            if inode == self._watched_inode and self._observer is not None and self._observer.is_alive():
                return
            self._disarm()
            self._watched_inode = None
            if inode is None:
                logger.warning("%s is gone; waiting for it to come back", self.folder)
                return
            logger.debug("re-arming the watch on %s", self.folder)
            self._arm()
        # Events may have been missed while the old watch was dead: let the state comparison decide.
        self._debouncer.trigger(".")

    def discard_pending(self) -> int:
        return self._debouncer.discard_pending()

    def trigger_batch(self) -> None:
        """Ask for a batch even without a new event; the state comparison decides what changed."""
        self._debouncer.trigger(".")

    def stop(self) -> int:
        """Stop watching; wait for a running import or export to finish. Return unprocessed events."""
        with self._lock:
            self._disarm()
        return self._debouncer.stop()
