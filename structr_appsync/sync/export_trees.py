"""Export folders as git trees: hash them, compare them in Structr terms, and record them under refs.

Comparing trees instead of folders lets git skip everything that is equal by hash, so that a 200 MB export
is read once (when hashed) rather than once per comparison.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from structr_appsync import exporttree
from structr_appsync.gitrepo import GitRepo
from structr_appsync.sync.summary import ChangeSummary, summarize_changes

logger = logging.getLogger(__name__)

# Files a Structr export writes with its own content whatever was imported: deployment.conf carries the
# server's version and settings; pre-/post-deploy.conf are run on import but not stored, and an export into a
# fresh folder (every ZIP export) writes the default ones.
SERVER_WRITTEN_FILES = frozenset({"deployment.conf", "pre-deploy.conf", "post-deploy.conf"})
_UNREADABLE = object()


def hash_export(repo: GitRepo, folder: Path) -> str:
    """Return the git tree id of an export folder as `appsync export` commits it (with placeholders).

    The placeholders are put in only for hashing and removed again, so the folder stays upload-ready.
    """
    written = exporttree.add_placeholders(folder)
    try:
        return repo.hash_directory(folder)
    finally:
        for placeholder in written:
            placeholder.unlink(missing_ok=True)


def summarize(repo: GitRepo, old_tree: str | None, new_tree: str) -> ChangeSummary:
    """Return what changed from ``old_tree`` to ``new_tree`` (two export trees), in Structr terms."""
    if old_tree == new_tree:
        return ChangeSummary()
    changes = repo.diff_trees(old_tree, new_tree)
    return summarize_changes(
        changes,
        lambda path: None if old_tree is None else repo.read_blob(old_tree, path),
        lambda path: repo.read_blob(new_tree, path),
        initial=old_tree is None,
    )


def _load(data: bytes | None) -> Any:
    if data is None:
        return None
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _UNREADABLE


def _canonical(value: Any) -> Any:
    """What Structr's import makes of a JSON value: 4.x `allowed` strings become lists (structr-api.md §2)."""
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if key == "allowed" and isinstance(item, str):
                item = [part.strip() for part in item.split(",") if part.strip()]
            if key == "allowed" and isinstance(item, list):
                item = sorted(str(part) for part in item)
            result[key] = _canonical(item)
        return result
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return value


def _same_after_import(status: str, old: Any, new: Any) -> bool:
    if old is _UNREADABLE or new is _UNREADABLE:
        return False
    if status == "A":
        return new in ([], {})  # Structr writes an empty list file the ref did not have
    if status == "D":
        return old in ([], {})
    return bool(_canonical(old) == _canonical(new))


def import_difference(repo: GitRepo, expected: str, actual: str) -> ChangeSummary:
    """Return how export tree ``actual`` differs from ``expected`` in what an import carries over.

    Left out: what Structr writes itself on every export (deployment.conf, and pre-/post-deploy.conf, which it
    runs but does not store), empty list files the expected tree lacks, and the 4.x `allowed` string format
    that Structr's import converts to a list.
    """
    if expected == actual:
        return ChangeSummary()
    kept = []
    for status, path in repo.diff_trees(expected, actual):
        if path in SERVER_WRITTEN_FILES:
            continue
        if path.endswith(".json"):
            old = _load(repo.read_blob(expected, path)) if status != "A" else None
            new = _load(repo.read_blob(actual, path)) if status != "D" else None
            if _same_after_import(status, old, new):
                continue
        kept.append((status, path))
    return summarize_changes(
        kept, lambda path: repo.read_blob(expected, path), lambda path: repo.read_blob(actual, path)
    )


@dataclass(frozen=True)
class PlacedTree:
    """An export tree and the folder of the repository it belongs at."""

    tree: str
    prefix: str


def record(repo: GitRepo, placed: PlacedTree, ref: str, message: str, *, chain: bool = False) -> str:
    """Commit ``placed.tree`` at ``placed.prefix`` (index and worktree untouched) and point ``ref`` at it.

    With ``chain`` the commit's parent is the ref's previous commit, so the ref keeps a history.
    """
    tree, prefix = placed.tree, placed.prefix
    previous = repo.read_ref(ref) if chain else None
    sha = repo.snapshot_commit(tree, prefix, message, (previous,) if previous else ())
    repo.update_ref(ref, sha, message=message.splitlines()[0])
    logger.debug("recorded %s at %s", ref, sha)
    return sha
