"""Write out the export folder of a git ref (or a directory) as a temporary, upload-ready deployment export."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from structr_appsync import exporttree
from structr_appsync.errors import RefNotFound
from structr_appsync.gitrepo import GitRepo

logger = logging.getLogger(__name__)

# At least one of these makes a folder a deployment export (Structr's own check in DC#doImport uses a
# similar list). They are named in the refusal so that the user sees what is missing.
EXPORT_MARKERS = (
    "deployment.conf",
    "schema/schema.json",
    "pages.json",
    "components.json",
    "templates.json",
    "files.json",
    "security/grants.json",
)
DATA_FOLDER = "data"


@dataclass(frozen=True)
class Materialized:
    """An export folder ready to compare and upload, plus the data deployment set aside (if any)."""

    export_dir: Path
    data_dir: Path | None


def check_ref(repo: GitRepo, sha: str, ref_label: str, subdir: str) -> None:
    """Refuse a ref without the export folder (cheap: no file is written).

    Raises:
        RefNotFound: when the ref has no such folder.
    """
    if not repo.ref_has_path(sha, subdir):
        raise RefNotFound(
            f"{ref_label} has no {subdir}/ folder, so there is nothing to import",
            hint="pick a commit made by `appsync export`, or set export_dir in appsync.toml",
        )


def materialize_ref(repo: GitRepo, sha: str, ref_label: str, subdir: str, workdir: Path) -> Materialized:
    """Write ``subdir`` as it is at ``sha`` (from git objects, never the working tree) below ``workdir``.

    Raises:
        RefNotFound: when the ref has no such folder, or it is not a deployment export.
    """
    check_ref(repo, sha, ref_label, subdir)
    target = workdir / "ref" / Path(subdir).name
    target.parent.mkdir(parents=True, exist_ok=True)
    repo.materialize(sha, subdir, target)
    return prepare(target, f"{ref_label}:{subdir}", workdir)


def copy_directory(source: Path, label: str, workdir: Path) -> Materialized:
    """Copy a working-tree export folder (for `watch`) into ``workdir`` and prepare it like a ref.

    Raises:
        RefNotFound: when the folder is missing or not a deployment export.
    """
    if not source.is_dir():
        raise RefNotFound(f"{label}: {source} is not a folder")
    target = workdir / "ref" / source.name
    shutil.copytree(source, target, symlinks=True)
    return prepare(target, label, workdir)


def prepare(export_dir: Path, label: str, workdir: Path) -> Materialized:
    """Check the folder, restore what git dropped, strip appsync's placeholders and set data/ aside.

    Raises:
        RefNotFound: when the folder is not a deployment export or holds symlinks.
    """
    links = [path for path in export_dir.rglob("*") if path.is_symlink()]
    if links:
        shown = links[0].relative_to(export_dir).as_posix()
        raise RefNotFound(f"{label} holds symlinks (e.g. {shown}); Structr exports never do, refusing to upload")
    if not any((export_dir / marker).is_file() for marker in EXPORT_MARKERS):
        raise RefNotFound(
            f"{label} is not a Structr deployment export: none of {', '.join(EXPORT_MARKERS)} is there",
            hint="pick a commit made by `appsync export`",
        )
    exporttree.restore_dropped_folders(export_dir)
    exporttree.strip_placeholders(export_dir)
    data_source = export_dir / DATA_FOLDER
    data_dir: Path | None = None
    if data_source.is_dir():
        data_dir = workdir / "data-aside" / DATA_FOLDER
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(data_source, data_dir)
        logger.debug("set the data deployment aside: %s", data_dir)
    return Materialized(export_dir=export_dir, data_dir=data_dir)
