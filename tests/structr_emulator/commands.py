"""Maintenance commands behind POST /structr/rest/maintenance/<cmd> (MaintenanceResource + DeployCommand)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.structr_emulator import datadeploy, exporter, importer
from tests.structr_emulator.context import Context
from tests.structr_emulator.errors import FrameworkError

__all__ = ["COMMANDS", "CommandResult", "FrameworkError", "run_command", "run_deploy"]


@dataclass
class CommandResult:
    status: int = 200
    result: list[Any] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


def java_date(moment: float) -> str:
    """java.util.Date#toString in UTC, e.g. "Thu Jan 29 10:42:00 UTC 2026"."""
    return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(moment))


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _work_delay(ctx: Context, path: str) -> None:
    seconds = ctx.deploy_delay
    fault = ctx.faults.take("slow_deploy", path)
    if fault is not None:
        seconds += fault.seconds
    if seconds > 0:
        time.sleep(seconds)


def _check_target(target: Any, what: str) -> Path:
    if not target or not str(target).strip():
        raise FrameworkError(422, f"Please provide target path for {what}.")
    path = Path(str(target))
    if not path.is_absolute():
        raise FrameworkError(422, f"Target path '{target}' is not an absolute path - relative paths are not allowed.")
    return path


def run_deploy(ctx: Context, body: dict[str, Any], *, data: bool = False, path: str = "") -> CommandResult:
    """DeployCommand / DeployDataCommand#execute with the 6.x (or 5.2.x) HTTP behaviour."""
    label = "Data deployment" if data else "Deployment"
    mode = body.get("mode")
    if mode not in ("export", "import"):
        ctx.log.warning("Unsupported mode '%s'", mode)
        return CommandResult()
    if ctx.faults.take("noop_deploy", path) is not None:
        ctx.log.info("noop_deploy fault: answering 200 without doing anything")
        return CommandResult()
    if data and mode == "export":
        if not str(body.get("types") or "").strip():
            raise FrameworkError(422, "Please provide a comma-separated list of type(s) to export.")
        _check_target(body.get("target"), "data deployment export")
    if not ctx.try_begin_deployment():
        ctx.log.warning("Prevented deployment %s while another deployment is active", mode)
        return CommandResult()
    try:
        start = time.time()
        headers = {"start": java_date(start)}
        _work_delay(ctx, path)
        if mode == "export":
            target = _check_target(body.get("target"), "data deployment export" if data else "deployment export")
            try:
                if data:
                    types = [item.strip() for item in str(body.get("types")).split(",") if item.strip()]
                    datadeploy.export_data(ctx.store.snapshot(), target, types, ctx.log, ctx.rng())
                else:
                    exporter.export_app(ctx, target)
            except OSError as exc:
                # Export I/O problems are swallowed: logged, and the reply is 200 without an end header.
                ctx.log.error("%s export to %s failed: %s", label, target, exc)
                return CommandResult(headers=headers)
        else:
            try:
                known = importer.DATA_ENTRIES if data else importer.KNOWN_ENTRIES
                source, conf = importer.check_preconditions(ctx, body.get("source"), known)
            except importer.ImportPreconditionFailed as exc:
                ctx.log.error("%s import precondition failed: %s", label, exc)
                # 5.2.x returns the command's status code (422); 6.x's MaintenanceResource ignores it.
                return CommandResult(status=422 if ctx.is_v5 else 200, result=[str(exc)], headers=headers)
            if data:
                work = ctx.store.snapshot()
                datadeploy.import_data(work, source, ctx.log)
                with ctx.store.mutate() as state:
                    state.update(work)
            else:
                importer.AppImport(ctx, source, conf, extend=_is_true(body.get("extendExistingApp"))).run()
        end = time.time()
        headers.update({"end": java_date(end), "duration": f"{end - start:.2f}s"})
        return CommandResult(headers=headers)
    finally:
        ctx.end_deployment()


def run_maintenance_mode(ctx: Context, body: dict[str, Any]) -> CommandResult:
    action = body.get("action")
    if action not in ("enable", "disable"):
        raise FrameworkError(422, "Please provide action 'enable' or 'disable'.")
    with ctx.store.mutate() as state:
        state["meta"]["maintenance"] = action == "enable"
    ctx.log.info("Maintenance mode %sd", action)
    return CommandResult()


COMMANDS = {"deploy", "deployData", "maintenanceMode"}


def run_command(ctx: Context, name: str, body: dict[str, Any], path: str) -> CommandResult:
    if name == "deploy":
        return run_deploy(ctx, body, path=path)
    if name == "deployData":
        return run_deploy(ctx, body, data=True, path=path)
    if name == "maintenanceMode":
        return run_maintenance_mode(ctx, body)
    raise FrameworkError(400, f"Unknown maintenance command {name}")
