"""`appsync backup verify`: recompute every checksum and compare the generation with its manifest."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Any

from structr_appsync.backup.manifest import MANIFEST_NAME
from structr_appsync.backup.store import Generation, file_digest


@dataclass
class VerifyReport:
    id: str
    checked: int = 0  # every entry: files, folders and links
    files_checked: int = 0  # regular files only, the number a backup reports as its "files"
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.changed or self.extra)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ok": self.ok,
            "checked": self.checked,
            "files_checked": self.files_checked,
            "missing": self.missing,
            "changed": self.changed,
            "extra": self.extra,
        }


def verify_generation(generation: Generation) -> VerifyReport:
    """Compare the files on disk with the manifest: missing, changed (size, checksum, link target) and extra."""
    report = VerifyReport(generation.id)
    expected: set[str] = set()
    manifest = generation.load()
    for tree_name, tree in manifest.trees.items():
        base = generation.path / tree_name
        for entry in tree.entries:
            name = f"{tree_name}/{entry.path}" if entry.path != "." else tree_name
            expected.add(name)
            path = base / entry.path if entry.path != "." else base
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                report.missing.append(name)
                continue
            report.checked += 1
            if entry.kind == "dir":
                if not stat.S_ISDIR(info.st_mode):
                    report.changed.append(name)
            elif entry.kind == "symlink":
                if not stat.S_ISLNK(info.st_mode) or str(path.readlink()) != entry.target:
                    report.changed.append(name)
            else:
                report.files_checked += 1
                if not stat.S_ISREG(info.st_mode) or info.st_size != entry.size or file_digest(path) != entry.xxh64:
                    report.changed.append(name)
    for current, dirs, files in os.walk(generation.path):
        relative_dir = os.path.relpath(current, generation.path)
        for name in (*dirs, *files):
            relative = name if relative_dir == "." else f"{relative_dir}/{name}"
            if relative == MANIFEST_NAME or relative in manifest.trees:
                continue
            if relative not in expected:
                report.extra.append(relative)
    report.missing.sort()
    report.changed.sort()
    report.extra.sort()
    return report
