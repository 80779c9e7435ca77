"""`appsync hooks install|uninstall|status`: manage the git hook shims."""

from __future__ import annotations

import argparse
from pathlib import Path

from structr_appsync.commands._shared import add_json_option, print_json
from structr_appsync.config import LoadedConfig, load_config
from structr_appsync.errors import ConfigError
from structr_appsync.sync import hook_install
from structr_appsync.workspace import CONFIG_GIT_KEY, open_repository, remember_config

BASE_HOOKS = ("pre-commit", "pre-push")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("hooks", help="install, remove or inspect appsync's git hooks")
    actions = parser.add_subparsers(dest="hooks_action", metavar="ACTION", required=True)
    choices = "comma-separated hooks out of " + ", ".join(hook_install.HOOK_TYPES) + " or 'all'"

    install = actions.add_parser("install", help="install the hooks; an existing hook is kept and still runs")
    install.add_argument(
        "--hooks", help=f"{choices} (default: pre-commit, pre-push and the post-* hooks enabled in appsync.toml)"
    )
    install.add_argument("--hooks-path", action="store_true", help="install into the directory named by core.hooksPath")
    install.set_defaults(handler=_install)

    uninstall = actions.add_parser("uninstall", help="remove appsync's hooks and restore the previous ones")
    uninstall.add_argument("--hooks", help=f"{choices} (default: all that appsync installed)")
    uninstall.set_defaults(handler=_uninstall)

    status = actions.add_parser("status", help="show which hooks are installed")
    add_json_option(status)
    status.set_defaults(handler=_status)


def _default_install_hooks(loaded: LoadedConfig | None) -> tuple[str, ...]:
    chosen = list(BASE_HOOKS)
    if loaded is not None:
        hooks = loaded.settings.hooks
        if hooks.post_merge.enabled:
            chosen.append("post-merge")
        if hooks.post_checkout.enabled:
            chosen.append("post-checkout")
    return tuple(chosen)


def _install(args: argparse.Namespace) -> int:
    hooks, hooks_path, config = args.hooks, args.hooks_path, args.config
    try:
        loaded: LoadedConfig | None = load_config(config)
    except ConfigError:
        loaded = None
    hook_types = hook_install.parse_hook_types(hooks, _default_install_hooks(loaded) if not hooks else ())
    location = hook_install.locate(Path.cwd(), use_hooks_path=hooks_path)
    for change in hook_install.install(location, hook_types):
        print(f"{change.hook_type}: {change.action} ({change.path})")
    if loaded is not None and remember_config(open_repository(location.work_tree), loaded.path):
        print(f"the hooks use {loaded.path} (recorded as git config {CONFIG_GIT_KEY})")
    return 0


def _uninstall(args: argparse.Namespace) -> int:
    hooks = args.hooks
    hook_types = hook_install.parse_hook_types(hooks, hook_install.HOOK_TYPES)
    location = hook_install.locate(Path.cwd(), use_hooks_path=True)
    directories = [location]
    if location.uses_hooks_path:
        # Hooks installed before core.hooksPath was set still sit in the default directory.
        directories.append(
            hook_install.HookLocation(location.default_dir, location.default_dir, None, location.work_tree)
        )
    for where in directories:
        for change in hook_install.uninstall(where, hook_types):
            if change.action != "not installed" or where is location:
                print(f"{change.hook_type}: {change.action} ({change.path})")
    return 0


def _status(args: argparse.Namespace) -> int:
    as_json = args.json
    location = hook_install.locate(Path.cwd(), use_hooks_path=True)
    states = hook_install.status(location)
    if as_json:
        print_json(
            {
                "hooks_dir": str(location.hooks_dir),
                "core_hooks_path": location.hooks_path_setting,
                "hooks": [state.to_json() for state in states],
            }
        )
        return 0
    print(f"hooks directory: {location.hooks_dir}")
    if location.uses_hooks_path:
        print(f"(core.hooksPath = {location.hooks_path_setting}; git ignores {location.default_dir})")
    for state in states:
        line = f"{state.hook_type}: {state.state.value}"
        if state.version is not None and state.state is not hook_install.HookState.FOREIGN:
            line += f" (version {state.version})"
        if state.legacy is not None:
            line += f", chains to {state.legacy.name}"
        if state.interpreter and not state.interpreter_ok:
            line += f"; interpreter {state.interpreter} is gone (falls back to appsync on PATH; reinstall)"
        print(line)
    return 0
