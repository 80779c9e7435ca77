"""What Structr 6.1.0 writes per exported object kind, and helpers for owners and grantees."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

# Keys Structr 6.1.0 writes for each kind (structr-api.md §2). Missing keys are written with these defaults;
# keys not listed here are kept as "dynamic properties" and written back unchanged.
PAGE_DEFAULTS: dict[str, Any] = {
    "basicAuthRealm": None,
    "cacheForSeconds": None,
    "category": None,
    "contentType": None,
    "dontCache": False,
    "enableBasicAuth": False,
    "grantees": [],
    "hidden": False,
    "hideConditions": None,
    "owner": None,
    "pageCreatesRawData": False,
    "path": None,
    "position": None,
    "showConditions": None,
    "showOnErrorCodes": None,
    "visibleToAuthenticatedUsers": False,
    "visibleToPublicUsers": False,
}
GRANT_DEFAULTS: dict[str, Any] = {
    "flags": 0,
    "grantees": [],
    "visibleToAuthenticatedUsers": False,
    "visibleToPublicUsers": False,
}
DOM_SHARED_DEFAULTS: dict[str, Any] = {
    "contentType": None,
    "visibleToAuthenticatedUsers": False,
    "visibleToPublicUsers": False,
}
_ABSTRACT_FILE_DEFAULTS: dict[str, Any] = {
    "basicAuthRealm": None,
    "cacheForSeconds": None,
    "contentType": None,
    "enableBasicAuth": False,
    "grantees": [],
    "includeInFrontendExport": False,
    "owner": None,
    "visibleToAuthenticatedUsers": False,
    "visibleToPublicUsers": False,
}
FOLDER_DEFAULTS = dict(_ABSTRACT_FILE_DEFAULTS)
FILE_DEFAULTS = {**_ABSTRACT_FILE_DEFAULTS, "dontCache": False, "isTemplate": False}
IMAGE_DEFAULTS = {**FILE_DEFAULTS, "height": None, "isImage": True, "isThumbnail": False, "width": None}
WIDGET_DEFAULTS: dict[str, Any] = {
    "configuration": None,
    "description": None,
    "isPageTemplate": False,
    "isWidget": True,
    "name": None,
    "selectors": [],
    "source": None,
    "treePath": None,
    "visibleToAuthenticatedUsers": False,
    "visibleToPublicUsers": False,
}
SITE_DEFAULTS: dict[str, Any] = {
    "grantees": [],
    "hostname": None,
    "owner": None,
    "pages": [],
    "port": None,
    "visibleToAuthenticatedUsers": False,
    "visibleToPublicUsers": False,
}
MAIL_TEMPLATE_DEFAULTS: dict[str, Any] = {
    "visibleToAuthenticatedUsers": False,
    "visibleToPublicUsers": False,
}


def file_defaults(type_name: str) -> dict[str, Any]:
    if type_name == "Folder":
        return FOLDER_DEFAULTS
    if type_name == "Image" or type_name.endswith("Image"):
        return IMAGE_DEFAULTS
    return FILE_DEFAULTS


def with_defaults(props: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    merged = {key: _copy(value) for key, value in defaults.items()}
    merged.update(props)
    return merged


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def normalize_allowed(allowed: Any) -> list[str]:
    """Convert 4.x comma strings ("accessControl,read,write,delete") to the 6.x list form."""
    if isinstance(allowed, str):
        return [part.strip() for part in allowed.split(",") if part.strip()]
    return list(allowed or [])


class PrincipalResolver:
    """Resolves owner/grantee names against the principals; counts what had to be dropped."""

    def __init__(self, name_counts: Mapping[str, int]) -> None:
        self.name_counts = dict(name_counts)
        self.missing: dict[str, int] = {}
        self.ambiguous: dict[str, int] = {}

    def add(self, name: str) -> None:
        self.name_counts[name] = self.name_counts.get(name, 0) + 1

    def ok(self, name: str) -> bool:
        count = self.name_counts.get(name, 0)
        if count == 1:
            return True
        bucket = self.missing if count == 0 else self.ambiguous
        bucket[name] = bucket.get(name, 0) + 1
        return False

    def fix(self, props: dict[str, Any]) -> dict[str, Any]:
        """Drop unresolvable owner/grantees (Structr's checkOwnerAndSecurity) and normalize `allowed`."""
        fixed = dict(props)
        owner = fixed.get("owner")
        if isinstance(owner, dict) and not self.ok(str(owner.get("name"))):
            fixed["owner"] = None
        if "grantees" in fixed:
            grantees = []
            for grantee in fixed.get("grantees") or []:
                if self.ok(str(grantee.get("name"))):
                    grantees.append({**grantee, "allowed": normalize_allowed(grantee.get("allowed"))})
            fixed["grantees"] = grantees
        return fixed

    def warning(self) -> str | None:
        if not self.missing and not self.ambiguous:
            return None
        parts = [f"{name} ({count}x)" for name, count in sorted(self.missing.items())]
        text = "Missing Principal(s): The following user(s) and/or group(s) are missing for grants or node "
        text += "ownership: [" + ", ".join(parts) + "]"
        if self.ambiguous:
            amb = [f"{name} ({count}x)" for name, count in sorted(self.ambiguous.items())]
            text += "; ambiguous principal name(s), dropped: [" + ", ".join(amb) + "]"
        return text


def noisy_order(props: dict[str, Any], rng: random.Random | None) -> dict[str, Any]:
    """Reorder `grantees` and each `allowed` list randomly (Structr does not sort them; §2.3 item 4)."""
    if rng is None or not props.get("grantees"):
        return props
    grantees = [{**grantee, "allowed": _shuffled(grantee.get("allowed") or [], rng)} for grantee in props["grantees"]]
    rng.shuffle(grantees)
    return {**props, "grantees": grantees}


def _shuffled(items: list[Any], rng: random.Random) -> list[Any]:
    copy = list(items)
    rng.shuffle(copy)
    return copy


ChangeFn = Callable[[dict[str, Any]], dict[str, Any]]
