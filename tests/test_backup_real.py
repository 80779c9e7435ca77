"""The must-show round trip with the real parts: Neo4j 5.26 and the Structr emulator, both real processes
stopped and started by appsync's `command` service manager."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from structr_appsync.backup.neo4j_advice import QUICK_SHUTDOWN_SETTINGS, last_shutdown, missing_settings
from structr_appsync.errors import EXIT_OK
from tests.backup_support.emuservice import EmulatorService, running_emulator
from tests.backup_support.real_install import write_config
from tests.helpers import run_cli
from tests.neo4j import Neo4jServer, count_nodes, store_lock_is_free, store_lock_path, write_nodes
from tests.paths import FIXTURES

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorService]:
    with running_emulator(tmp_path) as service:
        yield service


def _phases(outcome: dict[str, Any]) -> dict[str, float]:
    return {phase["name"]: phase["seconds"] for phase in outcome["phases"]}


def test_round_trip_with_neo4j_and_emulator(
    tmp_path: Path, neo4j_server: Neo4jServer, emulator: EmulatorService
) -> None:
    config = tmp_path / "appsync.toml"
    write_config(config, tmp_path / "backups", neo4j_server, emulator)
    uri = neo4j_server.bolt_uri
    write_nodes(uri, 500, "Kept", payload_bytes=200)
    emulator.api.import_dir(FIXTURES / "hello-world")
    emulator.api.upload_file("/docs/kept.txt", b"in the backup")
    backed_digest = emulator.digest()
    assert not store_lock_is_free(store_lock_path(neo4j_server.data_dir)), "Neo4j holds its store lock"

    result = run_cli("-c", str(config), "backup", "--json")
    assert result.code == EXIT_OK, result.err
    outcome = json.loads(result.out)
    assert outcome["downtime_seconds"] > 0
    print(f"real Neo4j + emulator: downtime {outcome['downtime_seconds']:.2f}s, copy {outcome['copy_seconds']:.2f}s")
    phases = _phases(outcome)
    print("phases: " + ", ".join(f"{name} {seconds:.2f}s" for name, seconds in phases.items()))
    assert abs(sum(phases.values()) - outcome["downtime_seconds"]) <= 0.2
    # Neo4j Community has no db.checkpoint(): the backup goes on without it and says why.
    assert outcome["checkpoint_seconds"] is None
    assert "this Neo4j has no db.checkpoint()" in result.err
    assert outcome["advice"] == [], "the harness's neo4j.conf already has quick Bolt shutdown settings"
    generation = tmp_path / "backups" / outcome["id"]
    assert (generation / "neo4j" / "databases" / "store_lock").exists()
    assert (generation / "structr" / "files").is_dir()
    assert count_nodes(uri) == 500, "Neo4j is up again after the backup"

    # Write more after the backup, in both.
    write_nodes(uri, 250, "Later")
    emulator.api.upload_file("/docs/later.txt", b"after the backup")
    emulator.api.create_page("later-page")
    assert emulator.digest() != backed_digest

    restored = run_cli("-c", str(config), "backup", "restore", outcome["id"], "--yes")
    assert restored.code == EXIT_OK, restored.err
    assert count_nodes(uri) == 500
    assert count_nodes(uri, "Kept") == 500
    assert count_nodes(uri, "Later") == 0
    assert emulator.digest() == backed_digest
    assert emulator.api.file_info("/docs/kept.txt") is not None
    assert emulator.api.file_info("/docs/later.txt") is None

    verified = run_cli("-c", str(config), "backup", "verify", "latest")
    assert verified.code == EXIT_OK, verified.out


def test_neo4j_stops_sooner_with_the_quick_shutdown_settings(neo4j_factory: Callable[..., Neo4jServer]) -> None:
    stock = neo4j_factory("stock", quick_bolt_shutdown=False)
    tuned = neo4j_factory("tuned", quick_bolt_shutdown=False, extra_settings=QUICK_SHUTDOWN_SETTINGS)
    stops = {}
    for server in (stock, tuned):
        server.start(new_port_on_clash=True)
        write_nodes(server.bolt_uri, 1000, payload_bytes=100)
        stops[server] = server.stop()
    print(f"Neo4j stop: stock {stops[stock]:.2f}s, with the two settings {stops[tuned]:.2f}s")
    assert stops[tuned] < stops[stock]
    assert missing_settings(stock.conf_path.read_text()) == QUICK_SHUTDOWN_SETTINGS
    assert missing_settings(tuned.conf_path.read_text()) == {}
    stock_record = last_shutdown((stock.logs_dir / "debug.log").read_text())
    tuned_record = last_shutdown((tuned.logs_dir / "debug.log").read_text())
    assert stock_record is not None and tuned_record is not None
    assert tuned_record.idle_seconds < stock_record.idle_seconds


def test_backup_of_a_stock_neo4j_advises_the_two_settings(
    tmp_path: Path, neo4j_factory: Callable[..., Neo4jServer], emulator: EmulatorService
) -> None:
    stock = neo4j_factory("stock", quick_bolt_shutdown=False)
    stock.start(new_port_on_clash=True)
    config = tmp_path / "appsync.toml"
    write_config(config, tmp_path / "backups", stock, emulator)
    conf_before = stock.conf_path.read_text()
    result = run_cli("-c", str(config), "backup")
    assert result.code == EXIT_OK, result.err
    advice = [line for line in result.out.splitlines() if line.startswith("advice: ")]
    print(result.out)
    assert len(advice) == 1, result.out
    for key, value in QUICK_SHUTDOWN_SETTINGS.items():
        assert f"{key}={value}" in advice[0]
    assert stock.conf_path.read_text() == conf_before, "appsync never edits neo4j.conf"
