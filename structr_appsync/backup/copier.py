"""Copying a live tree into a staging directory in two passes.

*Pre-pass* (services running): every file is copied into the staging tree, or hard-linked from the previous
generation when its size and mtime are unchanged, or cloned (reflink) when the filesystem can. Large files are copied
in 1 MiB chunks whose xxh64 digests are remembered.

*Delta pass* (services stopped, store lock free): the source is walked again and only what changed is written:
new and changed small files are copied whole (never written in place if hard-linked), large files are compared chunk
by chunk against the remembered digests and only the differing 8 KiB pages are written into the private staged
copy. In `verify_all` mode (used for the Neo4j store, whose writes need not move mtime) every file is checked against
the source regardless of its mtime; otherwise size+mtime decide, except for files modified close to their pre-pass
copy ("racy", as git calls it), which are checked too.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import xxhash

from structr_appsync import process
from structr_appsync.backup.manifest import TreeManifest
from structr_appsync.errors import ArchiveError, CommandError

logger = logging.getLogger(__name__)

PAGE_SIZE = 8192  # Neo4j's page size
CHUNK_SIZE = 1024 * 1024
BIG_FILE = 4 * CHUNK_SIZE  # files at least this large get chunk digests and block-level deltas
RACY_SECONDS = 2.0
FILE_MODE = 0o600
DIR_MODE = 0o700
_FICLONE = 0x40049409

# Tests install a callable here to inject faults: it is called as hook(phase, relative_path) before each file
# of the pre-pass ("prepass") and the delta pass ("delta"). Never set in production code.
fault_hook: Callable[[str, str], None] | None = None


class PreviousFile(NamedTuple):
    """What the previous generation's manifest says about a path (compact: one tuple per file)."""

    kind: str
    size: int
    mtime_ns: int
    xxh64: str | None


def previous_files(tree: TreeManifest) -> dict[str, PreviousFile]:
    return {
        entry.path: PreviousFile(entry.kind, entry.size, entry.mtime_ns, entry.xxh64)
        for entry in tree.entries
        if entry.kind == "file"
    }


@dataclass
class Observed:
    """What the pre-pass (or last pass) saw of a source file and put into staging."""

    size: int
    mtime_ns: int
    racy: bool
    linked: bool
    chunks: list[int] | None = None


@dataclass
class SourceMeta:
    """The source's metadata, taken during the delta pass (when the source is frozen)."""

    kind: str
    size: int
    mode: int
    uid: int
    gid: int
    mtime_ns: int
    target: str | None = None


@dataclass
class CopyStats:
    prepass_bytes: int = 0
    delta_bytes: int = 0
    linked_files: int = 0
    cloned_files: int = 0
    pages_written: int = 0


