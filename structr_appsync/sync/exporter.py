"""The core of `appsync export`, `appsync status` and `appsync diff`; never prints.

An export is received and prepared entirely in a scratch folder inside the git directory. The user's
working tree and index change only in the last steps (swap the export folder, stage it, move HEAD), and
those are undone if anything fails, so a failure leaves HEAD, the index and the working tree as they were.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from structr_appsync.errors import DirtyWorktree
from structr_appsync.exporttree import add_placeholders
from structr_appsync.interrupts import signals_deferred
from structr_appsync.server import StructrClient
from structr_appsync.sync import transfer, worktree
from structr_appsync.sync.normalize import DEPLOYMENT_CONF, normalize_tree, structr_version_of
from structr_appsync.sync.summary import ChangeSummary, summarize_changes
from structr_appsync.undo import UndoStack
from structr_appsync.workspace import KEEP_NAME, Workspace

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportOptions:
    """How `export_app` runs: ``commit=False`` updates the folder only; ``stage=True`` (pre-commit hook)
    updates and stages it without committing."""

    env: str | None = None
    message: str | None = None
    commit: bool = True
    force: bool = False
    stage: bool = False


@dataclass(frozen=True)
class ExportOutcome:
    """What `export_app` did."""

    env_name: str
    url: str
    summary: ChangeSummary
    version: str | None
    duration: float
    changed: bool
    commit: str | None = None
    snapshot: str | None = None
    tree: str | None = None
    worktree_updated: bool = False
    staged: bool = False
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "env": self.env_name,
            "url": self.url,
            "structr_version": self.version,
            "duration_seconds": round(self.duration, 3),
            "changed": self.changed,
            "commit": self.commit,
            "last_export": self.snapshot,
            "worktree_updated": self.worktree_updated,
            "staged": self.staged,
            "summary": self.summary.to_json(),
        }


@dataclass(frozen=True)
class StatusOutcome:
    """The live server compared with the export folder at HEAD."""

    env_name: str
    url: str
    in_sync: bool
    summary: ChangeSummary
    version: str | None
    head: str | None
    diff: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "env": self.env_name,
            "url": self.url,
            "in_sync": self.in_sync,
            "structr_version": self.version,
            "head": self.head,
            "summary": self.summary.to_json(),
        }


@dataclass
class _Prepared:
    folder: Path
    tree: str
    old_tree: str | None
    summary: ChangeSummary
    version: str | None
    changes: list[tuple[str, str]]


def _previous_dir(ws: Workspace, head: str | None, scratch: Path) -> Path | None:
    """The committed deployment.conf (all that normalization needs from the previous export)."""
    if head is None:
        return None
    data = ws.repo.read_blob(head, f"{ws.folder.git_path}/{DEPLOYMENT_CONF}")
    if data is None:
        return None
    previous = scratch / "previous"
    previous.mkdir(parents=True, exist_ok=True)
    (previous / DEPLOYMENT_CONF).write_bytes(data)
    return previous


@dataclass(frozen=True)
class _Against:
    """What the live export is compared with: the export folder at ``base`` (None: HEAD), and where new git
    objects go (None: the repository)."""

    base: str | None = None
    objects_env: dict[str, str] | None = None


def _prepare(ws: Workspace, env_name: str, client: StructrClient, scratch: Path, against: _Against) -> _Prepared:
    """Fetch, validate, normalize and hash the live export; compare it with the export folder at the base."""
    repo, export_dir = ws.repo, ws.folder.git_path
    objects_env = against.objects_env
    head = against.base or repo.head_sha()
    folder = transfer.fetch_export(ws.loaded, env_name, client, scratch / "download")
    normalize_tree(folder, ws.loaded.settings.normalize, previous=_previous_dir(ws, head, scratch))
    add_placeholders(folder)
    tree = repo.hash_directory(folder, env=objects_env)
    old_tree = repo.tree_id(head, export_dir) if head else None
    changes = repo.diff_trees(old_tree, tree, env=objects_env) if old_tree != tree else []

    def read_old(path: str) -> bytes | None:
        return repo.read_blob(old_tree, path) if old_tree else None

    def read_new(path: str) -> bytes | None:
        target = folder / path
        return target.read_bytes() if target.is_file() else None

    summary = summarize_changes(changes, read_old, read_new, initial=old_tree is None)
    conf = folder / DEPLOYMENT_CONF
    version = structr_version_of(conf.read_text(encoding="utf-8")) if conf.is_file() else None
    return _Prepared(folder, tree, old_tree, summary, version or client.structr_version(), changes)


@dataclass(frozen=True)
class CommitStamp:
    """Where and how an export was made: the trailers of its commit message."""

    env_name: str
    url: str
    version: str | None
    duration: float


def build_message(summary: ChangeSummary, stamp: CommitStamp, message: str | None = None) -> str:
    """The commit message: subject, the Structr-terms summary, and trailers (never credentials)."""
    env_name, url, version, duration = stamp.env_name, stamp.url, stamp.version, stamp.duration
    subject = message.strip() if message and message.strip() else f"Export {env_name}: {summary.subject()}"
    lines = [subject, ""]
    body = summary.lines()
    if body:
        lines += [*body, ""]
    lines += [
        f"Structr-Version: {version or 'unknown'}",
        f"Structr-URL: {url}",
        f"Appsync-Env: {env_name}",
        f"Export-Duration: {duration:.2f}s",
    ]
    return "\n".join(lines) + "\n"


def _local_edits_are_ours(ws: Workspace, env_name: str, scratch: Path) -> bool:
    """True when the dirty export folder equals the last export appsync wrote (e.g. after --no-commit)."""
    repo, folder = ws.repo, ws.folder
    snapshot = repo.read_ref(ws.refs.last_export(env_name))
    expected = repo.tree_id(snapshot, folder.git_path) if snapshot else None
    if expected is None or not folder.disk_path.is_dir():
        return False
    actual = repo.hash_directory(folder.disk_path, env=repo.scratch_objects_env(scratch / "check"))
    return actual == expected


def _keep_if_holding_user_files(scratch: Path) -> None:
    """After a failed undo: keep the scratch folder if the user's replaced files are still in it."""
    aside, replaced = scratch / "previous-worktree", scratch / "replaced-files"
    if aside.exists() or (replaced.is_dir() and any(not path.is_dir() for path in replaced.rglob("*"))):
        (scratch / KEEP_NAME).touch()


