"""Restore drills with the real parts: the live Neo4j 5.26 and the emulator run as services; the drill starts a
scratch Neo4j (tests/neo4j/ctl.py over the scratch copy, on a free port) and a scratch emulator, and runs Neo4j's
own offline consistency checker. The live services are never stopped or touched by a drill."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from structr_appsync.backup.manifest import read_manifest
from structr_appsync.errors import EXIT_OK
from tests.backup_support.emuservice import EmulatorService, logged, running_emulator
from tests.backup_support.live import emulator_drill_service
from tests.helpers import run_cli
from tests.neo4j import Neo4jServer, count_nodes, store_lock_holder, store_lock_path, write_nodes
from tests.neo4j.harness import CTL_SCRIPT, cache_root

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorService]:
    with running_emulator(tmp_path) as service:
        yield service


def _drill_table() -> list[str]:
    # the tests point HOME elsewhere: tell ctl.py where the provisioned jars are
    home = shlex.quote(f"APPSYNC_NEO4J_HOME={cache_root()}")
    ctl = f"env {home} {shlex.quote(sys.executable)} {shlex.quote(str(CTL_SCRIPT))}"
    return [
        "[env.real.backup.drill]",
        f'store_check = "{ctl} check --data {{neo4j_data}} --instance {{scratch}}/neo4j-check"',
        "[env.real.backup.drill.neo4j]",
        (
            f'start = "{ctl} start --instance {{scratch}}/neo4j-instance --data {{neo4j_data}} '
            '--bolt-port {port} --wait 180"'
        ),
        f'stop = "{ctl} stop --instance {{scratch}}/neo4j-instance --timeout 120"',
        f'status = "{ctl} status --instance {{scratch}}/neo4j-instance"',
        'health_url = "bolt://127.0.0.1:{port}"',
        "start_timeout = 200",
        "stop_timeout = 130",
        *emulator_drill_service("real"),
    ]


def _config(path: Path, destination: Path, neo4j: Neo4jServer, emulator: EmulatorService, log: Path) -> None:
    lines = [
        "[env.real]",
        f'url = "{emulator.api.url}"',
        "[env.real.backup]",
        f"destination = {json.dumps(str(destination))}",
        f"neo4j_data = {json.dumps(str(neo4j.data_dir))}",
        f"structr_dir = {json.dumps(str(emulator.data))}",
        'service_manager = "command"',
        "[env.real.backup.structr]",
        f"start = {json.dumps(logged(emulator.command('start'), log, 'start structr'))}",
        f"stop = {json.dumps(logged(emulator.command('stop'), log, 'stop structr'))}",
        f"status = {json.dumps(emulator.command('status'))}",
        f'health_url = "{emulator.api.url}/structr/health/ready"',
        "[env.real.backup.neo4j]",
        f"start = {json.dumps(logged(neo4j.start_command(), log, 'start neo4j'))}",
        f"stop = {json.dumps(logged(neo4j.stop_command(), log, 'stop neo4j'))}",
        f"status = {json.dumps(neo4j.status_command())}",
        f'health_url = "bolt://127.0.0.1:{neo4j.bolt_port}"',
        "stop_timeout = 180",
        "start_timeout = 180",
        *_drill_table(),
    ]
    path.write_text("\n".join(lines) + "\n")


def test_drills_on_real_backups(
    tmp_path: Path, neo4j_server: Neo4jServer, emulator: EmulatorService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APPSYNC_PASSWORD", "admin")
    log = tmp_path / "svc.log"
    config = tmp_path / "appsync.toml"
    _config(config, tmp_path / "backups", neo4j_server, emulator, log)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    write_nodes(neo4j_server.bolt_uri, 300, "Kept", payload_bytes=100)
    emulator.api.create_page("home")
    kept_id = emulator.api.upload_file("/docs/kept.txt", b"in the backup" * 20)
    emulator.api.upload_file("/docs/other.txt", b"also in it" * 20)
    assert run_cli("-c", str(config), "export").code == EXIT_OK

    def backup() -> Path:
        result = run_cli("-c", str(config), "backup", "--json")
        assert result.code == EXIT_OK, result.err
        return tmp_path / "backups" / json.loads(result.out)["id"]

    def drill(wanted: str = "latest") -> dict[str, object]:
        log.unlink(missing_ok=True)
        live_pid = store_lock_holder(store_lock_path(neo4j_server.data_dir))
        digest = emulator.digest()
        result = run_cli("-c", str(config), "backup", "drill", wanted, "--json")
        assert result.out, result.err
        assert not log.exists(), "the service manager was never asked to stop or start a live service"
        assert store_lock_holder(store_lock_path(neo4j_server.data_dir)) == live_pid, "the live Neo4j kept running"
        assert count_nodes(neo4j_server.bolt_uri, "Kept") == 300
        assert emulator.digest() == digest
        outcome: dict[str, object] = json.loads(result.out)
        assert (result.code == EXIT_OK) == outcome["passed"]
        print(f"drill {outcome['id']}: passed={outcome['passed']} in {outcome['seconds']}s {outcome['reasons']}")
        return outcome

    first = backup()
    passed = drill()
    assert passed["passed"] is True and passed["mode"] == "full", passed["reasons"]
    counts = passed["counts"]
    assert isinstance(counts, dict) and counts["nodes_File"] == 2 and counts["nodes_Page"] == 1
    assert read_manifest(first).drills[-1].passed
    assert not list((tmp_path / "backups").glob(".drill-*"))

    # A backup with a missing files/ entry.
    second = backup()
    blob = second / "structr" / "files" / kept_id[0] / kept_id[1] / kept_id[2] / kept_id[3] / kept_id
    blob.unlink()
    missing = drill()
    assert missing["passed"] is False
    reasons = missing["reasons"]
    assert isinstance(reasons, list)
    assert not any(r.startswith("Neo4j store check") for r in reasons), reasons
    assert any(r.startswith("consistency check: missing on disk: /docs/kept.txt") for r in reasons), reasons
    assert any(r.startswith("backup verification: missing structr/files/") for r in reasons), reasons

    # A corrupted Neo4j store file in the first backup: Neo4j's checker and the backup checksums both say so.
    store_file = first / "neo4j" / "databases" / "neo4j" / "neostore.nodestore.db"
    with store_file.open("r+b") as handle:
        handle.seek(1500)
        handle.write(b"\xff" * 750)
    corrupted = drill(first.name)
    assert corrupted["passed"] is False
    reasons = corrupted["reasons"]
    assert isinstance(reasons, list)
    assert any(r.startswith("Neo4j store check: exit 1") and "Inconsistencies found" in r for r in reasons), reasons
    assert any("changed neo4j/databases/neo4j/neostore.nodestore.db" in r for r in reasons), reasons
    assert [drill.passed for drill in read_manifest(first).drills] == [True, False]
