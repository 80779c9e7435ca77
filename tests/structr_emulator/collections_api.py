"""CRUD on /structr/rest/<Type>[/<uuid>] for the types the emulator knows."""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from tests.structr_emulator import auth, files_api, htmldom, httputil, store
from tests.structr_emulator.commands import FrameworkError
from tests.structr_emulator.context import Context
from tests.structr_emulator.http_types import Request, Response

LIST_TYPES = {
    "ResourceAccess": "grants",
    "CorsSetting": "cors",
    "MailTemplate": "mail_templates",
    "Widget": "widgets",
    "Localization": "localizations",
    "Site": "sites",
    "PagePath": "page_paths",
    "ActionMapping": "action_mappings",
    "ParameterMapping": "parameter_mappings",
    "ApplicationConfigurationDataNode": "app_config",
    "SchemaGrant": "schema_grants",
}
PRINCIPAL_TYPES = ("User", "Group", "Principal")
_UUID = re.compile(r"^[0-9a-fA-F]{32}$")
_CUSTOM_VIEW = re.compile(r".*properties=([0-9a-zA-Z_,-]+)")
NEW_TYPE_TEMPLATE: dict[str, Any] = {
    "isAbstract": False,
    "isBuiltinType": False,
    "isInterface": False,
    "methods": {},
    "properties": {},
    "type": "object",
    "views": {},
}
NEW_METHOD_TEMPLATE: dict[str, Any] = {
    "callSuper": False,
    "doExport": False,
    "exceptions": [],
    "includeInOpenAPI": False,
    "isStatic": False,
    "overridesExisting": False,
}


def schema_id(*names: str) -> str:
    """Schema node/method UUIDs are derived from names (the export never contains them)."""
    return hashlib.md5(("schema:" + ".".join(names)).encode()).hexdigest()


def handle(ctx: Context, request: Request, parts: list[str], body: Any) -> Response:
    type_name = parts[0]
    node_id = parts[1] if len(parts) > 1 and _UUID.match(parts[1]) else None
    if _UUID.match(type_name):
        node_id, type_name = type_name, _type_of(ctx, type_name) or ""
    family = _family(ctx, type_name)
    if family is None:
        return Response.json(404, httputil.error_body(404, f"Type {type_name} not found"))
    principal = request.principal
    if (principal is None or not principal.is_superuser) and not auth.has_grant(
        ctx, (type_name,), request.method, authenticated=principal is not None
    ):
        return Response.json(401, httputil.error_body(401, "Access denied"))
    owner = principal.name if principal is not None and principal.id else None
    if request.method == "GET":
        items = _records(ctx, family, type_name)
        if node_id:
            found = [item for item in items if item.get("id") == node_id]
            if not found:
                return Response.json(404, httputil.error_body(404, "Not Found"))
            if family == "page":
                # Emulator extension: a single page carries its deployment HTML in `html`.
                with ctx.store.lock:
                    found[0]["html"] = ctx.store.state["app"]["pages"][node_id]["html"]
            return Response.json(200, httputil.envelope(_view(found, request)[0]))
        return _list_response(items, request)
    if request.method == "POST" and node_id is None:
        new_id = _create(ctx, family, type_name, body if isinstance(body, dict) else {}, owner)
        return Response.json(201, httputil.envelope([new_id]), headers={"Location": f"/structr/rest/{new_id}"})
    if request.method == "PUT" and node_id:
        _require(_update(ctx, family, type_name, node_id, body if isinstance(body, dict) else {}))
        return Response.json(200, httputil.envelope([]))
    if request.method == "DELETE" and node_id:
        _require(_delete(ctx, family, type_name, node_id))
        return Response.json(200, httputil.envelope([]))
    return Response.json(405, httputil.error_body(405, f"Method {request.method} not allowed"))


def _require(found: bool) -> None:
    if not found:
        raise FrameworkError(404, "Not Found")


def _family(ctx: Context, type_name: str) -> str | None:
    if type_name == "Page":
        return "page"
    if type_name in ("SchemaNode", "SchemaMethod"):
        return type_name
    if type_name in files_api.FILE_TYPES:
        return "file"
    if type_name in PRINCIPAL_TYPES:
        return "principal"
    if type_name in LIST_TYPES:
        return "list"
    with ctx.store.lock:
        if type_name in (ctx.store.state["app"]["schema"].get("definitions") or {}):
            return "data"
    return None


