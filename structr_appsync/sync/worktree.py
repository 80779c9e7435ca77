"""Changing the working tree and the index of an export, reversibly: every step returns or yields its undo."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from structr_appsync.errors import GitError
from structr_appsync.gitrepo import GitRepo

logger = logging.getLogger(__name__)


def save_index(repo: GitRepo, scratch: Path) -> Callable[[], None]:
    """Save the user's index file and return the undo that puts it back exactly as it was."""
    saved = scratch / "index.saved"
    existed = repo.index_path.exists()
    if existed:
        shutil.copy2(repo.index_path, saved)

    def restore() -> None:
        if existed:
            try:
                # a rename needs no free space: the restore works on the full disk that may have caused the failure
                saved.replace(repo.index_path)
            except OSError:  # another filesystem ($GIT_INDEX_FILE elsewhere): copy, then rename into place
                temporary = repo.index_path.with_name("index.appsync-restore")
                shutil.copy2(saved, temporary)
                temporary.replace(repo.index_path)
        else:
            repo.index_path.unlink(missing_ok=True)

    return restore


def swap_in(target: Path, new: Path, aside: Path, *, keep: list[Path]) -> Callable[[], None]:
    """Replace the folder ``target`` by ``new`` (renames only) and return the undo.

    ``keep`` are paths (relative to ``target``) of ignored files the user has in the folder, such as editor or
    build files: they move over into the new folder instead of disappearing with the old one.
    """
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise GitError(f"{target} is not a folder; move it away and export again")
    had_target = target.exists()
    moved: list[Path] = []
    placed = False

    def undo() -> None:
        for relative in reversed(moved):
            (target / relative).rename(aside / relative)
        if placed and target.exists():
            target.rename(new)
        if had_target:
            aside.rename(target)

    if had_target:
        target.rename(aside)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
    try:  # a step failing halfway puts the user's folder back before the error goes on
        new.rename(target)
        placed = True
        for relative in keep:
            source, destination = aside / relative, target / relative
            if not (source.exists() or source.is_symlink()):
                continue
            if destination.exists() or destination.is_symlink():
                logger.warning("ignored file %s is now part of the export; the local copy is replaced", relative)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            source.rename(destination)
            moved.append(relative)
    except BaseException:
        undo()
        raise
    return undo


def prune_empty_parents(path: Path, stop: Path) -> None:
    parent = path.parent
    while parent != stop and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent


def apply_changes(target: Path, new: Path, changes: list[tuple[str, str]], backup: Path) -> Callable[[], None]:
    """Bring ``target`` (clean, equal to HEAD) to ``new`` by moving only the changed files; return the undo.

    Unchanged files keep their inode and stat data, so git need not hash them again and editors or watchers
    see only what really changed. Deletions go first, so a file may replace a folder and the other way round.
    """
    done: list[tuple[str, bool, bool]] = []  # (path, replaced an existing file, placed a new one)

    def undo() -> None:
        for path, had_old, placed in reversed(done):
            current = target / path
            if placed:
                (new / path).parent.mkdir(parents=True, exist_ok=True)
                current.rename(new / path)
                prune_empty_parents(current, target)
            if had_old:
                current.parent.mkdir(parents=True, exist_ok=True)
                (backup / path).rename(current)

    ordered = sorted(changes, key=lambda item: (item[0] != "D", item[1]))
    try:
        for status, path in ordered:
            current = target / path
            had_old = current.is_file() or current.is_symlink()
            if had_old:
                (backup / path).parent.mkdir(parents=True, exist_ok=True)
                current.rename(backup / path)
                done.append((path, True, False))  # recorded at once: if placing the new file fails, undo brings it back
            if status != "D":
                current.parent.mkdir(parents=True, exist_ok=True)
                (new / path).rename(current)
                if had_old:
                    done[-1] = (path, True, True)
                else:
                    done.append((path, False, True))
            else:
                prune_empty_parents(current, target)
    except BaseException:
        undo()
        raise
    return undo
