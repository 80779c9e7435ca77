"""Command line: python -m tests.structr_emulator --data-dir DIR [--host H] [--port P] [--version V] ..."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from tests.structr_emulator.context import DEFAULT_BUILDS, Context
from tests.structr_emulator.server import EmulatorServer
from tests.structr_emulator.store import Journal, Store, StoreLocked

VERSIONS = ("6.1.0", "5.2.1")


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.structr_emulator", description=__doc__)
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--version", choices=VERSIONS, default="6.1.0")
    parser.add_argument(
        "--superuser-password",
        default=os.environ.get("STRUCTR_EMULATOR_SUPERUSER_PASSWORD"),
        help="superuser.password (also from STRUCTR_EMULATOR_SUPERUSER_PASSWORD, which keeps it out of argv)",
    )
    parser.add_argument(
        "--build",
        default=os.environ.get("STRUCTR_EMULATOR_BUILD"),
        help='build and timestamp of the version stamp, e.g. "e3f1a 202601291042" (env STRUCTR_EMULATOR_BUILD)',
    )
    parser.add_argument(
        "--deploy-delay",
        type=float,
        default=float(os.environ.get("STRUCTR_EMULATOR_DEPLOY_DELAY", "0")),
        help="extra seconds every deployment takes (to observe /structr/health/ready answering 503)",
    )
    parser.add_argument("--flush-interval", type=float, default=0.2, help="seconds between journal writes")
    parser.add_argument(
        "--no-deploy-servlet",
        action="store_true",
        help="answer /structr/deploy with Jetty's 404 page, as the recorded 5.2.1 Community build did",
    )
    parser.add_argument("--shuffle-order", action="store_true", help="randomize grantees/allowed order per export")
    return parser.parse_args(argv)


def _server_log(data_dir: Path) -> logging.Logger:
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_dir / "server.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s"))
    log = logging.getLogger("structr")
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    log.propagate = False
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    return log


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    data_dir: Path = args.data_dir.resolve()
    store = Store(data_dir)
    try:
        store.acquire_process_lock()
    except StoreLocked as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    log = _server_log(data_dir)
    store.load_or_init()
    journal = Journal(store, args.flush_interval)
    ctx = Context(
        store=store,
        journal=journal,
        version=args.version,
        build=args.build or DEFAULT_BUILDS[args.version],
        superuser_password=args.superuser_password,
        log=log,
        deploy_delay=args.deploy_delay,
        deploy_servlet=not args.no_deploy_servlet,
    )
    ctx.faults.shuffle_order = args.shuffle_order
    server = EmulatorServer((args.host, args.port), ctx)
    host, port = str(server.server_address[0]), int(server.server_address[1])
    journal.start()

    def stop(signum: int, frame: FrameType | None) -> None:
        # Only a flag: starting a thread here could deadlock on a lock the interrupted main thread holds.
        server.stop_requested = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("Structr emulator %s (%s) started on http://%s:%s", ctx.version, ctx.build, host, port)
    sys.stdout.write(f"listening on http://{host}:{port}\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        journal.stop()
        journal.flush()
        log.info("Structr emulator stopped")
        store.release_process_lock()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
