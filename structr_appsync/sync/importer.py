"""The core of `appsync import`: put a git ref (or a folder) back onto a Structr, safely. Never prints.

Steps: materialize -> plan -> (dry run stops) -> seal -> consent -> rollback point -> upload -> verify -> record.
The repository lock is held throughout; the user's working tree, index and HEAD are never touched.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from structr_appsync.errors import AppsyncError, DeploymentFailed, RefusedError, VerificationFailed
from structr_appsync.gitrepo import GitRepo
from structr_appsync.server import StructrClient
from structr_appsync.sync import export_trees, import_effects, transfer
from structr_appsync.sync.import_consent import ConsentRequest, require_consent
from structr_appsync.sync.import_plan import ImportPlan, PlanContext, build_plan
from structr_appsync.sync.import_source import Materialized, check_ref, copy_directory, materialize_ref
from structr_appsync.sync.normalize import DEPLOYMENT_CONF, normalize_tree
from structr_appsync.sync.summary import ChangeSummary
from structr_appsync.sync.timing import StepTimer
from structr_appsync.tempdirs import Scratch
from structr_appsync.workspace import AppsyncRefs, Workspace

__all__ = [
    "ImportOptions",
    "ImportOutcome",
    "ImportPlan",
    "ImportVerificationFailed",
    "UncommittedServerChanges",
    "import_directory",
    "import_ref",
    "pre_import_prefix",
    "rollback_command",
]

logger = logging.getLogger(__name__)

Confirm = Callable[[str], bool]
PlanCallback = Callable[[ImportPlan], None]


pre_import_prefix = AppsyncRefs.pre_import_prefix


def rollback_command(ref: str, env_name: str, *, force: bool) -> str:
    """Return the command line that puts a rollback point back."""
    return f"appsync import {ref} --env {env_name}{' --force' if force else ''} --allow-delete"


@dataclass
class ImportOutcome:
    """The result of import_ref / import_directory; ``timings`` holds seconds per step."""

    env_name: str
    ref_label: str
    ref_sha: str | None
    plan: ImportPlan
    dry_run: bool
    imported: bool = False
    verified: bool = False
    rollback_ref: str | None = None
    last_export_sha: str | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step (steps may overlap)
    server_steps: set[str] = field(default_factory=set)  # the steps that are server calls
    total_seconds: float = 0.0  # wall clock of the whole import
    server_seconds: float = 0.0  # wall clock during which a server call was in flight

    def finish(self, timer: StepTimer) -> ImportOutcome:
        self.total_seconds = timer.total
        self.server_seconds = timer.server_seconds
        return self


class UncommittedServerChanges(RefusedError):
    """The server holds changes that no commit has; carries them so the CLI can show them."""

    def __init__(self, message: str, *, changes: ChangeSummary, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.changes = changes


class ImportVerificationFailed(VerificationFailed):
    """The re-export after the import differs from the ref; carries the difference and the rollback ref."""

    def __init__(self, message: str, *, difference: ChangeSummary, rollback_ref: str | None, hint: str | None) -> None:
        super().__init__(message, hint=hint)
        self.difference = difference
        self.rollback_ref = rollback_ref


@dataclass(frozen=True)
class ImportOptions:
    """How an import runs. ``confirm`` asks the user a question and returns True for a typed yes (None: not
    interactive); ``on_plan`` receives the plan before anything is asked or changed (the CLI prints it there)."""

    env: str | None = None
    dry_run: bool = False
    yes: bool = False
    force: bool = False
    allow_delete: bool = False
    with_data: bool = False
    confirm: Confirm | None = None
    on_plan: PlanCallback | None = None


@dataclass(frozen=True)
class _Run:
    ws: Workspace
    env_name: str
    label: str
    sha: str | None
    scratch: Scratch
    timer: StepTimer
    options: ImportOptions

    @property
    def workdir(self) -> Path:
        return self.scratch.path

    @property
    def repo(self) -> GitRepo:
        return self.ws.repo


def import_ref(ws: Workspace, ref: str, options: ImportOptions | None = None) -> ImportOutcome:
    """Import the export folder of git ``ref`` into environment ``options.env`` and verify the result.

    Raises:
        RefNotFound: the ref does not exist or holds no deployment export.
        UncommittedServerChanges: the server has changes in no commit (without ``force``).
        RefusedError: consent is missing or was declined, or the ref comes from a newer Structr.
        ServerError: Structr failed (the hint names the rollback command once a rollback point exists).
        ImportVerificationFailed: the server does not hold what the ref says after the import.
    """
    options = options or ImportOptions()
    env_name = ws.loaded.env_name(options.env)
    with ws.locked(), ws.import_scratch() as scratch:
        repo, subdir = ws.repo, ws.folder.git_path
        sha = repo.resolve(ref)
        run = _Run(ws, env_name, ref, sha, scratch, StepTimer(), options)
        check_ref(repo, sha, ref, subdir)
        return _execute(run, lambda: materialize_ref(repo, sha, ref, subdir, scratch.path))


def import_directory(
    ws: Workspace, source_dir: Path, label: str, options: ImportOptions | None = None
) -> ImportOutcome:
    """Import an export folder from disk (the working tree, for `watch`) like import_ref does a ref.

    Raises:
        The same errors as import_ref.
    """
    options = options or ImportOptions()
    env_name = ws.loaded.env_name(options.env)
    with ws.locked(), ws.import_scratch() as scratch:
        run = _Run(ws, env_name, label, None, scratch, StepTimer(), options)
        return _execute(run, lambda: copy_directory(source_dir, label, scratch.path))


def _prepare_ref(run: _Run, materialize: Callable[[], Materialized]) -> tuple[Materialized, str]:
    timer = run.timer
    with timer.step("materialize"):
        source = materialize()
    with timer.step("normalize_ref"):
        normalize_tree(source.export_dir, run.ws.loaded.settings.normalize)
    with timer.step("hash_ref"):
        ref_tree = export_trees.hash_export(run.repo, source.export_dir)
    return source, ref_tree


def _fetch_live_while_preparing(
    run: _Run, client: StructrClient, materialize: Callable[[], Materialized]
) -> tuple[Materialized, str, Path]:
    """Export the live state and, at the same time, write out and hash the ref (local work hidden behind I/O)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="appsync-ref") as pool:
        preparing = pool.submit(_prepare_ref, run, materialize)
        try:
            with run.timer.step("fetch_live", server=True):
                live_dir = transfer.fetch_export(run.ws.loaded, run.env_name, client, run.workdir / "live")
        except AppsyncError:
            problem = preparing.exception()
            if isinstance(problem, AppsyncError):
                raise problem from None  # a ref that is no export is the more basic problem
            raise
        source, ref_tree = preparing.result()
    return source, ref_tree, live_dir


