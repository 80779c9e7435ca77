"""The core of `appsync export`, `appsync status` and `appsync diff`; never prints.

An export is received and prepared entirely in a scratch folder inside the git directory. The user's
working tree and index change only in the last steps (swap the export folder, stage it, move HEAD), and
those are undone if anything fails, so a failure leaves HEAD, the index and the working tree as they were.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from structr_appsync import transfer, worktree
from structr_appsync.config import LoadedConfig
from structr_appsync.errors import DirtyWorktree
from structr_appsync.exporttree import add_placeholders
from structr_appsync.gitrepo import KEEP_NAME, GitRepo, repo_lock
from structr_appsync.interrupts import signals_deferred
from structr_appsync.normalize import DEPLOYMENT_CONF, normalize_tree, structr_version_of
from structr_appsync.server import StructrClient
from structr_appsync.summary import ChangeSummary, summarize_changes

logger = logging.getLogger(__name__)


def last_export_ref(env_name: str) -> str:
    """The ref holding a snapshot commit of the last normalized export of an environment."""
    return f"refs/appsync/{env_name}/last-export"


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


def _previous_dir(repo: GitRepo, head: str | None, export_dir: str, scratch: Path) -> Path | None:
    """The committed deployment.conf (all that normalization needs from the previous export)."""
    if head is None:
        return None
    data = repo.read_blob(head, f"{export_dir}/{DEPLOYMENT_CONF}")
    if data is None:
        return None
    previous = scratch / "previous"
    previous.mkdir(parents=True, exist_ok=True)
    (previous / DEPLOYMENT_CONF).write_bytes(data)
    return previous


def _prepare(
    loaded: LoadedConfig,
    env_name: str,
    repo: GitRepo,
    client: StructrClient,
    scratch: Path,
    *,
    objects_env: dict[str, str] | None = None,
    base: str | None = None,
) -> _Prepared:
    """Fetch, validate, normalize and hash the live export; compare it with the export folder at ``base``
    (default HEAD)."""
    export_dir = repo.relative_path(loaded.export_path)
    head = base or repo.head_sha()
    folder = transfer.fetch_export(loaded, env_name, client, scratch / "download")
    normalize_tree(folder, loaded.settings.normalize, previous=_previous_dir(repo, head, export_dir, scratch))
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


def build_message(
    summary: ChangeSummary,
    *,
    env_name: str,
    url: str,
    version: str | None,
    duration: float,
    message: str | None = None,
) -> str:
    """The commit message: subject, the Structr-terms summary, and trailers (never credentials)."""
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


def _local_edits_are_ours(repo: GitRepo, loaded: LoadedConfig, env_name: str, scratch: Path) -> bool:
    """True when the dirty export folder equals the last export appsync wrote (e.g. after --no-commit)."""
    snapshot = repo.read_ref(last_export_ref(env_name))
    expected = repo.tree_id(snapshot, repo.relative_path(loaded.export_path)) if snapshot else None
    folder = loaded.export_path
    if expected is None or not folder.is_dir():
        return False
    actual = repo.hash_directory(folder, env=repo.scratch_objects_env(scratch / "check"))
    return actual == expected


def _keep_if_holding_user_files(scratch: Path) -> None:
    """After a failed undo: keep the scratch folder if the user's replaced files are still in it."""
    aside, replaced = scratch / "previous-worktree", scratch / "replaced-files"
    if aside.exists() or (replaced.is_dir() and any(not path.is_dir() for path in replaced.rglob("*"))):
        (scratch / KEEP_NAME).touch()


