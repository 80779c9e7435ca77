"""pre-/post-deploy.conf handling: the emulator cannot run Structr scripts, it understands only getOrCreate."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from tests.structr_emulator import store as store_module

_GET_OR_CREATE = re.compile(
    r"""\$\.getOrCreate\(\s*['"](User|Group)['"]\s*,\s*['"]name['"]\s*,\s*['"]([^'"]+)['"]\s*\)"""
)
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)


def apply_script(path: Path, principals: dict[str, dict[str, Any]], log: logging.Logger) -> None:
    """Log that the script ran; create principals named in `$.getOrCreate('User'|'Group','name','x')`."""
    if not path.is_file():
        return
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        log.info("%s is empty, ignoring it", path.name)
        return
    if text.lstrip().startswith("$") and not text.lstrip().startswith("${"):
        log.warning("Deprecation warning: %s uses the old '$' script syntax", path.name)
    log.info("Applying configuration from %s", path.name)
    calls = _GET_OR_CREATE.findall(text)
    for type_name, name in calls:
        exists = any(node.get("type") == type_name and node.get("name") == name for node in principals.values())
        if not exists:
            node_id = store_module.new_uuid()
            node: dict[str, Any] = {
                "id": node_id,
                "type": type_name,
                "name": name,
                "visibleToPublicUsers": False,
                "visibleToAuthenticatedUsers": False,
            }
            if type_name == "User":
                node["isAdmin"] = False
            principals[node_id] = node
        log.info("%s: getOrCreate('%s', 'name', '%s')", path.name, type_name, name)
    rest = _GET_OR_CREATE.sub("", _COMMENTS.sub("", text)).strip().strip("{}$;").strip()
    if rest:
        log.warning("%s: the emulator cannot run scripts; ignored: %s", path.name, rest[:200])
