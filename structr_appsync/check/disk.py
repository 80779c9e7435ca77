"""The disk side: every regular file under `files/`, walked depth first with each directory sorted by name, so
the walk comes out in the same order as the id-sorted File listing (c0/c1/c2/c3/uuid)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DiskFile:
    key: tuple[str, ...]  # path parts below files/
    size: int

    @property
    def relative(self) -> str:
        return "/".join(self.key)


def walk_files(root: Path) -> Iterator[DiskFile]:
    """Yield the regular files below ``root`` in path-part order; symlinks are reported as files of their own size
    (Structr never creates them, so they show up as orphans or mismatches). One directory listing is held per level.
    """
    yield from _walk(root, ())


def _walk(directory: Path, prefix: tuple[str, ...]) -> Iterator[DiskFile]:
    with os.scandir(directory) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        key = (*prefix, entry.name)
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path), key)
        else:
            yield DiskFile(key, entry.stat(follow_symlinks=False).st_size)
