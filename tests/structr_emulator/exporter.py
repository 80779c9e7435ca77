"""The app deployment export (DC#doExport): writes the folder layout of structr-api.md §2."""

from __future__ import annotations

import logging
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

import xxhash

from tests.structr_emulator import jsonfmt, model, schema_io
from tests.structr_emulator.context import Context

logger = logging.getLogger(__name__)

ALWAYS_CREATED = (
    "components", "files", "pages", "schema", "security", "templates", "events", "modules", "mail-templates",
)  # fmt: skip
EMPTIED_FIRST = ("pages", "components", "templates", "schema", "mail-templates")
PRE_DEPLOY_TEXT = (
    "{\n\t// pre-deploy.conf was created automatically. It is run as a script before the application"
    " deployment import starts. See the documentation for details.\n}"
)
POST_DEPLOY_TEXT = (
    "{\n\t// post-deploy.conf was created automatically. It is run as a script after the application"
    " deployment import has finished. See the documentation for details.\n}"
)


def signed_xxh64(content: bytes) -> int:
    """Structr's File.checksum: xxHash64 (seed 0) as a signed Java long."""
    value = xxhash.xxh64_intdigest(content)
    return value - (1 << 64) if value >= (1 << 63) else value


def export_app(ctx: Context, target: Path) -> None:
    """Export the application into `target` (created if missing). Raises OSError on I/O problems."""
    if target.exists() and not target.is_dir():
        raise FileExistsError(str(target))
    state = ctx.store.snapshot()
    app = state["app"]
    rng = ctx.rng()
    target.mkdir(parents=True, exist_ok=True)
    for name in EMPTIED_FIRST:
        shutil.rmtree(target / name, ignore_errors=True)
    for name in ALWAYS_CREATED:
        (target / name).mkdir(parents=True, exist_ok=True)

    write_deployment_conf(ctx, target / "deployment.conf")
    for name, text in (("pre-deploy.conf", PRE_DEPLOY_TEXT), ("post-deploy.conf", POST_DEPLOY_TEXT)):
        if not (target / name).exists():
            (target / name).write_text(text, encoding="utf-8")
    _export_files(ctx, state, target, rng)
    _write(target / "sites.json", jsonfmt.pretty(_sorted_list(app["sites"], model.SITE_DEFAULTS, ("name",), rng)))
    if not ctx.is_v5:  # page-paths.json and schema-grants.json arrived in 6.0.0
        _write(target / "page-paths.json", jsonfmt.pretty(_sorted_list(app["page_paths"], {}, ("name",), rng)))
    _write(target / "events/action-mapping.json", jsonfmt.pretty(_sorted_list(app["action_mappings"], {}, ("id",))))
    _write(
        target / "events/parameter-mapping.json",
        jsonfmt.pretty(_sorted_list(app["parameter_mappings"], {}, ("name",))),
    )
    _export_dom(app, target, rng)
    if not ctx.is_v5:
        _write(
            target / "security/schema-grants.json",
            jsonfmt.compact_list(_sorted_list(app["schema_grants"], {}, ("id",), rng)),
        )
    _write(
        target / "security/grants.json",
        jsonfmt.compact_list(_sorted_list(app["grants"], model.GRANT_DEFAULTS, ("signature",), rng)),
    )
    _write(
        target / "security/cors-settings.json",
        jsonfmt.compact_list(_sorted_list(app["cors"], {}, ("requestUri",))),
    )
    schema_io.write_schema(app["schema"], target / "schema")
    _export_mail_templates(app, target)
    _write(
        target / "localizations.json",
        jsonfmt.compact_list(_sorted_list(app["localizations"], {}, ("name", "domain", "locale", "id")), first="id"),
    )
    _write(target / "widgets.json", jsonfmt.pretty(_sorted_list(app["widgets"], model.WIDGET_DEFAULTS, ("name",))))
    _write(
        target / "application-configuration-data.json",
        jsonfmt.compact_list(_sorted_list(app["app_config"], {}, ("configType", "name", "id"), rng)),
    )
    for rel_path, text in sorted(app["modules"].items()):
        _write(target / "modules" / rel_path, text)


