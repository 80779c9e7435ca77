"""What a re-export of an imported export must look like: the input plus Structr's documented rewrites.

Each function here is one documented difference between an export and its re-export by Structr 6.1.0
(or by the emulator, where README.md says so). Tests build the expected tree from a fixture with these rules
and compare it byte for byte with the emulator's export.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.structr_emulator import jsonfmt, model
from tests.structr_emulator.exporter import ALWAYS_CREATED, POST_DEPLOY_TEXT, PRE_DEPLOY_TEXT
from tests.structr_emulator.schema_io import write_schema

INJECTED_ID = re.compile(r' data-structr-meta-id="[0-9a-f]{32}"')
# Files every 6.1.0 export writes, with their content when the application has nothing of that kind.
EMPTY_FILES = {
    "pages.json": "{}",
    "components.json": "{}",
    "templates.json": "{}",
    "files.json": "{}",
    "sites.json": "[]",
    "page-paths.json": "[]",
    "events/action-mapping.json": "[]",
    "events/parameter-mapping.json": "[]",
    "security/grants.json": "[]",
    "security/schema-grants.json": "[]",
    "security/cors-settings.json": "[]",
    "mail-templates.json": "[]",
    "localizations.json": "[]",
    "widgets.json": "[]",
    "application-configuration-data.json": "[]",
    "modules/api-builder/virtual-types.json": "[]",
    "modules/messaging-module/messaging-engine.json": "[]",
    "schema/schema.json": jsonfmt.pretty({"definitions": {}, "methods": []}),
}


def read_tree(root: Path) -> dict[str, bytes | None]:
    """Return relative path -> content (None for directories)."""
    return {
        path.relative_to(root).as_posix(): (None if path.is_dir() else path.read_bytes())
        for path in sorted(root.rglob("*"))
    }


def deployment_conf(version: str, build: str) -> bytes:
    """deployment.conf of a 6.x export into a fresh folder."""
    return (
        f"structr-version = {version} {build}\nvisibility-flags-relative-to = parent\nuuid-format = without_dashes\n"
    ).encode()


def _allowed_as_lists(value: Any) -> Any:
    if isinstance(value, dict):
        fixed = {key: _allowed_as_lists(item) for key, item in value.items()}
        if "allowed" in fixed and "name" in fixed:
            fixed["allowed"] = model.normalize_allowed(fixed["allowed"])
        return fixed
    if isinstance(value, list):
        return [_allowed_as_lists(item) for item in value]
    return value


def strip_injected_ids(exported: str, original: str) -> tuple[str, list[str]]:
    """Remove the ids the import added to elements that had none; return (html, injected ids)."""
    injected: list[str] = []

    def drop(match: re.Match[str]) -> str:
        uuid = match.group(0).split('"')[1]
        if uuid in original:
            return match.group(0)
        injected.append(uuid)
        return ""

    return INJECTED_ID.sub(drop, exported), injected


def expected_export(fixture: Path, tmp: Path, *, version: str, build: str) -> dict[str, bytes | None]:
    """The tree a 6.1.0 re-export of `fixture` must have. HTML of pages/components is compared separately."""
    tree = read_tree(fixture)
    expected: dict[str, bytes | None] = {}
    for rel, content in tree.items():
        if content is None or rel.startswith("schema/"):
            expected[rel] = content
            continue
        if rel.endswith(".json"):
            content = _rewrite_json(rel, json.loads(content)).encode()
        expected[rel] = content
    # deployment.conf: written fresh (old keys such as deployment-date only survive in an existing file).
    expected["deployment.conf"] = deployment_conf(version, build)
    # pre-/post-deploy.conf are not stored in the database: a fresh export folder gets the default text.
    expected["pre-deploy.conf"] = PRE_DEPLOY_TEXT.encode()
    expected["post-deploy.conf"] = POST_DEPLOY_TEXT.encode()
    for folder in ALWAYS_CREATED:
        expected[folder] = None
    for rel, text in EMPTY_FILES.items():
        expected.setdefault(rel, text.encode())
        for parent in Path(rel).parents:
            if parent.as_posix() != ".":
                expected[parent.as_posix()] = None
    # schema/: always written in tree format (sources as files), whatever the input format was.
    for rel in [key for key in expected if key.startswith("schema/")]:
        del expected[rel]
    if (fixture / "schema" / "schema.json").is_file():
        from tests.structr_emulator.schema_io import read_schema

        schema, _ = read_schema(fixture / "schema")
        out = tmp / "expected-schema"
        write_schema(schema, out)
        for rel, content in read_tree(out).items():
            expected[f"schema/{rel}"] = content
    else:
        expected["schema/schema.json"] = EMPTY_FILES["schema/schema.json"].encode()
    expected["schema"] = None
    return expected


def _rewrite_json(rel: str, data: Any) -> str:
    """Serialize `data` the way a 6.1.0 export writes file `rel`, with 6.x keys and `allowed` lists."""
    data = _allowed_as_lists(data)
    if rel == "security/grants.json":
        items = [model.with_defaults(item, model.GRANT_DEFAULTS) for item in data]
        return jsonfmt.compact_list(sorted(items, key=lambda item: str(item.get("signature"))))
    if rel == "application-configuration-data.json":
        key = ("configType", "name", "id")
        return jsonfmt.compact_list(sorted(data, key=lambda item: tuple(str(item.get(k) or "") for k in key)))
    if rel == "widgets.json":
        return jsonfmt.pretty([model.with_defaults(item, model.WIDGET_DEFAULTS) for item in data])
    if rel == "pages.json":
        return jsonfmt.pretty({name: model.with_defaults(props, model.PAGE_DEFAULTS) for name, props in data.items()})
    if rel == "localizations.json":
        return jsonfmt.compact_list(data, first="id")
    if rel in ("security/schema-grants.json", "security/cors-settings.json"):
        return jsonfmt.compact_list(data)
    return jsonfmt.pretty(data)


def writable_copy(source: Path, target: Path) -> Path:
    """Copy a (read-only) fixture tree so a test can change it."""
    for path in sorted(source.rglob("*")):
        dest = target / path.relative_to(source)
        if path.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(path.read_bytes())
    target.mkdir(parents=True, exist_ok=True)
    return target
