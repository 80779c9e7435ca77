"""The app deployment import (DC#doImport), step by step in Structr's order (structr-api.md §3)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from tests.structr_emulator import datadeploy, htmldom, model, schema_io, scripts
from tests.structr_emulator.context import Context
from tests.structr_emulator.errors import FrameworkError
from tests.structr_emulator.exporter import file_paths, signed_xxh64
from tests.structr_emulator.store import new_uuid

KNOWN_ENTRIES = (
    "deployment.conf", "pre-deploy.conf", "post-deploy.conf", "schema", "pages", "components", "templates",
    "files", "security", "modules", "events", "mail-templates", "pages.json", "components.json", "templates.json",
    "files.json", "sites.json", "widgets.json", "localizations.json", "mail-templates.json",
    "application-configuration-data.json", "page-paths.json",
)  # fmt: skip
DATA_ENTRIES = ("nodes", "relationships", "files", "files.json", "pre-data-deploy.conf", "post-data-deploy.conf")
_HEX32 = re.compile(r"[0-9a-f]{32}$")


class ImportPreconditionFailed(Exception):
    """ImportPreconditionFailedException: reported as "<title>: <message>"."""

    def __init__(self, title: str, message: str) -> None:
        super().__init__(f"{title}: {message}")


def parse_version(text: str | None) -> int:
    """DC#parseVersionString: first token, non-digits stripped, first two digits ("6.1.0 …" -> 61)."""
    if not text or not text.strip():
        return 0
    digits = re.sub(r"\D", "", text.split()[0])[:2]
    return int(digits) if digits else 0


def read_conf(path: Path) -> dict[str, str]:
    entries = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if "=" in line and not line.lstrip().startswith(("#", "!")):
                key, _, value = line.partition("=")
                entries[key.strip()] = value.strip()
    return entries


def check_preconditions(
    ctx: Context, source_text: str | None, known: tuple[str, ...] = KNOWN_ENTRIES
) -> tuple[Path, dict[str, str]]:
    """Raise ImportPreconditionFailed as DC#doImport does; return the source dir and deployment.conf."""
    title = "Deployment Import not started"
    if not source_text or not str(source_text).strip():
        raise ImportPreconditionFailed(title, "Please provide source path for deployment import.")
    source = Path(str(source_text))
    if not source.is_absolute():
        raise ImportPreconditionFailed(
            title, f"Source path '{source_text}' is not an absolute path - relative paths are not allowed."
        )
    if not source.exists():
        raise ImportPreconditionFailed(title, f"Source path '{source_text}' does not exist.")
    if not source.is_dir():
        raise ImportPreconditionFailed(title, f"Source path '{source_text}' is not a directory.")
    if not any((source / entry).exists() for entry in known):
        raise ImportPreconditionFailed(
            title, f"Source path '{source_text}' does not contain any of the files of a Structr deployment export."
        )
    conf = read_conf(source / "deployment.conf")
    exported = conf.get("structr-version")
    if parse_version(exported) > parse_version(ctx.version):
        raise ImportPreconditionFailed(
            "Incompatible Deployment Import",
            f"The export was created with a newer Structr version ({exported}) than this one ({ctx.full_version}). "
            "Importing it is not supported.",
        )
    uuid_format = conf.get("uuid-format")
    if ctx.is_v5:
        pass  # the UUID-format check arrived in 6.0.0
    elif uuid_format is None:
        ctx.log.info("deployment.conf has no uuid-format, assuming the export matches this instance")
    elif uuid_format == "both":
        ctx.log.warning("Export allows both UUID formats; this instance uses without_dashes, continuing")
    elif uuid_format != "without_dashes":
        raise ImportPreconditionFailed(
            "Incompatible Deployment Import",
            f"The export uses UUID format '{uuid_format}', this instance is configured for 'without_dashes'.",
        )
    return source, conf


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


