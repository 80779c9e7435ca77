"""pytest fixtures for a real Neo4j server (registered through pytest_plugins in tests/conftest.py).

neo4j_server: a started server on a fresh data dir under tmp_path, stopped at teardown.
neo4j_factory: makes more (unstarted) servers; every one of them is stopped at teardown.
Both skip with the reason when Neo4j cannot run here (and fail instead in CI).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.neo4j.harness import REQUIRE_NEO4J, Neo4jServer, neo4j_available


def require_neo4j() -> None:
    """Skip (outside CI) or fail (in CI) the current test when Neo4j cannot run here."""
    ok, reason = neo4j_available()
    if ok:
        return
    if REQUIRE_NEO4J:
        pytest.fail(f"Neo4j is required here (CI): {reason}")
    pytest.skip(reason)


@pytest.fixture
def neo4j_factory(tmp_path: Path) -> Iterator[Callable[..., Neo4jServer]]:
    """Call with a name (and Neo4jServer keyword arguments) to get an unstarted server."""
    require_neo4j()
    made: list[Neo4jServer] = []

    def make(name: str = "neo4j", **kwargs: Any) -> Neo4jServer:
        server = Neo4jServer(tmp_path / name, **kwargs)
        made.append(server)
        return server

    yield make
    errors: list[str] = []
    for server in made:
        try:
            server.stop()
        except Exception as exc:  # teardown must try every server
            errors.append(f"{server.instance_dir}: {exc}")
    if errors:
        pytest.fail("could not stop Neo4j: " + "; ".join(errors))


@pytest.fixture
def neo4j_server(neo4j_factory: Callable[..., Neo4jServer]) -> Neo4jServer:
    """A running Neo4j (Bolt on 127.0.0.1, auth off) with a fresh data dir; stopped at teardown."""
    server = neo4j_factory("neo4j")
    server.start(new_port_on_clash=True)
    return server
