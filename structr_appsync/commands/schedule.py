"""`appsync schedule print`: the systemd units (or crontab lines) that run backups and exports on a schedule."""

from __future__ import annotations

import argparse
from pathlib import Path

from structr_appsync.commands._shared import add_env_option, load
from structr_appsync.errors import EXIT_OK, UsageError
from structr_appsync.ops import schedule
from structr_appsync.ops.atomic import write_text_atomic


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "schedule",
        help="print systemd timers or crontab lines for backups and exports",
        description="Scheduling helpers. `appsync schedule print` writes units filled in for this config.",
    )
    actions = parser.add_subparsers(dest="schedule_command", metavar="ACTION", required=True)
    printing = actions.add_parser(
        "print",
        help="print systemd service and timer units (or crontab lines with --cron)",
        description="Units for a nightly backup (with a recovery unit on failure), a periodic export and, when "
        "drills are enabled, a weekly drill. Nothing is installed; --output-dir writes the files into a folder.",
    )
    add_env_option(printing)
    printing.add_argument(
        "--backup-at",
        default=schedule.DEFAULT_BACKUP_AT,
        help='when the backup runs: "03:15", "Sun *-*-* 03:15", "Mon..Fri 22:30" (default: %(default)s)',
    )
    printing.add_argument(
        "--export-every", default=schedule.DEFAULT_EXPORT_EVERY, help="export interval: 15min, 1h, 6h, 1d (default: 1h)"
    )
    printing.add_argument("--no-export", action="store_true", help="no export units")
    printing.add_argument("--cron", action="store_true", help="print crontab lines instead of systemd units")
    printing.add_argument("--output-dir", help="write the unit files into this folder instead of printing them")
    printing.set_defaults(handler=_print)


def _print(args: argparse.Namespace) -> int:
    loaded = load(args)
    plan = schedule.plan_schedule(
        loaded,
        args.env,
        backup_at=args.backup_at,
        export_every=None if args.no_export else args.export_every,
    )
    if args.cron:
        if args.output_dir:
            raise UsageError("--output-dir writes unit files; with --cron the lines go to stdout")
        print("\n".join(schedule.crontab_lines(plan)))
        return EXIT_OK
    units = schedule.systemd_units(plan)
    if args.output_dir:
        directory = Path(args.output_dir)
        if not directory.is_dir():
            raise UsageError(f"--output-dir {directory} is not a directory")
        for unit in units:
            write_text_atomic(directory / unit.name, unit.text)
            print(directory / unit.name)
        return EXIT_OK
    timers = " ".join(unit.name for unit in units if unit.name.endswith(".timer"))
    print("# copy each unit into /etc/systemd/system/, then:")
    print(f"#   systemctl daemon-reload && systemctl enable --now {timers}")
    for unit in units:
        print(f"\n# ---- /etc/systemd/system/{unit.name} ----")
        print(unit.text, end="")
    return EXIT_OK
