"""`appsync status`: is the live server in sync with the export folder at HEAD? Writes nothing."""

from __future__ import annotations

import argparse

from structr_appsync.commands._shared import add_env_option, add_json_option, open_workspace, print_json
from structr_appsync.errors import EXIT_FAILED, EXIT_OK
from structr_appsync.sync.exporter import check_status


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "status",
        help="compare the live server with the export folder at HEAD (exit 0 in sync, 1 drift)",
        description="Exit codes: 0 in sync, 1 drift, 2 usage or configuration error, 3 server unreachable or "
        "credentials refused. Writes nothing.",
    )
    add_env_option(parser)
    add_json_option(parser)
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    outcome = check_status(ws, args.env)
    if args.json:
        print_json(outcome.to_json())
    elif outcome.in_sync:
        print(f"{outcome.env_name} ({outcome.url}) is in sync with {ws.folder.git_path}/ at HEAD")
    else:
        print(f"{outcome.env_name} ({outcome.url}) differs from {ws.folder.git_path}/ at HEAD:")
        for line in outcome.summary.lines():
            print(f"  {line}")
    return EXIT_OK if outcome.in_sync else EXIT_FAILED