def _warn_about_interrupted_runs(ws: Workspace) -> None:
    for run in ws.interrupted_runs():
        logger.warning(
            "an earlier appsync run was killed while it updated %s/; the files it replaced are kept in %s",
            ws.folder.git_path,
            run,
        )


def _refuse_foreign_edits(ws: Workspace, env_name: str, scratch: Path, *, force: bool) -> bool:
    """Return whether the export folder is dirty; refuse when the edits are not appsync's own (unless force).

    Raises:
        DirtyWorktree: the export folder has local edits that appsync did not write.
    """
    export_dir = ws.folder.git_path
    dirty = ws.repo.path_is_dirty(export_dir)
    if dirty and not force and not _local_edits_are_ours(ws, env_name, scratch):
        raise DirtyWorktree(
            f"the export folder {export_dir}/ has uncommitted local edits",
            hint=f"commit or discard them (git status -- {export_dir}), or pass --force to overwrite them",
        )
    return dirty


def _place_export(ws: Workspace, prepared: _Prepared, scratch: Path, *, dirty: bool) -> Callable[[], None]:
    """Put the prepared export into the export folder (only the changed files when it is clean); return the undo."""
    target, export_dir = ws.folder.disk_path, ws.folder.git_path
    if not dirty and prepared.old_tree is not None and target.is_dir():
        return worktree.apply_changes(target, prepared.folder, prepared.changes, scratch / "replaced-files")
    keep = [Path(path).relative_to(export_dir) for path in ws.repo.ignored_paths(export_dir)]
    return worktree.swap_in(target, prepared.folder, scratch / "previous-worktree", keep=keep)


@dataclass(frozen=True)
class _Transaction:
    """What the working-tree part of an export writes: the folder, the index, and (maybe) a commit."""

    prepared: _Prepared
    snapshot: str
    head: str | None
    message: str
    dirty: bool


