"""Structr's import rewrites of the schema folder (used only by ``format_rewrites``).

The schema is compared as a model, not file by file: one entry per type with its methods and function
properties, whose sources may sit inline in ``schema.json`` (older exports) or in files below ``schema/``
(6.x). Built-in types of an older export (``isBuiltinType``), and relationship types between two of them, are
Structr's own: 6.x drops them or writes its own version, which is never a difference in the app.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from structr_appsync.sync.format_rules_json import ANY, JSON_LAYOUT, load_json, strip_defaults

SCHEMA_JSON = "schema/schema.json"
BUILTIN_TYPES = "builtin-types"
SCHEMA_KEYS = "schema-keys"
SOURCES_IN_FILES = "sources-in-files"
EXTENDS_AS_TRAITS = "extends-as-traits"

SCHEMA_RULES: dict[str, str] = {
    BUILTIN_TYPES: "built-in schema types (and their methods/ files) dropped or written in Structr's own form",
    SCHEMA_KEYS: "schema keys added with defaults (traits, isServiceClass, httpVerb, ...), isBuiltinType and "
    "$implements dropped",
    SOURCES_IN_FILES: "method and function sources moved between schema.json and files below schema/",
    EXTENDS_AS_TRAITS: '"$extends": "#/definitions/X" written as "traits": ["X"]',
}

_TYPE_ADDED = {"traits": [], "isServiceClass": False, "includeInOpenAPI": False}
_TYPE_DROPPED = {"isBuiltinType": ANY, "$implements": ANY}
_METHOD_ADDED = {
    "httpVerb": "POST",
    "includeInOpenAPI": False,
    "isPrivate": ANY,
    "isStatic": False,
    "returnRawResult": False,
}
_METHOD_DROPPED = {"comment": ""}
_PROPERTY_ADDED = {"readFunctionWrapJS": True, "writeFunctionWrapJS": True}
_SOURCE_KEYS = ("source", "readFunction", "writeFunction")


@dataclass
class SchemaComparison:
    """How the server's schema folder differs from the ref's."""

    rules: set[str] = field(default_factory=set)
    differences: list[str] = field(default_factory=list)  # "schema type Event changed", ...
    builtin_types: set[str] = field(default_factory=set)  # per the ref


@dataclass
class _Side:
    definitions: dict[str, Any]
    methods: list[Any]
    header: dict[str, Any]
    read: Callable[[str], bytes | None]
    from_files: bool = False


def _load(read: Callable[[str], bytes | None]) -> _Side | None:
    data = read(SCHEMA_JSON)
    if data is None:
        return _Side({}, [], {}, read)
    try:
        schema = load_json(data)
    except ValueError:
        return None
    if not isinstance(schema, dict):
        return None
    definitions = schema.get("definitions")
    methods = schema.get("methods")
    definitions = definitions if isinstance(definitions, dict) else {}
    methods = methods if isinstance(methods, list) else []
    header = {key: value for key, value in schema.items() if key not in ("definitions", "methods", "id")}
    return _Side(copy.deepcopy(definitions), copy.deepcopy(methods), header, read)


def _resolve_sources(side: _Side, node: Any) -> None:
    """Replace "./Type/methods/name" references by the file's text, in place."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _SOURCE_KEYS and isinstance(value, str) and value.startswith("./"):
                content = side.read("schema/" + value[2:])
                if content is not None:
                    node[key] = content.decode("utf-8", errors="replace")
                    side.from_files = True
            else:
                _resolve_sources(side, value)
    elif isinstance(node, list):
        for item in node:
            _resolve_sources(side, item)


def builtin_type_names(definitions: Mapping[str, Any]) -> set[str]:
    """Types an older export marks as built-in, plus relationship types between two of them."""
    names = {name for name, item in definitions.items() if isinstance(item, dict) and item.get("isBuiltinType")}

    def target(item: dict[str, Any], key: str) -> str:
        value = item.get(key)
        return value.rsplit("/", 1)[-1] if isinstance(value, str) else ""

    relationships = {
        name
        for name, item in definitions.items()
        if isinstance(item, dict) and target(item, "$source") in names and target(item, "$target") in names
    }
    return names | relationships


