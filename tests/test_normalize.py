from __future__ import annotations

import json
import shutil
from pathlib import Path

from structr_appsync.config import NormalizeConfig
from structr_appsync.sync.normalize import (
    dump_compact_list,
    dump_pretty,
    normalize_deployment_conf,
    normalize_tree,
    sort_grantees,
    strip_schema_layouts,
)
from tests.paths import FIXTURES

ON = NormalizeConfig()
OFF = NormalizeConfig(
    strip_deployment_date=False, pin_build_stamp=False, sort_grantees=False, strip_schema_layouts=False
)
CONF = (
    "structr-version = 5.2.1 b1111 202502010000\n"
    "deployment-date = 2025-02-03T10:00:00+0100\n"
    "uuid-format = without_dashes\n"
)


def test_deployment_date_is_dropped_and_the_rest_kept() -> None:
    result = normalize_deployment_conf(CONF, ON)
    assert "deployment-date" not in result
    assert "structr-version = 5.2.1 b1111 202502010000" in result
    assert "uuid-format = without_dashes" in result
    assert normalize_deployment_conf(CONF, OFF) == CONF


def test_build_stamp_pinned_only_when_version_is_unchanged() -> None:
    previous = "structr-version = 5.2.1 b0000 202401010000\n"
    pinned = normalize_deployment_conf(CONF, ON, previous=previous)
    assert "structr-version = 5.2.1 b0000 202401010000" in pinned
    upgraded = normalize_deployment_conf(CONF, ON, previous="structr-version = 5.1.0 b0000 202401010000\n")
    assert "structr-version = 5.2.1 b1111 202502010000" in upgraded
    unpinned = normalize_deployment_conf(CONF, ON.model_copy(update={"pin_build_stamp": False}), previous=previous)
    assert "b1111" in unpinned


def test_grantees_and_allowed_are_sorted_without_losing_entries() -> None:
    data = {
        "page": {
            "grantees": [
                {"allowed": ["write", "read"], "name": "zed"},
                {"allowed": "write,read,accessControl", "name": "admin"},
            ],
            "id": "1",
        }
    }
    result = sort_grantees(data)
    grantees = result["page"]["grantees"]
    assert [g["name"] for g in grantees] == ["admin", "zed"]
    assert grantees[0]["allowed"] == "accessControl,read,write"
    assert grantees[1]["allowed"] == ["read", "write"]
    assert result["page"]["id"] == "1"


def test_layout_coordinates_dropped_but_layout_entry_kept() -> None:
    content = {"_version": 2, "positions": {"A": {"top": 1, "left": 2}}, "hiddenTypes": ["X"], "zoom": 1}
    data = [
        {"configType": "layout", "content": json.dumps(content), "id": "l1", "name": "mine"},
        {"configType": "xml-import", "content": '{"positions": 1}', "id": "x1", "name": "other"},
    ]
    result = strip_schema_layouts(data)
    assert json.loads(result[0]["content"]) == {"_version": 2, "hiddenTypes": ["X"], "zoom": 1}
    assert result[0]["id"] == "l1" and result[0]["name"] == "mine"
    assert result[1] == data[1]


def test_serializers_reproduce_structr_bytes_for_the_fixtures() -> None:
    for path in sorted(FIXTURES.rglob("*.json")):
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
        compact = text.startswith("[\n\t")
        assert (dump_compact_list(data) if compact else dump_pretty(data)) == text.rstrip("\n"), path


def test_normalize_tree_rewrites_only_noise(tmp_path: Path) -> None:
    export = tmp_path / "webapp"
    shutil.copytree(FIXTURES / "react-todo-demo", export)
    pages = (export / "pages.json").read_bytes()
    grants = (export / "security" / "grants.json").read_bytes()
    changed = normalize_tree(export, ON)
    assert "deployment.conf" in changed
    assert "application-configuration-data.json" in changed
    assert (export / "pages.json").read_bytes() == pages
    # 4.x comma strings in `allowed` are put in order; nothing else in the file moves
    after = json.loads((export / "security" / "grants.json").read_bytes())
    before = json.loads(grants)
    assert len(after) == len(before)
    for old, new in zip(before, after, strict=True):
        assert [g["name"] for g in old.get("grantees", [])] == [g["name"] for g in new.get("grantees", [])]
        assert {k: v for k, v in old.items() if k != "grantees"} == {k: v for k, v in new.items() if k != "grantees"}
        for old_g, new_g in zip(old.get("grantees", []), new.get("grantees", []), strict=True):
            assert sorted(old_g["allowed"].split(",")) == new_g["allowed"].split(",")
    layout = json.loads((export / "application-configuration-data.json").read_text())[0]
    assert "positions" not in json.loads(layout["content"])
    assert "hiddenTypes" in json.loads(layout["content"])
    # idempotent: a second pass changes nothing
    assert normalize_tree(export, ON) == []


def test_unsorted_grantees_in_compact_file_give_the_same_bytes_as_sorted(tmp_path: Path) -> None:
    rows = [
        {
            "id": "1",
            "signature": "A",
            "grantees": [{"name": "b", "allowed": ["write", "read"]}, {"name": "a", "allowed": ["read"]}],
        },
    ]
    shuffled = tmp_path / "one" / "security"
    ordered = tmp_path / "two" / "security"
    shuffled.mkdir(parents=True)
    ordered.mkdir(parents=True)
    (shuffled / "grants.json").write_text(dump_compact_list(rows))
    (ordered / "grants.json").write_text(dump_compact_list(sort_grantees(rows)))
    normalize_tree(tmp_path / "one", ON)
    normalize_tree(tmp_path / "two", ON)
    assert (shuffled / "grants.json").read_bytes() == (ordered / "grants.json").read_bytes()
    assert (shuffled / "grants.json").read_text().startswith("[\n\t{")


def test_options_off_leave_everything(tmp_path: Path) -> None:
    export = tmp_path / "webapp"
    shutil.copytree(FIXTURES / "react-todo-demo", export)
    assert normalize_tree(export, OFF) == []
