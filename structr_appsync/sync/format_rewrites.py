"""How Structr rewrites an imported export into its own format, told apart from real differences.

This is the one place that knows the rewrites (measured on Structr 6.1.0: structr-api.md §9; the rules live in
``format_rules_html``, ``format_rules_json`` and ``format_rules_schema`` and are listed in ``RULES``). Given a
ref's export and what the server exported after importing it, every file that differs is either a format
rewrite (named by its rules), a file Structr's format adds or drops, or a real difference: a page missing,
changed page content, a changed schema method, a file with other bytes.

Pure: the only input is what is passed in (bytes, or functions that return a path's bytes).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from structr_appsync.sync.format_rules_html import HTML_RULES, html_forecast, html_rewrites
from structr_appsync.sync.format_rules_json import ALLOWED_LIST, JSON_LAYOUT, JSON_RULES, load_json
from structr_appsync.sync.format_rules_json import json_rewrites as _json_rewrites
from structr_appsync.sync.format_rules_schema import (
    BUILTIN_TYPES,
    SCHEMA_JSON,
    SCHEMA_RULES,
    SOURCES_IN_FILES,
    builtin_type_names,
    compare_schema,
    inline_source_count,
)

Reader = Callable[[str], bytes | None]

SERVER_WRITTEN = "server-written"
DEFAULT_FILES = "default-files"
EMPTY_FILE_CONTENT = "empty-file-content"

FILE_RULES: dict[str, str] = {
    SERVER_WRITTEN: "deployment.conf and the pre-/post-deploy scripts written by the server itself",
    DEFAULT_FILES: "index files that hold nothing (an empty list or object) added or dropped",
    EMPTY_FILE_CONTENT: "a file listed in files.json without content in files/ created empty",
}
RULES: dict[str, str] = {**HTML_RULES, **JSON_RULES, **SCHEMA_RULES, **FILE_RULES}
"""Every rewrite rule by name, with a one-line description (for plans, summaries and commit messages)."""

SERVER_WRITTEN_FILES = frozenset({"deployment.conf", "pre-deploy.conf", "post-deploy.conf"})
# Index files a 6.1 export always holds, even for an app without them (real-6.1.0/exports/hello-world).
DEFAULT_INDEX_FILES = frozenset(
    {
        "application-configuration-data.json",
        "components.json",
        "events/action-mapping.json",
        "events/parameter-mapping.json",
        "files.json",
        "localizations.json",
        "mail-templates.json",
        "modules/api-builder/virtual-types.json",
        "modules/messaging-module/messaging-engine.json",
        "page-paths.json",
        "pages.json",
        SCHEMA_JSON,
        "security/cors-settings.json",
        "security/grants.json",
        "security/schema-grants.json",
        "sites.json",
        "templates.json",
        "widgets.json",
    }
)
_DOM_FOLDERS = ("pages/", "components/", "templates/")

SAME, REWRITE, DIFFERENT = "same", "rewrite", "different"


@dataclass(frozen=True)
class FileVerdict:
    """What one path's difference is: SAME, REWRITE (with its rules) or DIFFERENT (with a reason)."""

    path: str
    status: str
    rules: tuple[str, ...] = ()
    reason: str = ""
    change: str = "M"  # A (only the server has it), D (only the ref has it) or M, as git's diff-tree says

    def as_change(self) -> tuple[str, str]:
        """(status, path) as ``summary.summarize_changes`` takes it."""
        return self.change, self.path


@dataclass
class TreeComparison:
    """All differences between a ref's export and the server's, sorted into rewrites and real differences."""

    rewritten: dict[str, tuple[str, ...]] = field(default_factory=dict)  # on both sides, rewritten
    added_by_format: dict[str, tuple[str, ...]] = field(default_factory=dict)  # only the server has them
    removed_by_format: dict[str, tuple[str, ...]] = field(default_factory=dict)  # only the ref has them
    differences: list[FileVerdict] = field(default_factory=list)  # real differences

    @property
    def format_only(self) -> bool:
        """True when every difference is one of Structr's format rewrites."""
        return not self.differences

    @property
    def rewritten_count(self) -> int:
        """How many files Structr's format changed, added or dropped."""
        return len(self.rewritten) + len(self.added_by_format) + len(self.removed_by_format)

    def rule_counts(self) -> dict[str, int]:
        """Per rule, the number of files it explains."""
        counts: Counter[str] = Counter()
        for table in (self.rewritten, self.added_by_format, self.removed_by_format):
            for rules in table.values():
                counts.update(rules)
        return dict(sorted(counts.items()))