def _is_inline(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and not value.startswith("./")


def _dict_at(item: Any, key: str) -> dict[str, Any]:
    value = item.get(key) if isinstance(item, dict) else None
    return value if isinstance(value, dict) else {}


def inline_source_count(definitions: Mapping[str, Any], builtin: set[str]) -> int:
    """How many method and function sources sit inline in schema.json (6.x writes each into its own file).

    Function properties of built-in types are left out: most are Structr's own, which 6.x drops.
    """
    count = 0
    for name, item in definitions.items():
        for method in _dict_at(item, "methods").values():
            if isinstance(method, dict) and method.get("codeType") != "java" and _is_inline(method.get("source")):
                count += 1
        if name in builtin:
            continue
        for prop in _dict_at(item, "properties").values():
            if isinstance(prop, dict):
                count += sum(1 for key in ("readFunction", "writeFunction") if _is_inline(prop.get(key)))
    return count


def _strip_nested(ref: Any, server: Any, added: dict[str, Any], dropped: dict[str, Any]) -> bool:
    if not (isinstance(ref, dict) and isinstance(server, dict)):
        return False
    changed = False
    for name in ref.keys() & server.keys():
        if isinstance(ref[name], dict) and isinstance(server[name], dict):
            changed = strip_defaults(ref[name], server[name], added, dropped) or changed
    return changed


def _extends_as_traits(ref: dict[str, Any], server: dict[str, Any]) -> bool:
    parent = ref.get("$extends")
    if not (isinstance(parent, str) and parent.startswith("#/definitions/")) or "$extends" in server:
        return False
    if server.get("traits") != [parent.rsplit("/", 1)[-1]] or "traits" in ref:
        return False
    del ref["$extends"], server["traits"]
    return True


def _same_type(ref: dict[str, Any], server: dict[str, Any], rules: set[str]) -> bool:
    if _extends_as_traits(ref, server):
        rules.add(EXTENDS_AS_TRAITS)
    changed = strip_defaults(ref, server, _TYPE_ADDED, _TYPE_DROPPED)
    changed = _strip_nested(ref.get("methods"), server.get("methods"), _METHOD_ADDED, _METHOD_DROPPED) or changed
    changed = _strip_nested(ref.get("properties"), server.get("properties"), _PROPERTY_ADDED, {}) or changed
    if changed:
        rules.add(SCHEMA_KEYS)
    return ref == server


def _type_differences(name: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Name the changed methods of a type when only methods differ, else the type."""
    old_methods, new_methods = old.get("methods") or {}, new.get("methods") or {}
    rest_old = {key: value for key, value in old.items() if key != "methods"}
    rest_new = {key: value for key, value in new.items() if key != "methods"}
    if rest_old != rest_new or not isinstance(old_methods, dict) or not isinstance(new_methods, dict):
        return [f"schema type {name} changed"]
    return [
        f"schema method {name}.{method} {_change(old_methods.get(method), new_methods.get(method))}"
        for method in sorted(old_methods.keys() | new_methods.keys())
        if old_methods.get(method) != new_methods.get(method)
    ]


def _user_methods(definition: Any) -> dict[str, Any]:
    """The methods of a type that are not Structr's own Java code, with their keys canonical."""
    methods = definition.get("methods") if isinstance(definition, dict) else None
    if not isinstance(methods, dict):
        return {}
    return {
        name: copy.deepcopy(item)
        for name, item in methods.items()
        if isinstance(item, dict) and item.get("codeType") != "java"
    }


def _user_method_differences(name: str, old: Any, new: Any) -> list[str]:
    """A built-in type is Structr's, but methods someone added to it are the app's: compare those, and the
    sources of the function properties the server kept."""
    old_methods, new_methods = _user_methods(old), _user_methods(new)
    _strip_nested(old_methods, new_methods, _METHOD_ADDED, _METHOD_DROPPED)
    differences = [
        f"schema method {name}.{method} {_change(old_methods.get(method), new_methods.get(method))}"
        for method in sorted(old_methods.keys() | new_methods.keys())
        if old_methods.get(method) != new_methods.get(method)
    ]
    old_props, new_props = _dict_at(old, "properties"), _dict_at(new, "properties")
    for prop in sorted(old_props.keys() & new_props.keys()):
        for key in ("readFunction", "writeFunction"):
            before, after = _dict_at(old_props, prop).get(key), _dict_at(new_props, prop).get(key)
            if after is not None and before != after:
                differences.append(f"schema function {name}.{prop} {key} changed")
    return differences


def _change(old: Any, new: Any) -> str:
    return "added" if old is None else "removed" if new is None else "changed"


def _global_methods(methods: list[Any]) -> dict[str, Any]:
    return {str(item.get("name")): item for item in methods if isinstance(item, dict)}


def compare_schema(
    read_ref: Callable[[str], bytes | None], read_server: Callable[[str], bytes | None]
) -> SchemaComparison:
    """Compare the two schema folders as models; ``read_*`` give a file's bytes by export path, or None."""
    result = SchemaComparison()
    ref, server = _load(read_ref), _load(read_server)
    if ref is None or server is None:
        result.differences.append("schema/schema.json is not valid JSON")
        return result
    result.builtin_types = builtin_type_names(ref.definitions)
    for side in (ref, server):
        _resolve_sources(side, side.definitions)
        _resolve_sources(side, side.methods)
    if ref.from_files != server.from_files:
        result.rules.add(SOURCES_IN_FILES)
    for name in sorted(ref.definitions.keys() | server.definitions.keys()):
        old, new = ref.definitions.get(name), server.definitions.get(name)
        if name in result.builtin_types:
            if old != new:
                result.rules.add(BUILTIN_TYPES)
            result.differences.extend(_user_method_differences(name, old, new))
            continue
        if old is None or new is None:
            result.differences.append(f"schema type {name} {'added' if old is None else 'removed'}")
            continue
        if not (isinstance(old, dict) and isinstance(new, dict)):
            result.differences.append(f"schema type {name} changed")
            continue
        type_rules: set[str] = set()
        if _same_type(old, new, type_rules):
            result.rules.update(type_rules)
        else:
            result.differences.extend(_type_differences(name, old, new))
    old_globals, new_globals = _global_methods(ref.methods), _global_methods(server.methods)
    if _strip_nested(old_globals, new_globals, _METHOD_ADDED, _METHOD_DROPPED):
        result.rules.add(SCHEMA_KEYS)
    if old_globals != new_globals:
        result.differences.append("global schema methods changed")
    if ref.header != server.header:
        result.differences.append("schema/schema.json header changed")
    if not result.rules and not result.differences:
        result.rules.add(JSON_LAYOUT)
    return result
