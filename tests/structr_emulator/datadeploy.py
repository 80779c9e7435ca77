"""Data deployment (DeployDataCommand): nodes/<Type>.json and relationships/<RelType>.json."""

from __future__ import annotations

import json
import logging
import random
import shutil
from pathlib import Path
from typing import Any

from tests.structr_emulator import jsonfmt, scripts

PRINCIPAL_TYPES = ("User", "Group")
GROUP_MEMBERSHIP = "GroupCONTAINSPrincipal"
PRE_TEXT = "{\n\t// pre-data-deploy.conf was created automatically. It is run before the data import.\n}"
POST_TEXT = "{\n\t// post-data-deploy.conf was created automatically. It is run after the data import.\n}"


def known_types(state: dict[str, Any]) -> set[str]:
    return set(PRINCIPAL_TYPES) | set((state["app"]["schema"].get("definitions") or {}).keys())


def _all_nodes(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {**state["principals"]["nodes"], **state["data"]["nodes"]}


def export_data(
    state: dict[str, Any], target: Path, types: list[str], log: logging.Logger, rng: random.Random | None
) -> None:
    """Write nodes/relationships for `types`; keys sorted, node order as in the DB (unsorted)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("nodes", "relationships", "files"):
        shutil.rmtree(target / name, ignore_errors=True)
        (target / name).mkdir()
    nodes = _all_nodes(state)
    names = {node_id: node.get("name") for node_id, node in nodes.items()}
    exported: set[str] = set()
    for type_name in types:
        if type_name not in known_types(state):
            log.warning("Type can not be found: %s", type_name)
            continue
        if type_name in PRINCIPAL_TYPES:
            log.warning("Exporting %s: user types contain password hashes, treat this export as a secret", type_name)
        selected = [dict(node) for node in nodes.values() if node.get("type") == type_name]
        if rng is not None:
            rng.shuffle(selected)
        out = []
        for node in selected:
            exported.add(node["id"])
            owner = node.pop("ownerId", None)
            node["owner"] = {"name": names[owner]} if owner in names else None
            node.setdefault("grantees", [])
            out.append(node)
        (target / "nodes" / f"{type_name}.json").write_text(jsonfmt.pretty(out), encoding="utf-8")
    rels = [rel for rel in state["principals"]["rels"] if rel["sourceId"] in exported or rel["targetId"] in exported]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for rel in rels:
        by_type.setdefault(rel.get("type", GROUP_MEMBERSHIP), []).append(rel)
    for rel_type, items in by_type.items():
        (target / "relationships" / f"{rel_type}.json").write_text(jsonfmt.pretty(items), encoding="utf-8")
    (target / "files.json").write_text("{}", encoding="utf-8")
    (target / "file-parents.json").write_text("[]", encoding="utf-8")
    for name, text in (("pre-data-deploy.conf", PRE_TEXT), ("post-data-deploy.conf", POST_TEXT)):
        if not (target / name).exists():
            (target / name).write_text(text, encoding="utf-8")


def import_data(state: dict[str, Any], source: Path, log: logging.Logger) -> None:
    """Delete-and-recreate every node in nodes/*.json by id, then add the relationships."""
    principals = state["principals"]["nodes"]
    scripts.apply_script(source / "pre-data-deploy.conf", principals, log)
    types = known_types(state)
    names = {node.get("name"): node_id for node_id, node in _all_nodes(state).items()}
    for path in sorted((source / "nodes").glob("*.json")) if (source / "nodes").is_dir() else []:
        type_name = path.stem
        if type_name not in types:
            log.warning("Type can not be found: %s (skipping %s)", type_name, path.name)
            continue
        for raw in json.loads(path.read_text(encoding="utf-8")):
            node = dict(raw)
            node_id = node.get("id")
            if not node_id:
                continue
            _delete_node(state, node_id)
            owner = node.pop("owner", None)
            if isinstance(owner, dict) and owner.get("name") in names:
                node["ownerId"] = names[owner["name"]]
            node.setdefault("type", type_name)
            bucket = principals if node["type"] in PRINCIPAL_TYPES else state["data"]["nodes"]
            bucket[node_id] = node
        log.info("Imported data nodes of type %s", type_name)
    rels_dir = source / "relationships"
    for path in sorted(rels_dir.glob("*.json")) if rels_dir.is_dir() else []:
        existing = {rel.get("id") for rel in state["principals"]["rels"]}
        for rel in json.loads(path.read_text(encoding="utf-8")):
            if rel.get("id") not in existing:
                state["principals"]["rels"].append({**rel, "type": rel.get("type", path.stem)})
    scripts.apply_script(source / "post-data-deploy.conf", principals, log)


def _delete_node(state: dict[str, Any], node_id: str) -> None:
    state["principals"]["nodes"].pop(node_id, None)
    state["data"]["nodes"].pop(node_id, None)
    state["principals"]["rels"] = [
        rel for rel in state["principals"]["rels"] if node_id not in (rel.get("sourceId"), rel.get("targetId"))
    ]
