"""A real install for backup tests and benchmarks: a real Neo4j (tests/neo4j) and the Structr emulator run as a
service through emuctl.py, both stopped and started by appsync's `command` service manager."""

from __future__ import annotations

import json
from pathlib import Path

from tests.backup_support.emuservice import EmulatorService
from tests.neo4j import Neo4jServer


def write_config(
    path: Path, destination: Path, neo4j: Neo4jServer, emulator: EmulatorService, *, checkpoint: bool = True
) -> None:
    """appsync.toml for env `real`: both services, Bolt access for the pre-stop checkpoint, neo4j.conf for advice."""
    lines = [
        'default_env = "real"',
        "[env.real]",
        f'url = "{emulator.api.url}"',
        "[env.real.backup]",
        f"destination = {json.dumps(str(destination))}",
        f"neo4j_data = {json.dumps(str(neo4j.data_dir))}",
        f"structr_dir = {json.dumps(str(emulator.data))}",
        'service_manager = "command"',
        f"neo4j_conf = {json.dumps(str(neo4j.conf_path))}",
        "prune_after_backup = false",
        "[env.real.backup.structr]",
        f"start = {json.dumps(emulator.command('start'))}",
        f"stop = {json.dumps(emulator.command('stop'))}",
        f"status = {json.dumps(emulator.command('status'))}",
        f'health_url = "{emulator.health_url}"',
        "stop_timeout = 60",
        "start_timeout = 60",
        "[env.real.backup.neo4j]",
        f"start = {json.dumps(neo4j.start_command())}",
        f"stop = {json.dumps(neo4j.stop_command())}",
        f"status = {json.dumps(neo4j.status_command())}",
        f'health_url = "bolt://127.0.0.1:{neo4j.bolt_port}"',
        "stop_timeout = 180",
        "start_timeout = 180",
        "[env.real.backup.bolt]",
        f'uri = "{neo4j.bolt_uri}"',
        f"checkpoint_before_stop = {json.dumps(checkpoint)}",
    ]
    path.write_text("\n".join(lines) + "\n")
