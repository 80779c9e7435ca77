"""`appsync hook-run <type> [args]`: the hidden entry point that installed git hook shims call."""

from __future__ import annotations

import argparse
import sys

from structr_appsync.sync import hook_install, hook_runner


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # No help= at all keeps it out of `appsync --help` (help=SUPPRESS prints "==SUPPRESS==" on Python 3.11):
    # users never call it themselves.
    parser = subparsers.add_parser("hook-run", description="Run the appsync part of an installed git hook.")
    parser.add_argument("hook_type", choices=hook_install.HOOK_TYPES)
    parser.add_argument("hook_args", nargs=argparse.REMAINDER)
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    hook_type, hook_args, config = args.hook_type, args.hook_args, args.config
    if hook_args and hook_args[0] == "--":
        hook_args = hook_args[1:]
    # Only pre-push gets data on stdin (the refs being pushed); other hooks must not block on a terminal.
    stdin_text = ""
    if hook_type == "pre-push" and not sys.stdin.isatty():
        stdin_text = sys.stdin.read()
    return hook_runner.run_hook(hook_type, hook_args, hook_runner.HookCall(stdin_text=stdin_text, config_path=config))
