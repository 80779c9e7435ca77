"""`appsync watch`: import local edits of the export folder into a development Structr as they happen."""

from __future__ import annotations

import argparse
import sys
import time

from structr_appsync.commands._shared import add_env_option, open_workspace
from structr_appsync.errors import UsageError
from structr_appsync.interrupts import stop_requests
from structr_appsync.sync.watch_session import WatchOptions, WatchSession

_CHECK_SECONDS = 1.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "watch", help="import edits of the export folder into a development env as you save them"
    )
    add_env_option(parser)
    parser.add_argument("--debounce", type=float, help="quiet seconds after the last save (default: [watch] setting)")
    parser.add_argument(
        "--export-every",
        type=float,
        metavar="MINUTES",
        help="also export and commit server changes every MINUTES (default: [watch] export_interval_minutes)",
    )
    parser.add_argument("--no-export", action="store_true", help="never export, even if the config sets an interval")
    parser.set_defaults(handler=_handle)


def _say(message: str) -> None:
    sys.stdout.write(f"{time.strftime('%H:%M:%S')} {message}\n")
    sys.stdout.flush()


def _handle(args: argparse.Namespace) -> int:
    env, debounce, export_every, no_export = args.env, args.debounce, args.export_every, args.no_export
    ws = open_workspace(args)
    settings = ws.loaded.settings.watch
    env_name = ws.loaded.env_name(env or settings.env)
    debounce_seconds = debounce if debounce is not None else settings.debounce_seconds
    if debounce_seconds <= 0:
        raise UsageError("--debounce must be positive")
    minutes = None if no_export else (export_every if export_every is not None else settings.export_interval_minutes)
    if minutes is not None and minutes <= 0:
        raise UsageError("--export-every must be positive")
    options = WatchOptions(
        debounce=debounce_seconds,
        export_interval=minutes * 60 if minutes else None,
        allow_delete=settings.allow_delete,
    )
    session = WatchSession(ws, env_name, _say, options)
    try:
        with stop_requests() as stop:
            session.start()
            export_note = f"; exporting every {minutes:g} min" if minutes else ""
            _say(
                f"watching {session.folder} -> env {env_name!r} (debounce {debounce_seconds:g}s{export_note}); "
                "Ctrl-C stops"
            )
            while not stop.wait(_CHECK_SECONDS):
                session.check()
    finally:
        # The handlers from before are back here: a second Ctrl-C while the last import finishes stops at once.
        dropped = session.stop()
    received = stop.received
    note = f"; {dropped} change(s) since the last import were not imported" if dropped else ""
    _say(f"stopped ({', '.join(received) or 'requested'}){note}")
    return 0
