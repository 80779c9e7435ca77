"""The Structr client: the only module that speaks HTTP (requests), with Structr's quirks handled.

Structr reports several failures as HTTP 200 (structr-api.md §1.1, §8): an export whose ZIP is empty or cut off,
a deployment that was silently skipped because another one runs, an import precondition that failed. Every
method here checks for those and raises from the ServerError family instead of returning quietly.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import requests

from structr_appsync import __version__
from structr_appsync.config import LoadedConfig, Timeouts, resolve_password, resolve_user
from structr_appsync.errors import (
    AuthError,
    DeploymentFailed,
    DeployServletMissing,
    ExportInvalid,
    ServerError,
    ServerUnavailable,
)
from structr_appsync.exporttree import extract_export_zip
from structr_appsync.exportzip import zip_folder

logger = logging.getLogger(__name__)

DEPLOY_SERVLET = "/structr/deploy"
MAINTENANCE_DEPLOY = "/structr/rest/maintenance/deploy"
MAINTENANCE_DEPLOY_DATA = "/structr/rest/maintenance/deployData"
ENV_RESOURCE = "/structr/rest/_env"
HEALTH_READY = "/structr/health/ready"
EXPORT_NAME = "webapp"
NO_DEPLOY_SERVLET = (
    'this Structr does not serve /structr/deploy (Structr 5.2 Community does not); set transfer = "path"'
)
_CHUNK = 1024 * 1024
_BODY_PREVIEW = 200


def _trim(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _BODY_PREVIEW else line[:_BODY_PREVIEW] + "..."


def _error_text(response: requests.Response) -> str:
    """Pull the human message out of Structr's JSON envelope, its `{"code","error"}` form or a text body."""
    try:
        body = response.json()
    except ValueError:
        return _trim(response.text or "")
    if isinstance(body, dict):
        for key in ("message", "error", "result"):
            if body.get(key):
                value = body[key]
                return _trim(value if isinstance(value, str) else json.dumps(value))
    return _trim(json.dumps(body))


def _connection_problem(exc: requests.ConnectionError) -> str:
    """Why the connection failed, in a few words (requests nests the reason several exceptions deep)."""
    text = str(exc)
    for marker, words in (
        ("Connection refused", "connection refused (nothing listens on that port)"),
        ("NameResolution", "the host name does not resolve"),
        ("Name or service not known", "the host name does not resolve"),
        ("Connection reset", "the connection was reset"),
        ("RemoteDisconnected", "the server closed the connection without answering"),
        ("SSLError", "TLS failed"),
        ("No route to host", "no route to the host"),
    ):
        if marker in text or marker in type(exc).__name__:
            return words
    return type(exc).__name__


_PRINCIPAL_TYPES = ("User", "Group")
_PRINCIPAL_PAGE_SIZE = 1000


