"""Best-effort facts for the manifest: Structr and Neo4j versions, the app repository's git commit."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from structr_appsync import process
from structr_appsync.backup import health
from structr_appsync.errors import CommandError

logger = logging.getLogger(__name__)

_STRUCTR_JAR = re.compile(r"^structr(?:-ui|-app|-base)?-(\d+\.\d+[\w.\-]*?)\.jar$")
_NEO4J_JAR = re.compile(r"^neo4j-kernel-(\d+\.\d+[\w.\-]*?)\.jar$")


def _jar_version(directories: list[Path], pattern: re.Pattern[str]) -> str | None:
    for directory in directories:
        if not directory.is_dir():
            continue
        for child in sorted(directory.iterdir()):
            match = pattern.match(child.name)
            if match:
                return match.group(1)
    return None


def structr_version(structr_dir: Path) -> str | None:
    """From the jar names in the Structr directory (deb layout: lib/structr-<version>.jar), if present."""
    return _jar_version([structr_dir, structr_dir / "lib"], _STRUCTR_JAR)


def neo4j_version(neo4j_data: Path, health_url: str | None) -> str | None:
    """From Neo4j's HTTP discovery document, else from neo4j-kernel-<version>.jar next to the data dir."""
    if health_url:
        version = health.neo4j_version(health_url)
        if version:
            return version
    return _jar_version([neo4j_data.parent / "lib"], _NEO4J_JAR)


def app_commit(root: Path) -> str | None:
    """`git rev-parse HEAD` of the repository holding appsync.toml, if it is one."""
    if not (root / ".git").exists():
        return None
    try:
        result = process.run(["git", "rev-parse", "HEAD"], cwd=root, timeout=30, check=False)
    except CommandError:
        return None
    sha = result.stdout.strip()
    return sha if result.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", sha) else None