def _walk(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Yield (relative POSIX path, lstat) for everything under root, parents before children."""
    base = os.fspath(root)
    stack = [""]
    while stack:
        relative = stack.pop()
        try:
            entries = list(os.scandir(f"{base}/{relative}" if relative else base))
        except FileNotFoundError:
            continue
        prefix = f"{relative}/" if relative else ""
        for entry in entries:
            rel = prefix + entry.name
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # deleted while we walk (only possible during the pre-pass)
            yield rel, info
            if stat.S_ISDIR(info.st_mode):
                stack.append(rel)


def _fail(action: str, path: Path, exc: OSError) -> ArchiveError:
    hint = None
    if exc.errno == errno.ENOSPC:
        hint = "the backup destination is full: free space or prune old generations (`appsync backup prune`)"
    return ArchiveError(f"{action} {path} failed: {exc.strerror or exc}", hint=hint)


class Cloner:
    """Reflink clones (FICLONE, then `cp --reflink=always`), remembering once the filesystem says no."""

    def __init__(self, enabled: bool = True) -> None:
        self.supported: bool | None = None if enabled else False

    def clone(self, source: Path, target: Path) -> bool:
        if self.supported is False:
            return False
        try:
            with source.open("rb") as src:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
                try:
                    fcntl.ioctl(fd, _FICLONE, src.fileno())
                finally:
                    os.close(fd)
        except OSError as exc:
            target.unlink(missing_ok=True)
            if exc.errno in (errno.ENOTTY, errno.ENOSYS) and self._clone_with_cp(source, target):
                return True
            if exc.errno in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.ENOSYS, errno.EBADF):
                logger.debug("reflinks not available here (%s)", exc.strerror)
                self.supported = False
                return False
            raise
        self.supported = True
        return True

    def _clone_with_cp(self, source: Path, target: Path) -> bool:
        try:
            process.run(["cp", "--reflink=always", "--", str(source), str(target)], timeout=600)
        except CommandError:
            target.unlink(missing_ok=True)
            return False
        target.chmod(FILE_MODE)
        return True


def _copy_whole(source: Path, target: Path, *, with_chunks: bool) -> tuple[int, list[int] | None]:
    """Copy source to target (created 0600); return (bytes, chunk digests if asked)."""
    if not with_chunks:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        os.close(fd)
        shutil.copyfile(source, target)
        return target.stat().st_size, None
    chunks: list[int] = []
    total = 0
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    with source.open("rb", buffering=0) as src:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            while True:
                count = src.readinto(buffer)
                if not count:
                    break
                chunk = view[:count]
                chunks.append(xxhash.xxh64_intdigest(chunk))
                _write_all(fd, chunk)
                total += count
        finally:
            os.close(fd)
    return total, chunks


def _write_all(fd: int, data: memoryview, offset: int | None = None) -> None:
    done = 0
    while done < len(data):
        if offset is None:
            done += os.write(fd, data[done:])
        else:
            done += os.pwrite(fd, data[done:], offset + done)


def _chunk_digests(path: Path) -> list[int]:
    chunks: list[int] = []
    buffer = bytearray(CHUNK_SIZE)
    with path.open("rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            chunks.append(xxhash.xxh64_intdigest(memoryview(buffer)[:count]))
    return chunks


def _patch_pages(source: Path, target: Path, known: list[int]) -> tuple[int, int, list[int]]:
    """Bring the private copy ``target`` up to ``source`` by writing only differing 8 KiB pages.

    Returns (bytes written, pages written, new chunk digests).
    """
    written = pages = 0
    digests: list[int] = []
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    with source.open("rb", buffering=0) as src:
        size = os.fstat(src.fileno()).st_size
        fd = os.open(target, os.O_RDWR)
        try:
            if os.fstat(fd).st_size != size:
                os.ftruncate(fd, size)
            offset = 0
            index = 0
            while True:
                count = src.readinto(buffer)
                if not count:
                    break
                chunk = view[:count]
                digest = xxhash.xxh64_intdigest(chunk)
                digests.append(digest)
                if index >= len(known) or known[index] != digest:
                    old = os.pread(fd, count, offset)
                    for start in range(0, count, PAGE_SIZE):
                        page = chunk[start : start + PAGE_SIZE]
                        if old[start : start + PAGE_SIZE] != page:
                            _write_all(fd, page, offset + start)
                            written += len(page)
                            pages += 1
                offset += count
                index += 1
        finally:
            os.close(fd)
    return written, pages, digests


@dataclass
class TreeCopy:
    """One source tree (the Neo4j data dir or the Structr dir) staged under ``staged``."""

    name: str
    source: Path
    staged: Path
    previous: Path | None = None
    previous_entries: dict[str, PreviousFile] = field(default_factory=dict)
    verify_all: bool = False
    cloner: Cloner = field(default_factory=Cloner)
    observed: dict[str, Observed] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)
    meta: dict[str, tuple[str, int, int, int, int, int, str | None]] = field(default_factory=dict)
    stats: CopyStats = field(default_factory=CopyStats)

    # -------------------------------------------------------------------------------------------- pre-pass

    def prepass(self) -> None:
        """Copy the running tree into staging (services up)."""
        if not self.source.is_dir():
            raise ArchiveError(f"{self.name}: {self.source} is not a directory")
        self.staged.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        for rel, info in _walk(self.source):
            target = self.staged / rel
            try:
                if fault_hook is not None:
                    fault_hook("prepass", f"{self.name}/{rel}")
                if stat.S_ISDIR(info.st_mode):
                    target.mkdir(mode=DIR_MODE, exist_ok=True)
                    self.dirs.add(rel)
                elif stat.S_ISREG(info.st_mode):
                    self._prepass_file(rel, info, target)
            except FileNotFoundError:
                continue  # vanished under our feet; the delta pass will see the truth
            except OSError as exc:
                raise _fail("copying", self.source / rel, exc) from exc

    def _prepass_file(self, rel: str, info: os.stat_result, target: Path) -> None:
        previous = self.previous_entries.get(rel)
        began = time.time()
        racy = began - info.st_mtime_ns / 1e9 < RACY_SECONDS
        if (
            previous is not None
            and self.previous is not None
            and previous.kind == "file"
            and previous.size == info.st_size
            and previous.mtime_ns == info.st_mtime_ns
            and not self.verify_all
            and not racy
        ):
            try:
                os.link(self.previous / rel, target)
            except OSError as exc:
                if exc.errno not in (errno.EMLINK, errno.ENOENT, errno.EXDEV, errno.EPERM):
                    raise
            else:
                self.observed[rel] = Observed(info.st_size, info.st_mtime_ns, racy=False, linked=True)
                self.stats.linked_files += 1
                return
        big = info.st_size >= BIG_FILE
        if self.cloner.clone(self.source / rel, target):
            self.stats.cloned_files += 1
            chunks = _chunk_digests(target) if big else None
            copied = 0
        else:
            copied, chunks = _copy_whole(self.source / rel, target, with_chunks=big)
        after = os.lstat(self.source / rel)
        changed = (after.st_size, after.st_mtime_ns) != (info.st_size, info.st_mtime_ns)
        self.observed[rel] = Observed(info.st_size, info.st_mtime_ns, racy=racy or changed, linked=False, chunks=chunks)
        self.stats.prepass_bytes += copied

    # -------------------------------------------------------------------------------------------- delta pass

    def delta(self, source: Path | None = None) -> None:
        """Bring staging up to the (now frozen) source: only what changed is written.

        ``source`` overrides the tree read from (a snapshot of the same tree).
        """
        root = source or self.source
        if not root.is_dir():
            raise ArchiveError(f"{self.name}: {root} is not a directory")
        self.meta = {}
        for rel, info in _walk(root):
            try:
                if fault_hook is not None:
                    fault_hook("delta", f"{self.name}/{rel}")
                if stat.S_ISDIR(info.st_mode):
                    if rel not in self.dirs or rel in self.observed:  # new, or was a file before
                        self._delta_dir(self.staged / rel)
                        self.dirs.add(rel)
                        self.observed.pop(rel, None)
                    self.meta[rel] = _compact("dir", info)
                    continue
                if stat.S_ISREG(info.st_mode) and self._unchanged(rel, info):
                    self.meta[rel] = _compact("file", info)
                    continue
                target = self.staged / rel
                self.dirs.discard(rel)
                if stat.S_ISLNK(info.st_mode):
                    link = str((root / rel).readlink())
                    self._replace_with_symlink(target, link)
                    self.meta[rel] = _compact("symlink", info, link)
                elif stat.S_ISREG(info.st_mode):
                    self._delta_file(root / rel, rel, info, target)
                    self.meta[rel] = _compact("file", info)
                else:
                    logger.warning("skipping %s: not a regular file, directory or symlink", root / rel)
            except OSError as exc:
                raise _fail("copying", root / rel, exc) from exc
        self._remove_vanished(set(self.meta))

    def _delta_dir(self, target: Path) -> None:
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            target.unlink()
        target.mkdir(mode=DIR_MODE, exist_ok=True)

    def _replace_with_symlink(self, target: Path, link: str) -> None:
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        target.symlink_to(link)
        self.stats.delta_bytes += len(link)

    def release_memory(self) -> None:
        """Drop the per-file bookkeeping once the manifest entries are built."""
        self.meta = {}
        self.observed = {}
        self.dirs = set()
        self.previous_entries = {}

    def source_meta(self, rel: str) -> SourceMeta:
        """The source's metadata of ``rel`` as the delta pass saw it."""
        kind, mode, uid, gid, size, mtime_ns, target = self.meta[rel]
        return SourceMeta(kind, size, mode, uid, gid, mtime_ns, target)

    def _unchanged(self, rel: str, info: os.stat_result) -> bool:
        """Size and mtime as the pre-pass saw them, not racy, and mtime is trusted for this tree."""
        known = self.observed.get(rel)
        return (
            known is not None
            and not self.verify_all
            and not known.racy
            and known.size == info.st_size
            and known.mtime_ns == info.st_mtime_ns
        )

    def _delta_file(self, source: Path, rel: str, info: os.stat_result, target: Path) -> None:
        known = self.observed.get(rel)
        big = info.st_size >= BIG_FILE
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        private = known is not None and not known.linked and target.is_file() and not target.is_symlink()
        if private and known is not None and known.chunks is not None and big and not self.cloner.supported:
            written, pages, digests = _patch_pages(source, target, known.chunks)
            self.stats.delta_bytes += written
            self.stats.pages_written += pages
            self.observed[rel] = Observed(info.st_size, info.st_mtime_ns, racy=False, linked=False, chunks=digests)
            return
        if private and known is not None and not big and self.verify_all and _same_content(source, target):
            self.observed[rel] = Observed(info.st_size, info.st_mtime_ns, racy=False, linked=False)
            return
        # Whole-file replacement: a new inode, so a file shared with an older generation is never modified.
        temporary = target.with_name(f".{target.name}.appsync-tmp")
        if self.cloner.clone(source, temporary):
            self.stats.cloned_files += 1
            chunks = None
        else:
            copied, chunks = _copy_whole(source, temporary, with_chunks=big)
            self.stats.delta_bytes += copied
        temporary.replace(target)
        self.observed[rel] = Observed(info.st_size, info.st_mtime_ns, racy=False, linked=False, chunks=chunks)

    def _remove_vanished(self, seen: set[str]) -> None:
        for rel in sorted((set(self.observed) | self.dirs) - seen, reverse=True):
            path = self.staged / rel
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
                self.dirs.discard(rel)
            else:
                path.unlink(missing_ok=True)
            self.observed.pop(rel, None)


def _same_content(source: Path, target: Path) -> bool:
    if source.stat().st_size != target.stat().st_size:
        return False
    with source.open("rb") as left, target.open("rb") as right:
        while True:
            a = left.read(CHUNK_SIZE)
            if a != right.read(CHUNK_SIZE):
                return False
            if not a:
                return True


def _compact(
    kind: str, info: os.stat_result, target: str | None = None
) -> tuple[str, int, int, int, int, int, str | None]:
    """What the manifest needs of an lstat, as a small tuple (tens of thousands of these are kept)."""
    size = info.st_size if kind == "file" else 0
    return (kind, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, size, info.st_mtime_ns, target)
