"""DeploymentServlet: GET /structr/deploy (export as ZIP) and POST /structr/deploy (import a ZIP)."""

from __future__ import annotations

import io
import shutil
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from tests.structr_emulator import commands, httputil
from tests.structr_emulator.context import Context
from tests.structr_emulator.http_types import Request, Response

PATH = "/structr/deploy"


def _error(status: int, text: str) -> Response:
    return Response.text(status, f"ERROR ({status}): {text}")


def zip_folder(folder: Path) -> bytes:
    """Zip `folder` as zip4j's addFolder does: one top-level entry `<name>/` holding everything."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr(folder.name + "/", b"")
        for path in sorted(folder.rglob("*")):
            arcname = folder.name + "/" + path.relative_to(folder).as_posix()
            if path.is_dir():
                archive.writestr(arcname + "/", b"")
            else:
                archive.write(path, arcname)
    return buffer.getvalue()


def handle_get(ctx: Context, request: Request) -> Response:
    if request.auth_failed:
        return _error(401, "Invalid user or password.")
    if request.principal is None or not request.principal.is_superuser:
        return _error(401, "Download of export ZIP file only allowed for admins.")
    query = request.query
    mode = query.get("mode", "app")
    if mode == "test":
        return Response.text(200, "")
    if mode not in ("app", "data"):
        return _error(400, "Unknown mode.")
    name = query.get("name", "")
    if not name:
        return _error(400, "Empty name parameter.")
    if "/" in name or "\\" in name or name in (".", ".."):
        return _error(403, "Invalid name parameter.")
    if mode == "data" and not query.get("types", "").strip():
        return _error(400, "Empty types parameter.")
    tmp = Path(tempfile.mkdtemp(prefix="structr-deploy-"))
    try:
        folder = tmp / str(int(time.time() * 1000)) / name
        body = {"mode": "export", "target": str(folder)}
        if mode == "data":
            body["types"] = query["types"]
        commands.run_deploy(ctx, body, data=mode == "data", path=PATH)
        if not folder.is_dir():
            # Export errors (or a concurrent deployment) are only logged: 200 with an empty body.
            return Response(status=200, body=b"", content_type="application/zip")
        payload = zip_folder(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    response = Response(
        status=200,
        body=payload,
        content_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}.zip"'},
    )
    if ctx.faults.take("truncate_zip", PATH) is not None:
        response.body = payload[: max(1, len(payload) // 2)]
    elif ctx.faults.take("drop_zip", PATH) is not None:
        response.drop_after = max(1, len(payload) // 2)
    return response


def _safe_extract(data: bytes, dest: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            parts = PurePosixPath(info.filename).parts
            if info.filename.startswith("/") or ".." in parts:
                raise ValueError(f"illegal path in ZIP: {info.filename}")
        archive.extractall(dest)


def _pick_folder(ctx: Context, root: Path, file_name: str | None, content_path: str | None) -> Path:
    if content_path:
        relative = PurePosixPath(content_path)
        if relative.is_absolute() or ".." in relative.parts:
            raise ValueError(f"zipContentPath '{content_path}' must be a relative path inside the ZIP")
        folder = root / relative
        if not folder.is_dir():
            raise ValueError(f"zipContentPath '{content_path}' does not exist in the ZIP")
        return folder
    if ctx.is_v5:
        # 5.2.x imports the folder named like the uploaded file (without extension); renamed ZIPs fail.
        stem = PurePosixPath(file_name or "").stem
        folder = root / stem
        if not stem or not folder.is_dir():
            raise ValueError(f"Folder '{stem}' not found in the ZIP file")
        return folder
    entries = list(root.iterdir())
    if not entries:
        raise ValueError("Zip is empty")
    if len(entries) > 1 or not entries[0].is_dir():
        raise ValueError("Zip has multiple folders or files at the top level, expected exactly one folder")
    return entries[0]


def handle_post(ctx: Context, request: Request) -> Response:
    fields = httputil.parse_multipart(request.header("Content-Type") or "", request.body)
    if not fields:
        return _error(400, "Request is not a multipart request or has no parts.")
    if request.auth_failed:
        return _error(401, "Invalid user or password.")
    principal = request.principal
    if ctx.is_v5:
        if principal is None:
            return _error(401, "Import of ZIP file only allowed for authenticated users.")
    elif principal is None or not principal.is_superuser:
        return _error(401, "Import of ZIP file only allowed for admins.")

    def field(name: str) -> str | None:
        value = fields.get(name)
        return value[1].decode("utf-8") if value is not None else None

    mode = field("mode")
    if mode not in ("app", "data"):
        return _error(400, "Unknown mode.")
    if ctx.faults.take("noop_deploy", PATH) is not None:
        ctx.log.info("noop_deploy fault: upload answered 200 without doing anything")
        return Response.text(200, "")
    file_name: str | None = None
    if "file" in fields:
        file_name, data = fields["file"]
    elif field("downloadUrl"):
        try:
            with urllib.request.urlopen(str(field("downloadUrl")), timeout=60) as remote:
                data = remote.read()
            file_name = PurePosixPath(str(field("downloadUrl"))).name
        except OSError:
            return _error(400, "Unable to download from URL.")
    else:
        return _error(400, "Unable to deploy file.")
    tmp = Path(tempfile.mkdtemp(prefix="structr-upload-"))
    try:
        try:
            _safe_extract(data, tmp)
            folder = _pick_folder(ctx, tmp, file_name, field("zipContentPath"))
        except (ValueError, zipfile.BadZipFile, OSError) as exc:
            return _error(400, f"Unable to deploy file.\n{exc}")
        result = commands.run_deploy(ctx, {"mode": "import", "source": str(folder)}, data=mode == "data", path=PATH)
    except commands.FrameworkError as exc:
        return _error(400, f"Unable to deploy file.\n{exc.message}")
    except Exception as exc:  # DS turns any exception from the command into a 400 text reply
        ctx.log.error("Unable to deploy file: %s", exc)
        return _error(400, f"Unable to deploy file.\n{exc}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if result.result:
        # RestMethodResult.jsonError: key "error", not "message".
        return Response.json(422, {"code": 422, "error": str(result.result[0])})
    redirect = field("redirectUrl")
    if redirect:
        return Response(status=302, body=b"", content_type="text/html", headers={"Location": redirect})
    return Response.text(200, "")
