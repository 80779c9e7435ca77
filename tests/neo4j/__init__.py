"""A real Neo4j server for tests: provisioning, a process harness, shell controls, fixtures."""

from __future__ import annotations

from tests.neo4j.harness import (
    Neo4jHarnessError,
    Neo4jServer,
    bolt_ready,
    count_nodes,
    neo4j_available,
    store_lock_holder,
    store_lock_is_free,
    store_lock_path,
    write_nodes,
)

__all__ = [
    "Neo4jHarnessError",
    "Neo4jServer",
    "bolt_ready",
    "count_nodes",
    "neo4j_available",
    "store_lock_holder",
    "store_lock_is_free",
    "store_lock_path",
    "write_nodes",
]
