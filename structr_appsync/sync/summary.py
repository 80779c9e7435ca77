"""What changed between two exports, in Structr's terms: pages, components, schema types, files, grants, ..."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from structr_appsync.exporttree import PLACEHOLDER_NAME

logger = logging.getLogger(__name__)

# (key, singular, plural) in the order they are reported.
CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("pages", "page", "pages"),
    ("components", "component", "components"),
    ("templates", "template", "templates"),
    ("schema_types", "schema type", "schema types"),
    ("schema_methods", "schema method", "schema methods"),
    ("files", "file", "files"),
    ("grants", "grant", "grants"),
    ("schema_grants", "schema grant", "schema grants"),
    ("cors", "CORS setting", "CORS settings"),
    ("mail_templates", "mail template", "mail templates"),
    ("widgets", "widget", "widgets"),
    ("localizations", "localization", "localizations"),
    ("sites", "site", "sites"),
    ("page_paths", "page path", "page paths"),
    ("app_config", "application configuration entry", "application configuration entries"),
    ("modules", "module", "modules"),
    ("events", "event mapping", "event mappings"),
    ("other", "other file", "other files"),
)
KINDS = ("added", "changed", "removed")
# How many names a line shows per kind before it only counts: a few for an initial export (it adds everything),
# more for an ordinary one.
MAX_NAMES = 10
MAX_NAMES_INITIAL = 3
# A file inside a schema type's folder says the type was touched, not whether the type itself is new: the type
# counts as changed unless schema.json says it was added or removed.
TOUCHED = "touched"
_VERBS = {"added": "add", "changed": "change", "removed": "remove"}
_UUID_SUFFIX = re.compile(r"^(.*)-([0-9a-f]{32}|[0-9a-f-]{36})$")

Reader = Callable[[str], bytes | None]


@dataclass
class CategoryChanges:
    """Names added, changed and removed within one category."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.added) + len(self.changed) + len(self.removed)


@dataclass
class ChangeSummary:
    """Per category, what an export added, changed and removed."""

    categories: dict[str, CategoryChanges] = field(default_factory=dict)
    initial: bool = False

    @property
    def is_empty(self) -> bool:
        return not any(changes.total for changes in self.categories.values())

    @property
    def deletions(self) -> dict[str, list[str]]:
        """Removed pages, components, templates and schema types (what an import would delete)."""
        keys = ("pages", "components", "templates", "schema_types")
        return {
            key: list(self.categories[key].removed)
            for key in keys
            if key in self.categories and self.categories[key].removed
        }

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            key: {kind: len(getattr(changes, kind)) for kind in KINDS}
            for key, changes in self.categories.items()
            if changes.total
        }

    def lines(self) -> list[str]:
        """One line per category: "Pages: 1 added (new); 2 changed (home, login)"."""
        result = []
        limit = MAX_NAMES_INITIAL if self.initial else MAX_NAMES
        for key, singular, plural in CATEGORIES:
            changes = self.categories.get(key)
            if not changes or not changes.total:
                continue
            parts = []
            for kind in KINDS:
                names = getattr(changes, kind)
                if names:
                    shown = ", ".join(names[:limit])
                    if len(names) > limit:
                        shown += f", … and {len(names) - limit} more"
                    parts.append(f"{len(names)} {kind} ({shown})")
            label = plural if changes.total != 1 else singular
            result.append(f"{label[0].upper()}{label[1:]}: " + "; ".join(parts))
        return result

    def subject(self) -> str:
        """A short lower-case phrase: "change page home", "add 2 pages", "update 3 pages, 2 files", "no changes".

        The verb is "add", "change" or "remove" when every change is of that one kind, else "update"."""
        active = [
            (singular, plural, self.categories[key])
            for key, singular, plural in CATEGORIES
            if key in self.categories and self.categories[key].total
        ]
        if not active:
            return "no changes"
        if len(active) == 1 and active[0][2].total == 1 and not self.initial:
            singular, _plural, changes = active[0]
            for kind, verb in (("added", "add"), ("changed", "change"), ("removed", "remove")):
                names = getattr(changes, kind)
                if names:
                    return f"{verb} {singular} {names[0]}"
        pieces = [f"{c.total} {plural if c.total != 1 else singular}" for singular, plural, c in active]
        text = ", ".join(pieces[:4])
        if len(pieces) > 4:
            text += f" and {len(pieces) - 4} more kinds"
        if self.initial:
            return f"initial export of {text}"
        kinds = {kind for _s, _p, changes in active for kind in KINDS if getattr(changes, kind)}
        verb = _VERBS[next(iter(kinds))] if len(kinds) == 1 else "update"
        return f"{verb} {text}"

    def to_json(self) -> dict[str, Any]:
        return {
            "changed": not self.is_empty,
            "initial": self.initial,
            "subject": self.subject(),
            "categories": {
                key: {kind: list(getattr(changes, kind)) for kind in KINDS}
                for key, changes in self.categories.items()
                if changes.total
            },
            "counts": self.counts(),
        }


