"""The import plan: what importing a ref changes on the server, in Structr terms, before anything is changed."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from structr_appsync.gitrepo import GitRepo
from structr_appsync.server import StructrClient
from structr_appsync.sync import export_trees, import_effects
from structr_appsync.sync.import_source import Materialized
from structr_appsync.sync.normalize import DEPLOYMENT_CONF, normalize_tree, structr_version_of
from structr_appsync.sync.principals import (
    MissingPrincipal,
    created_by_pre_deploy,
    missing_principals,
    referenced_principals,
)
from structr_appsync.sync.summary import ChangeSummary
from structr_appsync.sync.timing import StepTimer
from structr_appsync.workspace import Workspace

logger = logging.getLogger(__name__)


@dataclass
class ImportPlan:
    """What the import will do, in Structr terms."""

    summary: ChangeSummary  # live server -> ref
    effects: list[str]  # what Structr's import wipes and replaces
    deletions: dict[str, list[str]]  # needs consent
    missing_principals: list[MissingPrincipal]
    uncommitted: ChangeSummary | None  # server changes in no commit, None when the server is sealed
    wipe_marker: bool  # appsync turns Structr's DOM wipe on (the ref has no pages, the server has)
    stale_files: list[import_effects.StaleFile]  # what appsync deletes after the import (Structr keeps it)
    version_problem: str | None = None  # the ref comes from a newer Structr, which this server refuses

    @property
    def changes_anything(self) -> bool:
        return not self.summary.is_empty or self.wipe_marker or bool(self.stale_files)


@dataclass(frozen=True)
class PlanContext:
    """What planning needs to know about the run."""

    ws: Workspace
    env_name: str
    timer: StepTimer
    workdir: Path
    with_data: bool


def build_plan(
    context: PlanContext, client: StructrClient, source: Materialized, ref_tree: str, live_dir: Path
) -> tuple[ImportPlan, str]:
    """Normalize and hash the live export, compare it with the ref, and return the plan and the live tree."""
    loaded, timer, repo = context.ws.loaded, context.timer, context.ws.repo
    ref_dir = source.export_dir
    last_tree = _last_export_tree(context)
    with timer.step("normalize"):
        normalize_tree(live_dir, loaded.settings.normalize, previous=_previous_conf(context, last_tree, ref_dir))
    with timer.step("hash_live"):
        live_tree = export_trees.hash_export(repo, live_dir)
    with timer.step("plan"):
        summary = export_trees.import_difference(repo, live_tree, ref_tree)
        uncommitted = _uncommitted(repo, last_tree, live_tree, live_dir)
        wipe_marker = import_effects.needs_wipe_marker(ref_dir, live_dir)
        deletions = {category: list(names) for category, names in summary.deletions.items() if names}
        stale = import_effects.stale_files(ref_dir, live_dir)
        if stale:
            deletions["files"] = sorted(item.path + ("/" if item.is_folder else "") for item in stale)
        referenced = referenced_principals(ref_dir)
    with timer.step("principals", server=True):
        existing = client.principal_kinds() if referenced else {}
    missing = missing_principals(referenced, existing, created=created_by_pre_deploy(ref_dir))
    plan = ImportPlan(
        summary=summary,
        effects=import_effects.import_effects(
            ref_dir, with_data=context.with_data and source.data_dir is not None, wipe_marker=wipe_marker
        ),
        deletions=deletions,
        missing_principals=missing,
        uncommitted=uncommitted,
        wipe_marker=wipe_marker,
        stale_files=stale,
        version_problem=version_problem(ref_dir, live_dir),
    )
    return plan, live_tree


def _last_export_tree(context: PlanContext) -> str | None:
    ws = context.ws
    sha = ws.repo.read_ref(ws.refs.last_export(context.env_name))
    if sha is None:
        return None
    tree = ws.repo.tree_id(sha, ws.folder.git_path)
    if tree is None:
        logger.warning("%s holds no export folder; ignoring it", ws.refs.last_export(context.env_name))
    return tree


def _previous_conf(context: PlanContext, last_tree: str | None, ref_dir: Path) -> Path:
    # normalize_tree pins the build stamp to the previous export's; that is the last export if there is one.
    if last_tree is None:
        return ref_dir
    folder = context.workdir / "previous"
    folder.mkdir(exist_ok=True)
    content = context.ws.repo.read_blob(last_tree, DEPLOYMENT_CONF)
    if content is not None:
        (folder / DEPLOYMENT_CONF).write_bytes(content)
    return folder


def _uncommitted(repo: GitRepo, last_tree: str | None, live_tree: str, live_dir: Path) -> ChangeSummary | None:
    """Return the server's changes that are in no commit, or None if there are none."""
    if last_tree is not None:
        changes = export_trees.summarize(repo, last_tree, live_tree)
        return None if changes.is_empty else changes
    # Never exported by appsync: only an empty application counts as sealed (a fresh database).
    if import_effects.dom_entry_count(live_dir) == 0 and not _has_files_or_schema(live_dir):
        return None
    return export_trees.summarize(repo, None, live_tree)


def _has_files_or_schema(live_dir: Path) -> bool:
    try:
        files = json.loads((live_dir / "files.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        files = {}
    try:
        schema = json.loads((live_dir / "schema" / "schema.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        schema = {}
    definitions = schema.get("definitions") if isinstance(schema, dict) else None
    methods = schema.get("methods") if isinstance(schema, dict) else None
    return bool(files) or bool(definitions) or bool(methods)


def _feature_version(version: str) -> int:
    # Structr compares the first two digits of the version's first token: "6.1.0" -> 61 (structr-api.md §3.4).
    digits = "".join(character for character in version if character.isdigit())[:2]
    return int(digits) if digits else 0


def _conf_version(folder: Path) -> str | None:
    conf = folder / DEPLOYMENT_CONF
    return structr_version_of(conf.read_text(encoding="utf-8")) if conf.is_file() else None


def version_problem(ref_dir: Path, live_dir: Path) -> str | None:
    """Return why the server would refuse the ref's version (the live export's deployment.conf names the
    server's), or None."""
    exported, running = _conf_version(ref_dir), _conf_version(live_dir)
    if exported and running and _feature_version(exported) > _feature_version(running):
        return (
            f"the ref was exported by Structr {exported} and the server runs {running}; "
            "Structr refuses exports from a newer version"
        )
    return None
