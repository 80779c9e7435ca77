"""Moving an export between Structr and this machine: by ZIP over HTTP, or through a shared directory."""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from pathlib import Path

from structr_appsync.config import EnvConfig, LoadedConfig
from structr_appsync.errors import DeploymentFailed, ExportInvalid, ServerError
from structr_appsync.exporttree import validate_export_tree
from structr_appsync.server import EXPORT_NAME, StructrClient

logger = logging.getLogger(__name__)

DATA_FOLDER = "data"


def _staging(env: EnvConfig) -> tuple[str, Path]:
    """A fresh run folder as the server sees it and as this machine sees it."""
    run = f"appsync-{uuid.uuid4().hex}"
    server_dir = env.path_transfer.server_dir.rstrip("/")
    local_dir = Path(env.path_transfer.local_dir or server_dir)
    return f"{server_dir}/{run}", local_dir / run


def _remove(path: Path) -> None:
    # Files Structr wrote may belong to its user; what cannot be removed is left with a debug note.
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        logger.debug("could not remove the transfer folder %s", path)


def fetch_export(loaded: LoadedConfig, env_name: str, client: StructrClient, dest: Path) -> Path:
    """Run Structr's deployment export and return the validated export folder, inside ``dest``.

    `zip` transfer downloads `GET /structr/deploy`; `path` transfer has Structr write into
    `path_transfer.server_dir` and moves the result here.

    Raises:
        ServerError family: the server failed, or what arrived is not a deployment export.
    """
    try:
        return _fetch(loaded, env_name, client, dest)
    except (ExportInvalid, DeploymentFailed) as exc:
        # A deployment running concurrently turns ours into a silent 200 no-op (structr-api.md §1.1, §8.2).
        if client.is_deployment_active():
            raise DeploymentFailed(
                f"Structr at {client.url} was busy with another deployment, so the export did not run",
                url=client.url,
                hint="wait until the other import or export has finished, then run appsync again",
            ) from exc
        raise


class _CopyFailed(Exception):
    """Carries a file copy's OSError through shutil.copytree, which would turn it into an errno-less list."""


def _copy_file(source: str, destination: str) -> object:
    try:
        return shutil.copy2(source, destination)
    except OSError as exc:
        raise _CopyFailed from exc


def _copy_tree(source: Path, target: Path) -> None:
    """copytree that stops at the first failure and raises its OSError (so a full disk is reported as such)."""
    try:
        shutil.copytree(source, target, symlinks=True, copy_function=_copy_file)
    except _CopyFailed as exc:
        cause = exc.__cause__
        if isinstance(cause, OSError):
            raise cause from None
        raise


def _fetch(loaded: LoadedConfig, env_name: str, client: StructrClient, dest: Path) -> Path:
    _name, env = loaded.environment(env_name)
    if env.transfer == "zip":
        return client.download_export(dest)
    server_run, local_run = _staging(env)
    try:
        client.deploy_export_to(f"{server_run}/{EXPORT_NAME}")
        produced = local_run / EXPORT_NAME
        if not produced.is_dir():
            raise ExportInvalid(
                f"Structr reported the export done but {produced} does not exist",
                url=client.url,
                hint="check path_transfer.server_dir/local_dir: both must name the same directory",
            )
        validate_export_tree(produced)
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / EXPORT_NAME
        try:
            produced.rename(target)
        except OSError:
            _copy_tree(produced, target)
        return target
    finally:
        _remove(local_run)


def _copy_for_upload(export_dir: Path, target: Path, *, with_data: bool) -> None:
    def skip_data(directory: str, names: list[str]) -> set[str]:
        if not with_data and Path(directory) == export_dir and DATA_FOLDER in names:
            return {DATA_FOLDER}
        return set()

    shutil.copytree(export_dir, target, ignore=skip_data)


def push_import(
    loaded: LoadedConfig, env_name: str, client: StructrClient, export_dir: Path, *, with_data: bool = False
) -> None:
    """Import ``export_dir`` into Structr by the environment's transfer mode.

    Without ``with_data`` an embedded `data/` folder is left out (Structr would import it with the app).

    Raises:
        ServerError family: when Structr refuses or fails the import.
    """
    _name, env = loaded.environment(env_name)
    has_data = (export_dir / DATA_FOLDER).is_dir()
    if env.transfer == "zip":
        if has_data and not with_data:
            with tempfile.TemporaryDirectory(prefix="appsync-push-") as tmp:
                _copy_for_upload(export_dir, Path(tmp) / EXPORT_NAME, with_data=False)
                client.upload_import(Path(tmp) / EXPORT_NAME)
            return
        client.upload_import(export_dir)
        return
    server_run, local_run = _staging(env)
    try:
        try:
            local_run.mkdir(parents=True)
            _copy_for_upload(export_dir, local_run / EXPORT_NAME, with_data=with_data)
        except OSError as exc:
            raise ServerError(
                f"cannot stage the import in {local_run}: {exc.strerror or exc}",
                hint="check path_transfer.local_dir: appsync must be able to write there",
            ) from exc
        client.deploy_import_from(f"{server_run}/{EXPORT_NAME}")
    finally:
        _remove(local_run)
