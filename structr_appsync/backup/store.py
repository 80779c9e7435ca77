"""The generations directory: listing, staging, sharing unchanged files with the previous generation, completing.

Layout of ``destination``::

    .appsync-backup.lock        the backup/restore lock
    .appsync-stopped.json       present only while appsync has services stopped
    .staging-<id>/              a backup in progress (never listed; removed on failure or by the next run)
    <id>/neo4j/ <id>/structr/   a generation ...
    <id>/manifest.json          ... complete only once this is written (last, atomically)

Everything is written 0600 (files) and 0700 (directories), because the Structr directory holds structr.conf.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import xxhash

from structr_appsync.backup.copier import CHUNK_SIZE, DIR_MODE, FILE_MODE, SourceMeta, TreeCopy
from structr_appsync.backup.manifest import (
    MANIFEST_NAME,
    FileEntry,
    Manifest,
    ManifestSummary,
    TreeManifest,
    read_manifest,
    read_summary,
)
from structr_appsync.errors import ArchiveError

logger = logging.getLogger(__name__)

STAGING_PREFIX = ".staging-"
TREES = ("neo4j", "structr")


@dataclass(frozen=True)
class Generation:
    id: str
    path: Path
    manifest: ManifestSummary  # the head only; load() reads the per-file entries

    def load(self) -> Manifest:
        return read_manifest(self.path)


def new_id(destination: Path, now: datetime | None = None) -> str:
    """A sortable, unique generation id: the UTC start time."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    base = moment.strftime("%Y%m%dT%H%M%SZ")
    candidate, counter = base, 1
    while (destination / candidate).exists() or (destination / f"{STAGING_PREFIX}{candidate}").exists():
        counter += 1
        candidate = f"{base}-{counter}"
    return candidate


def prepare_destination(destination: Path) -> None:
    destination.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    destination.chmod(DIR_MODE)


def list_generations(destination: Path) -> list[Generation]:
    """Complete generations, oldest first. Directories without a valid manifest are not backups."""
    if not destination.is_dir():
        return []
    found: list[Generation] = []
    for child in sorted(destination.iterdir()):
        if child.name.startswith(".") or not child.is_dir() or not (child / MANIFEST_NAME).is_file():
            continue
        try:
            manifest = read_summary(child)
        except ArchiveError as exc:
            logger.warning("ignoring %s: %s", child, exc)
            continue
        found.append(Generation(child.name, child, manifest))
    found.sort(key=lambda generation: (generation.manifest.started_at, generation.id))
    return found


def find_generation(destination: Path, wanted: str) -> Generation:
    """The generation called ``wanted``; ``latest`` is the newest complete one.

    Raises:
        ArchiveError: if there is no such complete generation.
    """
    generations = list_generations(destination)
    if wanted == "latest":
        if not generations:
            raise ArchiveError(f"no complete backup in {destination}")
        return generations[-1]
    for generation in generations:
        if generation.id == wanted:
            return generation
    if (destination / wanted).is_dir():
        raise ArchiveError(f"backup {wanted} is incomplete (it has no manifest) and cannot be used")
    raise ArchiveError(f"no backup {wanted!r} in {destination}", hint="`appsync backup list` shows the ids")


def remove_stale(destination: Path) -> list[str]:
    """Remove staging directories and manifest-less generations left by a crashed run (call under the lock)."""
    removed: list[str] = []
    if not destination.is_dir():
        return removed
    for child in destination.iterdir():
        incomplete = child.is_dir() and not child.name.startswith(".") and not (child / MANIFEST_NAME).exists()
        if (child.is_dir() and child.name.startswith(STAGING_PREFIX)) or incomplete:
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child.name)
    if removed:
        logger.info("Removed incomplete backup data left by an earlier run: %s", ", ".join(sorted(removed)))
    return removed


def file_digest(path: Path) -> str:
    digest = xxhash.xxh64()
    buffer = bytearray(CHUNK_SIZE)
    with path.open("rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            digest.update(memoryview(buffer)[:count])
    return digest.hexdigest()


def _link_over(shared: Path, target: Path) -> bool:
    temporary = target.with_name(f".{target.name}.appsync-link")
    try:
        os.link(shared, temporary)
    except OSError as exc:
        if exc.errno in (errno.EMLINK, errno.EXDEV, errno.EPERM, errno.ENOENT):
            return False
        raise
    temporary.replace(target)
    return True


@dataclass
class TreeResult:
    manifest: TreeManifest
    new_bytes: int


def complete_tree(copy: TreeCopy, source_label: str) -> TreeResult:
    """After the restart: checksum the staged tree, share unchanged files with the previous generation, fix modes.

    Files the pre-pass hard-linked from the previous generation keep that generation's checksum (the inode is the
    same). Other files are hashed; identical content to the previous generation is replaced by a hard link.
    """
    entries: list[FileEntry] = []
    new_bytes = 0
    for rel in sorted(copy.meta):
        meta: SourceMeta = copy.source_meta(rel)
        staged = copy.staged / rel
        digest: str | None = None
        if meta.kind == "file":
            observed = copy.observed.get(rel)
            previous = copy.previous_entries.get(rel)
            if observed is not None and observed.linked and previous is not None and previous.xxh64:
                digest = previous.xxh64
            else:
                digest = file_digest(staged)
                shared = (
                    previous is not None
                    and copy.previous is not None
                    and previous.kind == "file"
                    and previous.size == meta.size
                    and previous.xxh64 == digest
                    and _link_over(copy.previous / rel, staged)
                )
                if not shared:
                    new_bytes += meta.size
                    staged.chmod(FILE_MODE)
        elif meta.kind == "dir":
            staged.chmod(DIR_MODE)
        entries.append(
            FileEntry(
                path=rel,
                kind=meta.kind,
                size=meta.size,
                mode=meta.mode,
                uid=meta.uid,
                gid=meta.gid,
                mtime_ns=meta.mtime_ns,
                xxh64=digest,
                target=meta.target,
            )
        )
    root_info = copy.source.stat()
    entries.insert(
        0,
        FileEntry(
            path=".",
            kind="dir",
            mode=root_info.st_mode & 0o7777,
            uid=root_info.st_uid,
            gid=root_info.st_gid,
            mtime_ns=root_info.st_mtime_ns,
        ),
    )
    copy.staged.chmod(DIR_MODE)
    return TreeResult(TreeManifest(source=source_label, entries=entries), new_bytes)


def disk_usage(paths: Iterable[Path]) -> int:
    """Bytes allocated under ``paths``, counting each inode once (hard links shared between generations)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root in paths:
        for current, _dirs, files in os.walk(root):
            for name in files:
                info = os.lstat(Path(current) / name)
                key = (info.st_dev, info.st_ino)
                if key in seen:
                    continue
                seen.add(key)
                total += info.st_blocks * 512
    return total
