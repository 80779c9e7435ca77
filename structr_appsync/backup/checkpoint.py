"""The checkpoint asked of Neo4j before a backup stops it: the one place appsync talks Bolt.

While the services still run, ``CALL db.checkpoint()`` flushes the page cache, so the checkpoint Neo4j takes on
shutdown (inside the downtime) has little left to write. It is an optimisation: when the `neo4j` driver is not
installed (``pip install 'structr-appsync[neo4j]'``), Neo4j cannot be reached or the call fails, the backup goes
on without it and says why in the log.
"""

from __future__ import annotations

import importlib
import logging
import time
from typing import Any

from structr_appsync.config import BackupConfig, BoltConfig, read_secret

logger = logging.getLogger(__name__)

DEFAULT_PASSWORD_ENV = "NEO4J_PASSWORD"
_NOT_FOUND = "Neo.ClientError.Procedure.ProcedureNotFound"  # Neo4j 5 Community has no db.checkpoint()


def _auth(bolt: BoltConfig) -> tuple[str, str] | None:
    if bolt.user is None:
        return None
    password = read_secret(
        bolt.password_file,
        bolt.password_env or DEFAULT_PASSWORD_ENV,
        where="backup.bolt",
        what="Neo4j's Bolt user",
    )
    return bolt.user, password


def _driver_module() -> Any:
    try:
        return importlib.import_module("neo4j")
    except ImportError:
        return None


def before_stop(config: BackupConfig) -> float | None:
    """Run the pre-stop checkpoint if configured; return its seconds, or None when none was taken.

    Raises:
        ConfigError: when a Bolt user is configured but its password is missing or readable by others.
    """
    bolt = config.bolt
    if bolt is None or not bolt.checkpoint_before_stop:
        return None
    auth = _auth(bolt)
    driver_module = _driver_module()
    if driver_module is None:
        logger.warning("no pre-stop checkpoint: the neo4j driver is missing (pip install 'structr-appsync[neo4j]')")
        return None
    logger.info("Asking Neo4j for a checkpoint before the stop...")
    began = time.monotonic()
    try:
        with driver_module.GraphDatabase.driver(bolt.uri, auth=auth, connection_timeout=10.0) as driver:
            driver.execute_query("CALL db.checkpoint()")
    except Exception as exc:  # noqa: BLE001 - any driver failure only costs the optimisation, never the backup
        if getattr(exc, "code", None) == _NOT_FOUND:
            logger.warning("no pre-stop checkpoint: this Neo4j has no db.checkpoint() (Community edition lacks it)")
        else:
            logger.warning("no pre-stop checkpoint: %s", exc)
        return None
    took = time.monotonic() - began
    logger.info("Pre-stop checkpoint took %.2fs", took)
    return took
