"""Benchmark: appsync's downtime against the real floor, with the real Neo4j 5.26 of the test suite (tests/neo4j/)
and the Structr emulator as services. Not a test; run it by hand or from CI (the Neo4j CI job provisions Neo4j):

    .venv/bin/python -m tests.bench.bench_backup --neo4j                     # 3 rounds, 50 000 nodes of write load
    .venv/bin/python -m tests.bench.bench_backup_neo4j --rounds 5 --nodes 200000

Reported in one run, each figure the median of ROUNDS, with a write load of NODES new nodes before each one:

* floor: the bare stop + start of both services with the same commands appsync uses (stop Structr, stop Neo4j,
  start Neo4j, wait for Bolt, start Structr, wait for its health URL; readiness polled every 10 ms);
* appsync: the downtime of `appsync backup`, its ratio to the floor and its excess over it (target: floor + 1 s),
  and appsync's own phase table;
* Neo4j's stop with Neo4j's default settings and with the two quick-shutdown settings appsync advises;
* the pre-stop checkpoint: Neo4j's stop after the write load with and without `CALL db.checkpoint()` first
  (Neo4j Community has no such procedure: the run says so and reports the shutdown checkpoint's own time, which
  bounds what a pre-stop checkpoint could take out of the downtime).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from structr_appsync.backup.neo4j_advice import QUICK_SHUTDOWN_SETTINGS, last_shutdown
from structr_appsync.backup.phases import label
from tests.backup_support.emuservice import EmulatorService
from tests.backup_support.real_install import write_config
from tests.bench.bench_backup import appsync_backup
from tests.neo4j import Neo4jServer, bolt_ready, neo4j_available, write_nodes

_POLL = 0.01


def _wait(check: Callable[[], bool], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("a service did not become ready in time")
        time.sleep(_POLL)


def _shell(command: str) -> None:
    subprocess.run(command, shell=True, check=True, timeout=300)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= int(response.status) < 300
    except OSError:
        return False


def bare_cycle(neo4j: Neo4jServer, emulator: EmulatorService) -> float:
    """Stop both, start both behind readiness, with nothing else: the floor of any cold backup."""
    began = time.monotonic()
    _shell(emulator.command("stop"))
    _shell(neo4j.stop_command())
    _shell(neo4j.start_command())
    _wait(lambda: bolt_ready(neo4j.host, neo4j.bolt_port, timeout=1.0))
    _shell(emulator.command("start"))
    _wait(lambda: _http_ok(emulator.health_url))
    return time.monotonic() - began


def shutdown_checkpoint_seconds(neo4j: Neo4jServer) -> float | None:
    record = last_shutdown((neo4j.logs_dir / "debug.log").read_text(encoding="utf-8", errors="replace"))
    return record.checkpoint_seconds if record else None


def checkpoint_now(neo4j: Neo4jServer) -> float | None:
    """`CALL db.checkpoint()`; its seconds, or None when this Neo4j has no such procedure."""
    from neo4j import GraphDatabase
    from neo4j.exceptions import ClientError

    began = time.monotonic()
    try:
        with GraphDatabase.driver(neo4j.bolt_uri, auth=None) as driver:
            driver.execute_query("CALL db.checkpoint()")
    except ClientError as exc:
        if exc.code == "Neo.ClientError.Procedure.ProcedureNotFound":
            return None
        raise
    return time.monotonic() - began


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_backup_neo4j", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=50_000, help="nodes written before each measured stop")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    ok, reason = neo4j_available()
    if not ok:
        raise SystemExit(f"bench_backup --neo4j: {reason}")
    work = Path(tempfile.mkdtemp(prefix="bench-backup-neo4j-", dir=args.workdir))
    neo4j = Neo4jServer(work / "neo4j", quick_bolt_shutdown=False, extra_settings=QUICK_SHUTDOWN_SETTINGS)
    emulator = EmulatorService(work / "structr", work / "emu-run")
    emulator.data.mkdir()
    config = work / "appsync.toml"
    write_config(config, work / "backups", neo4j, emulator, checkpoint=False)
    load = 0

    def write_load() -> None:
        nonlocal load
        write_nodes(neo4j.bolt_uri, args.nodes, "Load", payload_bytes=200)
        load += args.nodes

    try:
        neo4j.start()
        emulator.call("start")
        _wait(lambda: _http_ok(emulator.health_url))
        write_load()
        print(f"Neo4j {neo4j.bolt_uri}, emulator {emulator.api.url}; {args.rounds} rounds, {args.nodes} nodes each")

        floors: list[float] = []
        downtimes: list[float] = []
        tables: list[dict[str, float]] = []
        for _ in range(args.rounds):  # interleaved, so a busy moment or a growing store hits both alike
            write_load()
            floors.append(bare_cycle(neo4j, emulator))
            write_load()
            outcome, _rss = appsync_backup(config)
            downtimes.append(float(outcome["downtime_seconds"]))  # type: ignore[arg-type]
            tables.append({row["name"]: float(row["seconds"]) for row in outcome["phases"]})  # type: ignore[attr-defined]
        floor = _median(floors)
        print(f"floor (bare stop + start of both): {floor:.2f}s  (rounds: {', '.join(f'{f:.2f}' for f in floors)})")
        downtime = _median(downtimes)
        print(
            f"appsync downtime: {downtime:.2f}s (rounds: {', '.join(f'{d:.2f}' for d in downtimes)}); "
            f"ratio to floor {downtime / floor:.3f}; "
            f"excess {downtime - floor:+.2f}s   (target: at most floor + 1 s)"
        )
        print("appsync phases (median of rounds):")
        for name in tables[0]:
            print(f"  {label(name):<28} {_median([table.get(name, 0.0) for table in tables]):7.2f}s")

        stops: dict[str, list[float]] = {"tuned": [], "stock": []}
        for _ in range(args.rounds):
            for variant in ("stock", "tuned"):
                neo4j.extra_settings = {} if variant == "stock" else dict(QUICK_SHUTDOWN_SETTINGS)
                neo4j.start()
                write_load()
                stops[variant].append(neo4j.stop())
        neo4j.extra_settings = dict(QUICK_SHUTDOWN_SETTINGS)
        print(
            f"Neo4j stop, default settings: {_median(stops['stock']):.2f}s; with "
            f"{', '.join(f'{k}={v}' for k, v in QUICK_SHUTDOWN_SETTINGS.items())}: {_median(stops['tuned']):.2f}s"
        )

        plain, after_checkpoint, shutdown_checkpoints, pre_checkpoints = [], [], [], []
        for _ in range(args.rounds):
            neo4j.start()
            write_load()
            plain.append(neo4j.stop())
            shutdown_checkpoints.append(shutdown_checkpoint_seconds(neo4j) or 0.0)
            neo4j.start()
            write_load()
            took = checkpoint_now(neo4j)
            if took is not None:
                pre_checkpoints.append(took)
            after_checkpoint.append(neo4j.stop())
        print(
            f"shutdown checkpoint after {args.nodes} new nodes: {_median(shutdown_checkpoints) * 1000:.0f} ms "
            f"of a {_median(plain):.2f}s stop"
        )
        if pre_checkpoints:
            print(
                f"pre-stop checkpoint {_median(pre_checkpoints):.2f}s (services running); stop after it "
                f"{_median(after_checkpoint):.2f}s vs {_median(plain):.2f}s without"
            )
        else:
            print("pre-stop checkpoint: this Neo4j has no db.checkpoint() (Community edition); not measurable here")
        print(f"write load in total: {load} nodes")
        return 0
    finally:
        emulator.call("stop")
        neo4j.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
