"""What `appsync watch` does with the watcher's batches: import local edits, export server changes now and then.

Memory stays flat over hours: nothing here keeps a GitPython Repo (gitrepo opens and closes one per
operation, as GitPython's notes on long-running processes advise); the only state kept is one dict of
(size, mtime) per file of the export folder.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from structr_appsync.config import LoadedConfig
from structr_appsync.errors import AppsyncError, ExportInvalid, RefusedError, UsageError
from structr_appsync.sync.debounce import Periodic
from structr_appsync.sync.watcher import FileState, FolderWatcher, changed_paths, is_ignored, tree_state
from structr_appsync.workspace import Workspace

logger = logging.getLogger(__name__)

Report = Callable[[str], None]
# (loaded, env, folder) -> one-line description of what changed on the server
ImportFunction = Callable[[LoadedConfig, str, Path], str]
# (loaded, env, force) -> one-line description of the export (or None when the server had no changes)
ExportFunction = Callable[[LoadedConfig, str, bool], str | None]
# User files under files/ may be any JSON (or not JSON at all); Structr does not parse them on import.
_UNCHECKED_TOP_FOLDERS = frozenset({"files", "data"})


@dataclass
class WatchCounters:
    """How often each thing happened (for the one-line results, tests and the benchmark)."""

    batches: int = 0
    imports: int = 0
    rejected: int = 0
    failures: int = 0
    exports: int = 0
    skipped_exports: int = 0


def invalid_json(folder: Path) -> list[str]:
    """Return one message per deployment JSON file under ``folder`` that does not parse."""
    problems: list[str] = []
    for directory, dirnames, filenames in os.walk(folder):
        base = Path(directory)
        if base == folder:
            dirnames[:] = [name for name in dirnames if name not in _UNCHECKED_TOP_FOLDERS]
        for name in sorted(filenames):
            path = base / name
            relative = path.relative_to(folder).as_posix()
            if not name.endswith(".json") or is_ignored(relative):
                continue
            try:
                json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                problems.append(f"{relative}: invalid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(f"{relative}: unreadable ({exc})")
    return problems


def _default_import(ws: Workspace, env_name: str, folder: Path, *, allow_delete: bool) -> str:
    from structr_appsync.sync import importer

    # Not interactive: --yes semantics, deletions only when the config allows them, never --force (the seal
    # check protects changes someone made in Structr's UI meanwhile). import_directory copies the folder first.
    options = importer.ImportOptions(env=env_name, yes=True, allow_delete=allow_delete)
    outcome = importer.import_directory(ws, folder, f"working tree {folder.name}/", options)
    return "; ".join(outcome.plan.summary.lines()) or "no changes"


def _default_export(ws: Workspace, env_name: str, force: bool) -> str | None:
    from structr_appsync.sync import exporter

    with ws.locked():
        outcome = exporter.export_app(ws, exporter.ExportOptions(env=env_name, force=force))
    if outcome.commit is None:
        return None
    lines = outcome.summary.lines()
    return f"committed {outcome.commit[:10]}" + (f": {'; '.join(lines)}" if lines else "")


@dataclass(frozen=True)
class WatchOptions:
    """How a watch session runs; the functions replace the real import and export (tests, benchmarks)."""

    debounce: float
    export_interval: float | None = None
    allow_delete: bool = False
    import_function: ImportFunction | None = None
    export_function: ExportFunction | None = None


class WatchSession:
    """Import edits of the export folder into ``env_name``; optionally export and commit every interval."""

    def __init__(self, ws: Workspace, env_name: str, report: Report, options: WatchOptions) -> None:
        debounce, export_interval, allow_delete = options.debounce, options.export_interval, options.allow_delete
        import_function, export_function = options.import_function, options.export_function
        loaded = ws.loaded
        env = loaded.settings.env[env_name]
        if env.protected:
            raise RefusedError(
                f"env {env_name!r} is protected; watch only imports into development environments",
                hint="pass --env with a development environment, or set [watch] env in appsync.toml",
            )
        self.folder = ws.folder.disk_path
        if not self.folder.is_dir():
            raise UsageError(
                f"the export folder {self.folder} does not exist", hint=f"run `appsync export --env {env_name}` first"
            )
        self.ws = ws
        self.loaded = loaded
        self.env_name = env_name
        self.counters = WatchCounters()
        self._report = report
        self._import = import_function or (
            lambda _loaded, env_name, folder: _default_import(ws, env_name, folder, allow_delete=allow_delete)
        )
        self._export = export_function or (lambda _loaded, env_name, force: _default_export(ws, env_name, force))
        self._state: dict[str, FileState] = tree_state(self.folder)
        # True while the server is known to hold what the folder holds (nothing local would be lost by an export).
        self._server_has_local = not ws.repo.path_is_dirty(ws.folder.git_path)
        self._watcher = FolderWatcher(
            self.folder,
            self._on_batch,
            debounce=debounce,
            on_error=self._on_error,
            every=Periodic(self._periodic_export, export_interval) if export_interval else None,
        )

    def start(self) -> None:
        self._watcher.start()

    def check(self) -> None:
        """Called now and then by the owner's loop: re-arm the watch when the folder was replaced."""
        self._watcher.check_folder()

    def stop(self) -> int:
        """Stop watching after the running action; return the number of changes left unprocessed."""
        return self._watcher.stop()

    def _on_batch(self, batch: frozenset[str]) -> None:
        self.counters.batches += 1
        current = tree_state(self.folder)
        changes = changed_paths(self._state, current)
        if not changes:
            logger.debug("events without changes (%d paths; appsync's own writes or touch)", len(batch))
            return
        self._state = current
        self._server_has_local = False
        problems = invalid_json(self.folder)
        if problems:
            self.counters.rejected += 1
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            self._report(f"not imported: {problems[0]}{more}; fix it and save again")
            return
        started = time.monotonic()
        shown = ", ".join(changes[:3]) + (f" and {len(changes) - 3} more" if len(changes) > 3 else "")
        description = self._import(self.loaded, self.env_name, self.folder)
        self._server_has_local = True
        self.counters.imports += 1
        elapsed = time.monotonic() - started
        self._report(f"imported {shown} into env {self.env_name!r}: {description} ({elapsed:.1f}s)")

    def _periodic_export(self) -> None:
        current = tree_state(self.folder)
        if changed_paths(self._state, current) or not self._server_has_local:
            self.counters.skipped_exports += 1
            self._report(
                f"export skipped: {self.folder.name}/ has local edits that are not on the server "
                "(save them again to import them, or commit them)"
            )
            return
        # The folder equals what the server got from us, so an export over it cannot lose local work.
        before = current
        description = self._export(self.loaded, self.env_name, True)
        after = tree_state(self.folder)
        # The export commits what it writes, so whatever now differs from HEAD in the folder was saved by the
        # user while the export ran. Those paths must not be taken for appsync's own writes: they stay "changed"
        # for the next batch, which imports them (otherwise the next forced export would overwrite them).
        saved_meanwhile = self._paths_differing_from_head()
        self._state = {path: state for path, state in after.items() if path not in saved_meanwhile}
        for path in saved_meanwhile:
            if path in before and path not in after:  # deleted by the user meanwhile: keep it as "was there"
                self._state[path] = before[path]
        if saved_meanwhile:
            self._server_has_local = False
            logger.info("saved during the export, imported next: %s", ", ".join(sorted(saved_meanwhile)[:3]))
            self._watcher.trigger_batch()
        else:
            self._watcher.discard_pending()
        self.counters.exports += 1
        if description is None:
            logger.debug("periodic export: the server has no new changes")
            return
        self._report(f"exported env {self.env_name!r}: {description}")

    def _paths_differing_from_head(self) -> set[str]:
        """Folder-relative paths with staged, unstaged or untracked changes against HEAD (ignored files excluded)."""
        prefix = self.ws.folder.git_path + "/"
        paths: set[str] = set()
        for path in self.ws.repo.changed_paths(prefix):
            if path.startswith(prefix) and not is_ignored(path[len(prefix) :]):
                paths.add(path[len(prefix) :])
        return paths

    def _on_error(self, label: str, error: Exception) -> None:
        self.counters.failures += 1
        if isinstance(error, AppsyncError):
            hint = f" (hint: {error.hint})" if error.hint else ""
            kind = "not imported" if isinstance(error, ExportInvalid | RefusedError) else f"{label} failed"
            self._report(f"{kind}: {error}{hint}; still watching")
            return
        logger.debug("%s failed", label, exc_info=error)
        self._report(f"{label} failed ({type(error).__name__}: {error}); still watching")