def _execute(run: _Run, materialize: Callable[[], Materialized]) -> ImportOutcome:
    env_name, timer, options = run.env_name, run.timer, run.options
    env = run.ws.loaded.settings.env[env_name]
    with StructrClient.for_env(run.ws.loaded, env_name) as client:
        source, ref_tree, live_dir = _fetch_live_while_preparing(run, client, materialize)
        context = PlanContext(run.ws, env_name, timer, run.workdir, options.with_data)
        plan, live_tree = build_plan(context, client, source, ref_tree, live_dir)
        run.scratch.discard("live")
        if options.on_plan is not None:
            options.on_plan(plan)
        outcome = ImportOutcome(env_name, run.label, run.sha, plan, options.dry_run, timings=timer.timings,
                                server_steps=timer.server_steps)  # fmt: skip
        if options.dry_run:
            return outcome.finish(timer)
        _seal(run, plan)
        if plan.version_problem:
            raise RefusedError(plan.version_problem, hint="import it into a Structr of that version or newer")
        if not plan.changes_anything and not (options.with_data and source.data_dir is not None):
            logger.debug("the server already holds %s; nothing to import", run.label)
            outcome.verified = True
            return outcome.finish(timer)
        require_consent(
            ConsentRequest(env_name, run.label, env.protected, plan.deletions),
            yes=options.yes,
            allow_delete=options.allow_delete,
            confirm=options.confirm,
        )
        with timer.step("rollback_point"):
            outcome.rollback_ref = _save_rollback_point(run, live_tree)
        try:
            with timer.step("precheck", server=True):
                _refuse_if_deploying(client)
            with timer.step("upload", server=True):
                _upload(run, client, source, wipe_marker=plan.wipe_marker)
            outcome.imported = True
            ref_conf = _keep_conf(run, source.export_dir)
            run.scratch.discard("ref")
            with timer.step("wait_ready", server=True):
                client.wait_ready(env.timeouts.ready)
            if plan.stale_files:
                with timer.step("delete_stale_files", server=True):
                    _delete_stale_files(client, plan.stale_files)
            _verify(run, client, _Expected(ref_conf, ref_tree, live_tree), outcome)
        except AppsyncError as error:
            if outcome.rollback_ref and outcome.rollback_ref not in (error.hint or ""):
                rollback = "roll back with: " + rollback_command(outcome.rollback_ref, env_name, force=True)
                error.hint = f"{error.hint}; {rollback}" if error.hint else rollback
            raise
        except OSError as error:  # e.g. a full disk while the verifying export downloads: the upload may have run
            rollback = "roll back with: " + rollback_command(outcome.rollback_ref, env_name, force=True)
            where = f" ({error.filename})" if error.filename else ""
            raise AppsyncError(
                f"cannot write on this machine: {error.strerror or error}{where}; the import was not verified",
                hint=f"free disk space and check the server; {rollback}",
            ) from error
        outcome.verified = True
        return outcome.finish(timer)


