"""File and folder nodes: REST records, creation, deletion and the /structr/upload servlet."""

from __future__ import annotations

import json
from typing import Any

from tests.structr_emulator import httputil
from tests.structr_emulator.context import Context
from tests.structr_emulator.exporter import file_paths, signed_xxh64
from tests.structr_emulator.http_types import Request, Response
from tests.structr_emulator.store import new_uuid

FILE_TYPES = ("AbstractFile", "File", "Folder", "Image")


def record(node: dict[str, Any], path: str) -> dict[str, Any]:
    """The File/Folder REST view: public view keys plus path, checksum, storage information."""
    is_folder = node["type"] == "Folder"
    props = node.get("props", {})
    result: dict[str, Any] = {
        "id": node["id"],
        "type": node["type"],
        "name": node["name"],
        "path": path,
        "parentId": node.get("parentId"),
        "isFile": not is_folder,
        "isFolder": is_folder,
        "isExternal": bool(props.get("isExternal", False)),
        "isMounted": False,
        "storageConfiguration": None,
        "includeInFrontendExport": bool(props.get("includeInFrontendExport", False)),
        "visibleToPublicUsers": bool(props.get("visibleToPublicUsers", False)),
        "visibleToAuthenticatedUsers": bool(props.get("visibleToAuthenticatedUsers", False)),
        "owner": props.get("owner"),
    }
    if not is_folder:
        result.update(
            {
                "size": node.get("size"),
                "checksum": node.get("checksum"),
                "contentType": props.get("contentType"),
                "isTemplate": bool(props.get("isTemplate", False)),
                "dontCache": bool(props.get("dontCache", False)),
                "url": None,
                "extractedContent": None,
                "indexed": False,
                "md5": None,
            }
        )
    return result


def records(ctx: Context, type_name: str) -> list[dict[str, Any]]:
    with ctx.store.lock:
        nodes = dict(ctx.store.state["files"]["nodes"])
    paths = file_paths(nodes)
    wanted = {
        "AbstractFile": None,
        "Folder": {"Folder"},
        "File": {"File", "Image"},
        "Image": {"Image"},
    }[type_name]
    return [record(node, paths[node_id]) for node_id, node in nodes.items() if wanted is None or node["type"] in wanted]


def create_node(ctx: Context, type_name: str, body: dict[str, Any], owner: str | None) -> dict[str, Any]:
    body = dict(body)
    node_id = body.pop("id", None) or new_uuid()
    name = body.pop("name", None) or node_id
    parent = body.pop("parent", None)
    parent_id = body.pop("parentId", None) or (parent.get("id") if isinstance(parent, dict) else parent)
    body.setdefault("owner", {"name": owner} if owner else None)
    node: dict[str, Any] = {"id": node_id, "type": type_name, "name": name, "parentId": parent_id, "props": body}
    if type_name != "Folder":
        node.update({"size": 0, "checksum": signed_xxh64(b"")})
        ctx.store.write_blob(node_id, b"")
    with ctx.store.mutate() as state:
        state["files"]["nodes"][node_id] = node
    return node


def update_node(ctx: Context, node_id: str, body: dict[str, Any]) -> bool:
    with ctx.store.mutate() as state:
        node = state["files"]["nodes"].get(node_id)
        if node is None:
            return False
        for key, value in body.items():
            if key == "name":
                node["name"] = value
            elif key in ("parent", "parentId"):
                node["parentId"] = value.get("id") if isinstance(value, dict) else value
            elif key not in ("id", "type", "size", "checksum", "path"):
                node["props"][key] = value
    return True


def delete_node(ctx: Context, node_id: str) -> bool:
    """Delete a file (and its content on disk) or a folder with everything below it."""
    with ctx.store.mutate() as state:
        nodes = state["files"]["nodes"]
        if node_id not in nodes:
            return False
        doomed = [node_id]
        index = 0
        while index < len(doomed):
            doomed.extend(i for i, n in nodes.items() if n.get("parentId") == doomed[index] and i not in doomed)
            index += 1
        for victim in doomed:
            node = nodes.pop(victim)
            if node["type"] != "Folder" and not node.get("props", {}).get("isExternal"):
                ctx.store.delete_blob(victim)
    return True


def handle_upload(ctx: Context, request: Request) -> Response:
    """POST /structr/upload (multipart): new file in `parent`, or replace the content of `uuid`."""
    if request.auth_failed or request.principal is None:
        return Response.json(401, httputil.error_body(401, "Access denied"))
    fields = httputil.parse_multipart(request.header("Content-Type") or "", request.body)
    if "file" not in fields:
        return Response.json(400, httputil.error_body(400, "No file part in upload"))
    file_name, content = fields["file"]

    def field(name: str) -> str | None:
        value = fields.get(name)
        return value[1].decode("utf-8") if value is not None else None

    target_id = field("uuid")
    with ctx.store.lock:
        existing = ctx.store.state["files"]["nodes"].get(target_id) if target_id else None
    if target_id and existing is None:
        return Response.json(404, httputil.error_body(404, f"File {target_id} not found"))
    if existing is None:
        props = json.loads(field("properties") or "{}")
        name = field("name") or file_name or "upload"
        content_type = field("contentType") or _guess_type(name)
        type_name = "Image" if content_type.startswith("image/") else "File"
        owner = request.principal.name if request.principal.id else None
        body = {"name": name, "parentId": field("parent") or field("parentId"), "contentType": content_type, **props}
        if type_name == "Image":
            body.setdefault("isImage", True)
        existing = create_node(ctx, type_name, body, owner)
    file_id = existing["id"]
    ctx.store.write_blob(file_id, content)
    with ctx.store.mutate() as state:
        node = state["files"]["nodes"][file_id]
        node["size"] = len(content)
        node["checksum"] = signed_xxh64(content)
    return Response.json(200, {"uuid": file_id})


def _guess_type(name: str) -> str:
    import mimetypes

    return mimetypes.guess_type(name)[0] or "application/octet-stream"