def _update_worktree(ws: Workspace, options: ExportOptions, step: _Transaction, scratch: Path) -> str | None:
    """Swap the export folder in, stage it, and commit it; on any failure every step is undone.

    Returns the new commit, or None when nothing was committed.
    """
    repo, export_dir = ws.repo, ws.folder.git_path
    new_commit: str | None = None
    try:
        with UndoStack() as undo:
            undo.callback(_place_export(ws, step.prepared, scratch, dirty=step.dirty))
            undo.callback(worktree.save_index(repo, scratch))
            if options.commit or options.stage:
                # index entries = the normalized export exactly, whatever .gitignore says
                repo.index_paths_from(step.snapshot, export_dir)
            if options.commit and not options.stage and step.prepared.tree != step.prepared.old_tree:
                new_commit = repo.commit_folder(
                    step.head, export_dir, step.prepared.tree, step.message, reflog=f"appsync export: {options.env}"
                )
    except BaseException:
        _keep_if_holding_user_files(scratch)  # what an undo could not move back stays there
        raise
    return new_commit


def export_app(ws: Workspace, options: ExportOptions | None = None) -> ExportOutcome:
    """Export the application of ``options.env`` into the export folder and commit it if it changed.

    Always records the normalized export as refs/appsync/<env>/last-export.

    Raises:
        DirtyWorktree: the export folder has local edits (unless ``force``).
        LockHeld: another appsync process works on this repository.
        ServerError family: Structr failed or sent something that is not an export.
        GitError: a git step failed (everything was rolled back).
    """
    options = options or ExportOptions()
    name, env = ws.environment(options.env)
    options = ExportOptions(name, options.message, options.commit, options.force, options.stage)
    started = time.monotonic()
    repo = ws.repo
    with ws.locked(), ws.run_folder() as scratch:
        _warn_about_interrupted_runs(ws)
        dirty = _refuse_foreign_edits(ws, name, scratch, force=options.force)
        head = repo.head_sha()
        with StructrClient.for_env(ws.loaded, name) as client:
            prepared = _prepare(ws, name, client, scratch, _Against())
        changed = prepared.tree != prepared.old_tree
        duration = time.monotonic() - started
        stamp = CommitStamp(name, env.url, prepared.version, duration)
        text = build_message(prepared.summary, stamp, options.message)
        last_export = ws.refs.last_export(name)
        snapshot_parent = repo.read_ref(last_export)
        snapshot = repo.snapshot_commit(
            prepared.tree, ws.folder.git_path, text, (snapshot_parent,) if snapshot_parent else ()
        )
        update_worktree = changed or dirty or not ws.folder.disk_path.is_dir()
        new_commit: str | None = None
        # From the swap of the export folder to the last ref, a signal would stop the run between steps that
        # belong together (e.g. HEAD moved, working tree restored): it is delivered once they are all done.
        with signals_deferred():
            if update_worktree:
                step = _Transaction(prepared, snapshot, head, text, dirty)
                new_commit = _update_worktree(ws, options, step, scratch)
            repo.update_ref(last_export, snapshot, message=f"appsync export: {name}")
    logger.debug("export of %s took %.2fs", name, time.monotonic() - started)
    return ExportOutcome(
        env_name=name,
        url=env.url,
        summary=prepared.summary,
        version=prepared.version,
        duration=duration,
        changed=changed,
        commit=new_commit,
        snapshot=snapshot,
        tree=prepared.tree,
        worktree_updated=update_worktree,
        staged=update_worktree and (options.commit or options.stage) and not new_commit,
        message=text,
    )


def check_status(
    ws: Workspace,
    env_name: str | None = None,
    *,
    with_diff: bool = False,
    color: bool = False,
    commit: str | None = None,
) -> StatusOutcome:
    """Compare the live server's export with the export folder at HEAD (or ``commit``); write nothing anywhere in
    the repo.

    New git objects go to a throwaway object directory outside the repository.

    Raises:
        ServerError family: Structr unreachable, credentials refused, or a broken export.
    """
    name, env = ws.environment(env_name)
    repo = ws.repo
    with tempfile.TemporaryDirectory(prefix="appsync-status-") as tmp:
        scratch = Path(tmp)
        objects_env = repo.scratch_objects_env(scratch)
        with StructrClient.for_env(ws.loaded, name) as client:
            prepared = _prepare(ws, name, client, scratch, _Against(commit, objects_env))
        in_sync = prepared.tree == prepared.old_tree
        diff = ""
        if with_diff and not in_sync:
            diff = repo.unified_diff(
                prepared.old_tree, prepared.tree, prefix=ws.folder.git_path, env=objects_env, color=color
            )
    return StatusOutcome(
        env_name=name,
        url=env.url,
        in_sync=in_sync,
        summary=prepared.summary,
        version=prepared.version,
        head=commit or repo.head_sha(),
        diff=diff,
    )
