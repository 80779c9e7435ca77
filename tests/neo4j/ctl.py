"""Start, stop and probe a test Neo4j instance from a shell, like a service manager would.

    python tests/neo4j/ctl.py start  --instance DIR [--wait SECONDS] [--data DATA --bolt-port PORT]
    python tests/neo4j/ctl.py stop   --instance DIR [--timeout SECONDS]
    python tests/neo4j/ctl.py status --instance DIR
    python tests/neo4j/ctl.py warm
    python tests/neo4j/ctl.py check  --data DATA --instance WORKDIR

start: launches the JVM detached and exits 0 (already running: 0 too). With --wait it exits 0
only once Bolt answers, 1 otherwise; with --data a missing instance is created over that data dir
(a restore drill's scratch Neo4j). stop: SIGTERM, waits until the JVM is gone, exits 0 (also
when it was not running), 1 on timeout (the JVM is left running, as a failed stop would).
status: 0 while the JVM runs, 3 when not. DIR is an instance dir made by harness.Neo4jServer.
warm: build the class archive that makes later starts faster (provision.sh calls it).
check: `neo4j-admin database check neo4j` on a stopped data dir (its databases/ and transactions/), run from the
provisioned jars with WORKDIR as NEO4J_HOME (an empty conf and the report go there): exit 0 consistent, 1 not.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.neo4j.harness import (
    Neo4jHarnessError,
    Neo4jServer,
    bolt_ready,
    ensure_class_archive,
    find_java,
    lib_dir,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NOT_RUNNING = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ctl.py", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("start", "stop", "status", "warm", "check"))
    parser.add_argument("--instance", type=Path, help="instance dir (all actions but warm)")
    parser.add_argument("--wait", type=float, default=None, help="start: wait for Bolt (s)")
    parser.add_argument("--timeout", type=float, default=120.0, help="stop: wait for exit (s)")
    parser.add_argument("--data", type=Path, help="start: create the instance over this data dir if it is new")
    parser.add_argument("--bolt-port", type=int, help="start: the Bolt port of an instance created with --data")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.action == "warm":
        archive = ensure_class_archive()
        print(f"neo4j class archive: {archive}" if archive else "neo4j class archive: not built (see log)")
        return EXIT_OK
    if args.instance is None:
        parser.error(f"{args.action} needs --instance")
    if args.action == "check":
        if args.data is None:
            parser.error("check needs --data")
        return consistency_check(args.data, args.instance)
    try:
        if args.action == "start" and args.data is not None and not (args.instance / "instance.json").exists():
            Neo4jServer(args.instance, data_dir=args.data, bolt_port=args.bolt_port)
        server = Neo4jServer.open(args.instance)
        if args.action == "start":
            launched = server.launch(stop_at_exit=False)
            if args.wait is not None:
                server.wait_ready(args.wait)
            print(f"neo4j started pid {launched} data {server.data_dir} bolt {server.bolt_uri}")
            return EXIT_OK
        if args.action == "stop":
            pid = server.pid()
            if pid is None:
                print("neo4j not running")
                return EXIT_OK
            seconds = server.stop(args.timeout, kill_after_timeout=False)
            print(f"neo4j pid {pid} stopped in {seconds:.1f} s")
            return EXIT_OK
        pid = server.pid()
        if pid is None:
            print("neo4j not running")
            return EXIT_NOT_RUNNING
        state = "ready" if bolt_ready(server.host, server.bolt_port) else "starting"
        print(f"neo4j running pid {pid} ({state}) bolt {server.bolt_uri}")
        return EXIT_OK
    except Neo4jHarnessError as exc:
        print(f"neo4j {args.action} failed: {exc}", file=sys.stderr)
        return EXIT_FAILED


def consistency_check(data: Path, work: Path) -> int:
    """Run Neo4j's own offline consistency checker on ``data``; its output goes to stdout."""
    conf = work / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "neo4j.conf").write_text("", encoding="utf-8")
    command = [
        find_java() or "java",
        "-Xmx256m",
        "-cp",
        f"{lib_dir()}/*",
        "org.neo4j.cli.AdminTool",
        "database",
        "check",
        "neo4j",
        f"--from-path-data={data / 'databases'}",
        f"--from-path-txn={data / 'transactions'}",
        f"--report-path={work / 'report'}",
    ]
    environment = {**os.environ, "NEO4J_HOME": str(work), "NEO4J_CONF": str(conf)}
    return subprocess.run(command, env=environment, check=False, timeout=1800).returncode


if __name__ == "__main__":
    sys.exit(main())
