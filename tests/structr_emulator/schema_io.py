"""Reading and writing `schema/` in Structr's tree format (method and function sources as files)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from tests.structr_emulator import jsonfmt

_FUNCTION_KEYS = ("readFunction", "writeFunction")


def _methods_of(definition: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    methods = definition.get("methods")
    if not isinstance(methods, dict):
        return []
    found = []
    for name, spec in methods.items():
        # Overloaded methods are a list of specs sharing one name (and one source file).
        for item in spec if isinstance(spec, list) else [spec]:
            if isinstance(item, dict):
                found.append((name, item))
    return found


def _source_slots(schema: dict[str, Any]) -> list[tuple[dict[str, Any], str, str]]:
    """Return (holder dict, key, relative file path) for every source the tree format stores as a file."""
    slots = []
    for type_name, definition in (schema.get("definitions") or {}).items():
        if not isinstance(definition, dict):
            continue
        for method_name, spec in _methods_of(definition):
            slots.append((spec, "source", f"{type_name}/methods/{method_name}"))
        for prop_name, prop in (definition.get("properties") or {}).items():
            if isinstance(prop, dict):
                slots.extend((prop, key, f"{type_name}/functions/{prop_name}.{key}") for key in _FUNCTION_KEYS)
    for method in schema.get("methods") or []:
        if isinstance(method, dict) and method.get("name"):
            slots.append((method, "source", f"_globalMethods/{method['name']}"))
    return slots


def read_schema(schema_dir: Path) -> tuple[dict[str, Any], list[str]]:
    """Load schema.json and inline the sources referenced as "./<path>". Returns (schema, missing files)."""
    schema = json.loads((schema_dir / "schema.json").read_text(encoding="utf-8"))
    missing = []
    for holder, key, _ in _source_slots(schema):
        value = holder.get(key)
        if isinstance(value, str) and value.startswith("./"):
            path = schema_dir / value[2:]
            if path.is_file():
                holder[key] = path.read_text(encoding="utf-8")
            else:
                holder[key] = None
                missing.append(value[2:])
    return schema, missing


def write_schema(schema: dict[str, Any], schema_dir: Path) -> None:
    """Write schema.json plus one file per non-null source; schema.json points at "./<file>"."""
    tree = copy.deepcopy(schema)
    for holder, key, rel_path in _source_slots(tree):
        value = holder.get(key)
        if value is None:
            continue
        target = schema_dir / rel_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(value, encoding="utf-8")
        holder[key] = "./" + rel_path
    definitions = tree.get("definitions") or {}
    tree["definitions"] = {name: definitions[name] for name in sorted(definitions)}
    tree["methods"] = sorted(tree.get("methods") or [], key=lambda method: str(method.get("name")))
    ordered = {key: tree[key] for key in sorted(tree)}
    (schema_dir / "schema.json").write_text(jsonfmt.pretty(ordered, sort_keys=False), encoding="utf-8")


def merge_schema(current: dict[str, Any], incoming: dict[str, Any]) -> dict[str, Any]:
    """extendExistingApp: types in the file replace same-named ones; global methods replace by name."""
    merged = copy.deepcopy(current)
    merged.setdefault("definitions", {}).update(copy.deepcopy(incoming.get("definitions") or {}))
    by_name = {method.get("name"): method for method in merged.get("methods") or []}
    for method in incoming.get("methods") or []:
        by_name[method.get("name")] = copy.deepcopy(method)
    merged["methods"] = list(by_name.values())
    for key, value in incoming.items():
        if key not in ("definitions", "methods"):
            merged[key] = copy.deepcopy(value)
    return merged
