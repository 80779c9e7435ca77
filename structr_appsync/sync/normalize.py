"""Normalization: remove what Structr writes differently between two exports of an unchanged app (§2.3).

Only noise is touched; every value an import reads stays. A JSON file is rewritten only when normalizing
changed its data, and then in Structr's own layout (Gson pretty JSON or the one-object-per-line "compact" form),
so that a file Structr already wrote in canonical order keeps its bytes.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from structr_appsync.config import NormalizeConfig

logger = logging.getLogger(__name__)

DEPLOYMENT_CONF = "deployment.conf"
APP_CONFIG_DATA = "application-configuration-data.json"
LAYOUT_CONFIG_TYPE = "layout"
LAYOUT_COORDINATE_KEYS = ("positions",)
_VERSION_KEY = "structr-version"
_DATE_KEY = "deployment-date"
_PROPERTY_LINE = re.compile(r"^\s*([^=:\s]+)\s*[=:]\s*(.*)$")
# Gson's default HTML-safe escaping, which Structr's exports show (\u003c, \u003d, \u0027, ...).
_GSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "=": "\\u003d",
    "'": "\\u0027",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def normalize_tree(path: Path, options: NormalizeConfig, *, previous: Path | None = None) -> list[str]:
    """Normalize the export folder ``path`` in place; return the relative paths that were rewritten.

    ``previous`` is the last committed (normalized) export, used to pin the build stamp; it may hold only
    deployment.conf.
    """
    changed: list[str] = []
    conf = path / DEPLOYMENT_CONF
    if conf.is_file():
        previous_conf = previous / DEPLOYMENT_CONF if previous is not None else None
        old_text = previous_conf.read_text(encoding="utf-8") if previous_conf and previous_conf.is_file() else None
        text = conf.read_text(encoding="utf-8")
        new_text = normalize_deployment_conf(text, options, previous=old_text)
        if new_text != text:
            conf.write_text(new_text, encoding="utf-8")
            changed.append(DEPLOYMENT_CONF)
    transforms: list[Callable[[str, Any], Any]] = []
    if options.sort_grantees:
        transforms.append(lambda _name, data: sort_grantees(data))
    if options.strip_schema_layouts:
        transforms.append(_strip_layouts_for)
    if not transforms:
        return changed
    for json_path in _json_candidates(path):
        relative = json_path.relative_to(path).as_posix()
        if _normalize_json_file(json_path, relative, transforms):
            changed.append(relative)
    if changed:
        logger.debug("normalized %s", ", ".join(changed))
    return changed


def _json_candidates(path: Path) -> list[Path]:
    found = sorted(path.glob("*.json"))
    for sub in ("security", "events"):
        found.extend(sorted((path / sub).glob("*.json")))
    return found


def _strip_layouts_for(name: str, data: Any) -> Any:
    return strip_schema_layouts(data) if name == APP_CONFIG_DATA else data


def _normalize_json_file(path: Path, name: str, transforms: list[Callable[[str, Any], Any]]) -> bool:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
        data = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        logger.debug("leaving %s alone: not JSON", name)
        return False
    result = data
    for transform in transforms:
        result = transform(name, result)
    if result == data and _same_order(result, data):
        return False
    trailing = text[len(text.rstrip("\r\n")) :]
    body = dump_compact_list(result) if _is_compact(text) else dump_pretty(result)
    path.write_bytes((body + trailing).encode("utf-8"))
    return True


def _same_order(left: Any, right: Any) -> bool:
    # dict equality ignores key order; the rewrite decision must not.
    if isinstance(left, dict) and isinstance(right, dict):
        return list(left) == list(right) and all(_same_order(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_same_order(a, b) for a, b in zip(left, right, strict=True))
    return True


def _is_compact(text: str) -> bool:
    lines = text.lstrip().splitlines()
    return len(lines) > 1 and lines[0] == "[" and lines[1].startswith("\t")


# -- deployment.conf -------------------------------------------------------------------------------------------


def _read_properties(text: str | None) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (text or "").splitlines():
        match = _PROPERTY_LINE.match(line)
        if match and not line.lstrip().startswith(("#", "!")):
            values[match.group(1)] = match.group(2).strip()
    return values


def normalize_deployment_conf(text: str, options: NormalizeConfig, *, previous: str | None = None) -> str:
    """Drop `deployment-date` and pin the build stamp of `structr-version` when only it changed.

    `structr-version` is "<version> <build> <timestamp>"; Structr's import checks only the version's first two
    digits (structr-api.md §3.4), so keeping the committed build and timestamp loses nothing an import needs.
    """
    previous_version = _read_properties(previous).get(_VERSION_KEY)
    lines = []
    for line in text.splitlines(keepends=True):
        match = _PROPERTY_LINE.match(line)
        key = match.group(1) if match else None
        if key == _DATE_KEY and options.strip_deployment_date:
            continue
        if key == _VERSION_KEY and match and options.pin_build_stamp and previous_version:
            current = match.group(2).strip()
            if current != previous_version and current.split()[:1] == previous_version.split()[:1]:
                ending = line[len(line.rstrip("\r\n")) :]
                line = f"{_VERSION_KEY} = {previous_version}{ending}"
        lines.append(line)
    return "".join(lines)


def structr_version_of(conf_text: str | None) -> str | None:
    """Return the version token of deployment.conf's `structr-version`, or None."""
    value = _read_properties(conf_text).get(_VERSION_KEY)
    return value.split()[0] if value else None


