"""The HTTP server: request parsing, fault injection, routing to the servlets."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import resource
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.structr_emulator import auth, deploy_servlet, files_api, httputil, rest
from tests.structr_emulator.context import Context
from tests.structr_emulator.http_types import Request, Response

logger = logging.getLogger(__name__)
CONTROL_PREFIX = "/_emulator/"


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], ctx: Context) -> None:
        super().__init__(address, Handler)
        self.ctx = ctx
        self.stop_requested = False

    def service_actions(self) -> None:
        """Runs in the serving thread after each poll; turns a stop flag set by a signal handler into a shutdown."""
        if self.stop_requested:
            self.stop_requested = False
            threading.Thread(target=self.shutdown, daemon=True).start()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EmulatorServer

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        ctx = self.server.ctx
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, self.path, dict(self.headers.items()), body)
        try:
            response = self._route(ctx, request)
        except Exception as exc:
            logger.exception("request failed")
            ctx.log.error("%s in %s: %s", type(exc).__name__, request.method, exc)
            response = Response.json(500, httputil.error_body(500, f"{type(exc).__name__} in {request.method}: {exc}"))
        self._send(response)

    def _route(self, ctx: Context, request: Request) -> Response:
        path = request.path
        if path.startswith(CONTROL_PREFIX):
            return control(ctx, request)
        hang = ctx.faults.take("hang", path)
        if hang is not None:
            time.sleep(hang.seconds)
        status = ctx.faults.take("status", path)
        if status is not None:
            return Response.json(status.code, httputil.error_body(status.code, "Injected fault"))
        try:
            request.principal = auth.authenticate(ctx, request.headers)
        except auth.AuthFailed:
            request.auth_failed = True
        if path == "/structr/health":
            return _health(ctx)
        if path == "/structr/health/ready":
            busy = ctx.deployment_active
            return Response(status=503 if busy else 200, body=b"", content_type="application/health+json")
        if path.rstrip("/") == deploy_servlet.PATH:
            if not ctx.deploy_servlet:
                return _jetty_not_found(path)
            if request.method == "GET":
                return deploy_servlet.handle_get(ctx, request)
            if request.method == "POST":
                return deploy_servlet.handle_post(ctx, request)
            return Response.text(405, "ERROR (405): Method not allowed.")
        if path.rstrip("/") == "/structr/upload" and request.method == "POST":
            return files_api.handle_upload(ctx, request)
        if path.startswith(rest.PREFIX):
            return rest.handle(ctx, request)
        return Response.text(404, "Not Found", "text/plain")

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("X-Structr-Edition", "Community")
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if response.drop_after is not None:
            # Fault: part of the body, then an abrupt close (RST) in the middle of the download.
            self.wfile.write(response.body[: response.drop_after])
            self.wfile.flush()
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        self.wfile.write(response.body)


def _health(ctx: Context) -> Response:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    body = {
        "status": "pass",
        "version": ctx.version,
        "uptime": round(time.time() - ctx.started, 3),
        "memory": {"maxRss": usage.ru_maxrss},
        "cpu": {"user": usage.ru_utime, "system": usage.ru_stime},
        "threads": threading.active_count(),
        "pid": os.getpid(),
    }
    return Response(status=200, body=json.dumps(body).encode(), content_type="application/health+json")


def control(ctx: Context, request: Request) -> Response:
    """Test-only control endpoint (not part of Structr): faults and the journal writer."""
    name = request.path[len(CONTROL_PREFIX) :].strip("/")
    body = httputil.parse_json_body(request.body) if request.body else {}
    journal = ctx.journal
    if name == "faults":
        if request.method == "DELETE":
            ctx.faults.clear()
        elif request.method == "POST":
            try:
                ctx.faults.set(str(body.get("kind")), body)
            except ValueError as exc:
                return Response.json(400, {"error": str(exc)})
        return Response.json(200, {"faults": ctx.faults.describe(), "shuffle_order": ctx.faults.shuffle_order})
    if name == "flush" and request.method == "POST":
        journal.flush()
        return Response.json(200, {"generation": ctx.store.generation})
    if name == "journal" and request.method == "POST":
        if "paused" in body:
            if body["paused"]:
                journal.paused.set()
            else:
                journal.paused.clear()
        if "hold_after" in body:
            journal.hold_after = body["hold_after"]
        if body.get("release"):
            journal.release.set()
        return Response.json(200, {"held": journal.held.is_set()})
    if name == "status":
        return Response.json(
            200,
            {
                "generation": ctx.store.generation,
                "written_generation": ctx.store.written_generation,
                "held": journal.held.is_set(),
                "deployment_active": ctx.deployment_active,
                "pid": os.getpid(),
            },
        )
    return Response.json(404, {"error": f"unknown control endpoint {name}"})


def _jetty_not_found(path: str) -> Response:
    """The shape of Jetty's own 404 page (real-5.2.1 transcript: text/html;charset=iso-8859-1, no Structr body)."""
    page = (
        '<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html;charset=ISO-8859-1"/>\n'
        f"<title>Error 404 Not Found</title>\n</head>\n<body><h2>HTTP ERROR 404 Not Found</h2>\n"
        f"<table>\n<tr><th>URI:</th><td>{path}</td></tr>\n<tr><th>STATUS:</th><td>404</td></tr>\n"
        "<tr><th>MESSAGE:</th><td>Not Found</td></tr>\n</table>\n</body>\n</html>\n"
    )
    return Response.text(404, page, "text/html;charset=iso-8859-1")
