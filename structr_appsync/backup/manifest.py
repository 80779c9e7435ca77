"""The manifest of one backup generation: what was copied, how long the services were down, and with what config."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from structr_appsync.errors import ArchiveError

MANIFEST_NAME = "manifest.json"
_T = TypeVar("_T", bound=BaseModel)
MANIFEST_VERSION = 1

# Keys whose values never go into a manifest, wherever they appear in the config snapshot.
_SECRET_WORDS = r"pass(?:word|wd)?|secret|token|credential|api[_-]?key|signature"
_SECRET_KEY = re.compile(_SECRET_WORDS, re.IGNORECASE)
# user:password@ in URLs; greedy up to the last @ of the authority, since a password may contain an @.
_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s]*@", re.IGNORECASE)
# Inside strings (commands, URLs): PGPASSWORD=x, --password=x, --password x, ?access_token=x, "secret: x".
_SECRET_VALUE = re.compile(
    rf"(?P<key>[\w-]*(?:{_SECRET_WORDS})[\w-]*)(?P<sep>=|:[ \t]*|[ \t]+)(?P<value>'[^']*'|\"[^\"]*\"|[^\s&'\"]+)",
    re.IGNORECASE,
)
# Healthchecks-style ping URLs are capabilities: anyone who knows one can report success. Only the host is kept.
_CAPABILITY_URL_SECTIONS = frozenset({"monitoring"})
_URL_AUTHORITY = re.compile(r"^(?P<base>[a-z][a-z0-9+.-]*://[^/?#\s]*)(?P<rest>[/?#].*)?$", re.IGNORECASE | re.DOTALL)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileEntry(_Model):
    """One path inside a backed-up tree (relative, POSIX separators)."""

    path: str
    kind: Literal["file", "dir", "symlink"]
    size: int = 0
    mode: int = Field(description="Permission bits of the original (st_mode & 0o7777).")
    uid: int
    gid: int
    mtime_ns: int
    xxh64: str | None = Field(None, description="xxHash64 (seed 0) of the content, hex; files only.")
    target: str | None = Field(None, description="Link target; symlinks only.")


class TreeManifest(_Model):
    """One of the two backed-up trees: `neo4j` (the data directory) or `structr` (the Structr directory)."""

    source: str = Field(description="Where the tree was copied from.")
    entries: list[FileEntry]

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.entries if entry.kind == "file")

    def files(self) -> dict[str, FileEntry]:
        return {entry.path: entry for entry in self.entries}


class CheckRecord(_Model):
    """The consistency check `appsync backup --check` ran while the services still ran."""

    at: datetime
    quick: bool
    consistent: bool
    nodes: int
    checked: int
    unchecked: int
    problems: dict[str, int] = Field(description="Findings per kind: missing, size, checksum, orphan.")
    outcome: Literal["consistent", "warned"] = Field(description="warned: inconsistent, backed up anyway (warn).")


class DrillRecord(_Model):
    """One restore drill of this generation (`appsync backup drill`)."""

    started_at: datetime
    finished_at: datetime
    seconds: float
    passed: bool
    mode: Literal["full", "offline"] = Field(description="full: scratch services started; offline: files only.")
    reasons: list[str] = Field(default_factory=list, description="Why it failed (empty when it passed).")
    counts: dict[str, int] = Field(default_factory=dict, description="Nodes per type, pages, files checked.")
    app_commit: str | None = None


class Manifest(_Model):
    """Written last, atomically: a generation without it is incomplete and never listed."""

    format: int = MANIFEST_VERSION
    id: str
    env: str
    started_at: datetime
    stopped_at: datetime = Field(description="When the first service stop was issued.")
    restarted_at: datetime = Field(description="When the last service answered its health check again.")
    finished_at: datetime
    downtime_seconds: float
    copy_seconds: float = Field(description="Part of the downtime spent copying (or running the snapshot command).")
    phases: dict[str, float] = Field(
        default_factory=dict,
        description="Seconds of each phase of the downtime in order (stop.structr, down.structr, ..., health.structr).",
    )
    checkpoint_seconds: float | None = Field(
        None, description="Seconds of the checkpoint asked of Neo4j before the stop (while still running), if any."
    )
    method: str = Field(description="How the downtime copy was made: delta, reflink or snapshot.")
    bytes_total: int
    bytes_copied_during_downtime: int
    bytes_new: int = Field(description="Bytes not shared (hard-linked) with the previous generation.")
    files_total: int
    structr_version: str | None = None
    neo4j_version: str | None = None
    app_commit: str | None = Field(None, description="git HEAD of the app repository at backup time, if known.")
    config: dict[str, Any] = Field(description="The backup configuration used, without secrets.")
    trees: dict[str, TreeManifest]
    check: CheckRecord | None = Field(None, description="The check before the stop (backup --check), if run.")
    drills: list[DrillRecord] = Field(default_factory=list, description="Restore drills, oldest first.")


class ManifestSummary(BaseModel):
    """The head of a manifest, without the per-file entries: enough to list, sort and prune generations."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    env: str
    started_at: datetime
    finished_at: datetime
    downtime_seconds: float
    phases: dict[str, float] = {}
    method: str
    bytes_total: int
    bytes_new: int
    files_total: int
    structr_version: str | None = None
    neo4j_version: str | None = None
    app_commit: str | None = None
    check: CheckRecord | None = None
    drills: list[DrillRecord] = Field(default_factory=list)

    def last_passed_drill(self) -> DrillRecord | None:
        passed = [drill for drill in self.drills if drill.passed]
        return passed[-1] if passed else None