class StructrClient:
    """A session against one Structr instance, authenticated per request with X-User/X-Password."""

    def __init__(self, *, url: str, user: str, password: str | None, timeouts: Timeouts) -> None:
        """Without a password (``None``) requests go out without credentials (for probing only)."""
        self.url = url.rstrip("/")
        self.user = user
        self.timeouts = timeouts
        self._session = requests.Session()
        self._session.headers["User-Agent"] = f"structr-appsync/{__version__}"
        if password is not None:
            self._session.headers.update({"X-User": user, "X-Password": password})

    @classmethod
    def for_env(cls, loaded: LoadedConfig, env_name: str) -> StructrClient:
        """Build a client for `[env.<env_name>]`, resolving user and password (never from argv).

        Raises:
            ConfigError: when the environment or its password source is missing.
        """
        name, env = loaded.environment(env_name)
        return cls(url=env.url, user=resolve_user(env), password=resolve_password(env, name), timeouts=env.timeouts)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, read_timeout: float | None = None, stream: bool = False, **kwargs: Any
    ) -> requests.Response:
        target = self.url + path
        timeout = (self.timeouts.connect, read_timeout or self.timeouts.request)
        logger.debug("%s %s", method, target)
        try:
            response = self._session.request(method, target, timeout=timeout, stream=stream, **kwargs)
        except requests.Timeout as exc:
            raise ServerUnavailable(
                f"Structr at {self.url} did not answer {method} {path} within {timeout[1]:g}s",
                url=self.url,
                hint="check that Structr is running, or raise the timeouts in appsync.toml",
            ) from exc
        except requests.ConnectionError as exc:
            raise ServerUnavailable(
                f"cannot reach Structr at {self.url}: {_connection_problem(exc)}",
                url=self.url,
                hint="check env.<name>.url in appsync.toml and that Structr is running",
            ) from exc
        except requests.RequestException as exc:
            raise ServerError(f"request to {target} failed: {exc}", url=self.url) from exc
        self._raise_for_status(response, method, path)
        return response

    def _raise_for_status(self, response: requests.Response, method: str, path: str) -> None:
        status = response.status_code
        if status < 400:
            return
        text = _error_text(response)
        response.close()
        if status in (401, 403):
            raise AuthError(
                f"Structr refused {self.user!r} ({status}: {text or 'access denied'})",
                url=self.url,
                status=status,
                hint="appsync needs an admin user: check the user and its password variable or file",
            )
        if status == 503:
            raise ServerUnavailable(
                f"Structr at {self.url} is not ready (503 on {path}); a deployment may be running",
                url=self.url,
                status=status,
                hint="wait for the running deployment to finish and try again",
            )
        if status == 404 and path == DEPLOY_SERVLET and self._env_answers():
            raise DeployServletMissing(
                NO_DEPLOY_SERVLET,
                url=self.url,
                status=status,
                hint="and set path_transfer.server_dir (and local_dir if Structr runs on another host): README, "
                "Structr versions",
            )
        if status == 404 and path in (DEPLOY_SERVLET, MAINTENANCE_DEPLOY, MAINTENANCE_DEPLOY_DATA, ENV_RESOURCE):
            # Every Structr has these: a 404 means the URL does not lead to Structr's base.
            raise ServerError(
                f"{self.url} answered {method} {path} with 404: is this Structr's base URL?",
                url=self.url,
                status=status,
                hint="set env.<name>.url in appsync.toml to Structr's base URL, e.g. http://localhost:8082 (no path)",
            )
        raise ServerError(f"Structr answered {method} {path} with {status}: {text}", url=self.url, status=status)

    def _quiet_status(self, path: str) -> int | None:
        """The status of a plain GET of ``path``, None when there is no answer (never raises)."""
        try:
            response = self._session.get(self.url + path, timeout=(self.timeouts.connect, self.timeouts.request))
        except requests.RequestException:
            return None
        response.close()
        return response.status_code

    def _env_answers(self) -> bool:
        """True when `_env` answers with anything but 404 (so the URL does lead to a Structr)."""
        return self._quiet_status(ENV_RESOURCE) not in (None, 404)

    # -- information ----------------------------------------------------------------------------------------

    def probe(self) -> None:
        """Check reachability and admin rights with `GET /structr/deploy?mode=test` (200, empty body).

        Raises:
            ServerUnavailable: when Structr does not answer; AuthError when the credentials are refused.
        """
        self._request("GET", DEPLOY_SERVLET, params={"mode": "test", "name": EXPORT_NAME}).close()

    def env_info(self) -> dict[str, Any]:
        """Return `GET /structr/rest/_env` (the `result` object of the envelope)."""
        response = self._request("GET", ENV_RESOURCE)
        try:
            body = response.json()
        except ValueError as exc:
            raise ServerError(f"{ENV_RESOURCE} did not return JSON", url=self.url) from exc
        result = body.get("result", body) if isinstance(body, dict) else body
        if isinstance(result, list) and result and isinstance(result[0], dict):
            result = result[0]
        return result if isinstance(result, dict) else {}

    def structr_version(self) -> str | None:
        """Return Structr's version as `_env` reports it, or None when it cannot be told."""
        try:
            info = self.env_info()
        except ServerError:
            return None
        components = info.get("components")
        if isinstance(components, dict):
            entry = components.get("structr")
            if isinstance(entry, dict) and entry.get("version"):
                return str(entry["version"])
        version = info.get("version")
        return str(version) if version else None

    def is_deployment_active(self) -> bool:
        """Return True while Structr runs a deployment (`/structr/health/ready` answers 503)."""
        return self._quiet_status(HEALTH_READY) == 503

    def wait_ready(self, timeout: float) -> None:
        """Poll `/structr/health/ready` until it answers 200.

        Raises:
            ServerUnavailable: when it does not within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        last = "no answer"
        while True:
            try:
                response = self._session.get(
                    self.url + HEALTH_READY, timeout=(self.timeouts.connect, self.timeouts.request)
                )
                response.close()
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}"
            except requests.RequestException as exc:
                last = type(exc).__name__
            if time.monotonic() >= deadline:
                raise ServerUnavailable(
                    f"Structr at {self.url} was not ready after {timeout:g}s ({last})", url=self.url
                )
            time.sleep(0.5)

    def list_page(
        self, type_name: str, *, page: int, page_size: int, properties: tuple[str, ...], sort: str = "id"
    ) -> list[dict[str, Any]]:
        """One page of `GET /structr/rest/<type>`, sorted, in a custom view with only ``properties``.

        Raises:
            ServerError: when the answer is not Structr's JSON envelope with a `result` list.
        """
        path = f"/structr/rest/{type_name}"
        response = self._request(
            "GET",
            path,
            params={"_page": str(page), "_pageSize": str(page_size), "_sort": sort, "_order": "asc"},
            headers={"Accept": "application/json; properties=" + ",".join(properties)},
        )
        try:
            body = response.json()
        except ValueError as exc:
            raise ServerError(f"GET {path} did not return JSON", url=self.url) from exc
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, list) or not all(isinstance(item, dict) for item in result):
            raise ServerError(f"GET {path} did not return a list of objects in `result`", url=self.url)
        return result

    def count(self, type_name: str) -> int:
        """How many nodes of ``type_name`` there are (`result_count` of a one-item page).

        Raises:
            ServerError: when the answer has no integer `result_count`.
        """
        path = f"/structr/rest/{type_name}"
        response = self._request("GET", path, params={"_pageSize": "1", "_page": "1"})
        try:
            body = response.json()
        except ValueError as exc:
            raise ServerError(f"GET {path} did not return JSON", url=self.url) from exc
        count = body.get("result_count") if isinstance(body, dict) else None
        if not isinstance(count, int) or isinstance(count, bool):
            raise ServerError(f"GET {path} did not return a result_count", url=self.url)
        return count

    # -- zip transfer ---------------------------------------------------------------------------------------

    def download_export(self, dest: Path) -> Path:
        """Run an export with `GET /structr/deploy?name=webapp`, stream the ZIP to disk and extract it in ``dest``.

        Returns the extracted export folder (the ZIP's single top folder).

        Raises:
            ExportInvalid: empty, truncated or malformed ZIP (Structr answers 200 even when its export failed).
            ServerUnavailable / AuthError / ServerError: as for every request.
        """
        dest.mkdir(parents=True, exist_ok=True)
        zip_path = dest / "export.zip"
        response = self._request(
            "GET",
            DEPLOY_SERVLET,
            params={"name": EXPORT_NAME, "mode": "app"},
            read_timeout=self.timeouts.deploy,
            stream=True,
        )
        expected = response.headers.get("Content-Length")
        received = 0
        try:
            with zip_path.open("wb") as handle:
                for chunk in response.iter_content(chunk_size=_CHUNK):
                    handle.write(chunk)
                    received += len(chunk)
        except requests.Timeout as exc:
            raise ServerUnavailable(
                f"Structr at {self.url} stopped sending the export (timeout after {self.timeouts.deploy:g}s)",
                url=self.url,
            ) from exc
        except requests.RequestException as exc:
            raise ExportInvalid(
                f"the export download from {self.url} was cut off after {received} bytes ({type(exc).__name__})",
                url=self.url,
                hint="look at Structr's server log; the export itself may have failed",
            ) from exc
        finally:
            response.close()
        if expected is not None and expected.isdigit() and int(expected) != received:
            raise ExportInvalid(
                f"the export download from {self.url} is truncated ({received} of {expected} bytes)", url=self.url
            )
        if received == 0:
            raise ExportInvalid(
                f"Structr at {self.url} answered the export with an empty body (HTTP {response.status_code})",
                url=self.url,
                hint="Structr reports export failures only in its log; look there",
            )
        try:
            folder = extract_export_zip(zip_path, dest / "unzipped")
        finally:
            zip_path.unlink(missing_ok=True)
        return folder

    def upload_import(self, export_dir: Path, *, mode: str = "app") -> None:
        """Import a folder with a multipart `POST /structr/deploy` (a ZIP with exactly one top folder).

        Raises:
            DeploymentFailed: when Structr rejects the import (422 `{"code","error"}` or 400 text).
            ServerUnavailable / AuthError: as for every request.
        """
        with tempfile.TemporaryDirectory(prefix="appsync-upload-") as tmp:
            zip_path = Path(tmp) / f"{EXPORT_NAME}.zip"
            zip_folder(export_dir, zip_path, top=EXPORT_NAME)
            with zip_path.open("rb") as handle:
                try:
                    response = self._request(
                        "POST",
                        DEPLOY_SERVLET,
                        read_timeout=self.timeouts.deploy,
                        files={"file": (zip_path.name, handle, "application/zip")},
                        data={"mode": mode},
                    )
                except ServerError as exc:
                    if type(exc) is ServerError and exc.status in (400, 422):
                        raise DeploymentFailed(
                            f"Structr refused the import: {exc.message.split(': ', 1)[-1]}",
                            url=self.url,
                            status=exc.status,
                        ) from exc
                    raise
            response.close()

    # -- nodes the import checks or cleans up ------------------------------------------------------------------

    def principal_kinds(self) -> dict[str, list[str]]:
        """Return principal name -> the types holding it (e.g. ``["User"]``), from `GET /structr/rest/User`, `/Group`.

        A name listed twice is ambiguous: Structr drops such owners and grantees on import (structr-api.md §3.5).

        Raises:
            ServerError: from the ServerError family, as for every request.
        """
        kinds: dict[str, list[str]] = {}
        for type_name in _PRINCIPAL_TYPES:
            page = 1
            while True:
                response = self._request(
                    "GET",
                    f"/structr/rest/{type_name}",
                    params={"_page": page, "_pageSize": _PRINCIPAL_PAGE_SIZE},
                    headers={"Accept": "application/json; properties=id,type,name"},
                )
                try:
                    body = response.json()
                except ValueError as exc:
                    raise ServerError(f"/structr/rest/{type_name} did not return JSON", url=self.url) from exc
                finally:
                    response.close()
                result = body.get("result") if isinstance(body, dict) else None
                items = result if isinstance(result, list) else []
                for item in items:
                    if isinstance(item, dict) and isinstance(item.get("name"), str):
                        kinds.setdefault(item["name"], []).append(type_name)
                if len(items) < _PRINCIPAL_PAGE_SIZE:
                    break
                page += 1
        return kinds


    def delete_node(self, type_name: str, node_id: str) -> bool:
        """Delete one node with `DELETE /structr/rest/<type>/<uuid>`; return False when it is already gone (404).

        Raises:
            ServerError: from the ServerError family for any other failure.
        """
        try:
            self._request("DELETE", f"/structr/rest/{type_name}/{node_id}").close()
        except ServerError as exc:
            if type(exc) is ServerError and exc.status == 404:
                return False
            raise
        return True

    # -- path transfer (maintenance/deploy) -----------------------------------------------------------------

    def _maintenance(self, path: str, body: dict[str, str]) -> None:
        try:
            response = self._request("POST", path, read_timeout=self.timeouts.deploy, json=body)
        except ServerError as exc:
            # 422 is a refused precondition (5.2.x answers import preconditions this way; 6.x uses 200, below).
            if type(exc) is ServerError and exc.status == 422:
                raise DeploymentFailed(
                    f"Structr refused the {body.get('mode')}: {exc.message.split(': ', 1)[-1]}",
                    url=self.url,
                    status=exc.status,
                ) from exc
            raise
        try:
            payload = response.json()
        except ValueError:
            payload = None
        finally:
            response.close()
        result = payload.get("result") if isinstance(payload, dict) else None
        # 6.x answers 200 even for failures: success needs an `end`/`duration` header and an empty result.
        if not (response.headers.get("end") or response.headers.get("duration")):
            detail = f": {_trim(json.dumps(result))}" if result else ""
            started = "started but did not finish" if response.headers.get("start") else "did nothing"
            raise DeploymentFailed(
                f"Structr's {body.get('mode')} {started} (HTTP 200 without an end header){detail}",
                url=self.url,
                status=response.status_code,
                hint="another deployment may be running, or the path is wrong; see Structr's log",
            )
        if result not in (None, [], ""):
            raise DeploymentFailed(f"Structr's {body.get('mode')} reported: {_trim(json.dumps(result))}", url=self.url)

    def deploy_export_to(self, server_path: str) -> None:
        """Export into an absolute directory on the server (`maintenance/deploy`, mode export)."""
        self._maintenance(MAINTENANCE_DEPLOY, {"mode": "export", "target": server_path})

    def deploy_import_from(self, server_path: str, *, extend: bool = False) -> None:
        """Import from an absolute directory on the server (`maintenance/deploy`, mode import)."""
        body = {"mode": "import", "source": server_path}
        if extend:
            body["extendExistingApp"] = "true"
        self._maintenance(MAINTENANCE_DEPLOY, body)


# -- plain HTTP for the backup runner ---------------------------------------------------------------------
# Health probes and monitoring pings carry no Structr credentials, but they still go through this module so
# that every HTTP request appsync makes has one gateway (timeouts, User-Agent, error mapping).

_PLAIN_HEADERS = {"Accept": "application/json", "User-Agent": f"structr-appsync/{__version__}"}


def plain_get(url: str, *, timeout: float, max_body: int = 65536) -> tuple[int, str]:
    """GET ``url`` without credentials; return the status code and the start of the body.

    Raises:
        ServerUnavailable: when nothing answers in time or the URL cannot be used.
    """
    try:
        with requests.get(url, timeout=timeout, headers=_PLAIN_HEADERS, stream=True) as response:
            body = response.raw.read(max_body, decode_content=True) or b""
            return response.status_code, body.decode("utf-8", "replace")
    except (requests.RequestException, ValueError) as exc:
        raise ServerUnavailable(f"{url}: {type(exc).__name__}", url=url) from exc


def plain_post_text(url: str, text: str, *, timeout: float) -> int:
    """POST a short text body to ``url`` (a monitoring ping); return the status code.

    Raises:
        ServerUnavailable: when nothing answers in time or the URL cannot be used.
    """
    try:
        response = requests.post(
            url, data=text.encode("utf-8"), timeout=timeout, headers={**_PLAIN_HEADERS, "Content-Type": "text/plain"}
        )
    except (requests.RequestException, ValueError) as exc:
        raise ServerUnavailable(f"{url}: {type(exc).__name__}", url=url) from exc
    response.close()
    return response.status_code
