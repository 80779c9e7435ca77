"""Which principals (owners, grantees) an export references, and which of them a target Structr lacks."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# HTML metadata comments (structr-api.md §2.2): `@structr:owner(name)` and `@structr:grant(name,flags)`.
_OWNER_COMMENT = re.compile(r"@structr:owner\(([^)]*)\)")
_GRANT_COMMENT = re.compile(r"@structr:grant\(([^,)]*)(?:,[^)]*)?\)")
# The one script form the pre-deploy.conf hint suggests, and that Structr users write to create principals.
_GET_OR_CREATE = re.compile(
    r"""\$\.getOrCreate\(\s*['"](User|Group)['"]\s*,\s*['"]name['"]\s*,\s*['"]([^'"]+)['"]\s*\)"""
)

# JSON files whose entries carry `owner` / `grantees` (§2). schema/ and modules/ are left out on purpose:
# there "owner" is a property name, not a principal.
_JSON_FILES = (
    "pages.json",
    "components.json",
    "templates.json",
    "files.json",
    "sites.json",
    "widgets.json",
    "mail-templates.json",
    "localizations.json",
    "page-paths.json",
    "application-configuration-data.json",
    "security/grants.json",
    "security/schema-grants.json",
    "security/cors-settings.json",
)
_HTML_FOLDERS = ("pages", "components", "templates")


@dataclass(frozen=True)
class MissingPrincipal:
    """A principal the export references and the target cannot resolve."""

    name: str
    reason: str  # "missing" or "ambiguous" (a User and a Group, or duplicates, share the name)
    used_in: tuple[str, ...]  # export-relative files that reference it, first few only


def _names_in_json(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("owner", "principal") and isinstance(item, dict) and isinstance(item.get("name"), str):
                yield item["name"]
            elif key == "grantees" and isinstance(item, list):
                for grantee in item:
                    if isinstance(grantee, dict) and isinstance(grantee.get("name"), str):
                        yield grantee["name"]
            else:
                yield from _names_in_json(item)
    elif isinstance(value, list):
        for item in value:
            yield from _names_in_json(item)


def _names_in_html(text: str) -> Iterator[str]:
    for pattern in (_OWNER_COMMENT, _GRANT_COMMENT):
        for match in pattern.finditer(text):
            name = match.group(1).strip()
            if name:
                yield name


def referenced_principals(export_dir: Path) -> dict[str, list[str]]:
    """Return principal name -> export-relative files that reference it (as owner or grantee)."""
    found: dict[str, list[str]] = {}

    def note(names: Iterable[str], where: str) -> None:
        for name in names:
            places = found.setdefault(name, [])
            if where not in places:
                places.append(where)

    for relative in _JSON_FILES:
        path = export_dir / relative
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            logger.debug("cannot read %s for principals: %s", path, exc)
            continue
        note(_names_in_json(data), relative)
    for folder in _HTML_FOLDERS:
        base = export_dir / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.html")):
            text = path.read_text(encoding="utf-8", errors="replace")
            note(_names_in_html(text), path.relative_to(export_dir).as_posix())
    return found


def created_by_pre_deploy(export_dir: Path) -> set[str]:
    """Return the principal names that the export's pre-deploy.conf creates with $.getOrCreate."""
    path = export_dir / "pre-deploy.conf"
    if not path.is_file():
        return set()
    text = path.read_text(encoding="utf-8", errors="replace")
    return {match.group(2) for match in _GET_OR_CREATE.finditer(text)}


def missing_principals(
    referenced: Mapping[str, list[str]],
    existing: Mapping[str, list[str]],
    *,
    created: Iterable[str] = (),
) -> list[MissingPrincipal]:
    """Return the referenced principals Structr would drop on import, sorted by name.

    ``existing`` maps a principal name to the types holding it on the target (e.g. ``["User"]``). Structr
    resolves owners and grantees by name and drops names that are missing or ambiguous (§3.5).
    """
    created_names = set(created)
    result = []
    for name in sorted(referenced):
        kinds = existing.get(name, [])
        if len(kinds) == 1 or (not kinds and name in created_names):
            continue
        reason = "ambiguous" if kinds else "missing"
        result.append(MissingPrincipal(name=name, reason=reason, used_in=tuple(referenced[name][:3])))
    return result


def pre_deploy_hint(missing: Iterable[MissingPrincipal]) -> str:
    """Return a hint telling the user how to create the missing principals in pre-deploy.conf."""
    names = [item.name for item in missing if item.reason == "missing"]
    if not names:
        return "make each principal name unique on the target (a User and a Group must not share a name)"
    lines = ", ".join(f"$.getOrCreate('User', 'name', '{name}')" for name in names[:3])
    more = " ..." if len(names) > 3 else ""
    return f"create them in the export's pre-deploy.conf, e.g. {lines}{more} (use 'Group' for groups)"
