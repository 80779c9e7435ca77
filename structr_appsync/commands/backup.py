"""`appsync backup` and its subcommands: list, verify, prune, restore, recover."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from structr_appsync.backup import store
from structr_appsync.backup.context import BackupContext, load_context
from structr_appsync.backup.drill import run_drill
from structr_appsync.backup.engine import run_backup
from structr_appsync.backup.phases import as_rows, describe_largest, largest_phase
from structr_appsync.backup.precheck import pre_backup_check
from structr_appsync.backup.prune import plan_prune, prune_generations
from structr_appsync.backup.recovery import recover_stopped_services
from structr_appsync.backup.restore import run_restore
from structr_appsync.backup.verify import verify_generation
from structr_appsync.commands._shared import add_env_option, add_json_option, ask_yes, load, print_json
from structr_appsync.config import LoadedConfig
from structr_appsync.errors import EXIT_FAILED, EXIT_OK, RefusedError
from structr_appsync.lock import exclusive_lock


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _loaded_context(args: argparse.Namespace) -> tuple[LoadedConfig, BackupContext]:
    loaded = load(args)
    # Every backup command first restarts services an earlier, killed appsync left stopped (it logs what it did).
    recover_stopped_services(loaded)
    return loaded, load_context(loaded, getattr(args, "env", None))


def _context(args: argparse.Namespace) -> BackupContext:
    return _loaded_context(args)[1]


def _run(args: argparse.Namespace) -> int:
    loaded, context = _loaded_context(args)
    checked = args.check or context.config.check_before_backup
    pre_check = pre_backup_check(loaded, context) if checked and not args.dry_run else None
    outcome = run_backup(context, dry_run=args.dry_run, pre_check=pre_check)
    if args.json:
        print_json(outcome.as_json())
    elif outcome.dry_run:
        print("Dry run; a backup would:")
        for number, step in enumerate(outcome.plan, 1):
            print(f"  {number}. {step}")
    else:
        print(
            f"backup {outcome.id}: downtime {outcome.downtime_seconds:.2f}s ({describe_largest(outcome.phases)}, "
            f"copying {outcome.copy_seconds:.2f}s, {_human(outcome.bytes_copied_during_downtime)} written while "
            f"down, method {outcome.method}); {outcome.files_total} files, {_human(outcome.bytes_total)}, "
            f"{_human(outcome.bytes_new)} new"
        )
        for advice in outcome.advice:
            print(f"advice: {advice}")
        for decision in outcome.pruned:
            print(f"pruned {decision.archive.id}")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    context = _context(args)
    generations = store.list_generations(context.destination)
    rows: list[dict[str, Any]] = [
        {
            "id": generation.id,
            "started_at": generation.manifest.started_at.isoformat(),
            "downtime_seconds": round(generation.manifest.downtime_seconds, 3),
            "phases": as_rows(generation.manifest.phases),
            "largest_phase": largest_phase(generation.manifest.phases),
            "files": generation.manifest.files_total,
            "bytes": generation.manifest.bytes_total,
            "bytes_new": generation.manifest.bytes_new,
            "method": generation.manifest.method,
            "neo4j_version": generation.manifest.neo4j_version,
            "structr_version": generation.manifest.structr_version,
            "app_commit": generation.manifest.app_commit,
            "drills": [drill.model_dump(mode="json") for drill in generation.manifest.drills],
        }
        for generation in generations
    ]
    if args.json:
        print_json(rows)
        return EXIT_OK
    if not rows:
        print(f"no backups in {context.destination}")
        return EXIT_OK
    if args.phases:
        _print_phases(rows)
        return EXIT_OK
    print(
        f"{'ID':<20} {'STARTED (UTC)':<20} {'DOWNTIME':>9} {'FILES':>7} {'SIZE':>10} {'NEW':>10}  "
        f"{'DRILL':<24} LARGEST PHASE"
    )
    for row, generation in zip(rows, generations, strict=True):
        print(
            f"{row['id']:<20} {row['started_at'][:19]:<20} {row['downtime_seconds']:>8.2f}s {row['files']:>7} "
            f"{_human(row['bytes']):>10} {_human(row['bytes_new']):>10}  {_drill_column(generation):<24} "
            f"{describe_largest(_timings(row))}"
        )
    return EXIT_OK


def _timings(row: dict[str, Any]) -> dict[str, float]:
    return {phase["name"]: phase["seconds"] for phase in row["phases"]}


def _print_phases(rows: list[dict[str, Any]]) -> None:
    """The downtime trend: one column per phase, one row per generation, oldest first."""
    names: list[str] = []
    for row in rows:
        names += [name for name in _timings(row) if name not in names]
    widths = [max(len(name), 7) for name in names]
    header = "".join(f" {name:>{width}}" for name, width in zip(names, widths, strict=True))
    print(f"{'ID':<20} {'DOWNTIME':>9}{header}")
    for row in rows:
        timings = _timings(row)
        cells = "".join(
            f" {timings[name]:>{width - 1}.2f}s" if name in timings else f" {'-':>{width}}"
            for name, width in zip(names, widths, strict=True)
        )
        print(f"{row['id']:<20} {row['downtime_seconds']:>8.2f}s{cells}")


def _drill_column(generation: store.Generation) -> str:
    """`passed 2026-12-04 15:30` (the last passed drill), `FAILED ...` when the last drill failed, or `-`."""
    drills = generation.manifest.drills
    if not drills:
        return "-"
    last = drills[-1]
    if last.passed:
        return f"passed {last.finished_at.isoformat()[:16].replace('T', ' ')}"
    passed = generation.manifest.last_passed_drill()
    before = f" (passed {passed.finished_at.isoformat()[:16].replace('T', ' ')})" if passed else ""
    return f"FAILED {last.finished_at.isoformat()[:16].replace('T', ' ')}{before}"


def _drill(args: argparse.Namespace) -> int:
    loaded, context = _loaded_context(args)
    outcome = run_drill(loaded, context, args.id, keep=args.keep)
    if args.json:
        print_json(outcome.as_json())
    else:
        for reason in outcome.reasons:
            print(f"failed: {reason}")
        for note in outcome.notes:
            print(f"note: {note}")
        counts = ", ".join(f"{key} {value}" for key, value in sorted(outcome.counts.items()))
        verdict = "PASSED" if outcome.passed else "FAILED"
        print(f"drill of backup {outcome.id}: {verdict} ({outcome.mode}, {outcome.seconds:.1f}s; {counts})")
        if outcome.scratch is not None:
            print(f"scratch copy kept at {outcome.scratch}")
    return EXIT_OK if outcome.passed else EXIT_FAILED


def _verify(args: argparse.Namespace) -> int:
    context = _context(args)
    generation = store.find_generation(context.destination, args.id)
    report = verify_generation(generation)
    if args.json:
        print_json(report.as_json())
    else:
        for label, items in (("missing", report.missing), ("changed", report.changed), ("extra", report.extra)):
            for item in items:
                print(f"{label}: {item}")
        verdict = "OK" if report.ok else "FAILED"
        others = report.checked - report.files_checked
        print(
            f"backup {generation.id}: {verdict} ({report.files_checked} files and {others} folders/links checked, "
            f"{len(report.missing)} missing, {len(report.changed)} changed, {len(report.extra)} extra)"
        )
    return EXIT_OK if report.ok else EXIT_FAILED


def _prune(args: argparse.Namespace) -> int:
    context = _context(args)
    if args.dry_run:
        decisions = plan_prune(context)
    else:
        with exclusive_lock(context.lock_path, timeout=context.lock_timeout, what="a backup or restore"):
            decisions = plan_prune(context)
            prune_generations(context, dry_run=False)
    if args.json:
        print_json(
            [
                {"id": d.archive.id, "keep": d.keep, "reasons": list(d.reasons), "dry_run": args.dry_run}
                for d in decisions
            ]
        )
        return EXIT_OK
    for decision in decisions:
        action = "keep " if decision.keep else ("would prune" if args.dry_run else "pruned")
        reasons = f"  ({', '.join(decision.reasons)})" if decision.reasons else ""
        print(f"{action:<12} {decision.archive.id}{reasons}")
    if not decisions:
        print(f"no backups in {context.destination}")
    return EXIT_OK


def _confirm(question: str) -> bool:
    return sys.stdin.isatty() and ask_yes(f"{question} Type yes to go on:")


def _restore(args: argparse.Namespace) -> int:
    context = _context(args)
    generation = store.find_generation(context.destination, args.id)
    if not args.yes and not _confirm(
        f"Stop Structr and Neo4j of env {context.env_name!r} and replace {context.neo4j_data} and "
        f"{context.structr_dir} with backup {generation.id}?"
    ):
        raise RefusedError("restore needs confirmation", hint="type yes on a terminal, or pass --yes in scripts")
    outcome = run_restore(context, generation.id, keep_previous=args.keep_previous)
    if args.json:
        print_json(outcome.as_json())
    else:
        print(
            f"restored backup {outcome.id} (downtime {outcome.downtime_seconds:.2f}s, "
            f"{describe_largest(outcome.phases)})"
        )
        for path in outcome.previous:
            print(f"previous directory kept at {path}")
    return EXIT_OK


def _recover(args: argparse.Namespace) -> int:
    loaded = load(args)
    messages = recover_stopped_services(loaded, strict=True)
    if args.json:
        print_json({"recovered": messages})
    elif messages:
        for message in messages:
            print(message)
    else:
        print("nothing to recover: no services were left stopped by appsync")
    return EXIT_OK


def _common(parser: argparse.ArgumentParser, *, sub: bool) -> None:
    if sub:
        parser.add_argument("-e", "--env", default=argparse.SUPPRESS, help="environment from appsync.toml")
        parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON output on stdout")
    else:
        add_env_option(parser)
        add_json_option(parser)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "backup",
        help="cold backup of the Neo4j data dir and the Structr dir (and list, verify, prune, restore, recover)",
        description="Without a subcommand: take a cold backup (pre-pass, short stop, delta copy, restart).",
    )
    _common(parser, sub=False)
    parser.add_argument("--dry-run", action="store_true", help="print what would be done, touch nothing")
    parser.add_argument(
        "--check",
        action="store_true",
        help="first run the quick consistency check while the services run; refuse (or warn) when inconsistent",
    )
    parser.set_defaults(handler=_run)
    actions = parser.add_subparsers(dest="backup_command", metavar="ACTION")

    listing = actions.add_parser("list", help="list complete backups, oldest first")
    _common(listing, sub=True)
    listing.add_argument("--phases", action="store_true", help="one column per downtime phase (the trend)")
    listing.set_defaults(handler=_list)

    verify = actions.add_parser("verify", help="recompute checksums; report missing, changed and extra files")
    _common(verify, sub=True)
    verify.add_argument("id", help="backup id, or `latest`")
    verify.set_defaults(handler=_verify)

    prune = actions.add_parser("prune", help="delete backups the retention policy does not keep")
    _common(prune, sub=True)
    prune.add_argument("--dry-run", action="store_true", default=False, help="print the plan, delete nothing")
    prune.set_defaults(handler=_prune)

    restore = actions.add_parser("restore", help="put a backup back (stops and starts the services)")
    _common(restore, sub=True)
    restore.add_argument("id", help="backup id, or `latest` (the newest complete backup)")
    restore.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    restore.add_argument(
        "--keep-previous", action="store_true", help="keep the moved-aside current directories after success"
    )
    restore.set_defaults(handler=_restore)

    drill = actions.add_parser(
        "drill", help="restore rehearsal on scratch copies and scratch services; records the result (exit 1: failed)"
    )
    _common(drill, sub=True)
    drill.add_argument("id", help="backup id, or `latest`")
    drill.add_argument("--keep", action="store_true", help="keep the scratch copy (its path is printed)")
    drill.set_defaults(handler=_drill)

    recover = actions.add_parser("recover", help="restart services a killed appsync left stopped")
    _common(recover, sub=True)
    recover.set_defaults(handler=_recover)
