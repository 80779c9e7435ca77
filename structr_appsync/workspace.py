"""The context of one appsync command: configuration, repository, export folder, lock and scratch space.

The command layer opens one `Workspace` and passes it down, so that no flow re-derives where the export folder
is, which repository it lives in or who holds the lock. The export folder's git path and disk path are computed
here and nowhere else (they differ when appsync.toml sits in a subfolder of the repository).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from structr_appsync.config import EnvConfig, LoadedConfig
from structr_appsync.errors import GitError
from structr_appsync.gitrepo import GitRepo
from structr_appsync.interrupts import signals_deferred
from structr_appsync.lock import HeldLock, flock_held
from structr_appsync.tempdirs import Scratch, scratch_dir

logger = logging.getLogger(__name__)

LOCK_NAME = "appsync.lock"
TMP_DIR_NAME = "appsync-tmp"
OWNER_FILE = "owner.pid"
# Files a run writes before it touches the working tree or the index (see worktree.py).
SAVED_STATE_NAMES = ("index.saved", "previous-worktree", "replaced-files")
# Written into a run's scratch folder when its undo failed: the folder then holds the user's files and is kept.
KEEP_NAME = "undo-failed"
# The repository's git config key that names appsync.toml when it sits in a subfolder (read by the hooks).
CONFIG_GIT_KEY = "appsync.config"


def open_repository(start: Path) -> GitRepo:
    """Open the git repository around ``start``: the one place appsync does so.

    Raises:
        NotARepository: when ``start`` is not inside a git working tree.
    """
    return GitRepo.open(start)


def remember_config(repo: GitRepo, config_path: Path) -> bool:
    """Record in the repository's git config where appsync.toml is, when it is not at the top of the work tree.

    Git runs hooks at the top of the work tree, where the upward search cannot find a config in a subfolder.
    Returns whether anything was recorded.
    """
    directory = config_path.resolve().parent
    if directory == repo.root:
        return False
    try:
        relative = repo.relative_path(config_path)
    except GitError:  # a config outside the repository: the hooks need --config or $APPSYNC_CONFIG anyway
        return False
    if repo.config_value(CONFIG_GIT_KEY) != relative:
        repo.set_config_value(CONFIG_GIT_KEY, relative)
    return True


def remembered_config(start: Path) -> Path | None:
    """The appsync.toml that `appsync hooks install` recorded for the repository around ``start``, if any."""
    try:
        repo = open_repository(start)
    except GitError:
        return None
    relative = repo.config_value(CONFIG_GIT_KEY)
    return repo.root / relative if relative else None


class AppsyncRefs:
    """The names of the refs appsync keeps under refs/appsync/."""

    @staticmethod
    def last_export(env_name: str) -> str:
        """A snapshot commit of the last normalized export of an environment (or what an import left there)."""
        return f"refs/appsync/{env_name}/last-export"

    @staticmethod
    def pre_import_prefix(env_name: str) -> str:
        """The namespace of the rollback points saved before each import into an environment."""
        return f"refs/appsync/{env_name}/pre-import/"


@dataclass(frozen=True)
class ExportFolder:
    """The export folder, both as git names it (relative to the repository root) and on disk."""

    git_path: str
    disk_path: Path

    @classmethod
    def locate(cls, repo: GitRepo, loaded: LoadedConfig) -> ExportFolder:
        """The folder ``export_dir`` names (relative to appsync.toml), inside ``repo``.

        Raises:
            NotARepository: when the folder is not inside the repository's working tree.
        """
        disk_path = loaded.root / loaded.settings.export_dir
        return cls(git_path=repo.relative_path(disk_path), disk_path=disk_path)

    @property
    def name(self) -> str:
        return Path(self.git_path).name


class Workspace:
    """Everything one command works with; opened once by the command layer."""

    def __init__(self, loaded: LoadedConfig, repo: GitRepo) -> None:
        self.loaded = loaded
        self.repo = repo
        self.folder = ExportFolder.locate(repo, loaded)
        self.refs = AppsyncRefs
        self._lock: HeldLock | None = None

    @classmethod
    def open(cls, loaded: LoadedConfig) -> Workspace:
        """Open the repository around the configuration file.

        Raises:
            NotARepository: when appsync.toml is not inside a git working tree, or export_dir is outside it.
        """
        return cls(loaded, open_repository(loaded.root))

    def environment(self, requested: str | None) -> tuple[str, EnvConfig]:
        return self.loaded.environment(requested)

    # -- the repository lock ------------------------------------------------------------------------------------

    @property
    def lock_path(self) -> Path:
        return self.repo.common_dir / LOCK_NAME

    @contextlib.contextmanager
    def locked(self) -> Iterator[HeldLock]:
        """Hold the per-repository lock that keeps two appsync exports/imports apart.

        Re-entrant within this workspace: a step that already holds the lock (a hook around an export) passes
        the same token down instead of waiting for itself.

        Raises:
            LockHeld: when another appsync process holds it longer than lock_timeout.
        """
        if self._lock is not None:
            yield self._lock
            return
        with flock_held(
            self.lock_path, timeout=self.loaded.settings.lock_timeout, what=f"the repository {self.repo.root}"
        ) as token:
            self._lock = token
            try:
                yield token
            finally:
                self._lock = None

    @property
    def holds_lock(self) -> bool:
        return self._lock is not None

    # -- scratch space ------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def run_folder(self) -> Iterator[Path]:
        """A scratch folder inside the git dir: same filesystem as the working tree, so renames are cheap.

        It is kept (and logged) when the run's undo failed and it holds the user's files.
        """
        base = self.repo.git_dir / TMP_DIR_NAME
        base.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix="run-", dir=base))
        (path / OWNER_FILE).write_text(str(os.getpid()), encoding="ascii")
        try:
            yield path
        finally:
            if (path / KEEP_NAME).exists():
                logger.error("appsync could not undo its changes; the files it replaced are kept in %s", path)
            else:
                with signals_deferred():  # a second Ctrl-C must not leave half a scratch folder behind
                    shutil.rmtree(path, ignore_errors=True)
                    with contextlib.suppress(OSError):
                        base.rmdir()  # only when no other run uses it

    def interrupted_runs(self) -> list[Path]:
        """Scratch folders of appsync runs whose process is gone.

        Runs that never got to change the working tree are removed. Those that did (they hold the saved index
        and the replaced files) are returned and kept, so nothing of the user's is thrown away.
        """
        base = self.repo.git_dir / TMP_DIR_NAME
        found = []
        for run in sorted(base.glob("run-*")) if base.is_dir() else []:
            if _owner_alive(run / OWNER_FILE):
                continue
            if any((run / name).exists() for name in SAVED_STATE_NAMES):
                found.append(run)
            else:
                shutil.rmtree(run, ignore_errors=True)
        return found

    def import_scratch(self) -> contextlib.AbstractContextManager[Scratch]:
        """The temporary folder of an import (outside the repository; parts are deleted in the background)."""
        return scratch_dir()


def _owner_alive(pid_file: Path) -> bool:
    try:
        pid = int(pid_file.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
