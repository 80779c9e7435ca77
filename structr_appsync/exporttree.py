"""The deployment export as a folder: safe ZIP extraction, validation and the placeholders git needs."""

from __future__ import annotations

import errno
import logging
import os
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from structr_appsync.errors import ExportInvalid

logger = logging.getLogger(__name__)

DOM_FOLDERS = ("pages", "components", "templates")
PLACEHOLDER_NAME = ".appsync-keep"
PLACEHOLDER_TEXT = (
    "Kept by appsync so that git stores this empty folder: Structr replaces pages, components and templates\n"
    "only when all three folders exist (structr-api.md §3.1). Structr reads only *.html files here.\n"
)
# Top-level entries of an app deployment export (structr-api.md §2); one of them must be present.
KNOWN_ENTRIES = frozenset(
    {
        "deployment.conf",
        "pre-deploy.conf",
        "post-deploy.conf",
        "schema",
        "pages",
        "pages.json",
        "components",
        "components.json",
        "templates",
        "templates.json",
        "files",
        "files.json",
        "security",
        "events",
        "mail-templates",
        "mail-templates.json",
        "localizations.json",
        "widgets.json",
        "sites.json",
        "page-paths.json",
        "application-configuration-data.json",
        "modules",
    }
)
_COPY_CHUNK = 1024 * 1024
# Failures to write here that are this machine's, reported as such and not as a broken export.
LOCAL_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES})


def _zip_member_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    mode = info.external_attr >> 16
    if mode and stat.S_ISLNK(mode):
        return f"holds a symbolic link ({name})"
    if "\\" in name or "\x00" in name:
        return f"holds an unusable path ({name!r})"
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith("/"):
        return f"holds an absolute path ({name})"
    if ".." in path.parts:
        return f"holds a path that escapes its folder ({name})"
    if path.parts and ":" in path.parts[0]:
        return f"holds a drive-qualified path ({name})"
    return None


def extract_export_zip(zip_path: Path, dest: Path) -> Path:
    """Extract a deployment-export ZIP into ``dest`` after checking every entry; return the top folder.

    Raises:
        ExportInvalid: when the ZIP is empty, truncated or corrupt, does not hold exactly one top folder,
            or holds symlinks or paths that escape it.
    """
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ExportInvalid(f"the export is not a readable ZIP (truncated or corrupt: {exc})") from exc
    with archive:
        infos = archive.infolist()
        if not infos:
            raise ExportInvalid("the export ZIP is empty")
        tops: set[str] = set()
        for info in infos:
            problem = _zip_member_problem(info)
            if problem:
                raise ExportInvalid(f"the export ZIP {problem}; refusing to unpack it")
            parts = PurePosixPath(info.filename).parts
            if not parts:
                continue
            if len(parts) == 1 and not info.is_dir():
                raise ExportInvalid(f"the export ZIP has a file at its top level ({info.filename}), not one folder")
            tops.add(parts[0])
        if len(tops) != 1:
            raise ExportInvalid(f"the export ZIP must hold exactly one top folder, found {len(tops)}")
        top = tops.pop()
        dest.mkdir(parents=True, exist_ok=True)
        root = (dest / top).resolve()
        try:
            for info in infos:
                target = dest / info.filename
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, target.open("wb") as sink:
                    while chunk := source.read(_COPY_CHUNK):
                        sink.write(chunk)
        except (zipfile.BadZipFile, EOFError, OSError, zipfile.LargeZipFile, zlib.error) as exc:
            if isinstance(exc, OSError) and exc.errno in LOCAL_WRITE_ERRNOS:
                raise  # this machine's disk is full or read-only: not the server's fault
            raise ExportInvalid(f"the export ZIP is truncated or corrupt ({exc})") from exc
    if not root.is_dir():
        raise ExportInvalid("the export ZIP holds no folder")
    validate_export_tree(root)
    return root


def validate_export_tree(path: Path) -> None:
    """Check that ``path`` looks like a Structr deployment export and holds no symlinks.

    Raises:
        ExportInvalid: when the folder is missing, empty, holds none of the deployment files,
            or contains symbolic links.
    """
    if not path.is_dir():
        raise ExportInvalid(f"{path} is not a folder")
    top = {entry.name for entry in path.iterdir()}
    if not top & KNOWN_ENTRIES:
        what = "is empty" if not top else "holds none of Structr's deployment files (deployment.conf, schema/, …)"
        raise ExportInvalid(f"the export {what}")
    for directory, dirnames, filenames in os.walk(path):
        for name in (*dirnames, *filenames):
            candidate = Path(directory) / name
            if candidate.is_symlink():
                raise ExportInvalid(f"the export holds a symbolic link ({candidate.relative_to(path)})")


def add_placeholders(path: Path) -> list[Path]:
    """Put a placeholder into each empty pages/, components/ and templates/ folder; return the ones written."""
    written = []
    for name in DOM_FOLDERS:
        folder = path / name
        if folder.is_dir() and not any(folder.iterdir()):
            placeholder = folder / PLACEHOLDER_NAME
            placeholder.write_text(PLACEHOLDER_TEXT, encoding="utf-8")
            written.append(placeholder)
    return written


def strip_placeholders(path: Path) -> None:
    """Remove appsync's placeholders (the folders stay)."""
    for name in DOM_FOLDERS:
        (path / name / PLACEHOLDER_NAME).unlink(missing_ok=True)


def restore_dropped_folders(path: Path) -> list[str]:
    """Create pages/, components/ and templates/ when git dropped them; return the names created.

    Structr wipes and replaces the DOM only when all three exist (structr-api.md §3.1, §8.4).
    """
    created = []
    for name in DOM_FOLDERS:
        folder = path / name
        if not folder.exists():
            folder.mkdir(parents=True)
            created.append(name)
    return created
