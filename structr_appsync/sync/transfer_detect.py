"""Which transfer works against a server: the ZIP servlet (`/structr/deploy`) or the path transfer.

`appsync init` asks this once and writes the answer, with its reason, into appsync.toml. Structr 5.2 Community
builds may not mount the ZIP servlet (structr-api.md §9.1): `/structr/deploy` then answers 404 while
`/structr/rest/_env` answers, and only `maintenance/deploy` with server-side paths works.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from structr_appsync.config import Timeouts
from structr_appsync.errors import AuthError, DeployServletMissing, ServerError, ServerUnavailable
from structr_appsync.server import StructrClient

PROBE_TIMEOUTS = Timeouts(connect=3.0, request=10.0)


@dataclass(frozen=True)
class TransferChoice:
    """The transfer to configure, why, and what else to configure (None when nothing)."""

    transfer: str
    reason: str
    advice: str | None = None
    probed: bool = True


def is_this_host(url: str) -> bool:
    """True when the URL's host is this machine (a loopback address, or this machine's name)."""
    host = urlsplit(url).hostname or ""
    if host in ("localhost", socket.gethostname(), socket.getfqdn()):
        return True
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


def _path_advice(url: str) -> str | None:
    if is_this_host(url):
        return None
    return (
        "Structr is not on this host: set path_transfer.server_dir to a directory as Structr sees it and "
        "path_transfer.local_dir to the same directory as this machine sees it (a shared volume)"
    )


def detect_transfer(url: str, user: str, password: str | None) -> TransferChoice:
    """Probe `GET /structr/deploy?mode=test` (and `_env` when it answers 404) and pick the transfer.

    Without a password the probe goes out without credentials: a 401 still shows that the servlet is there.
    A server that cannot be probed gets the default `zip`, with ``probed`` False and the reason.
    """
    with StructrClient(url=url, user=user, password=password, timeouts=PROBE_TIMEOUTS) as client:
        try:
            client.probe()
        except DeployServletMissing:
            return TransferChoice(
                "path",
                "/structr/deploy answered 404 while /structr/rest/_env answers: this Structr does not serve the "
                "ZIP servlet (Structr 5.2 Community does not)",
                _path_advice(url),
            )
        except AuthError as exc:
            return TransferChoice("zip", f"/structr/deploy?mode=test answered {exc.status}: the ZIP servlet is there")
        except ServerUnavailable as exc:
            return TransferChoice("zip", f"the default; the server was not probed ({exc})", probed=False)
        except ServerError as exc:
            return TransferChoice("zip", f"the default; the probe failed ({exc})", probed=False)
    return TransferChoice("zip", "/structr/deploy?mode=test answered 200: the ZIP servlet is there")
