"""What a consistency check found: one finding per problem, and the counts of what was checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

FindingKind = Literal["missing", "size", "checksum", "orphan"]

# How each kind is introduced in a report line.
KIND_LABELS: dict[str, str] = {
    "missing": "missing on disk",
    "size": "size mismatch",
    "checksum": "checksum mismatch",
    "orphan": "orphan on disk (no File node)",
}


@dataclass(frozen=True)
class Finding:
    """One inconsistency between a File node and `files/`."""

    kind: FindingKind
    uuid: str
    path: str | None = None  # the file's path in Structr; None for orphans (no node)
    disk_path: str = ""  # relative to files/
    expected_size: int | None = None
    actual_size: int | None = None
    expected_checksum: int | None = None
    actual_checksum: int | None = None

    def line(self) -> str:
        where = self.path if self.path is not None else f"files/{self.disk_path}"
        detail = ""
        if self.kind == "size":
            detail = f" (database {self.expected_size} bytes, disk {self.actual_size} bytes)"
        elif self.kind == "checksum":
            detail = f" (database {self.expected_checksum}, disk {self.actual_checksum})"
        return f"{KIND_LABELS[self.kind]}: {where} [{self.uuid}]{detail}"

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "uuid": self.uuid,
            "path": self.path,
            "disk_path": self.disk_path,
            "expected_size": self.expected_size,
            "actual_size": self.actual_size,
            "expected_checksum": self.expected_checksum,
            "actual_checksum": self.actual_checksum,
        }


@dataclass
class CheckCounts:
    """Running totals; the only state a check keeps besides the findings it reports."""

    nodes: int = 0  # File nodes listed by the server
    checked: int = 0  # nodes whose file was looked at on disk
    hashed: int = 0
    bytes_hashed: int = 0
    unchecked_external: int = 0
    unchecked_mounted: int = 0
    unchecked_storage: int = 0  # under another storage provider
    without_checksum: int = 0  # nodes without a checksum: size compared only
    disk_files: int = 0
    by_kind: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KIND_LABELS, 0))

    @property
    def problems(self) -> int:
        return sum(self.by_kind.values())

    @property
    def unchecked(self) -> int:
        return self.unchecked_external + self.unchecked_mounted + self.unchecked_storage


@dataclass
class CheckReport:
    """The outcome of one check. ``findings`` holds only what the caller chose to keep (see runner)."""

    files_dir: str
    quick: bool
    counts: CheckCounts
    seconds: float
    findings: list[Finding] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return self.counts.problems == 0

    def summary(self) -> str:
        counts = self.counts
        mode = "sizes only (--quick), checksums not compared" if self.quick else "sizes and xxh64 checksums"
        verdict = "consistent" if self.consistent else f"{counts.problems} problem(s)"
        problems = ", ".join(f"{number} {KIND_LABELS[kind]}" for kind, number in counts.by_kind.items() if number)
        unchecked = (
            f"; {counts.unchecked} not checkable (external {counts.unchecked_external}, mounted "
            f"{counts.unchecked_mounted}, other storage {counts.unchecked_storage})"
            if counts.unchecked
            else ""
        )
        return (
            f"{verdict}: {counts.checked} of {counts.nodes} files checked ({mode}), {counts.disk_files} on disk, "
            f"{counts.bytes_hashed} bytes hashed in {self.seconds:.2f}s"
            + (f"; {problems}" if problems else "")
            + unchecked
        )

    def as_json(self) -> dict[str, Any]:
        counts = self.counts
        return {
            "consistent": self.consistent,
            "quick": self.quick,
            "compared": "size" if self.quick else "size+xxh64",
            "files_dir": self.files_dir,
            "seconds": round(self.seconds, 3),
            "counts": {
                "nodes": counts.nodes,
                "checked": counts.checked,
                "hashed": counts.hashed,
                "bytes_hashed": counts.bytes_hashed,
                "disk_files": counts.disk_files,
                "without_checksum": counts.without_checksum,
                "unchecked": {
                    "external": counts.unchecked_external,
                    "mounted": counts.unchecked_mounted,
                    "other_storage": counts.unchecked_storage,
                },
                **counts.by_kind,
            },
            "findings": [finding.as_json() for finding in self.findings],
        }
