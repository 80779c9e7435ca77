"""The emulator's database: in-memory state, persisted under DIR by a periodic, non-atomic writer.

Layout under the data directory:
  db/meta.json, db/app.json, db/principals.json, db/files.json, db/data.json   state parts, each with `generation`
  files/<u0>/<u1>/<u2>/<u3>/<uuid>                                           binary contents (written at once)
  logs/server.log                                                            the server log
  run/heartbeat                                                              touched by the writer (not state)
  store_lock                                                                 exclusive fcntl lock of the process

The writer thread writes the parts one after the other with plain open/write (no rename), like a database
that flushes several store files. A copy of DIR taken while it runs can therefore hold parts of different
generations, or a file node whose content was already deleted from files/ (deletes hit files/ at once).
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import logging
import os
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.structr_emulator import jsonfmt

logger = logging.getLogger(__name__)

PARTS = ("meta", "app", "principals", "files", "data")
_APP_LISTS = (
    "grants",
    "schema_grants",
    "cors",
    "mail_templates",
    "localizations",
    "widgets",
    "sites",
    "page_paths",
    "action_mappings",
    "parameter_mappings",
    "app_config",
)


class StoreLocked(RuntimeError):
    """Another emulator process holds the data directory."""


def new_uuid() -> str:
    """Return a UUID in Structr's default `without_dashes` format."""
    return uuid.uuid4().hex


def hash_password(password: str, salt: str) -> str:
    """Return the salted hash stored in a principal's `password` property (SHA-512 hex; inferred)."""
    return hashlib.sha512((password + salt).encode("utf-8")).hexdigest()


def empty_state() -> dict[str, Any]:
    app: dict[str, Any] = {name: [] for name in _APP_LISTS}
    app.update(
        {
            "schema": {"definitions": {}, "methods": []},
            "pages": {},
            "components": {},
            "templates": {},
            "modules": {
                "api-builder/virtual-types.json": "[]",
                "messaging-module/messaging-engine.json": "[]",
            },
        }
    )
    return {
        "meta": {"maintenance": False, "created": time.time()},
        "app": app,
        "principals": {"nodes": {}, "rels": []},
        "files": {"nodes": {}},
        "data": {"nodes": {}},
    }


