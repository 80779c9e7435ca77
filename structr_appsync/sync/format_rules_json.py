"""Structr's import rewrites of the JSON index files (used only by ``format_rewrites``).

Each rule turns both parsed files into a common form when, and only when, the difference is one Structr's
import makes by itself (measured: structr-api.md §9). Whatever is left different afterwards is real.
"""

from __future__ import annotations

import json
from typing import Any

JSON_LAYOUT = "json-layout"
ALLOWED_LIST = "allowed-list"
ENTRY_ORDER = "entry-order"
INDEX_DEFAULTS = "index-defaults"
FILE_DEFAULTS = "file-defaults"
WIDGET_DEFAULTS = "widget-defaults"
GRANT_DEFAULTS = "grant-defaults"
EMPTY_GRANTS = "empty-grants"

JSON_RULES: dict[str, str] = {
    JSON_LAYOUT: "JSON written with another indentation or line layout",
    ALLOWED_LIST: '4.x grant strings (allowed: "read,write") written as lists',
    ENTRY_ORDER: "entries of a list file written in another order",
    INDEX_DEFAULTS: 'pages, components and templates gain "restQuery" (and pages "contentType"), lose null contentType',
    FILE_DEFAULTS: "files.json drops keys that hold their default value",
    WIDGET_DEFAULTS: 'widgets gain "isPageTemplate" and "selectors", lose empty "pictures"',
    GRANT_DEFAULTS: 'resource grants gain "grantees" and the visibility flags',
    EMPTY_GRANTS: "resource grants that grant nothing (flags 0, no grantees) dropped",
}


class _Any:
    """Matches any value of a key Structr adds (its value is derived from other data)."""

    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Any()


def _matches(expected: Any, value: Any) -> bool:
    return expected is ANY or (value == expected and type(value) is type(expected))


def strip_defaults(ref: dict[str, Any], server: dict[str, Any], added: dict[str, Any], dropped: dict[str, Any]) -> bool:
    """Remove, in place, keys the server added with their default value and keys it dropped that held theirs.

    Returns whether anything was removed.
    """
    changed = False
    for key, default in added.items():
        if key not in ref and key in server and _matches(default, server[key]):
            del server[key]
            changed = True
    for key, default in dropped.items():
        if key in ref and key not in server and _matches(default, ref[key]):
            del ref[key]
            changed = True
    return changed


def load_json(data: bytes) -> Any:
    """Parse JSON bytes; raise ValueError when they are not JSON."""
    return json.loads(data.decode("utf-8"))


def _canonical_allowed(value: Any) -> tuple[Any, bool]:
    if isinstance(value, dict):
        result, changed = {}, False
        for key, item in value.items():
            if key == "allowed" and isinstance(item, str):
                item, changed = [part.strip() for part in item.split(",") if part.strip()], True
            if key == "allowed" and isinstance(item, list):
                result[key] = sorted(str(part) for part in item)
                continue
            result[key], inner = _canonical_allowed(item)
            changed = changed or inner
        return result, changed
    if isinstance(value, list):
        items = [_canonical_allowed(item) for item in value]
        return [item for item, _ in items], any(changed for _, changed in items)
    return value, False


def _entry_key(entry: Any) -> str:
    if isinstance(entry, dict) and isinstance(entry.get("id"), str):
        return str(entry["id"])
    return json.dumps(entry, sort_keys=True)


def _as_entries(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict) and all(isinstance(item, dict) for item in value.values()):
        return value
    if isinstance(value, list):
        return {_entry_key(entry): entry for entry in value}
    return None


_ADDED: dict[str, tuple[str, dict[str, Any]]] = {
    "pages.json": (INDEX_DEFAULTS, {"restQuery": ANY, "contentType": "text/html"}),
    "components.json": (INDEX_DEFAULTS, {"restQuery": ANY}),
    "templates.json": (INDEX_DEFAULTS, {"restQuery": ANY}),
    "widgets.json": (WIDGET_DEFAULTS, {"isPageTemplate": False, "selectors": None}),
    "security/grants.json": (
        GRANT_DEFAULTS,
        {"grantees": [], "visibleToAuthenticatedUsers": ANY, "visibleToPublicUsers": ANY},
    ),
}
_DROPPED: dict[str, tuple[str, dict[str, Any]]] = {
    "components.json": (INDEX_DEFAULTS, {"contentType": None}),
    "templates.json": (INDEX_DEFAULTS, {"contentType": None}),
    "files.json": (
        FILE_DEFAULTS,
        {
            "basicAuthRealm": None,
            "cacheForSeconds": None,
            "contentType": None,
            "enableBasicAuth": False,
            "useAsJavascriptLibrary": False,
        },
    ),
    "widgets.json": (WIDGET_DEFAULTS, {"pictures": []}),
}


def _grants_nothing(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and entry.get("flags") == 0
        and not entry.get("grantees")
        and not entry.get("visibleToAuthenticatedUsers")
        and not entry.get("visibleToPublicUsers")
    )


def _drop_empty_grants(ref: dict[str, Any], server: dict[str, Any]) -> bool:
    lonely = [(side, key) for side, other in ((ref, server), (server, ref)) for key in side.keys() - other.keys()]
    if not lonely or not all(_grants_nothing(side[key]) for side, key in lonely):
        return False
    for side, key in lonely:
        del side[key]
    return True


def _apply_entry_rules(path: str, ref: dict[str, Any], server: dict[str, Any], rules: set[str]) -> None:
    if path == "security/grants.json" and _drop_empty_grants(ref, server):
        rules.add(EMPTY_GRANTS)
    for table in (_ADDED, _DROPPED):
        if path not in table:
            continue
        rule, defaults = table[path]
        for key in ref.keys() & server.keys():
            old, new = ref[key], server[key]
            if not (isinstance(old, dict) and isinstance(new, dict)):
                continue
            added, dropped = (defaults, {}) if table is _ADDED else ({}, defaults)
            if strip_defaults(old, new, added, dropped):
                rules.add(rule)


def json_rewrites(path: str, ref: Any, server: Any) -> set[str] | None:
    """Return the rules that explain how parsed ``server`` differs from parsed ``ref``, or None if real."""
    rules: set[str] = set()
    ref, ref_changed = _canonical_allowed(ref)
    server, server_changed = _canonical_allowed(server)
    if ref_changed != server_changed:
        rules.add(ALLOWED_LIST)
    if ref == server:
        return rules if rules else {JSON_LAYOUT}
    old_entries, new_entries = _as_entries(ref), _as_entries(server)
    if old_entries is None or new_entries is None:
        return None
    if isinstance(ref, list) and isinstance(server, list):
        common = old_entries.keys() & new_entries.keys()
        if [key for key in old_entries if key in common] != [key for key in new_entries if key in common]:
            rules.add(ENTRY_ORDER)
    _apply_entry_rules(path, old_entries, new_entries, rules)
    if old_entries != new_entries:
        return None
    return rules
