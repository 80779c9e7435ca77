"""Routing for /structr/rest/*: login, _env, maintenance commands and the typed collections."""

from __future__ import annotations

import os
import platform
import time
from typing import Any

from tests.structr_emulator import auth, collections_api, commands, httputil
from tests.structr_emulator.context import Context
from tests.structr_emulator.http_types import Request, Response

PREFIX = "/structr/rest/"
ACCESS_DENIED = "Access denied"


def _error(status: int, message: str) -> Response:
    return Response.json(status, httputil.error_body(status, message))


def handle(ctx: Context, request: Request) -> Response:
    parts = [part for part in request.path[len(PREFIX) :].split("/") if part]
    if not parts:
        return _error(404, "Not Found")
    if request.auth_failed:
        return _error(401, auth.WRONG_CREDENTIALS)
    try:
        body: Any = httputil.parse_json_body(request.body) if request.method in ("POST", "PUT", "PATCH") else {}
    except ValueError as exc:
        return _error(400, f"Invalid JSON input: {exc}")
    try:
        if parts[0] == "login" and request.method == "POST":
            return _login(ctx, body)
        if parts[0] == "logout" and request.method == "POST":
            return _logout(ctx, request)
        if parts[0] == "maintenance" and len(parts) >= 2:
            return _maintenance(ctx, request, parts[1], body)
        if parts[0] == "_env":
            return _env(ctx, request)
        return collections_api.handle(ctx, request, parts, body)
    except commands.FrameworkError as exc:
        return _error(exc.status, exc.message)


def _login(ctx: Context, body: dict[str, Any]) -> Response:
    name = body.get("name") or body.get("eMail") or ""
    try:
        principal = auth.login(ctx, str(name), str(body.get("password") or ""))
    except auth.AuthFailed as exc:
        return _error(401, str(exc))
    session_id = auth.new_session(ctx, principal)
    result = {"id": principal.id, "type": "User", "name": principal.name, "isAdmin": principal.is_admin}
    return Response.json(
        200,
        httputil.envelope(result),
        headers={"Set-Cookie": f"{auth.SESSION_COOKIE}={session_id}; Path=/; HttpOnly"},
    )


def _logout(ctx: Context, request: Request) -> Response:
    cookie = request.header("Cookie") or ""
    for item in cookie.split(";"):
        key, _, value = item.strip().partition("=")
        if key == auth.SESSION_COOKIE:
            ctx.sessions.pop(value, None)
    return Response.json(200, httputil.envelope([]))


def _maintenance(ctx: Context, request: Request, command: str, body: dict[str, Any]) -> Response:
    if request.method == "OPTIONS":
        return Response(status=200, body=b"", headers={"Allow": "POST"})
    if request.method != "POST":
        return _error(405, f"Method {request.method} not allowed")
    principal = request.principal
    signatures = ("maintenance", "_maintenance", f"maintenance/{command}", f"_maintenance/_{command}")
    if principal is None or not principal.is_superuser:
        authenticated = principal is not None
        if not auth.has_grant(ctx, signatures, "POST", authenticated=authenticated):
            return _error(401, ACCESS_DENIED)
        return _error(403, "Use of the maintenance endpoint is restricted to admin users")
    if command not in commands.COMMANDS:
        return _error(400, f"Unknown maintenance command {command}")
    result = commands.run_command(ctx, command, body, request.path)
    return Response.json(result.status, httputil.envelope(result.result), headers=result.headers)


def _env(ctx: Context, request: Request) -> Response:
    principal = request.principal
    if (principal is None or not principal.is_superuser) and not auth.has_grant(
        ctx, ("_env",), request.method, authenticated=principal is not None
    ):
        return _error(401, ACCESS_DENIED)
    build, _, stamp = ctx.build.partition(" ")
    with ctx.store.lock:
        maintenance = bool(ctx.store.state["meta"].get("maintenance"))
    result = {
        "modules": {},
        "components": {"structr": {"version": ctx.version, "build": build, "date": stamp}},
        "classPath": "lib/*:structr.jar",
        "instanceName": "",
        "instanceStage": "",
        "edition": "Community",
        "licensee": "Unlicensed",
        "hostId": platform.node(),
        "startDate": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(ctx.started)),
        "endDate": None,
        "databaseService": "MemoryDatabaseService",
        "resultCountSoftLimit": 10000,
        "maintenanceModeActive": maintenance,
        "validUUIDv4Regex": "[a-fA-F0-9]{32}",
        "legacyRequestParameters": False,
        "isDeploymentActive": ctx.deployment_active,
        "debuggerEnabled": False,
        "dashboardInfo": {
            "allowedUUIDFormat": "without_dashes",
            "createCompactUUIDs": True,
            "runtimeInfo": {"pid": os.getpid()},
        },
    }
    return Response.json(200, httputil.envelope(result))
