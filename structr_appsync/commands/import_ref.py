"""`appsync import REF`: put a git ref back onto a Structr, planned, sealed, consented, verified."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from structr_appsync.commands._shared import add_env_option, add_json_option, ask_yes, open_workspace, print_json
from structr_appsync.errors import EXIT_OK
from structr_appsync.sync import importer
from structr_appsync.sync.import_consent import describe_deletions
from structr_appsync.sync.import_plan import ImportPlan
from structr_appsync.sync.principals import pre_deploy_hint


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "import",
        help="import a commit, tag or branch into Structr (planned, with a rollback point, verified)",
        description=(
            "Write the export folder as it is at REF into a temporary folder, show what the import will change, "
            "save the server's state as a rollback ref, import, and verify that the server holds REF."
        ),
    )
    parser.add_argument("ref", metavar="REF", help="commit, tag, branch or refs/appsync/<env>/pre-import/<ts>")
    add_env_option(parser)
    parser.add_argument("--dry-run", action="store_true", help="show the plan and stop; the server is not touched")
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask (never authorizes a deletion)")
    parser.add_argument(
        "--force", action="store_true", help="import even if the server has changes that are in no commit"
    )
    parser.add_argument(
        "--allow-delete", action="store_true", help="allow removing pages, components, templates and schema types"
    )
    parser.add_argument("--with-data", action="store_true", help="also import the data/ deployment in the ref")
    add_json_option(parser)
    parser.set_defaults(handler=_handle)




def _print_plan(plan: ImportPlan, *, stream: Any) -> None:
    lines = plan.summary.lines()
    if plan.changes_anything:
        stream.write("Changes on the server (server -> ref):\n")
        for line in lines or ["pages, components and templates removed"]:
            stream.write(f"  {line}\n")
    else:
        stream.write("The server already holds this ref.\n")
    stream.write("What Structr's import does:\n")
    for effect in plan.effects:
        stream.write(f"  - {effect}\n")
    if plan.deletions:
        stream.write(f"Removes: {describe_deletions(plan.deletions)}\n")
    if plan.missing_principals:
        stream.write("Principals the export references and the server lacks (Structr drops them):\n")
        for item in plan.missing_principals:
            stream.write(f"  {item.name} ({item.reason}; used in {', '.join(item.used_in)})\n")
        stream.write(f"hint: {pre_deploy_hint(plan.missing_principals)}\n")
    if plan.version_problem:
        stream.write(f"Refused by Structr: {plan.version_problem}\n")
    if plan.uncommitted is not None:
        stream.write("The server has changes that are in no commit:\n")
        for line in plan.uncommitted.lines():
            stream.write(f"  {line}\n")


def _outcome_json(outcome: importer.ImportOutcome) -> dict[str, Any]:
    plan = outcome.plan
    return {
        "env": outcome.env_name,
        "ref": outcome.ref_label,
        "sha": outcome.ref_sha,
        "dry_run": outcome.dry_run,
        "imported": outcome.imported,
        "verified": outcome.verified,
        "rollback_ref": outcome.rollback_ref,
        "summary": plan.summary.to_json(),
        "effects": plan.effects,
        "deletions": plan.deletions,
        "missing_principals": [
            {"name": item.name, "reason": item.reason, "used_in": list(item.used_in)}
            for item in plan.missing_principals
        ],
        "uncommitted": None if plan.uncommitted is None else plan.uncommitted.to_json(),
        "timings": {name: round(seconds, 3) for name, seconds in outcome.timings.items()},
        "total_seconds": round(outcome.total_seconds, 3),
        "server_seconds": round(outcome.server_seconds, 3),
    }


def _handle(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    env_name, as_json, force = ws.loaded.env_name(args.env), args.json, args.force
    ref = args.ref
    plan_stream = sys.stderr if as_json else sys.stdout
    interactive = not as_json and sys.stdin is not None and sys.stdin.isatty()

    def on_plan(plan: ImportPlan) -> None:
        _print_plan(plan, stream=plan_stream)
        plan_stream.flush()

    try:
        options = importer.ImportOptions(
            env=env_name,
            dry_run=args.dry_run,
            yes=args.yes,
            force=force,
            allow_delete=args.allow_delete,
            with_data=args.with_data,
            confirm=ask_yes if interactive else None,
            on_plan=on_plan,
        )
        outcome = importer.import_ref(ws, ref, options)
    except importer.ImportVerificationFailed as error:
        sys.stderr.write("What differs between the ref and the server after the import:\n")
        for line in error.difference.lines():
            sys.stderr.write(f"  {line}\n")
        raise
    if as_json:
        print_json(_outcome_json(outcome))
    elif outcome.dry_run:
        print(f"Dry run: nothing was changed on env {env_name!r}.")
        if outcome.plan.uncommitted is not None and not force:
            print("A real import would be refused until you run `appsync export` (or pass --force).")
    elif outcome.imported:
        print(f"Rollback point: {outcome.rollback_ref}")
        print(f"Imported {ref} into env {env_name!r} and verified: the server holds the ref.")
    else:
        print(f"Nothing to import: env {env_name!r} already holds {ref}.")
    return EXIT_OK