class Store:
    """Thread-safe state with a dirty flag; `write_parts` persists it part by part."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.db_dir = data_dir / "db"
        self.files_dir = data_dir / "files"
        self.lock = threading.RLock()
        self.state: dict[str, Any] = empty_state()
        self.generation = 0
        self.written_generation = -1
        self._lock_handle: Any = None

    # -- process lock ---------------------------------------------------------------------------
    def acquire_process_lock(self) -> None:
        """Take the exclusive store lock, like Neo4j's store_lock. Raises StoreLocked if held."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        handle = (self.data_dir / "store_lock").open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            raise StoreLocked(f"data directory {self.data_dir} is locked by another emulator process") from exc
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_handle = handle

    def release_process_lock(self) -> None:
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle.fileno(), fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None

    # -- load / save ----------------------------------------------------------------------------
    def load_or_init(self) -> None:
        """Load the parts from db/, or create a fresh state with the initial admin user."""
        if not (self.db_dir / "meta.json").exists():
            self.create_principal("User", "admin", password="admin", is_admin=True)
            self.generation = 1
            self.write_parts()
            return
        generations = {}
        for part in PARTS:
            path = self.db_dir / f"{part}.json"
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                logger.warning("store part %s unreadable (%s); starting it empty", part, exc)
                continue
            generations[part] = loaded.pop("generation", 0)
            self.state[part] = loaded
        if len(set(generations.values())) > 1:
            logger.warning("store parts have different generations %s (copied while running?)", generations)
        self.generation = max(generations.values(), default=0)
        self.written_generation = self.generation

    def write_parts(self, *, between: Any = None) -> bool:
        """Write all parts if something changed. `between(part)` is called after each part (test hook)."""
        with self.lock:
            if self.generation == self.written_generation:
                return False
            generation = self.generation
            texts = {part: jsonfmt.dumps_state({"generation": generation, **self.state[part]}) for part in PARTS}
        self.db_dir.mkdir(parents=True, exist_ok=True)
        for part in PARTS:
            # Deliberately not atomic: open("w") truncates, then the text is written.
            with (self.db_dir / f"{part}.json").open("w", encoding="utf-8") as handle:
                handle.write(texts[part])
            if between is not None:
                between(part)
        self.written_generation = generation
        return True

    @contextlib.contextmanager
    def mutate(self) -> Iterator[dict[str, Any]]:
        """Hold the lock while changing state; the change is picked up by the next write."""
        with self.lock:
            yield self.state
            self.generation += 1

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self.state)

    # -- principals -----------------------------------------------------------------------------
    def create_principal(
        self, type_name: str, name: str, *, password: str | None = None, is_admin: bool = False, **extra: Any
    ) -> dict[str, Any]:
        node: dict[str, Any] = {
            "id": new_uuid(),
            "type": type_name,
            "name": name,
            "visibleToPublicUsers": False,
            "visibleToAuthenticatedUsers": False,
            "createdDate": _now_iso(),
        }
        if type_name == "User":
            node["isAdmin"] = is_admin
            node["eMail"] = extra.pop("eMail", None)
            if password is not None:
                salt = secrets.token_hex(16)
                node["salt"] = salt
                node["password"] = hash_password(password, salt)
        node.update(extra)
        with self.mutate() as state:
            state["principals"]["nodes"][node["id"]] = node
        return node

    def principals(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.state["principals"]["nodes"].values())

    def principal_names(self) -> dict[str, int]:
        """Return principal name -> number of principals with that name (ambiguity check)."""
        counts: dict[str, int] = {}
        for node in self.principals():
            counts[node.get("name") or ""] = counts.get(node.get("name") or "", 0) + 1
        return counts

    # -- binary contents ------------------------------------------------------------------------
    def blob_path(self, file_id: str) -> Path:
        """Return <files>/<u0>/<u1>/<u2>/<u3>/<uuid> (Structr's LocalFSStorageProvider layout)."""
        return self.files_dir / file_id[0] / file_id[1] / file_id[2] / file_id[3] / file_id

    def write_blob(self, file_id: str, content: bytes) -> None:
        path = self.blob_path(file_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    def read_blob(self, file_id: str) -> bytes | None:
        path = self.blob_path(file_id)
        return path.read_bytes() if path.exists() else None

    def delete_blob(self, file_id: str) -> None:
        # Empty parent directories stay, as with Structr.
        with contextlib.suppress(FileNotFoundError):
            self.blob_path(file_id).unlink()


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime())


class Journal(threading.Thread):
    """Background writer: persists dirty state and touches run/heartbeat every `interval` seconds."""

    def __init__(self, store: Store, interval: float) -> None:
        super().__init__(name="journal", daemon=True)
        self.store = store
        self.interval = interval
        self.stop_event = threading.Event()
        self.paused = threading.Event()
        self.hold_after: str | None = None
        self.release = threading.Event()
        self.held = threading.Event()
        self.flush_lock = threading.Lock()

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            if self.paused.is_set():
                continue
            self.flush()

    def flush(self) -> None:
        with self.flush_lock:
            heartbeat = self.store.data_dir / "run" / "heartbeat"
            heartbeat.parent.mkdir(parents=True, exist_ok=True)
            heartbeat.write_text(f"{os.getpid()} {time.time():.3f}\n")
            self.store.write_parts(between=self._between)

    def _between(self, part: str) -> None:
        if self.hold_after == part:
            self.hold_after = None
            self.held.set()
            self.release.wait(30)
            self.release.clear()
            self.held.clear()

    def stop(self) -> None:
        self.stop_event.set()
        self.release.set()
