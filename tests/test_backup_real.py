"""The must-show round trip with the real parts: Neo4j 5.26 and the Structr emulator, both real processes
stopped and started by appsync's `command` service manager."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from structr_appsync.errors import EXIT_OK
from tests.backup_support.emuservice import EmulatorService
from tests.helpers import run_cli
from tests.neo4j import Neo4jServer, count_nodes, store_lock_is_free, store_lock_path, write_nodes
from tests.paths import FIXTURES

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorService]:
    service = EmulatorService(tmp_path / "structr", tmp_path / "emu-run")
    service.data.mkdir()
    assert service.call("start") == 0
    try:
        yield service
    finally:
        service.call("stop")


def _config(path: Path, destination: Path, neo4j: Neo4jServer, emulator: EmulatorService) -> None:
    lines = [
        'default_env = "real"',
        "[env.real]",
        f'url = "{emulator.api.url}"',
        "[env.real.backup]",
        f"destination = {json.dumps(str(destination))}",
        f"neo4j_data = {json.dumps(str(neo4j.data_dir))}",
        f"structr_dir = {json.dumps(str(emulator.data))}",
        'service_manager = "command"',
        "[env.real.backup.retention]",
        "keep_last = 5",
        "[env.real.backup.structr]",
        f"start = {json.dumps(emulator.command('start'))}",
        f"stop = {json.dumps(emulator.command('stop'))}",
        f"status = {json.dumps(emulator.command('status'))}",
        f'health_url = "{emulator.api.url}/structr/health/ready"',
        "stop_timeout = 60",
        "start_timeout = 60",
        "[env.real.backup.neo4j]",
        f"start = {json.dumps(neo4j.start_command())}",
        f"stop = {json.dumps(neo4j.stop_command())}",
        f"status = {json.dumps(neo4j.status_command())}",
        f'health_url = "bolt://127.0.0.1:{neo4j.bolt_port}"',
        "stop_timeout = 180",
        "start_timeout = 180",
    ]
    path.write_text("\n".join(lines) + "\n")


def test_round_trip_with_neo4j_and_emulator(
    tmp_path: Path, neo4j_server: Neo4jServer, emulator: EmulatorService
) -> None:
    config = tmp_path / "appsync.toml"
    _config(config, tmp_path / "backups", neo4j_server, emulator)
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
