"""`appsync diff`: the unified diff between the live server's export and the export folder at HEAD."""

from __future__ import annotations

import argparse
import sys

from structr_appsync.commands._shared import add_env_option, open_workspace
from structr_appsync.errors import EXIT_FAILED, EXIT_OK
from structr_appsync.sync.exporter import check_status


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "diff",
        help="show the unified diff of the live server against the export folder at HEAD",
        description="Exit 0 when there is no difference, 1 when there is one. Writes nothing.",
    )
    add_env_option(parser)
    parser.add_argument(
        "--color", choices=("auto", "always", "never"), default="auto", help="colour the diff (auto: on a terminal)"
    )
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    outcome = check_status(ws, args.env, with_diff=True, color=color)
    if outcome.diff:
        sys.stdout.write(outcome.diff)
    return EXIT_OK if outcome.in_sync else EXIT_FAILED
