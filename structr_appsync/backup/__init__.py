"""Cold backups of the Neo4j data directory and the Structr directory, with list, verify, prune and restore."""

from __future__ import annotations

from structr_appsync.backup.recovery import recover_on_startup, recover_stopped_services, restart_left_stopped_once

__all__ = ["recover_on_startup", "recover_stopped_services", "restart_left_stopped_once"]
