"""Building the ZIP of an export folder that `POST /structr/deploy` takes (extraction: exporttree)."""

from __future__ import annotations

import zipfile
from pathlib import Path

# Files in these formats are compressed already: deflating them again costs CPU time and saves nothing.
STORED_SUFFIXES = frozenset(
    [
        ".jpg",
        ".jpeg",
        ".png",
        ".gif",
        ".webp",
        ".avif",
        ".ico",
        ".woff",
        ".woff2",
        ".zip",
        ".gz",
        ".tgz",
        ".bz2",
        ".xz",
        ".7z",
        ".mp3",
        ".mp4",
        ".m4a",
        ".webm",
        ".ogg",
        ".pdf",
    ]
)


def zip_folder(folder: Path, zip_path: Path, *, top: str) -> None:
    """Write ``folder`` into ``zip_path`` below the single top folder ``top`` (what Structr's import expects)."""
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr(f"{top}/", b"")
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder).as_posix()
            if path.is_dir():
                archive.writestr(f"{top}/{relative}/", b"")
            elif path.suffix.lower() in STORED_SUFFIXES:
                archive.write(path, f"{top}/{relative}", compress_type=zipfile.ZIP_STORED)
            else:
                archive.write(path, f"{top}/{relative}")
