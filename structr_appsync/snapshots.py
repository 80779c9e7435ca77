"""Export folders as git trees: hash them, compare them in Structr terms, and record them under refs.

Comparing trees instead of folders lets git skip everything that is equal by hash, so that a 200 MB export
is read once (when hashed) rather than once per comparison.
"""

from __future__ import annotations

import logging
from pathlib import Path

from structr_appsync import exporttree
from structr_appsync.gitrepo import GitRepo
from structr_appsync.normalize import DEPLOYMENT_CONF
from structr_appsync.summary import ChangeSummary, summarize_changes

logger = logging.getLogger(__name__)

# deployment.conf keys that Structr rewrites on every export with its own values, whatever was imported.
_SERVER_WRITTEN_KEYS = ("structr-version", "deployment-date")


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


def _properties(data: bytes | None) -> dict[str, str]:
    values = {}
    for line in (data or b"").decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith(("#", "!")):
            values[key.strip()] = value.strip()
    return values


def server_written_only(repo: GitRepo, old_tree: str, new_tree: str) -> bool:
    """True when the two trees' deployment.conf differ only in what Structr writes itself (version, date)."""
    old = _properties(repo.read_blob(old_tree, DEPLOYMENT_CONF))
    new = _properties(repo.read_blob(new_tree, DEPLOYMENT_CONF))
    for key in _SERVER_WRITTEN_KEYS:
        old.pop(key, None)
        new.pop(key, None)
    return old == new


def drop_conf_noise(repo: GitRepo, summary: ChangeSummary, old_tree: str, new_tree: str) -> ChangeSummary:
    """Remove a deployment.conf change that is only Structr's own stamp from ``summary``.

    Structr writes deployment.conf on every export: a ref without one (pre-3.5 exports) gets one, and an older
    export's version stamp is replaced by the server's. Neither is a difference in the application.
    """
    other = summary.categories.get("other")
    if other is None:
        return summary
    if DEPLOYMENT_CONF in other.added:
        other.added.remove(DEPLOYMENT_CONF)
    if DEPLOYMENT_CONF in other.changed and server_written_only(repo, old_tree, new_tree):
        other.changed.remove(DEPLOYMENT_CONF)
    return summary


def record(repo: GitRepo, tree: str, prefix: str, ref: str, message: str) -> str:
    """Commit ``tree`` placed at ``prefix`` (no parents, index and worktree untouched), point ``ref`` at it."""
    sha = repo.snapshot_commit(tree, prefix, message)
    repo.update_ref(ref, sha, message=message.splitlines()[0])
    logger.debug("recorded %s at %s", ref, sha)
    return sha