# -- grantees ----------------------------------------------------------------------------------------------------


def _sorted_allowed(value: Any) -> Any:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return sorted(value)
    if isinstance(value, str) and "," in value:
        # the 4.x form, a comma string; the importer splits it, so its order carries nothing.
        return ",".join(sorted(part.strip() for part in value.split(",")))
    return value


def _grantee_key(item: Any) -> tuple[str, str]:
    if isinstance(item, dict):
        return (str(item.get("name", "")), json.dumps(item, sort_keys=True))
    return ("", json.dumps(item, sort_keys=True))


def sort_grantees(data: Any) -> Any:
    """Return ``data`` with every `grantees` list sorted by name and every `allowed` list (or 4.x string) sorted."""
    if isinstance(data, list):
        return [sort_grantees(item) for item in data]
    if not isinstance(data, dict):
        return data
    result: dict[str, Any] = {}
    for key, value in data.items():
        if key == "grantees" and isinstance(value, list):
            entries = []
            for entry in value:
                if isinstance(entry, dict) and "allowed" in entry:
                    entry = {**entry, "allowed": _sorted_allowed(entry["allowed"])}
                entries.append(entry)
            result[key] = sorted(entries, key=_grantee_key)
        elif key == "allowed":
            result[key] = _sorted_allowed(value)
        else:
            result[key] = sort_grantees(value)
    return result


# -- schema layouts ----------------------------------------------------------------------------------------------


def strip_schema_layouts(data: Any) -> Any:
    """Drop the box coordinates from Schema-editor layouts in application-configuration-data.json.

    The entry stays (its id, name, hidden types, zoom...), so an import still recreates the layout; only the
    dragged positions, pure UI state (structr-api.md §2.3 item 5), go.
    """
    if not isinstance(data, list):
        return data
    result = []
    for entry in data:
        if isinstance(entry, dict) and entry.get("configType") == LAYOUT_CONFIG_TYPE:
            content = entry.get("content")
            if isinstance(content, str):
                try:
                    parsed = json.loads(content)
                except json.JSONDecodeError:
                    parsed = None
                if isinstance(parsed, dict) and any(key in parsed for key in LAYOUT_COORDINATE_KEYS):
                    kept = {key: value for key, value in parsed.items() if key not in LAYOUT_COORDINATE_KEYS}
                    entry = {**entry, "content": json.dumps(kept, ensure_ascii=False, separators=(",", ":"))}
        result.append(entry)
    return result


# -- Structr's JSON layouts --------------------------------------------------------------------------------------


def _gson(text: str) -> str:
    # These characters occur in JSON only inside string literals, so replacing them is safe.
    for char, escaped in _GSON_ESCAPES.items():
        if char in text:
            text = text.replace(char, escaped)
    return text


def dump_pretty(data: Any) -> str:
    """Serialize like Gson's pretty printer: two spaces, `"key": value`, nulls kept, key order kept."""
    return _gson(json.dumps(data, indent=2, ensure_ascii=False))


def dump_compact_list(data: Any) -> str:
    """Serialize like Structr's compact lists: `[`, one tab-indented object per line, `]`."""
    if not isinstance(data, list):
        return dump_pretty(data)
    if not data:
        return "[]"
    lines = [_gson(json.dumps(item, ensure_ascii=False, separators=(",", ":"))) for item in data]
    return "[\n" + ",\n".join("\t" + line for line in lines) + "\n]"
