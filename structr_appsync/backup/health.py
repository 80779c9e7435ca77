"""Health probes for the services a backup stops: HTTP GETs (through the HTTP gateway) and TCP connects.

This is the one place in the backup package that opens network connections. A probe never raises; it answers
whether the service is up. ``http(s)://`` URLs must answer 2xx; ``bolt://``, ``neo4j://`` and ``tcp://`` addresses
must accept a TCP connection. Monitoring pings (healthchecks.io style) live here too, for the same reason.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from structr_appsync import server
from structr_appsync.errors import ServerUnavailable

logger = logging.getLogger(__name__)

_TCP_SCHEMES = {"bolt": 7687, "neo4j": 7687, "tcp": None}
PROBE_TIMEOUT = 2.0
POLL_INTERVAL = 0.05


@dataclass(frozen=True)
class ProbeResult:
    up: bool
    detail: str
    body: str = ""


def probe(url: str, *, timeout: float = PROBE_TIMEOUT) -> ProbeResult:
    """Probe ``url`` once."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in _TCP_SCHEMES:
        port = parts.port or _TCP_SCHEMES[scheme]
        if parts.hostname is None or port is None:
            return ProbeResult(False, f"{url}: no host or port")
        try:
            with socket.create_connection((parts.hostname, port), timeout=timeout):
                return ProbeResult(True, f"{parts.hostname}:{port} accepts connections")
        except OSError as exc:
            return ProbeResult(False, f"{parts.hostname}:{port}: {exc.strerror or exc}")
    if scheme not in ("http", "https"):
        return ProbeResult(False, f"{url}: unsupported scheme {scheme!r}")
    try:
        status, body = server.plain_get(url, timeout=timeout)
    except ServerUnavailable as exc:
        return ProbeResult(False, str(exc))
    return ProbeResult(200 <= status < 300, f"HTTP {status}", body)


def listening(url: str) -> bool:
    """Whether anything still accepts TCP connections on the host and port of ``url``."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme.lower(), _TCP_SCHEMES.get(parts.scheme.lower()))
    port = parts.port or default
    if parts.hostname is None or port is None:
        return False
    try:
        with socket.create_connection((parts.hostname, port), timeout=PROBE_TIMEOUT):
            return True
    except OSError:
        return False


def wait_until(check: Callable[[], bool], *, timeout: float, interval: float = POLL_INTERVAL) -> bool:
    """Poll ``check`` until it is true or ``timeout`` seconds have passed; return the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def neo4j_version(url: str) -> str | None:
    """Neo4j's version from its HTTP discovery document (``GET /`` answers ``neo4j_version``), if reachable."""
    if not url.lower().startswith(("http://", "https://")):
        return None
    result = probe(url)
    if not result.up:
        return None
    try:
        version = json.loads(result.body).get("neo4j_version")
    except (ValueError, AttributeError):
        return None
    return str(version) if version else None


def ping(url: str | None, what: str, message: str = "") -> None:
    """Send a monitoring ping (POST with a short text body). Failures are logged, never raised."""
    if not url:
        return
    try:
        status = server.plain_post_text(url, message[:10000], timeout=10)
        logger.debug("monitoring %s ping: HTTP %s", what, status)
    except ServerUnavailable as exc:
        logger.warning("monitoring %s ping to %s failed: %s", what, _without_query(url), exc.__cause__ or exc)


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"
