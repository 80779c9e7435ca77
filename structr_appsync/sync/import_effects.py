"""What Structr's import of an export folder wipes and replaces (structr-api.md §3.1), in plain words.

Also the one adjustment appsync makes so that the import does what the ref says: when the ref holds no pages,
components or templates but the server does, Structr skips its DOM wipe and keeps them (a silent merge). A key
without an HTML file in templates.json turns the wipe on without creating anything, because Structr reads only
`*.html` files and uses the JSON as a lookup table.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DOM_KINDS = ("pages", "components", "templates")
WIPE_MARKER_KEY = "appsync-dom-wipe-marker"

# Files whose presence makes Structr delete every node of that kind and recreate them from the file,
# whatever extendExistingApp says (DC#importListData and friends).
ALWAYS_REPLACED = (
    ("security/grants.json", "resource access grants"),
    ("security/cors-settings.json", "CORS settings"),
    ("mail-templates.json", "mail templates"),
    ("widgets.json", "widgets"),
    ("localizations.json", "localizations"),
    ("application-configuration-data.json", "application configuration data"),
    ("security/schema-grants.json", "schema grants"),
    ("page-paths.json", "page paths"),
    ("events/parameter-mapping.json", "parameter mappings"),
    ("events/action-mapping.json", "action mappings"),
)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def dom_entry_count(export_dir: Path) -> int:
    """Return the number of keys in pages.json, components.json and templates.json together."""
    total = 0
    for kind in DOM_KINDS:
        data = _read_json(export_dir / f"{kind}.json")
        if isinstance(data, dict):
            total += len(data)
    return total


def import_effects(export_dir: Path, *, with_data: bool, wipe_marker: bool = False) -> list[str]:
    """Describe, one line each, what importing ``export_dir`` (folders already restored) does on the server."""
    effects = []
    dom = dom_entry_count(export_dir)
    dirs = all((export_dir / kind).is_dir() for kind in DOM_KINDS)
    if wipe_marker:
        effects.append(
            "pages, components and templates: all wiped on the server, and none recreated (the ref has none; "
            "appsync turns on the wipe that Structr skips for an export without pages)"
        )
    elif dom and dirs:
        effects.append("pages, components and templates: all wiped on the server, then recreated from the ref")
        if (export_dir / "sites.json").is_file():
            effects.append("sites: wiped with the pages and recreated")
    elif dom:
        effects.append("pages: replaced by name only; pages missing from the ref stay (a pages folder is missing)")
    if (export_dir / "schema" / "schema.json").is_file():
        effects.append("schema: all types, properties, views and methods replaced (data of removed types stays)")
    for relative, label in ALWAYS_REPLACED:
        if (export_dir / relative).is_file():
            effects.append(f"{label}: all replaced")
    if (export_dir / "files.json").is_file():
        effects.append("files: added or updated (Structr's import never deletes files; appsync removes the extra ones)")
    effects.append("users, groups and data nodes: kept")
    if with_data:
        effects.append("data/: the data deployment in the ref is imported too (nodes with the same id are recreated)")
    return effects


def needs_wipe_marker(ref_dir: Path, live_dir: Path) -> bool:
    """True when the ref has no DOM entries but the server has some, so Structr would keep them."""
    return dom_entry_count(ref_dir) == 0 and dom_entry_count(live_dir) > 0


def add_wipe_marker(export_dir: Path) -> None:
    """Add a templates.json key without an HTML file, so that Structr wipes pages, components and templates."""
    for kind in DOM_KINDS:
        (export_dir / kind).mkdir(exist_ok=True)
    path = export_dir / "templates.json"
    data = _read_json(path)
    entries: dict[str, Any] = data if isinstance(data, dict) else {}
    entries[WIPE_MARKER_KEY] = {}
    path.write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    logger.debug("added the DOM wipe marker to %s", path)


def remove_wipe_marker(export_dir: Path, original: bytes | None) -> None:
    """Put templates.json back as it was before add_wipe_marker (``original`` None = it did not exist)."""
    path = export_dir / "templates.json"
    if original is None:
        path.unlink(missing_ok=True)
    else:
        path.write_bytes(original)


@dataclass(frozen=True)
class StaleFile:
    """A file or folder on the server that the ref does not have (by UUID); Structr's import keeps it."""

    path: str
    node_id: str
    is_folder: bool


def stale_files(ref_dir: Path, live_dir: Path) -> list[StaleFile]:
    """Return the exported files and folders of the server whose UUID the ref's files.json lacks, deepest first.

    Structr's import never deletes files (§3.1), so appsync deletes these itself to make the server hold the ref.
    """
    ref_index = _read_json(ref_dir / "files.json")
    live_index = _read_json(live_dir / "files.json")
    if not isinstance(live_index, dict):
        return []
    wanted = {str(item.get("id")) for item in (ref_index or {}).values() if isinstance(item, dict)}
    found = [
        StaleFile(path=path, node_id=str(item["id"]), is_folder=item.get("type") == "Folder")
        for path, item in live_index.items()
        if isinstance(item, dict) and item.get("id") and str(item["id"]) not in wanted
    ]
    return sorted(found, key=lambda item: (-item.path.count("/"), item.path))