def _type_of(ctx: Context, node_id: str) -> str | None:
    with ctx.store.lock:
        state = ctx.store.state
        for bucket in (state["principals"]["nodes"], state["data"]["nodes"], state["files"]["nodes"]):
            if node_id in bucket:
                return str(bucket[node_id]["type"])
        if node_id in state["app"]["pages"]:
            return "Page"
        for type_name, key in LIST_TYPES.items():
            if any(item.get("id") == node_id for item in state["app"][key]):
                return type_name
    return None


def _list_response(items: list[dict[str, Any]], request: Request) -> Response:
    query = request.query
    for key, value in query.items():
        if not key.startswith("_"):
            items = [item for item in items if _matches(item.get(key), value)]
    total = len(items)
    if query.get("_sort"):
        key = query["_sort"]
        items = sorted(
            items,
            key=lambda item: (item.get(key) is not None, str(item.get(key) or "")),
            reverse=query.get("_order", "asc").lower() == "desc",
        )
    page_size = int(query["_pageSize"]) if query.get("_pageSize") else None
    if page_size:
        page = max(1, int(query.get("_page", "1")))
        items = items[(page - 1) * page_size : page * page_size]
    return Response.json(200, httputil.envelope(_view(items, request), page_size=page_size, total=total))


def _matches(value: Any, wanted: str) -> bool:
    if isinstance(value, dict):
        return value.get("id") == wanted or value.get("name") == wanted
    if isinstance(value, bool):
        return str(value).lower() == wanted.lower()
    return value is not None and str(value) == wanted


