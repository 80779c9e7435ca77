"""The scratch side of a restore drill: a private copy of a generation next to it (same filesystem), templated
service commands, free ports. Nothing here touches the live installation."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
from pathlib import Path

from structr_appsync.backup.copier import CHUNK_SIZE, Cloner
from structr_appsync.backup.manifest import FileEntry, TreeManifest, write_all

DRILL_PREFIX = ".drill-"
TEMPLATE_KEYS = ("port", "neo4j_port", "structr_port", "neo4j_data", "structr_dir", "scratch")
_TEMPLATE = re.compile(r"\{(" + "|".join(TEMPLATE_KEYS) + r")\}")
# Structr only reads a file's bytes while a drill runs (the drill changes nothing), so these may share the
# backup's inodes. Everything else (Neo4j's store, Structr's config and database) is written by the services and
# must be a copy or a copy-on-write clone, never a hard link into the backup.
LINKABLE_PREFIX = "files/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def render(template: str, values: dict[str, str], *, shell: bool) -> str:
    """Replace {port}, {neo4j_data}, ... (shell-quoted for commands); other braces are left as they are."""
    return _TEMPLATE.sub(lambda match: shlex.quote(values[match[1]]) if shell else values[match[1]], template)


class ScratchStats:
    def __init__(self) -> None:
        self.linked = 0
        self.cloned = 0
        self.copied = 0
        self.copied_bytes = 0
        self.missing: list[str] = []  # recorded in the manifest but absent from the generation


def materialize_scratch(tree_name: str, tree: TreeManifest, source: Path, target: Path, stats: ScratchStats) -> None:
    """Recreate one backed-up tree at ``target``: reflinks where the filesystem has them, hard links for Structr's
    file contents, copies for the rest; recorded modes and mtimes are applied to what is not shared."""
    cloner = Cloner()
    entries = sorted(tree.entries, key=lambda entry: (entry.path != ".", entry.path))
    directories: list[tuple[Path, FileEntry]] = []
    for entry in entries:
        path = target if entry.path == "." else target / entry.path
        origin = source if entry.path == "." else source / entry.path
        if entry.kind != "dir" and not origin.is_symlink() and not origin.exists():
            stats.missing.append(f"{tree_name}/{entry.path}")
            continue
        if entry.kind == "dir":
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            directories.append((path, entry))
        elif entry.kind == "symlink":
            path.symlink_to(entry.target or "")
        elif tree_name == "structr" and entry.path.startswith(LINKABLE_PREFIX) and _try_link(origin, path):
            stats.linked += 1
        else:
            if cloner.clone(origin, path):
                stats.cloned += 1
            else:
                _copy(origin, path)
                stats.copied += 1
                stats.copied_bytes += entry.size
            path.chmod(entry.mode)
            os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns))
    for path, entry in reversed(directories):
        path.chmod(entry.mode | 0o700)  # the drill must be able to remove what it made
        os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns))


def _try_link(origin: Path, path: Path) -> bool:
    try:
        os.link(origin, path)
    except OSError:
        return False
    return True


def _copy(origin: Path, path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with origin.open("rb") as handle:
            while data := handle.read(CHUNK_SIZE):
                write_all(fd, data)
    finally:
        os.close(fd)


def remove_scratch(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