def scrub(value: Any, *, section: str | None = None) -> Any:
    """Return ``value`` with password-like keys dropped and credentials removed from URLs and commands."""
    if isinstance(value, dict):
        return {
            key: scrub(item, section=str(key) if section is None else section)
            for key, item in value.items()
            if not _SECRET_KEY.search(str(key))
        }
    if isinstance(value, list | tuple):
        return [scrub(item, section=section) for item in value]
    if isinstance(value, str):
        if section in _CAPABILITY_URL_SECTIONS:
            match = _URL_AUTHORITY.match(value)
            if match:
                base = _URL_USERINFO.sub(r"\g<scheme>***@", match["base"])
                return base + ("/***" if match["rest"] else "")
        text = _URL_USERINFO.sub(r"\g<scheme>***@", value)
        return _SECRET_VALUE.sub(r"\g<key>\g<sep>***", text)
    return value


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data``: on a filling disk os.write writes less and says so only by its count."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def create_private(path: Path) -> int:
    """Create ``path`` afresh, 0600, for writing; never through a symlink someone planted in its place.

    Any leftover (a temporary file of a crashed run, or a planted link, which is removed, not followed) goes first;
    then O_EXCL | O_NOFOLLOW guarantee that the file opened is the one just created.
    """
    path.unlink(missing_ok=True)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)


def write_manifest(directory: Path, manifest: Manifest) -> Path:
    """Write the manifest atomically (temp file, fsync, rename, fsync of the directory), mode 0600."""
    target = directory / MANIFEST_NAME
    temporary = directory / f".{MANIFEST_NAME}.tmp"
    data = manifest.model_dump_json(indent=1).encode("utf-8")
    fd = create_private(temporary)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    temporary.replace(target)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return target


def read_manifest(directory: Path) -> Manifest:
    """Read and validate a generation's manifest.

    Raises:
        ArchiveError: when it is missing or not a valid manifest.
    """
    return _read(directory, Manifest)


def read_summary(directory: Path) -> ManifestSummary:
    """Read only the head of a manifest (pydantic skips the entries without building Python objects).

    Raises:
        ArchiveError: when it is missing or not a valid manifest.
    """
    return _read(directory, ManifestSummary)


def _read(directory: Path, model: type[_T]) -> _T:
    path = directory / MANIFEST_NAME
    try:
        return model.model_validate_json(path.read_bytes())
    except FileNotFoundError as exc:
        raise ArchiveError(f"{directory.name}: incomplete backup (no {MANIFEST_NAME})") from exc
    except (OSError, ValueError, ValidationError) as exc:
        raise ArchiveError(f"{directory.name}: unreadable manifest: {exc}") from exc
