"""What each installed git hook does: the target of the hidden `appsync hook-run <type>`.

Guards first (recursion, APPSYNC_SKIP, missing config), then one action per hook type. Hooks never prompt:
they run from GUI git clients without a TTY. pre-* hooks can stop the git operation; post-* hooks cannot undo
it, so they report problems as warnings and return 0 (post-checkout's status would become checkout's status).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from structr_appsync.backup.recovery import restart_left_stopped_once
from structr_appsync.config import HookConfig, LoadedConfig, find_config, load_config
from structr_appsync.errors import EXIT_FAILED, AppsyncError, ConfigError, DirtyWorktree, ServerUnavailable
from structr_appsync.gitrepo import GitRepo
from structr_appsync.sync import hook_install
from structr_appsync.workspace import Workspace, remembered_config

logger = logging.getLogger(__name__)

ACTIVE_ENV = "APPSYNC_HOOK_ACTIVE"
SKIP_ENV = "APPSYNC_SKIP"
NULL_SHA = "0" * 40
_TRUE_WORDS = {"1", "true", "yes", "on", "all"}
# Files and folders git keeps in the (per-worktree) git dir while a rebase, merge or similar is unfinished.
_IN_PROGRESS_MARKERS = ("rebase-merge", "rebase-apply", "MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD")
_REBASE_MARKERS = ("rebase-merge", "rebase-apply")


def skip_reason(hook_type: str, environ: Mapping[str, str]) -> str | None:
    """Return why the hook must do nothing (recursion guard or APPSYNC_SKIP), or None to run it.

    APPSYNC_SKIP=1 skips every hook; APPSYNC_SKIP=pre-push,post-merge skips the named ones.
    """
    if environ.get(ACTIVE_ENV) == "1":
        return f"{ACTIVE_ENV}=1: started by appsync itself"
    skip = environ.get(SKIP_ENV, "").strip().lower()
    if not skip:
        return None
    if skip in _TRUE_WORDS or hook_type in {part.strip() for part in skip.split(",")}:
        return f"{SKIP_ENV}={skip}"
    return None


def _hook_config(loaded: LoadedConfig, hook_type: str) -> HookConfig:
    hooks = loaded.settings.hooks
    configs = {
        "pre-commit": hooks.pre_commit,
        "pre-push": hooks.pre_push,
        "post-merge": hooks.post_merge,
        "post-checkout": hooks.post_checkout,
    }
    return configs[hook_type]


def _recorded_config(where: Path) -> Path | None:
    # Only when the usual search (--config, $APPSYNC_CONFIG, upward from the work tree's top) finds nothing.
    try:
        find_config(where)
    except ConfigError:
        return remembered_config(where)
    return None


@dataclass(frozen=True)
class HookCall:
    """How git called the hook: its stdin (pre-push), where it runs, --config, and the environment to check."""

    stdin_text: str = ""
    cwd: Path | None = None
    config_path: str | None = None
    environ: Mapping[str, str] | None = None


def run_hook(hook_type: str, args: Sequence[str], call: HookCall | None = None) -> int:
    """Run the appsync part of an installed hook and return the exit code git should see."""
    call = call or HookCall()
    stdin_text, cwd, config_path, environ = call.stdin_text, call.cwd, call.config_path, call.environ
    if hook_type not in hook_install.HOOK_TYPES:
        logger.error("appsync: unknown hook type %r", hook_type)
        return EXIT_FAILED
    where = cwd or Path.cwd()
    reason = skip_reason(hook_type, os.environ if environ is None else environ)
    if reason:
        logger.debug("appsync %s hook skipped (%s)", hook_type, reason)
        return 0
    blocking = hook_type.startswith("pre-")
    try:
        loaded = load_config(config_path or _recorded_config(where), start=where)
    except ConfigError as exc:
        first = f"{exc.hint}, " if exc.hint else "fix it, "
        return _report(
            hook_type,
            blocking,
            str(exc),
            first + "remove the hooks with `appsync hooks uninstall`, or set APPSYNC_SKIP=1",
            exc.exit_code,
        )
    restart_left_stopped_once(loaded)  # one stat per backup table unless a killed backup left services stopped
    hook_config = _hook_config(loaded, hook_type)
    if not hook_config.enabled:
        logger.debug("appsync %s hook disabled in %s", hook_type, loaded.path)
        return 0
    action = _ACTIONS[hook_type]
    try:
        return action(Workspace.open(loaded), hook_config, list(args), stdin_text)
    except ServerUnavailable as exc:
        if hook_config.on_unreachable == "warn":
            logger.warning("appsync %s: %s; continuing (hooks.%s.on_unreachable = warn)", hook_type, exc, hook_type)
            return 0
        return _report(
            hook_type,
            blocking,
            str(exc),
            f'start the server, set [hooks.{hook_type}] on_unreachable = "warn", or set APPSYNC_SKIP={hook_type}',
            exc.exit_code,
        )
    except AppsyncError as exc:
        return _report(
            hook_type, blocking, str(exc), exc.hint or f"set APPSYNC_SKIP={hook_type} to bypass once", exc.exit_code
        )


def _report(hook_type: str, blocking: bool, message: str, hint: str, code: int = EXIT_FAILED) -> int:
    if blocking:
        logger.error("appsync %s: %s", hook_type, message)
        logger.info("hint: %s", hint)
        return code or EXIT_FAILED
    logger.warning("appsync %s: %s (%s)", hook_type, message, hint)
    return 0


def _pre_commit(ws: Workspace, hook_config: HookConfig, _args: list[str], _stdin: str) -> int:
    from structr_appsync.sync import exporter

    env_name = ws.loaded.env_name(hook_config.env)
    in_progress = _operation_in_progress(ws.repo, _REBASE_MARKERS)
    if in_progress:
        # Commits replayed by a rebase are history, not "now": the server's state does not belong in them.
        logger.debug("appsync pre-commit: %s in progress, not exporting", in_progress)
        return 0
    # stage=True: update the export folder and add it to the index of the commit being made. git sets
    # GIT_INDEX_FILE for commit hooks (a temporary index for `commit -a` or `commit <paths>`); it is inherited,
    # so the export lands in the index git is about to commit.
    try:
        with ws.locked():
            outcome = exporter.export_app(ws, exporter.ExportOptions(env=env_name, stage=True))
    except DirtyWorktree as exc:
        raise DirtyWorktree(
            f"{exc}; the server does not have them, and exporting would overwrite them",
            hint=(
                "import them first (`appsync watch`, or `appsync import` after committing), or commit them "
                "without the export: APPSYNC_SKIP=pre-commit git commit ..."
            ),
        ) from exc
    if outcome.changed:
        logger.info("appsync pre-commit: added the export of env %r to this commit:", env_name)
        for line in outcome.summary.lines():
            logger.info("  %s", line)
    else:
        logger.debug("appsync pre-commit: env %r has no changes to add", env_name)
    return 0


def _pushes_only_deletions(stdin_text: str) -> bool:
    lines = [line.split() for line in stdin_text.splitlines() if line.strip()]
    return bool(lines) and all(len(parts) >= 2 and parts[1] == NULL_SHA for parts in lines)


def _pre_push(ws: Workspace, hook_config: HookConfig, _args: list[str], stdin_text: str) -> int:
    from structr_appsync.sync import exporter

    if _pushes_only_deletions(stdin_text):
        return 0
    env_name = ws.loaded.env_name(hook_config.env)
    outcome = exporter.check_status(ws, env_name)
    if outcome.in_sync:
        logger.debug("appsync pre-push: env %r is in sync with HEAD", env_name)
        return 0
    logger.error("appsync pre-push: push refused: env %r holds changes that are not committed:", env_name)
    for line in outcome.summary.lines():
        logger.info("  %s", line)
    logger.info("hint: run `appsync export --env %s`, then push again (or set APPSYNC_SKIP=pre-push)", env_name)
    return EXIT_FAILED


def _operation_in_progress(repo: GitRepo, markers: tuple[str, ...] = _IN_PROGRESS_MARKERS) -> str | None:
    # The per-worktree git dir: a rebase in another worktree does not count.
    for marker in markers:
        if (repo.git_dir / marker).exists():
            return marker
    return None


def _rebase_checkout(repo: GitRepo, new: str) -> bool:
    """Whether HEAD's newest reflog entry is the checkout of ``new`` with which a rebase starts.

    `git rebase --apply` (and `git pull --rebase` with that backend) runs post-checkout for its first checkout
    before it creates rebase-apply/, so the marker folders do not show it; the reflog does ("rebase (start):
    checkout ..." or "pull --rebase ... (start): checkout ...").
    """
    log = repo.git_dir / "logs" / "HEAD"
    try:
        with log.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(size - 8192, 0))
            tail = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return False
    lines = [line for line in tail.splitlines() if line.strip()]
    if not lines or "\t" not in lines[-1]:
        return False
    head, message = lines[-1].split("\t", 1)
    fields = head.split(" ")
    if len(fields) < 2 or fields[1] != new:
        return False  # the entry is not about this checkout (reflogs may be off)
    return message.startswith("rebase") or "(start): checkout " in message


def _import_head(ws: Workspace, hook_config: HookConfig, hook_type: str, previous: str | None) -> int:
    from structr_appsync.sync import importer

    repo = ws.repo
    in_progress = _operation_in_progress(repo)
    if in_progress:
        logger.debug("appsync %s: %s in progress, not importing", hook_type, in_progress)
        return 0
    export_dir = ws.folder.git_path
    new_tree = repo.tree_id("HEAD", export_dir)
    if new_tree is None:
        logger.debug("appsync %s: HEAD has no %s/, nothing to import", hook_type, export_dir)
        return 0
    if previous is not None and repo.tree_id(previous, export_dir) == new_tree:
        logger.debug("appsync %s: %s/ unchanged, not importing", hook_type, export_dir)
        return 0
    env_name, env_config = ws.environment(hook_config.env)
    if env_config.protected:
        logger.warning(
            "appsync %s: env %r is protected; hooks never import into it (set [hooks.%s] env to a development env)",
            hook_type,
            env_name,
            hook_type,
        )
        return 0
    # import_ref takes the repository lock itself. confirm=None: hooks never prompt (GUI clients have no TTY),
    # so a deletion needs allow_delete in the hook's config, and the seal check (server changes in no commit)
    # is never forced.
    options = importer.ImportOptions(env=env_name, yes=True, allow_delete=hook_config.allow_delete)
    outcome = importer.import_ref(ws, "HEAD", options)
    changes = "; ".join(outcome.plan.summary.lines()) or "no changes"
    logger.info("appsync %s: imported HEAD into env %r: %s", hook_type, env_name, changes)
    return 0


def _post_merge(ws: Workspace, hook_config: HookConfig, _args: list[str], _stdin: str) -> int:
    # ORIG_HEAD is where the branch was before the merge (merge and pull set it).
    previous = ws.repo.read_ref("ORIG_HEAD")
    return _import_head(ws, hook_config, "post-merge", previous)


def _post_checkout(ws: Workspace, hook_config: HookConfig, args: list[str], _stdin: str) -> int:
    # git passes: previous HEAD, new HEAD, and 1 for a branch checkout (0 for a file checkout).
    if len(args) < 3 or args[2] != "1":
        return 0
    previous, new = args[0], args[1]
    if previous in (new, NULL_SHA):
        return 0
    if _rebase_checkout(ws.repo, new):
        logger.debug("appsync post-checkout: a rebase is starting, not importing")
        return 0
    return _import_head(ws, hook_config, "post-checkout", previous)


_ACTIONS: dict[str, Callable[[Workspace, HookConfig, list[str], str], int]] = {
    "pre-commit": _pre_commit,
    "pre-push": _pre_push,
    "post-merge": _post_merge,
    "post-checkout": _post_checkout,
}
