"""Start, stop, fault and drive an emulator process from tests (the contract other test modules use)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import select
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN = ("admin", "admin")
START_TIMEOUT = 30.0
STATE_DIRS = ("db", "files")


class EmulatorError(RuntimeError):
    """The emulator process failed to start or a harness call failed."""


def _check(response: requests.Response, what: str) -> requests.Response:
    if response.status_code >= 400:
        raise EmulatorError(f"{what}: HTTP {response.status_code}: {response.text[:500]}")
    return response


class Emulator:
    """One emulator process on 127.0.0.1 with its data directory."""

    def __init__(
        self,
        data_dir: Path,
        *,
        version: str = "6.1.0",
        superuser_password: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        build: str | None = None,
        deploy_delay: float = 0.0,
        flush_interval: float = 0.2,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = Path(data_dir)
        self.version = version
        self.superuser_password = superuser_password
        self.host = host
        self.port = port
        self.build = build
        self.deploy_delay = deploy_delay
        self.flush_interval = flush_interval
        self.extra_args = extra_args
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: Any = None

    # -- process ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Spawn the process and wait for its `listening on` line; a restart reuses the same port."""
        if self.is_running():
            return
        cmd = [sys.executable, "-m", "tests.structr_emulator", "--data-dir", str(self.data_dir), "--host", self.host,
               "--port", str(self.port), "--version", self.version, "--deploy-delay", str(self.deploy_delay),
               "--flush-interval", str(self.flush_interval), *self.extra_args]  # fmt: skip
        env = dict(os.environ)
        env.pop("STRUCTR_EMULATOR_SUPERUSER_PASSWORD", None)
        if self.superuser_password is not None:
            env["STRUCTR_EMULATOR_SUPERUSER_PASSWORD"] = self.superuser_password  # not in argv
        if self.build is not None:
            env["STRUCTR_EMULATOR_BUILD"] = self.build
        else:
            env.pop("STRUCTR_EMULATOR_BUILD", None)
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        process = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=self._stderr)
        self._process = process
        line = self._read_line(process)
        if not line.startswith("listening on "):
            process.wait(timeout=10)
            self._stderr.seek(0)
            error = self._stderr.read().decode(errors="replace")
            self._process = None
            raise EmulatorError(f"emulator did not start (exit {process.returncode}): {line}{error}".strip())
        self.url = line.split(" ", 2)[2].strip()
        self.port = int(self.url.rsplit(":", 1)[1])

    @staticmethod
    def _read_line(process: subprocess.Popen[bytes]) -> str:
        assert process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        buffer = b""
        while time.monotonic() < deadline and not buffer.endswith(b"\n"):
            ready, _, _ = select.select([process.stdout], [], [], 0.1)
            if ready:
                chunk = os.read(process.stdout.fileno(), 1024)
                if not chunk:
                    break
                buffer += chunk
            elif process.poll() is not None:
                break
        return buffer.decode(errors="replace")

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, wait up to `timeout` seconds, then SIGKILL."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout)
        if process.stdout is not None:
            process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        self._process = None

    def kill(self) -> None:
        """SIGKILL without a final flush (a crash)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
        self.stop()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- faults and control -----------------------------------------------------------------------
    def _control(self, method: str, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = requests.request(method, f"{self.url}/_emulator/{name}", json=body, timeout=30)
        return dict(_check(response, f"control {name}").json())

    def set_fault(self, kind: str, **params: Any) -> None:
        """Kinds: status(code, path, count), hang(seconds, path, count), drop_zip, truncate_zip,
        noop_deploy, slow_deploy(seconds), shuffle_order(enabled)."""
        self._control("POST", "faults", {"kind": kind, **params})

    def clear_faults(self) -> None:
        self._control("DELETE", "faults")

    def flush(self) -> None:
        """Make the journal write pending state now."""
        self._control("POST", "flush")

    def journal(self, **params: Any) -> dict[str, Any]:
        """Control the state writer: paused=True/False, hold_after="<part>", release=True."""
        return self._control("POST", "journal", params)

    def status(self) -> dict[str, Any]:
        return self._control("GET", "status")

    # -- HTTP as admin ----------------------------------------------------------------------------
    def rest(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Request `url + path` with admin X-User/X-Password headers (overridable via headers=)."""
        headers = {"X-User": ADMIN[0], "X-Password": ADMIN[1], **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", 120)
        return requests.request(method, self.url + path, headers=headers, **kwargs)

    def import_dir(self, export_dir: Path) -> None:
        """Zip the folder (one top folder) and POST it to /structr/deploy with mode=app."""
        payload = zip_dir(Path(export_dir))
        response = self.rest(
            "POST", "/structr/deploy", files={"file": (f"{Path(export_dir).name}.zip", payload, "application/zip")},
            data={"mode": "app"},
        )  # fmt: skip
        _check(response, f"import of {export_dir}")

    def export_dir(self, dest: Path, name: str = "webapp") -> Path:
        """GET /structr/deploy?name=<name>, unzip into `dest`, return dest/<name>."""
        response = _check(self.rest("GET", "/structr/deploy", params={"name": name}), "export")
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            archive.extractall(dest)
        return dest / name

    def state_digest(self) -> str:
        """SHA-256 over db/*.json (without the `generation` counter) and files/**; flushes first if running.

        run/heartbeat, logs/ and store_lock are not state and are left out.
        """
        if self.is_running():
            self.flush()
        digest = hashlib.sha256()
        for folder in STATE_DIRS:
            root = self.data_dir / folder
            for path in sorted(root.rglob("*")) if root.is_dir() else []:
                if not path.is_file():
                    continue
                data = path.read_bytes()
                if folder == "db":
                    loaded = json.loads(data)
                    loaded.pop("generation", None)
                    data = json.dumps(loaded, sort_keys=True).encode()
                digest.update(path.relative_to(self.data_dir).as_posix().encode() + b"\0" + data + b"\0")
        return digest.hexdigest()

    # -- editing like a user in the UI ------------------------------------------------------------
    def _result(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        return _check(self.rest(method, path, **kwargs), what).json()["result"]

    def _find(self, type_name: str, what: str, **filters: str) -> dict[str, Any]:
        found = self._result("GET", f"/structr/rest/{type_name}", what, params=filters)
        if not found:
            raise EmulatorError(f"{what}: no {type_name} with {filters}")
        return dict(found[0])

    def create_page(self, name: str, html: str | None = None) -> str:
        body: dict[str, Any] = {"name": name}
        if html is not None:
            body["html"] = html
        return str(self._result("POST", "/structr/rest/Page", f"create page {name}", json=body)[0])

    def set_page_content(self, name: str, html: str) -> None:
        page = self._find("Page", f"page {name}", name=name)
        self._result("PUT", f"/structr/rest/Page/{page['id']}", f"change page {name}", json={"html": html})

    def page_html(self, name: str) -> str:
        page = self._find("Page", f"page {name}", name=name)
        return str(self._result("GET", f"/structr/rest/Page/{page['id']}", "page")["html"])

    def delete_page(self, name: str) -> None:
        page = self._find("Page", f"page {name}", name=name)
        self._result("DELETE", f"/structr/rest/Page/{page['id']}", f"delete page {name}")

    def add_schema_type(self, name: str) -> str:
        return str(self._result("POST", "/structr/rest/SchemaNode", f"add type {name}", json={"name": name})[0])

    def remove_schema_type(self, name: str) -> None:
        node = self._find("SchemaNode", f"type {name}", name=name)
        self._result("DELETE", f"/structr/rest/SchemaNode/{node['id']}", f"remove type {name}")

    def add_schema_method(self, type_name: str, method: str, source: str) -> None:
        node = self._find("SchemaNode", f"type {type_name}", name=type_name)
        existing = self._result(
            "GET", "/structr/rest/SchemaMethod", "methods", params={"schemaNode": node["id"], "name": method}
        )
        if existing:
            self._result("PUT", f"/structr/rest/SchemaMethod/{existing[0]['id']}", "change method",
                         json={"source": source})  # fmt: skip
        else:
            self._result("POST", "/structr/rest/SchemaMethod", "add method",
                         json={"schemaNode": node["id"], "name": method, "source": source})  # fmt: skip

    def remove_schema_method(self, type_name: str, method: str) -> None:
        node = self._find("SchemaNode", f"type {type_name}", name=type_name)
        found = self._find("SchemaMethod", f"method {method}", schemaNode=node["id"], name=method)
        self._result("DELETE", f"/structr/rest/SchemaMethod/{found['id']}", "remove method")

    def file_info(self, virtual_path: str) -> dict[str, Any] | None:
        found = self._result("GET", "/structr/rest/AbstractFile", "file lookup", params={"path": virtual_path})
        return dict(found[0]) if found else None

    def upload_file(self, virtual_path: str, content: bytes) -> str:
        """Create missing folders (top folder flagged includeInFrontendExport) and upload or replace."""
        parts = [part for part in virtual_path.split("/") if part]
        parent_id: str | None = None
        for depth, folder in enumerate(parts[:-1]):
            path = "/" + "/".join(parts[: depth + 1])
            info = self.file_info(path)
            if info is None:
                body = {"name": folder, "parentId": parent_id, "includeInFrontendExport": depth == 0}
                parent_id = str(self._result("POST", "/structr/rest/Folder", f"folder {path}", json=body)[0])
            else:
                parent_id = str(info["id"])
        existing = self.file_info("/" + "/".join(parts))
        data: dict[str, str] = {"uuid": existing["id"]} if existing else {"name": parts[-1]}
        if not existing and parent_id:
            data["parent"] = parent_id
        if not existing and len(parts) == 1:
            data["properties"] = json.dumps({"includeInFrontendExport": True})
        response = self.rest("POST", "/structr/upload", files={"file": (parts[-1], content)}, data=data)
        return str(_check(response, f"upload {virtual_path}").json()["uuid"])

    def delete_file(self, virtual_path: str) -> None:
        info = self.file_info(virtual_path)
        if info is None:
            raise EmulatorError(f"no file {virtual_path}")
        self._result("DELETE", f"/structr/rest/AbstractFile/{info['id']}", f"delete {virtual_path}")

    def set_grant(self, signature: str, flags: int) -> None:
        found = self._result("GET", "/structr/rest/ResourceAccess", "grants", params={"signature": signature})
        if found:
            self._result("PUT", f"/structr/rest/ResourceAccess/{found[0]['id']}", "grant", json={"flags": flags})
        else:
            self._result("POST", "/structr/rest/ResourceAccess", "grant", json={"signature": signature, "flags": flags})

    def move_schema_box(self, type_name: str) -> None:
        """Drag a type's box in the schema editor: its layout coordinates change (UI state only)."""
        found = self._result(
            "GET", "/structr/rest/ApplicationConfigurationDataNode", "layouts", params={"configType": "layout"}
        )
        layout: dict[str, Any] = json.loads(found[0]["content"]) if found else {"_version": 2, "positions": {}}
        layout.setdefault("positions", {})[type_name] = {
            "top": round(random.uniform(0, 900), 1),
            "left": round(random.uniform(0, 1600), 1),
        }
        content = json.dumps(layout, separators=(",", ":"))
        if found:
            self._result("PUT", f"/structr/rest/ApplicationConfigurationDataNode/{found[0]['id']}", "move box",
                         json={"content": content})  # fmt: skip
        else:
            self._result("POST", "/structr/rest/ApplicationConfigurationDataNode", "move box",
                         json={"configType": "layout", "name": "layout", "content": content})  # fmt: skip


_ZIP_CACHE: dict[tuple[Any, ...], bytes] = {}


def zip_dir(folder: Path) -> bytes:
    """ZIP `folder` with `folder.name/` as its single top-level directory (cached while unchanged)."""
    stats = tuple((p.as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")))
    key = (folder.resolve().as_posix(), stats)
    if key not in _ZIP_CACHE:
        if len(_ZIP_CACHE) > 8:
            _ZIP_CACHE.clear()
        _ZIP_CACHE[key] = _zip(folder)
    return _ZIP_CACHE[key]


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr(folder.name + "/", b"")
        for path in sorted(folder.rglob("*")):
            arcname = f"{folder.name}/{path.relative_to(folder).as_posix()}"
            if path.is_dir():
                archive.writestr(arcname + "/", b"")
            else:
                archive.write(path, arcname)
    return buffer.getvalue()


def running_emulator(
    data_dir: Path, *, version: str = "6.1.0", superuser_password: str | None = None, **options: Any
) -> Emulator:
    """Return a started emulator on `data_dir`; the caller stops it (or uses `with`)."""
    emulator = Emulator(data_dir, version=version, superuser_password=superuser_password, **options)
    emulator.start()
    return emulator