def export_app(
    loaded: LoadedConfig,
    env_name: str | None = None,
    *,
    message: str | None = None,
    commit: bool = True,
    force: bool = False,
    stage: bool = False,
) -> ExportOutcome:
    """Export the application of ``env_name`` into the export folder and commit it if it changed.

    ``commit=False`` updates the folder only; ``stage=True`` (pre-commit hook) updates and stages it without
    committing. Always records the normalized export as refs/appsync/<env>/last-export.

    Raises:
        DirtyWorktree: the export folder has local edits (unless ``force``).
        LockHeld: another appsync process works on this repository.
        ServerError family: Structr failed or sent something that is not an export.
        GitError: a git step failed (everything was rolled back).
    """
    name, env = loaded.environment(env_name)
    started = time.monotonic()
    repo = GitRepo.open(loaded.root)
    export_dir = repo.relative_path(loaded.export_path)
    with repo_lock(loaded), repo.temporary_dir() as scratch:
        for run in repo.interrupted_runs():
            logger.warning(
                "an earlier appsync run was killed while it updated %s/; the files it replaced are kept in %s",
                export_dir,
                run,
            )
        dirty = repo.path_is_dirty(export_dir)
        if dirty and not force and not _local_edits_are_ours(repo, loaded, name, scratch):
            raise DirtyWorktree(
                f"the export folder {export_dir}/ has uncommitted local edits",
                hint=f"commit or discard them (git status -- {export_dir}), or pass --force to overwrite them",
            )
        head = repo.head_sha()
        with StructrClient.for_env(loaded, name) as client:
            prepared = _prepare(loaded, name, repo, client, scratch)
        changed = prepared.tree != prepared.old_tree
        duration = time.monotonic() - started
        text = build_message(
            prepared.summary, env_name=name, url=env.url, version=prepared.version, duration=duration, message=message
        )
        snapshot_parent = repo.read_ref(last_export_ref(name))
        snapshot = repo.snapshot_commit(prepared.tree, export_dir, text, (snapshot_parent,) if snapshot_parent else ())
        update_worktree = changed or dirty or not loaded.export_path.is_dir()
        new_commit: str | None = None
        staged = False
        # From the swap of the export folder to the last ref, a signal would stop the run between steps that
        # belong together (e.g. HEAD moved, working tree restored): it is delivered once they are all done.
        with signals_deferred():
            if update_worktree:
                incremental = not dirty and prepared.old_tree is not None and loaded.export_path.is_dir()
                with worktree.index_backup(repo, scratch) as restore_index:
                    try:
                        if incremental:
                            undo = worktree.apply_changes(
                                loaded.export_path, prepared.folder, prepared.changes, scratch / "replaced-files"
                            )
                        else:
                            keep = [Path(path).relative_to(export_dir) for path in repo.ignored_paths(export_dir)]
                            undo = worktree.swap_in(
                                loaded.export_path, prepared.folder, scratch / "previous-worktree", keep=keep
                            )
                    except BaseException:
                        _keep_if_holding_user_files(scratch)  # a half-done swap whose undo failed too
                        raise
                    try:
                        if commit or stage:
                            # index entries = the normalized export exactly, whatever .gitignore says
                            repo.index_paths_from(snapshot, export_dir)
                            staged = True
                        if commit and not stage and changed:
                            head_tree = repo.tree_id(head) if head else None
                            root_tree = repo.tree_with_subtree(head_tree, export_dir, prepared.tree)
                            new_commit = repo.commit_tree(root_tree, text, (head,) if head else ())
                            repo.update_ref("HEAD", new_commit, old=head or "", message=f"appsync export: {name}")
                    except BaseException:
                        try:
                            try:
                                restore_index()
                            finally:
                                undo()  # even when the index could not be put back: the files must be
                        except BaseException:
                            _keep_if_holding_user_files(scratch)  # what undo could not move back stays there
                            raise
                        raise
            repo.update_ref(last_export_ref(name), snapshot, message=f"appsync export: {name}")
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
        staged=staged and not new_commit,
        message=text,
    )


def check_status(
    loaded: LoadedConfig,
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
    name, env = loaded.environment(env_name)
    repo = GitRepo.open(loaded.root)
    with tempfile.TemporaryDirectory(prefix="appsync-status-") as tmp:
        scratch = Path(tmp)
        objects_env = repo.scratch_objects_env(scratch)
        with StructrClient.for_env(loaded, name) as client:
            prepared = _prepare(loaded, name, repo, client, scratch, objects_env=objects_env, base=commit)
        in_sync = prepared.tree == prepared.old_tree
        diff = ""
        if with_diff and not in_sync:
            diff = _unified_diff(repo, prepared, repo.relative_path(loaded.export_path), objects_env, color=color)
    return StatusOutcome(
        env_name=name,
        url=env.url,
        in_sync=in_sync,
        summary=prepared.summary,
        version=prepared.version,
        head=commit or repo.head_sha(),
        diff=diff,
    )


def _unified_diff(
    repo: GitRepo, prepared: _Prepared, export_dir: str, objects_env: dict[str, str], *, color: bool
) -> str:
    old = prepared.old_tree or repo.empty_tree(env=objects_env)
    result = repo.git(
        "diff",
        f"--color={'always' if color else 'never'}",
        "--no-renames",
        f"--src-prefix=a/{export_dir}/",
        f"--dst-prefix=b/{export_dir}/",
        old,
        prepared.tree,
        env={**objects_env, "GIT_PAGER": "cat"},
    )
    return result.stdout