def write_deployment_conf(ctx: Context, path: Path) -> None:
    """Load an existing deployment.conf and update it (unknown and old keys survive, §2)."""
    entries: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if "=" in line and not line.lstrip().startswith(("#", "!")):
                key, _, value = line.partition("=")
                entries[key.strip()] = value.strip()
    entries["structr-version"] = ctx.full_version
    if ctx.is_v5:
        entries["deployment-date"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime()) + time.strftime("%z")
    entries["visibility-flags-relative-to"] = "parent"
    if not ctx.is_v5:
        entries["uuid-format"] = "without_dashes"
    _write(path, "".join(f"{key} = {value}\n" for key, value in entries.items()))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _sort_key(item: dict[str, Any], keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple("" if item.get(key) is None else str(item.get(key)) for key in keys)


def _sorted_list(
    items: list[dict[str, Any]], defaults: dict[str, Any], keys: tuple[str, ...], rng: random.Random | None = None
) -> list[dict[str, Any]]:
    prepared = [model.noisy_order(model.with_defaults(item, defaults), rng) for item in items]
    if rng is not None:
        rng.shuffle(prepared)  # ties in the sort key may then swap, as in Structr (§2.3 item 4)
    return sorted(prepared, key=lambda item: _sort_key(item, keys))


def _export_dom(app: dict[str, Any], target: Path, rng: random.Random | None) -> None:
    pages_json: dict[str, Any] = {}
    for page in app["pages"].values():
        # Name-based: two pages with the same name overwrite each other (no guard in DC#exportPages).
        _write(target / "pages" / f"{page['name']}.html", page["html"])
        pages_json[page["name"]] = model.noisy_order(model.with_defaults(page["props"], model.PAGE_DEFAULTS), rng)
    _write(target / "pages.json", jsonfmt.pretty(pages_json))
    for kind in ("components", "templates"):
        index: dict[str, Any] = {}
        for node in app[kind].values():
            _write(target / kind / f"{node['key']}.html", node["html"])
            index[node["key"]] = model.with_defaults(node["props"], model.DOM_SHARED_DEFAULTS)
        _write(target / f"{kind}.json", jsonfmt.pretty(index))


def _export_mail_templates(app: dict[str, Any], target: Path) -> None:
    entries = []
    used: set[str] = set()
    for template in sorted(app["mail_templates"], key=lambda item: _sort_key(item, ("name", "locale"))):
        props = {key: value for key, value in template.items() if key != "_text"}
        filename = f"{props.get('name')}_-_{props.get('locale')}"
        if filename in used:
            filename += f"_-_{props.get('id')}"
        used.add(filename)
        props["filename"] = filename + ".html"
        _write(target / "mail-templates" / props["filename"], template.get("_text") or "")
        entries.append(model.with_defaults(props, model.MAIL_TEMPLATE_DEFAULTS))
    _write(target / "mail-templates.json", jsonfmt.pretty(entries))


def file_paths(nodes: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Return uuid -> virtual path ("/css/main.css") for all file and folder nodes."""
    paths: dict[str, str] = {}

    def path_of(node_id: str, depth: int = 0) -> str:
        if node_id in paths:
            return paths[node_id]
        node = nodes[node_id]
        parent = node.get("parentId")
        prefix = path_of(parent, depth + 1) if parent in nodes and depth < 64 else ""
        paths[node_id] = f"{prefix}/{node['name']}"
        return paths[node_id]

    for node_id in nodes:
        path_of(node_id)
    return paths


def _export_files(ctx: Context, state: dict[str, Any], target: Path, rng: random.Random | None) -> None:
    nodes: dict[str, dict[str, Any]] = state["files"]["nodes"]
    paths = file_paths(nodes)
    children: dict[str | None, list[str]] = {}
    for node_id, node in nodes.items():
        children.setdefault(node.get("parentId"), []).append(node_id)
    # As DC#exportFiles does: top-level nodes flagged includeInFrontendExport, then all nodes below them.
    selected: list[str] = []
    stack = [i for i in children.get(None, []) if nodes[i]["props"].get("includeInFrontendExport")]
    while stack:
        node_id = stack.pop()
        selected.append(node_id)
        if nodes[node_id]["type"] == "Folder":
            stack.extend(children.get(node_id, []))
    files_root = target / "files"
    index: dict[str, Any] = {}
    keep_files: set[Path] = set()
    keep_dirs: set[Path] = {files_root}
    for node_id in selected:
        node = nodes[node_id]
        dest = files_root / paths[node_id].lstrip("/")
        props = model.with_defaults(node["props"], model.file_defaults(node["type"]))
        props.update({"id": node_id, "type": node["type"]})
        index[paths[node_id]] = model.noisy_order(props, rng)
        if node["type"] == "Folder":
            dest.mkdir(parents=True, exist_ok=True)
            keep_dirs.add(dest)
            continue
        keep_files.add(dest)
        content = ctx.store.read_blob(node_id)
        if content is None:
            logger.warning("file %s has no content on disk", paths[node_id])
            continue
        if dest.is_file() and signed_xxh64(dest.read_bytes()) == node.get("checksum"):
            continue  # unchanged files are not rewritten
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(content)
    for parent in {p.parent for p in keep_files} | set(keep_dirs):
        keep_dirs.update(parent.parents)
        keep_dirs.add(parent)
    _prune(files_root, keep_files, keep_dirs)
    _write(target / "files.json", jsonfmt.pretty(index))


def _prune(root: Path, keep_files: set[Path], keep_dirs: set[Path]) -> None:
    """FileCleanupVisitor: delete everything under files/ that is not part of this export."""
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        current = Path(dirpath)
        for filename in filenames:
            if current / filename not in keep_files:
                (current / filename).unlink()
        for dirname in dirnames:
            path = current / dirname
            if path not in keep_dirs:
                shutil.rmtree(path, ignore_errors=True)
