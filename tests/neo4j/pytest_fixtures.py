"""pytest fixtures for a real Neo4j server (registered through pytest_plugins in tests/conftest.py).

neo4j_server: a started server on a fresh data dir under tmp_path, stopped at teardown.
neo4j_factory: makes more (unstarted) servers; every one of them is stopped at teardown.
Both skip with the reason when Neo4j cannot run here (and fail instead in CI).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.neo4j.harness import (
    NEO4J_VERSION,
    REQUIRE_NEO4J,
    Neo4jServer,
    distribution_dir,
    is_provisioned,
    neo4j_available,
    provision,
)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Fetch Neo4j before the first test, in sight, when the run may need it and it is not there yet.

    Done inside a test it would be two silent minutes; here the user sees what is downloaded and where. Runs in
    the main process only (pytest-xdist workers would fetch it twice, and their output is not shown)."""
    config = session.config
    if hasattr(config, "workerinput") or is_provisioned() or os.environ.get("APPSYNC_NEO4J_NO_PROVISION") == "1":
        return
    selection = str(config.getoption("markexpr", "") or "")
    if "not slow" in selection or "not neo4j" in selection:
        return  # the fast subset runs no real Neo4j
    capture = config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        sys.stderr.write(
            f"\nappsync tests: fetching Neo4j {NEO4J_VERSION} once from Maven Central into {distribution_dir()} "
            "(about 230 MB, plus about 145 MB in Maven's ~/.m2); later runs reuse it\n"
        )
        ok, message = provision(visible=True)
        sys.stderr.write(f"appsync tests: {'Neo4j ready' if ok else 'Neo4j not provisioned: ' + message}\n")


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