class _Collector:
    def __init__(self) -> None:
        self.kinds: dict[str, dict[str, set[str]]] = {}

    def add(self, category: str, name: str, kind: str) -> None:
        self.kinds.setdefault(category, {}).setdefault(name, set()).add(kind)

    def summary(self, *, initial: bool) -> ChangeSummary:
        result = ChangeSummary(initial=initial)
        for category, names in self.kinds.items():
            changes = CategoryChanges()
            for name in sorted(names, key=str.lower):
                kinds = names[name] - {TOUCHED} or {"changed"}
                # added everywhere (html file and index entry) = added; any mix = changed
                kind = next(iter(kinds)) if len(kinds) == 1 else "changed"
                getattr(changes, kind).append(name)
            result.categories[category] = changes
        return result


def _display_dom_name(stem: str) -> str:
    match = _UUID_SUFFIX.match(stem)
    return match.group(1) if match and match.group(1) else stem


def _load_json(data: bytes | None) -> Any:
    if data is None:
        return None
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def _as_named(value: Any, identity: Callable[[dict[str, Any]], str]) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {identity(item): item for item in value if isinstance(item, dict)}
    return {}


def _diff_items(
    collector: _Collector, category: str, old: dict[str, Any], new: dict[str, Any], display: Callable[[str, Any], str]
) -> None:
    for key in new.keys() - old.keys():
        collector.add(category, display(key, new[key]), "added")
    for key in old.keys() - new.keys():
        collector.add(category, display(key, old[key]), "removed")
    for key in old.keys() & new.keys():
        if old[key] != new[key]:
            collector.add(category, display(key, new[key]), "changed")


def _by(*keys: str) -> Callable[[dict[str, Any]], str]:
    def identity(item: dict[str, Any]) -> str:
        for key in keys:
            if item.get(key):
                return str(item[key])
        return json.dumps(item, sort_keys=True)

    return identity


def _named(*keys: str) -> Callable[[str, Any], str]:
    def display(key: str, item: Any) -> str:
        if isinstance(item, dict):
            values = [str(item[k]) for k in keys if item.get(k)]
            if values:
                return values[0] if len(values) == 1 else f"{values[0]} ({', '.join(values[1:])})"
        return key

    return display


def _methods_of(definition: Any) -> dict[str, Any]:
    methods = definition.get("methods") if isinstance(definition, dict) else None
    return _as_named(methods, _by("name", "id"))


def _method_display(type_name: str) -> Callable[[str, Any], str]:
    return lambda key, _item: f"{type_name}.{key}"


def _diff_schema(collector: _Collector, old: Any, new: Any) -> None:
    old_defs = old.get("definitions", {}) if isinstance(old, dict) else {}
    new_defs = new.get("definitions", {}) if isinstance(new, dict) else {}
    for name in sorted(old_defs.keys() | new_defs.keys()):
        before, after = old_defs.get(name), new_defs.get(name)
        if before is None:
            collector.add("schema_types", name, "added")
        elif after is None:
            collector.add("schema_types", name, "removed")
        else:
            strip = {k: v for k, v in before.items() if k != "methods"} if isinstance(before, dict) else before
            strap = {k: v for k, v in after.items() if k != "methods"} if isinstance(after, dict) else after
            if strip != strap:
                collector.add("schema_types", name, "changed")
        _diff_items(
            collector,
            "schema_methods",
            _methods_of(before),
            _methods_of(after),
            _method_display(name),
        )
    old_global = _as_named(old.get("methods") if isinstance(old, dict) else None, _by("name", "id"))
    new_global = _as_named(new.get("methods") if isinstance(new, dict) else None, _by("name", "id"))
    _diff_items(collector, "schema_methods", old_global, new_global, lambda key, _item: key)


# file name -> (category, identity of list items, display of an item)
_JSON_LISTS: dict[str, tuple[str, Callable[[dict[str, Any]], str], Callable[[str, Any], str]]] = {
    "security/grants.json": ("grants", _by("signature", "id"), _named("signature")),
    "security/schema-grants.json": ("schema_grants", _by("id"), _named("schemaNode", "principal")),
    "security/cors-settings.json": ("cors", _by("requestUri", "id"), _named("requestUri")),
    "mail-templates.json": ("mail_templates", _by("id", "name"), _named("name", "locale")),
    "localizations.json": ("localizations", _by("id", "name"), _named("name", "domain", "locale")),
    "widgets.json": ("widgets", _by("id", "name"), _named("name")),
    "sites.json": ("sites", _by("id", "name"), _named("name")),
    "page-paths.json": ("page_paths", _by("id", "name"), _named("name")),
    "application-configuration-data.json": ("app_config", _by("id", "name"), _named("name", "configType")),
    "events/action-mapping.json": ("events", _by("id"), _named("event", "action")),
    "events/parameter-mapping.json": ("events", _by("id", "name"), _named("name")),
}
_JSON_MAPS: dict[str, tuple[str, Callable[[str, Any], str]]] = {
    "pages.json": ("pages", lambda key, _item: key),
    "components.json": ("components", lambda key, _item: _display_dom_name(key)),
    "templates.json": ("templates", lambda key, _item: _display_dom_name(key)),
    "files.json": (
        "files",
        lambda key, item: key + ("/" if isinstance(item, dict) and item.get("type") == "Folder" else ""),
    ),
}