def _seal(run: _Run, plan: ImportPlan) -> None:
    if plan.uncommitted is None:
        return
    if run.options.force:
        logger.warning("the server has changes that are in no commit; --force: they will be overwritten")
        return
    counts = "; ".join(plan.uncommitted.lines()[:3])
    raise UncommittedServerChanges(
        f"the server of env {run.env_name!r} has changes that are in no commit ({counts}); nothing was imported",
        changes=plan.uncommitted,
        hint=f"run `appsync export --env {run.env_name}` first to keep them, or pass --force to overwrite them",
    )


def _save_rollback_point(run: _Run, live_tree: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = pre_import_prefix(run.env_name) + stamp
    suffix = 1
    while run.repo.read_ref(name) is not None:
        suffix += 1
        name = f"{pre_import_prefix(run.env_name)}{stamp}-{suffix}"
    message = f"appsync: state of env {run.env_name} before importing {run.label}"
    export_trees.record(run.repo, export_trees.PlacedTree(live_tree, run.ws.folder.git_path), name, message)
    logger.debug("rollback point: %s", name)
    return name


def _refuse_if_deploying(client: StructrClient) -> None:
    # A second deployment while one runs is a silent 200 no-op in Structr (§1.1): refuse it up front.
    if client.env_info().get("isDeploymentActive") is True:
        raise DeploymentFailed(
            "another deployment is running on the server; Structr would silently ignore this import",
            hint="wait until it is done and run the import again",
        )


def _upload(run: _Run, client: StructrClient, source: Materialized, *, wipe_marker: bool) -> None:
    export_dir = source.export_dir
    templates = export_dir / "templates.json"
    original = templates.read_bytes() if templates.is_file() else None
    data_in = run.options.with_data and source.data_dir is not None
    if wipe_marker:
        import_effects.add_wipe_marker(export_dir)
    if data_in and source.data_dir is not None:
        shutil.move(source.data_dir, export_dir / "data")
    try:
        transfer.push_import(run.ws.loaded, run.env_name, client, export_dir, with_data=data_in)
    finally:
        if wipe_marker:
            import_effects.remove_wipe_marker(export_dir, original)
        if data_in and source.data_dir is not None:
            shutil.move(export_dir / "data", source.data_dir)


def _delete_stale_files(client: StructrClient, stale: list[import_effects.StaleFile]) -> None:
    # Deepest first; a folder's deletion also removes what is below it, so a later 404 is fine.
    for item in stale:
        client.delete_node("Folder" if item.is_folder else "File", item.node_id)
    logger.info("removed %d files and folders that the ref does not have", len(stale))


def _keep_conf(run: _Run, export_dir: Path) -> Path:
    # Verification normalizes against the ref's deployment.conf; keep that file while the ref folder goes.
    folder = run.workdir / "ref-conf"
    folder.mkdir(exist_ok=True)
    conf = export_dir / DEPLOYMENT_CONF
    if conf.is_file():
        shutil.copy2(conf, folder / DEPLOYMENT_CONF)
    return folder


@dataclass(frozen=True)
class _Expected:
    """What verification compares the server with: the ref (its tree and deployment.conf) and the state before."""

    ref_conf: Path
    ref_tree: str
    live_tree: str


def _verify(run: _Run, client: StructrClient, expected: _Expected, outcome: ImportOutcome) -> None:
    timer, repo = run.timer, run.repo
    ref_conf, ref_tree, live_tree = expected.ref_conf, expected.ref_tree, expected.live_tree
    with timer.step("verify_export", server=True):
        check_dir = transfer.fetch_export(run.ws.loaded, run.env_name, client, run.workdir / "verify")
    with timer.step("verify_compare"):
        normalize_tree(check_dir, run.ws.loaded.settings.normalize, previous=ref_conf)
        check_tree = export_trees.hash_export(repo, check_dir)
        run.scratch.discard("verify")
        difference = export_trees.import_difference(repo, ref_tree, check_tree)
    with timer.step("record"):
        # Whatever happened, the server now holds check_tree, and appsync put it there: record it so that the
        # next seal check (and a rollback) does not take it for someone's uncommitted edits.
        message = f"appsync: state of env {run.env_name} after importing {run.label}"
        placed = export_trees.PlacedTree(check_tree, run.ws.folder.git_path)
        outcome.last_export_sha = export_trees.record(
            repo, placed, run.ws.refs.last_export(run.env_name), message, chain=True
        )
    if difference.is_empty:
        return
    if check_tree == live_tree:
        raise DeploymentFailed(
            "Structr accepted the import but nothing changed on the server (a silent no-op)",
            hint="the server still holds its previous state; look at Structr's log and run the import again",
        )
    counts = "; ".join(difference.lines()[:3])
    raise ImportVerificationFailed(
        f"the server does not hold {run.label} after the import ({counts})",
        difference=difference,
        rollback_ref=outcome.rollback_ref,
        hint=None,
    )