class AppImport:
    """One import run against a working copy of the state, committed at the end."""

    def __init__(self, ctx: Context, source: Path, conf: dict[str, str], *, extend: bool) -> None:
        self.ctx = ctx
        self.log = ctx.log
        self.source = source
        self.conf = conf
        self.extend = extend
        self.work = ctx.store.snapshot()
        self.app = self.work["app"]
        self.resolver = model.PrincipalResolver({})
        self.blob_writes: dict[str, bytes] = {}
        self.blob_deletes: set[str] = set()

    def run(self) -> None:
        log = self.log
        log.info("Deployment import started from %s (extendExistingApp=%s)", self.source, self.extend)
        if not (self.source / "deployment.conf").is_file():
            log.warning(
                "Deprecation Notice: the export has no deployment.conf; old (page-relative) visibility semantics "
                "are assumed. Please re-export the application."
            )
        scripts.apply_script(self.source / "pre-deploy.conf", self.work["principals"]["nodes"], log)
        self.resolver = model.PrincipalResolver(self._name_counts())
        self._replace_list("security/grants.json", "grants", "resource access grants")
        self._replace_list("security/cors-settings.json", "cors", "CORS settings")
        self._import_mail_templates()
        self._replace_list("widgets.json", "widgets", "widgets")
        self._replace_list("localizations.json", "localizations", "localizations", imported=False)
        self._replace_list("application-configuration-data.json", "app_config", "application configuration data")
        self._import_schema()
        self._replace_list("security/schema-grants.json", "schema_grants", "schema grants")
        self._import_files()
        self._import_html()
        self._import_sites()
        self._replace_list("page-paths.json", "page_paths", "page paths")
        log.info("Linking deferred page links")
        self._replace_list("events/parameter-mapping.json", "parameter_mappings", "parameter mappings")
        self._replace_list("events/action-mapping.json", "action_mappings", "action mappings")
        if (self.source / "data").is_dir():
            log.info("Importing embedded application data from data/")
            datadeploy.import_data(self.work, self.source / "data", log)
        self._import_modules()
        scripts.apply_script(self.source / "post-deploy.conf", self.work["principals"]["nodes"], log)
        log.info("Running MigrationService")
        warning = self.resolver.warning()
        if warning:
            log.warning(warning)
        self._commit()
        log.info("Deployment import finished")

    def _commit(self) -> None:
        store = self.ctx.store
        for file_id in self.blob_deletes:
            store.delete_blob(file_id)
        for file_id, content in self.blob_writes.items():
            store.write_blob(file_id, content)
        with store.mutate() as state:
            state.update(self.work)

    def _name_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.work["principals"]["nodes"].values():
            counts[node.get("name") or ""] = counts.get(node.get("name") or "", 0) + 1
        return counts

    # -- lists that are always deleted and recreated when their file exists ----------------------
    def _replace_list(self, rel_path: str, key: str, label: str, **forced: Any) -> None:
        path = self.source / rel_path
        if not path.is_file():
            return
        self.log.info("Importing %s (replacing all existing ones)", label)
        raw_items = _load_json(path)
        if key == "grants" and raw_items and not any("visibleToPublicUsers" in raw for raw in raw_items):
            self.log.warning("grants.json looks like a pre-4.0 export (no visibility flags); applying defaults")
        items = []
        for raw in raw_items:
            item = self.resolver.fix(raw) if ("owner" in raw or "grantees" in raw) else dict(raw)
            item.setdefault("id", new_uuid())
            item.update(forced)
            items.append(item)
        self.app[key] = items

    def _import_mail_templates(self) -> None:
        path = self.source / "mail-templates.json"
        if not path.is_file():
            return
        self.log.info("Importing mail templates (replacing all existing ones)")
        templates = []
        for raw in _load_json(path):
            item = dict(raw)
            filename = item.pop("filename", None)
            text_file = self.source / "mail-templates" / str(filename)
            item["_text"] = (
                text_file.read_text(encoding="utf-8") if filename and text_file.is_file() else item.pop("text", None)
            )
            item.setdefault("id", new_uuid())
            templates.append(item)
        self.app["mail_templates"] = templates

    def _import_schema(self) -> None:
        schema_dir = self.source / "schema"
        if not (schema_dir / "schema.json").is_file():
            self.log.info("No schema/schema.json, continuing without schema import")
            return
        try:
            schema, missing = schema_io.read_schema(schema_dir)
        except ValueError as exc:
            # A schema import failure surfaces as a 422 FrameworkException, rethrown by DC#doImport.
            raise FrameworkError(422, f"Unable to import schema: {exc}") from exc
        if missing:
            self.log.warning("Missing Schema file(s): %s", ", ".join(missing))
        definitions = schema.get("definitions") or {}
        schema["definitions"] = {name: definitions[name] for name in sorted(definitions)}
        if self.extend:
            self.log.info("Extending the existing schema")
            self.app["schema"] = schema_io.merge_schema(self.app["schema"], schema)
        else:
            self.log.info("Replacing the schema (all schema nodes deleted and recreated)")
            self.app["schema"] = schema

    # -- files: never deleted ---------------------------------------------------------------------
    def _import_files(self) -> None:
        index_path = self.source / "files.json"
        files_root = self.source / "files"
        if not index_path.is_file():
            return
        self.log.info("Importing files (existing files are never deleted)")
        index: dict[str, dict[str, Any]] = _load_json(index_path)
        nodes: dict[str, dict[str, Any]] = self.work["files"]["nodes"]
        by_path = {path: node_id for node_id, path in file_paths(nodes).items()}
        for vpath in sorted(index, key=lambda p: (p.count("/"), p)):
            props = dict(index[vpath])
            if props.get("isThumbnail"):
                continue
            file_id = props.pop("id", None) or new_uuid()
            type_name = props.pop("type", "File")
            props = self.resolver.fix(props)
            parent_path, _, name = vpath.rpartition("/")
            parent_id = index.get(parent_path, {}).get("id") or by_path.get(parent_path) if parent_path else None
            if type_name == "Folder":
                nodes[file_id] = {"id": file_id, "type": type_name, "name": name, "parentId": parent_id, "props": props}
                by_path[vpath] = file_id
                continue
            disk = files_root / vpath.lstrip("/")
            if not disk.is_file():
                self.log.warning("File %s is listed in files.json but missing in files/", vpath)
                continue
            content = disk.read_bytes()
            checksum = signed_xxh64(content)
            existing = nodes.get(file_id)
            node = {
                "id": file_id,
                "type": type_name,
                "name": name,
                "parentId": parent_id,
                "props": props,
                "size": len(content),
                "checksum": checksum,
            }
            if existing is None or existing.get("checksum") != checksum:
                if existing is not None:
                    self.blob_deletes.add(file_id)
                self.blob_writes[file_id] = content
            nodes[file_id] = node
            by_path[vpath] = file_id
        if files_root.is_dir():
            for disk in sorted(files_root.rglob("*")):
                vpath = "/" + disk.relative_to(files_root).as_posix()
                if disk.is_file() and vpath not in index:
                    self.log.warning("File %s not in files.json, ignoring it", vpath)

    # -- pages, templates, shared components ------------------------------------------------------
    def _import_html(self) -> None:
        jsons = {}
        for kind in ("pages", "components", "templates"):
            path = self.source / f"{kind}.json"
            jsons[kind] = _load_json(path) if path.is_file() else {}
        has_keys = sum(len(value) for value in jsons.values()) >= 1
        all_dirs = all((self.source / kind).is_dir() for kind in ("pages", "components", "templates"))
        if has_keys and all_dirs and not self.extend:
            self.log.info("Removing pages, templates and components")
            for kind in ("pages", "components", "templates"):
                self.app[kind] = {}
            if (self.source / "sites.json").is_file():
                self.app["sites"] = []
        elif not self.extend:
            self.log.info(
                "Import directory does not seem to contain pages, templates or components, NOT removing any data."
            )
        if not has_keys:
            return
        self._import_shared("templates", jsons["templates"], dom=False)
        self._import_shared("components", jsons["components"], dom=True)
        pages_dir = self.source / "pages"
        for path in sorted(pages_dir.glob("*.html")) if pages_dir.is_dir() else []:
            name = path.stem
            props = self.resolver.fix(dict(jsons["pages"].get(name) or {}))
            page_id = props.get("id") or new_uuid()
            props["id"] = page_id
            for other_id in [key for key, page in self.app["pages"].items() if page["name"] == name]:
                del self.app["pages"][other_id]
            self.app["pages"][page_id] = {"name": name, "props": props, "html": self._dom_html(path)}
            self.log.info("Imported page %s", name)

    def _dom_html(self, path: Path) -> str:
        html = path.read_text(encoding="utf-8")
        missing = {name for name in htmldom.principal_names(html) if not self.resolver.ok(name)}
        return htmldom.ensure_ids(htmldom.drop_principals(html, missing), new_uuid)

    def _import_shared(self, kind: str, index: dict[str, Any], *, dom: bool) -> None:
        folder = self.source / kind
        for path in sorted(folder.glob("*.html")) if folder.is_dir() else []:
            key = path.stem
            props = dict(index.get(key) or {})
            node_id = props.get("id") or (key[-32:] if _HEX32.search(key) else new_uuid())
            props["id"] = node_id
            html = self._dom_html(path) if dom else path.read_text(encoding="utf-8")
            self.app[kind][node_id] = {"key": key, "props": props, "html": html}
        self.log.info("Imported %s", kind)

    def _import_sites(self) -> None:
        path = self.source / "sites.json"
        if not path.is_file():
            return
        self.log.info("Importing sites")
        sites = {site.get("id"): site for site in self.app["sites"]}
        for raw in _load_json(path):
            site = self.resolver.fix(raw)
            site.setdefault("id", new_uuid())
            sites[site["id"]] = site
        self.app["sites"] = list(sites.values())

    def _import_modules(self) -> None:
        root = self.source / "modules"
        if not root.is_dir():
            return
        modules = copy.deepcopy(self.app["modules"])
        for module_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            prefix = module_dir.name + "/"
            modules = {key: value for key, value in modules.items() if not key.startswith(prefix)}
            for path in sorted(module_dir.rglob("*")):
                if path.is_file():
                    modules[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8")
            self.log.info("Imported module data for %s", module_dir.name)
        self.app["modules"] = modules