def _view(items: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
    """Custom view: `Accept: application/json; properties=a,b,c` (SecurityContext#initializeCustomView)."""
    match = _CUSTOM_VIEW.match(request.header("Accept") or "")
    if not match:
        return items
    keys = match.group(1).split(",")
    return [{key: item.get(key) for key in keys} for item in items]


# -- records --------------------------------------------------------------------------------------
def _records(ctx: Context, family: str, type_name: str) -> list[dict[str, Any]]:
    with ctx.store.lock:
        state = ctx.store.state
        if family == "page":
            return [
                {**page["props"], "id": page_id, "type": "Page", "name": page["name"]}
                for page_id, page in state["app"]["pages"].items()
            ]
        if family == "SchemaNode":
            return [
                {"id": schema_id(name), "type": "SchemaNode", "name": name}
                for name in state["app"]["schema"].get("definitions") or {}
            ]
        if family == "SchemaMethod":
            return _method_records(state["app"]["schema"])
        if family == "principal":
            return [
                {k: v for k, v in node.items() if k not in ("password", "salt")}
                for node in state["principals"]["nodes"].values()
                if type_name == "Principal" or node.get("type") == type_name
            ]
        if family == "list":
            items = state["app"][LIST_TYPES[type_name]]
            return [_list_record(item, type_name) for item in items]
        if family == "data":
            return [dict(node) for node in state["data"]["nodes"].values() if node.get("type") == type_name]
    return files_api.records(ctx, type_name)


def _list_record(item: dict[str, Any], type_name: str) -> dict[str, Any]:
    record = {key: value for key, value in item.items() if key != "_text"}
    if "_text" in item:
        record["text"] = item["_text"]
    record.setdefault("type", type_name)
    return record


def _method_records(schema: dict[str, Any]) -> list[dict[str, Any]]:
    result = []
    for type_name, definition in (schema.get("definitions") or {}).items():
        methods = definition.get("methods") if isinstance(definition, dict) else None
        for name, spec in (methods or {}).items() if isinstance(methods, dict) else []:
            first = spec[0] if isinstance(spec, list) and spec else spec
            result.append(
                {
                    "id": schema_id(type_name, name),
                    "type": "SchemaMethod",
                    "name": name,
                    "schemaNode": {"id": schema_id(type_name), "name": type_name},
                    "source": first.get("source") if isinstance(first, dict) else None,
                }
            )
    for method in schema.get("methods") or []:
        name = str(method.get("name"))
        result.append(
            {"id": schema_id("_global", name), "type": "SchemaMethod", "name": name, "schemaNode": None,
             "source": method.get("source")}
        )  # fmt: skip
    return result


# -- create / update / delete ---------------------------------------------------------------------
def _create(ctx: Context, family: str, type_name: str, body: dict[str, Any], owner: str | None) -> str:
    if family == "file":
        return str(files_api.create_node(ctx, type_name, body, owner)["id"])
    if family == "principal":
        if not body.get("name"):
            raise FrameworkError(422, "Property name must not be empty")
        extra = {k: v for k, v in body.items() if k not in ("name", "password", "isAdmin", "members")}
        node = ctx.store.create_principal(
            type_name, str(body["name"]), password=body.get("password"), is_admin=bool(body.get("isAdmin")), **extra
        )
        if type_name == "Group":
            _set_members(ctx, node["id"], body.get("members") or [])
        return str(node["id"])
    if family == "SchemaNode":
        return _create_schema_node(ctx, body)
    if family == "SchemaMethod":
        return _create_method(ctx, body)
    new_id = str(body.get("id") or store.new_uuid())
    with ctx.store.mutate() as state:
        if family == "page":
            name = str(body.get("name") or new_id)
            html = body.get("html") or htmldom.new_page_html(name, store.new_uuid)
            props = {k: v for k, v in body.items() if k not in ("name", "html", "id", "type")}
            props = {"contentType": "text/html", "owner": {"name": owner} if owner else None, **props, "id": new_id}
            state["app"]["pages"][new_id] = {
                "name": name, "props": props, "html": htmldom.ensure_ids(html, store.new_uuid)
            }  # fmt: skip
        elif family == "list":
            item = {k: v for k, v in body.items() if k not in ("type", "text")}
            if "text" in body:
                item["_text"] = body["text"]
            item["id"] = new_id
            state["app"][LIST_TYPES[type_name]].append(item)
        else:
            state["data"]["nodes"][new_id] = {**body, "id": new_id, "type": type_name}
    return new_id


def _create_schema_node(ctx: Context, body: dict[str, Any]) -> str:
    name = str(body.get("name") or "")
    if not re.match(r"^[A-Z][A-Za-z0-9_]*$", name):
        raise FrameworkError(422, f"Type name '{name}' must start with an upper-case letter")
    with ctx.store.mutate() as state:
        definitions = state["app"]["schema"].setdefault("definitions", {})
        if name in definitions:
            raise FrameworkError(422, f"A type named {name} already exists (already_taken)")
        definition = {**NEW_TYPE_TEMPLATE, "methods": {}, "properties": {}, "views": {}}
        if not ctx.is_v5:
            definition["traits"] = [name]  # 6.x type definitions use traits (older: $extends/$implements)
        definitions[name] = {key: definition[key] for key in sorted(definition)}
        state["app"]["schema"]["definitions"] = {key: definitions[key] for key in sorted(definitions)}
    return schema_id(name)


def _schema_name(ctx: Context, ref: Any) -> str | None:
    ref_id = ref.get("id") if isinstance(ref, dict) else ref
    with ctx.store.lock:
        for name in ctx.store.state["app"]["schema"].get("definitions") or {}:
            if ref_id in (name, schema_id(name)):
                return str(name)
    return None


def _create_method(ctx: Context, body: dict[str, Any]) -> str:
    name = str(body.get("name") or "")
    if not name:
        raise FrameworkError(422, "Property name must not be empty")
    spec = {**NEW_METHOD_TEMPLATE, "exceptions": [], "source": body.get("source")}
    with ctx.store.mutate() as state:
        schema = state["app"]["schema"]
        if body.get("schemaNode") is None:
            schema["methods"] = [m for m in schema.get("methods") or [] if m.get("name") != name]
            schema["methods"].append({**spec, "name": name})
            return schema_id("_global", name)
        type_name = _schema_name(ctx, body.get("schemaNode"))
        if type_name is None:
            raise FrameworkError(422, "schemaNode not found")
        methods = schema["definitions"][type_name].setdefault("methods", {})
        methods[name] = spec
        schema["definitions"][type_name]["methods"] = {key: methods[key] for key in sorted(methods)}
    return schema_id(type_name, name)


def _set_members(ctx: Context, group_id: str, members: list[Any]) -> None:
    with ctx.store.mutate() as state:
        rels = [rel for rel in state["principals"]["rels"] if rel["sourceId"] != group_id]
        for member in members:
            member_id = member.get("id") if isinstance(member, dict) else member
            rels.append({"id": store.new_uuid(), "relType": "CONTAINS", "sourceId": group_id, "targetId": member_id,
                         "type": "GroupCONTAINSPrincipal"})  # fmt: skip
        state["principals"]["rels"] = rels


def _update(ctx: Context, family: str, type_name: str, node_id: str, body: dict[str, Any]) -> bool:
    if family == "file":
        return files_api.update_node(ctx, node_id, body)
    if family == "SchemaMethod":
        for record in _method_records(ctx.store.snapshot()["app"]["schema"]):
            if record["id"] == node_id:
                _create_method(ctx, {"name": record["name"], "schemaNode": record["schemaNode"],
                                     "source": body.get("source", record["source"])})  # fmt: skip
                return True
        return False
    with ctx.store.mutate() as state:
        if family == "page":
            page = state["app"]["pages"].get(node_id)
            if page is None:
                return False
            for key, value in body.items():
                if key == "name":
                    page["name"] = value
                elif key == "html":
                    page["html"] = htmldom.ensure_ids(str(value), store.new_uuid)
                elif key not in ("id", "type"):
                    page["props"][key] = value
            return True
        if family == "principal":
            node = state["principals"]["nodes"].get(node_id)
            if node is None:
                return False
            for key, value in body.items():
                if key == "password":
                    node["salt"] = secrets.token_hex(16)
                    node["password"] = store.hash_password(str(value), node["salt"])
                elif key != "members":
                    node[key] = value
        elif family == "list":
            for item in state["app"][LIST_TYPES[type_name]]:
                if item.get("id") == node_id:
                    item.update({k: v for k, v in body.items() if k not in ("id", "type", "text")})
                    if "text" in body:
                        item["_text"] = body["text"]
                    return True
            return False
        elif family == "data":
            node = state["data"]["nodes"].get(node_id)
            if node is None:
                return False
            node.update({k: v for k, v in body.items() if k not in ("id", "type")})
        else:
            return False
    if family == "principal" and "members" in body:
        _set_members(ctx, node_id, body["members"])
    return True


def _delete(ctx: Context, family: str, type_name: str, node_id: str) -> bool:
    if family == "file":
        return files_api.delete_node(ctx, node_id)
    with ctx.store.mutate() as state:
        app = state["app"]
        if family == "page":
            return app["pages"].pop(node_id, None) is not None
        if family == "SchemaNode":
            for name in list(app["schema"].get("definitions") or {}):
                if schema_id(name) == node_id:
                    del app["schema"]["definitions"][name]
                    return True
            return False
        if family == "SchemaMethod":
            return _delete_method(app["schema"], node_id)
        if family == "principal":
            state["principals"]["rels"] = [
                rel for rel in state["principals"]["rels"] if node_id not in (rel["sourceId"], rel["targetId"])
            ]
            return state["principals"]["nodes"].pop(node_id, None) is not None
        if family == "list":
            items = app[LIST_TYPES[type_name]]
            kept = [item for item in items if item.get("id") != node_id]
            app[LIST_TYPES[type_name]] = kept
            return len(kept) != len(items)
        return state["data"]["nodes"].pop(node_id, None) is not None


def _delete_method(schema: dict[str, Any], node_id: str) -> bool:
    for type_name, definition in (schema.get("definitions") or {}).items():
        methods = definition.get("methods") if isinstance(definition, dict) else None
        if not isinstance(methods, dict):
            continue
        for name in list(methods):
            if schema_id(type_name, name) == node_id:
                del methods[name]
                return True
    before = len(schema.get("methods") or [])
    schema["methods"] = [m for m in schema.get("methods") or [] if schema_id("_global", str(m.get("name"))) != node_id]
    return len(schema["methods"]) != before
