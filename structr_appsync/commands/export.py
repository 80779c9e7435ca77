"""`appsync export`: Structr's application into the export folder, one commit per change."""

from __future__ import annotations

import argparse

from structr_appsync.commands._shared import add_env_option, add_json_option, open_workspace, print_json
from structr_appsync.errors import EXIT_OK
from structr_appsync.sync.exporter import ExportOptions, ExportOutcome, export_app


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export the application from Structr and commit the export folder if it changed",
        description="Run Structr's deployment export, normalize it, replace the export folder and commit only "
        "that folder (never other staged or unstaged work).",
    )
    add_env_option(parser)
    parser.add_argument("-m", "--message", help="commit subject (the Structr summary is still added as the body)")
    parser.add_argument("--no-commit", action="store_true", help="update the export folder but do not commit")
    parser.add_argument("--force", action="store_true", help="overwrite uncommitted local edits in the export folder")
    add_json_option(parser)
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    options = ExportOptions(env=args.env, message=args.message, commit=not args.no_commit, force=args.force)
    outcome = export_app(ws, options)
    if args.json:
        print_json(outcome.to_json())
    else:
        print(describe(outcome))
    return EXIT_OK


def describe(outcome: ExportOutcome) -> str:
    """The human-readable result of an export."""
    version = f"Structr {outcome.version}" if outcome.version else "Structr"
    head = f"Exported {outcome.env_name} ({version}, {outcome.url}) in {outcome.duration:.1f}s: "
    if outcome.commit:
        head += f"committed {outcome.commit[:10]} {outcome.message.splitlines()[0]!r}"
    elif not outcome.changed:
        head += "no changes, nothing committed"
    else:
        head += "export folder updated, not committed"
    return "\n".join([head, *(f"  {line}" for line in outcome.summary.lines())])