def _text(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _is_empty_index(path: str, data: bytes) -> bool:
    if not path.endswith(".json") or path.startswith("files/"):
        return False
    try:
        return load_json(data) in ([], {})
    except ValueError:
        return False


def _listed_in_files_json(path: str, read_ref: Reader | None) -> bool:
    if read_ref is None or not path.startswith("files/"):
        return False
    data = read_ref("files.json")
    try:
        listed = load_json(data) if data is not None else {}
    except ValueError:
        return False
    return isinstance(listed, dict) and path[len("files") :] in listed


def _one_sided(path: str, ref: bytes | None, server: bytes | None, read_ref: Reader | None) -> FileVerdict:
    present = server if ref is None else ref
    assert present is not None
    if path in SERVER_WRITTEN_FILES:
        return FileVerdict(path, REWRITE, (SERVER_WRITTEN,))
    if _is_empty_index(path, present):
        return FileVerdict(path, REWRITE, (DEFAULT_FILES,))
    if ref is None and present == b"" and _listed_in_files_json(path, read_ref):
        return FileVerdict(path, REWRITE, (EMPTY_FILE_CONTENT,))
    what = "page" if path.startswith("pages/") else "file"
    return FileVerdict(
        path, DIFFERENT, reason=f"{what} {'added on the server' if ref is None else 'missing on the server'}"
    )


def classify_file(path: str, ref: bytes | None, server: bytes | None, *, read_ref: Reader | None = None) -> FileVerdict:
    """Classify how the server's ``server`` bytes of export path ``path`` differ from the ref's ``ref``.

    None means the path is missing on that side. ``read_ref`` (optional) reads other files of the ref, which
    one rule needs (files.json for files created empty). Schema files are compared as one model: use
    ``compare_changes`` for the whole schema folder; here a schema file is compared on its own.
    """
    if ref == server:
        return FileVerdict(path, SAME)
    if path.startswith("schema/"):
        status = "A" if ref is None else "D" if server is None else "M"
        verdicts = _schema_verdicts(
            [(status, path)],
            lambda wanted: ref if wanted == path else None,
            lambda wanted: server if wanted == path else None,
        )
        return next((verdict for verdict in verdicts if verdict.path == path), verdicts[0])
    if ref is None or server is None:
        return _one_sided(path, ref, server, read_ref)
    if path in SERVER_WRITTEN_FILES:
        return FileVerdict(path, REWRITE, (SERVER_WRITTEN,))
    if path.startswith("files/"):
        return FileVerdict(path, DIFFERENT, reason="file content differs")
    old, new = _text(ref), _text(server)
    rules: set[str] | None = None
    if old is not None and new is not None:
        if path.endswith(".json"):
            rules = _json_file_rules(path, old, new)
        elif path.endswith(".html") and path.startswith(_DOM_FOLDERS):
            rules = html_rewrites(old, new)
    if rules is None:
        return FileVerdict(path, DIFFERENT, reason=_reason(path))
    return FileVerdict(path, REWRITE, tuple(sorted(rules)))


def _json_file_rules(path: str, old: str, new: str) -> set[str] | None:
    try:
        ref_value, server_value = load_json(old.encode()), load_json(new.encode())
    except ValueError:
        return None
    return _json_rewrites(path, ref_value, server_value)


def _reason(path: str) -> str:
    if path.startswith("pages/"):
        return "page content differs"
    if path.startswith(("components/", "templates/")):
        return "component or template content differs"
    return "content differs"


def _record(result: TreeComparison, verdict: FileVerdict, status: str) -> None:
    if verdict.status == DIFFERENT:
        result.differences.append(replace(verdict, change=status))
    elif verdict.status == REWRITE:
        table = {"A": result.added_by_format, "D": result.removed_by_format}.get(status, result.rewritten)
        table[verdict.path] = verdict.rules


def _schema_type_of(path: str) -> str | None:
    parts = path.split("/")
    return parts[1] if len(parts) >= 3 and parts[0] == "schema" else None


def _schema_path_of(reason: str, changed: set[str]) -> str:
    """The changed file a schema difference is best shown at: the method's file, the type's, or schema.json."""
    method = re.match(r"schema method ([^.\s]+)\.(\S+)", reason)
    if method and f"schema/{method.group(1)}/methods/{method.group(2)}" in changed:
        return f"schema/{method.group(1)}/methods/{method.group(2)}"
    named = re.match(r"schema type (\S+)", reason)
    under = sorted(path for path in changed if named and path.startswith(f"schema/{named.group(1)}/"))
    return under[0] if under else "schema/schema.json"


def _schema_verdicts(changes: list[tuple[str, str]], read_ref: Reader, read_server: Reader) -> list[FileVerdict]:
    comparison = compare_schema(read_ref, read_server)
    if comparison.differences:
        changed = {path for _status, path in changes}
        return [
            FileVerdict(_schema_path_of(reason, changed), DIFFERENT, reason=reason) for reason in comparison.differences
        ]
    result = []
    for status, path in changes:
        type_name = _schema_type_of(path)
        rules: tuple[str, ...]
        if type_name is None and status in "AD" and comparison.rules == {JSON_LAYOUT}:
            rules = (DEFAULT_FILES,)  # a schema.json that holds no types
        elif type_name is None:
            rules = tuple(sorted(comparison.rules))
        else:
            # files of a built-in type that only the ref has are Structr's; any other is a moved source
            dropped = status == "D" and type_name in comparison.builtin_types
            rules = (BUILTIN_TYPES,) if dropped else (SOURCES_IN_FILES,)
        result.append(FileVerdict(path, REWRITE, rules))
    return result


def compare_changes(changes: Iterable[tuple[str, str]], read_ref: Reader, read_server: Reader) -> TreeComparison:
    """Sort changed paths (``(status, path)``, status A/D/M from ref to server, as git reports them) into
    rewrites and real differences; ``read_*`` return a path's bytes in that tree, or None."""
    result = TreeComparison()
    schema_changes = []
    for status, path in changes:
        if path.startswith("schema/"):
            schema_changes.append((status, path))
            continue
        verdict = classify_file(path, read_ref(path), read_server(path), read_ref=read_ref)
        _record(result, verdict, status)
    if schema_changes:
        statuses = {path: status for status, path in schema_changes}
        for verdict in _schema_verdicts(schema_changes, read_ref, read_server):
            _record(result, verdict, statuses.get(verdict.path, "M"))
    return result


def compare_trees(ref: Mapping[str, bytes], server: Mapping[str, bytes]) -> TreeComparison:
    """Compare two export trees given as export path -> bytes."""
    changes = [("D", path) for path in ref.keys() - server.keys()]
    changes += [("A", path) for path in server.keys() - ref.keys()]
    changes += [("M", path) for path in ref.keys() & server.keys() if ref[path] != server[path]]
    return compare_changes(sorted(changes, key=lambda item: item[1]), ref.get, server.get)


# --- which Structr made a tree ---------------------------------------------------------------------------

_VERSION = re.compile(r"^\s*structr-version\s*=\s*(\S+)", re.MULTILINE)


@dataclass(frozen=True)
class TreeFormat:
    """Which Structr wrote an export, as far as the tree tells."""

    version: str | None  # deployment.conf's structr-version, None when the tree has none
    markers: tuple[str, ...]  # signs of an older format found in the tree

    def older_than(self, server_version: str) -> bool:
        """True when the tree comes from an older Structr than ``server_version`` (6.1.0, ...)."""
        if self.version is not None:
            return feature_version(self.version) < feature_version(server_version)
        return bool(self.markers)


def feature_version(version: str) -> tuple[int, int]:
    """(major, minor) of a Structr version string: "4.3-SNAPSHOT" -> (4, 3), "6.1.0" -> (6, 1)."""
    numbers = [*(int(part) for part in re.findall(r"\d+", version.split("-")[0])[:2]), 0, 0]
    return numbers[0], numbers[1]


def tree_format(read: Reader) -> TreeFormat:
    """Look at a tree's deployment.conf and format markers (``read`` returns a path's bytes or None)."""
    conf = _text(read("deployment.conf") or b"") or ""
    match = _VERSION.search(conf)
    markers = []
    if re.search(r"^\s*deployment-date\s*=", conf, re.MULTILINE):
        markers.append("deployment.conf has a deployment-date (Structr 5.2 and older)")
    if conf and "uuid-format" not in conf:
        markers.append("deployment.conf has no uuid-format (Structr 6.1 writes one)")
    if b'"isBuiltinType"' in (read("schema/schema.json") or b""):
        markers.append("the schema lists built-in types (older than Structr 6)")
    for name in ("pages.json", "files.json", "security/grants.json"):
        if re.search(rb'"allowed"\s*:\s*"', read(name) or b""):
            markers.append(f"{name} holds 4.x grant strings")
            break
    return TreeFormat(match.group(1) if match else None, tuple(markers))


def describe_rules(counts: Mapping[str, int]) -> list[str]:
    """One line per rule: "element-ids (42 files): elements without data-structr-meta-id given a new id"."""
    return [
        f"{rule} ({count} file{'s' if count != 1 else ''}): {RULES.get(rule, rule)}" for rule, count in counts.items()
    ]


# --- what an import will rewrite, told from the ref alone (for the plan) ------------------------------------


def _schema_forecast(paths: list[str], read: Reader, counts: Counter[str]) -> None:
    try:
        schema = load_json(read(SCHEMA_JSON) or b"{}")
    except ValueError:
        return
    definitions = schema.get("definitions") if isinstance(schema, dict) else None
    builtin = builtin_type_names(definitions) if isinstance(definitions, dict) else set()
    if builtin:
        counts[BUILTIN_TYPES] += 1 + sum(1 for path in paths if _schema_type_of(path) in builtin)
    inline = inline_source_count(definitions, builtin) if isinstance(definitions, dict) else 0
    if inline:
        counts[SOURCES_IN_FILES] += 1 + inline  # schema.json itself and one file per source


def _is_index(path: str) -> bool:
    return path.endswith(".json") and not path.startswith(("files/", "schema/"))


def forecast_rewrites(paths: Iterable[str], read: Reader) -> dict[str, int]:
    """Per rule, how many of the ref's files Structr's import will rewrite (a forecast from the ref alone).

    Covers the rules a file itself shows (elements without ids, grant order, 4.x grant strings, built-in schema
    types, inline sources, missing default files); the server-written files are left out.
    """
    listed = sorted(paths)
    counts: Counter[str] = Counter()
    for path in listed:
        data = read(path)
        if data is None:
            continue
        if path.endswith(".html") and path.startswith(_DOM_FOLDERS):
            text = _text(data) or ""
            counts.update(html_forecast(text, dom_nodes=not path.startswith("templates/")))
        elif _is_index(path) and re.search(rb'"allowed"\s*:\s*"', data):
            counts[ALLOWED_LIST] += 1
    _schema_forecast(listed, read, counts)
    missing = DEFAULT_INDEX_FILES - set(listed)
    if missing:
        counts[DEFAULT_FILES] += len(missing)
    return dict(sorted(counts.items()))


def rewrite_summary(files: int, counts: Mapping[str, int], server_version: str | None) -> str:
    """One line for an import report or a commit message: "Structr 6.1.0 rewrote 47 files into its format
    (element-ids 17, grant-order 17, ...)". ``files`` is the number of files (``TreeComparison.rewritten_count``;
    one file can fall under several rules)."""
    by_rule = ", ".join(f"{rule} {count}" for rule, count in sorted(counts.items(), key=lambda item: -item[1]))
    who = f"Structr {server_version}" if server_version else "Structr"
    return f"{who} rewrote {files} file{'s' if files != 1 else ''} into its format ({by_rule})"