def _classify_file(collector: _Collector, status: str, path: str) -> None:
    kind = {"A": "added", "D": "removed"}.get(status, "changed")
    parts = path.split("/")
    top = parts[0]
    if parts[-1] == PLACEHOLDER_NAME:
        return
    if top in ("pages", "components", "templates") and len(parts) == 2 and parts[1].endswith(".html"):
        stem = parts[1][: -len(".html")]
        collector.add(top, stem if top == "pages" else _display_dom_name(stem), kind)
    elif top == "files" and len(parts) > 1:
        collector.add("files", "/" + "/".join(parts[1:]), kind)
    elif top == "schema" and len(parts) >= 3:
        if parts[1] == "_globalMethods":
            collector.add("schema_methods", "/".join(parts[2:]), kind)
        elif parts[2] == "methods" and len(parts) >= 4:
            collector.add("schema_methods", f"{parts[1]}.{'/'.join(parts[3:])}", kind)
        else:
            collector.add("schema_types", parts[1], TOUCHED)
    elif top == "mail-templates" and len(parts) == 2:
        stem = parts[1].rsplit(".", 1)[0]
        name, _sep, locale = stem.partition("_-_")
        collector.add("mail_templates", f"{name} ({locale})" if locale else name, kind)
    elif top == "modules" and len(parts) >= 2:
        collector.add("modules", parts[1], kind)
    else:
        collector.add("other", path, kind)


def summarize_changes(
    changes: Iterable[tuple[str, str]], read_old: Reader, read_new: Reader, *, initial: bool = False
) -> ChangeSummary:
    """Summarize file-level changes (status A/M/D, path relative to the export folder) in Structr terms.

    JSON index files are compared item by item; ``read_old``/``read_new`` return a file's bytes (or None).
    """
    collector = _Collector()
    for status, path in changes:
        if path in _JSON_MAPS:
            category, display = _JSON_MAPS[path]
            old = _load_json(read_old(path)) if status != "A" else None
            new = _load_json(read_new(path)) if status != "D" else None
            _diff_items(
                collector, category, old if isinstance(old, dict) else {}, new if isinstance(new, dict) else {}, display
            )
        elif path in _JSON_LISTS:
            category, identity, display = _JSON_LISTS[path]
            old = _load_json(read_old(path)) if status != "A" else None
            new = _load_json(read_new(path)) if status != "D" else None
            _diff_items(collector, category, _as_named(old, identity), _as_named(new, identity), display)
        elif path == "schema/schema.json":
            old = _load_json(read_old(path)) if status != "A" else None
            new = _load_json(read_new(path)) if status != "D" else None
            _diff_schema(collector, old or {}, new or {})
        else:
            _classify_file(collector, status, path)
    return collector.summary(initial=initial)


def _files_under(root: Path | None) -> dict[str, Path]:
    if root is None or not root.is_dir():
        return {}
    return {path.relative_to(root).as_posix(): path for path in root.rglob("*") if path.is_file()}


def _same_content(left: Path, right: Path) -> bool:
    if left.stat().st_size != right.stat().st_size:
        return False
    return left.read_bytes() == right.read_bytes()


def file_changes(old: Path | None, new: Path) -> list[tuple[str, str]]:
    """Return (status, relative path) for every file that differs between two folders."""
    before, after = _files_under(old), _files_under(new)
    result = [("A", path) for path in after.keys() - before.keys()]
    result += [("D", path) for path in before.keys() - after.keys()]
    result += [("M", path) for path in before.keys() & after.keys() if not _same_content(before[path], after[path])]
    return sorted(result, key=lambda item: item[1])


def compare_trees(old: Path | None, new: Path) -> ChangeSummary:
    """Compare two normalized export folders (``old`` None: everything is new)."""

    def reader(root: Path | None) -> Reader:
        def read(path: str) -> bytes | None:
            if root is None:
                return None
            target = root / path
            return target.read_bytes() if target.is_file() else None

        return read

    return summarize_changes(file_changes(old, new), reader(old), reader(new), initial=old is None)
