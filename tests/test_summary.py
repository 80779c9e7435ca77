from __future__ import annotations

import json
import shutil
from pathlib import Path

from structr_appsync.sync.summary import compare_trees, file_changes, summarize_changes
from tests.paths import FIXTURES

MEETDOWN_PAGES = [
    "edit-event", "edit-group", "event", "events", "group", "home", "login", "logout", "member", "profile",
    "register", "register_error", "register_thanks",
]  # fmt: skip


def copy(tmp_path: Path, name: str = "meetdown", to: str = "a") -> Path:
    target = tmp_path / to
    shutil.copytree(FIXTURES / name, target)
    return target


def test_initial_summary_names_every_page_and_counts_categories(tmp_path: Path) -> None:
    summary = compare_trees(None, copy(tmp_path))
    assert summary.initial
    assert summary.categories["pages"].added == MEETDOWN_PAGES
    assert sorted(summary.categories["templates"].added) == ["Header", "Main Page Template"]
    assert len(summary.categories["components"].added) == 4
    assert "/img/meetdown.png" in summary.categories["files"].added
    assert summary.categories["mail_templates"].added == ["SENDER_ADDRESS (en)", "SENDER_NAME (en)", "SUBJECT (en)"]
    lines = summary.lines()
    assert lines[0].startswith("Pages: 13 added (edit-event, edit-group,")
    assert summary.subject().startswith("initial export of 13 pages, 4 components, 2 templates")
    assert summary.to_json()["counts"]["pages"] == {"added": 13, "changed": 0, "removed": 0}


def test_identical_trees_are_empty(tmp_path: Path) -> None:
    summary = compare_trees(copy(tmp_path, to="a"), copy(tmp_path, to="b"))
    assert summary.is_empty
    assert summary.subject() == "no changes"
    assert summary.lines() == []


def test_one_page_changed_names_only_that_page(tmp_path: Path) -> None:
    old, new = copy(tmp_path, to="a"), copy(tmp_path, to="b")
    (new / "pages" / "home.html").write_text("<html></html>")
    summary = compare_trees(old, new)
    assert summary.lines() == ["Page: 1 changed (home)"]
    assert summary.subject() == "change page home"


def test_page_removed_in_html_and_index_is_one_removal(tmp_path: Path) -> None:
    old, new = copy(tmp_path, to="a"), copy(tmp_path, to="b")
    (new / "pages" / "login.html").unlink()
    pages = json.loads((new / "pages.json").read_text())
    del pages["login"]
    (new / "pages.json").write_text(json.dumps(pages, indent=2))
    summary = compare_trees(old, new)
    assert summary.categories["pages"].removed == ["login"]
    assert summary.deletions == {"pages": ["login"]}


def test_metadata_only_change_counts_the_item(tmp_path: Path) -> None:
    old, new = copy(tmp_path, to="a"), copy(tmp_path, to="b")
    files = json.loads((new / "files.json").read_text())
    files["/css/main.css"]["visibleToPublicUsers"] = False
    (new / "files.json").write_text(json.dumps(files, indent=2))
    summary = compare_trees(old, new)
    assert summary.categories["files"].changed == ["/css/main.css"]
    assert len(summary.categories) == 1


def test_schema_types_and_methods(tmp_path: Path) -> None:
    old = {
        "definitions": {"A": {"type": "object", "methods": {"m1": {"source": "1"}}}, "B": {"type": "object"}},
        "methods": [{"name": "g1", "source": "x"}],
    }
    new = {"definitions": {"A": {"type": "object", "methods": {"m1": {"source": "2"}, "m2": {}}},
                           "C": {"type": "object"}}, "methods": []}  # fmt: skip

    def reader(data: object):  # type: ignore[no-untyped-def]
        return lambda _path: json.dumps(data).encode()

    summary = summarize_changes([("M", "schema/schema.json")], reader(old), reader(new))
    assert summary.categories["schema_types"].added == ["C"]
    assert summary.categories["schema_types"].removed == ["B"]
    assert summary.categories["schema_methods"].added == ["A.m2"]
    assert summary.categories["schema_methods"].changed == ["A.m1"]
    assert summary.categories["schema_methods"].removed == ["g1"]
    assert summary.deletions == {"schema_types": ["B"]}


def test_tree_format_method_files_and_grants(tmp_path: Path) -> None:
    summary = summarize_changes(
        [("M", "schema/Todo/methods/onCreate"), ("A", "schema/_globalMethods/hello"), ("D", "modules/flows/x.json")],
        lambda _p: None,
        lambda _p: None,
    )
    assert summary.categories["schema_methods"].changed == ["Todo.onCreate"]
    assert summary.categories["schema_methods"].added == ["hello"]
    assert summary.categories["modules"].removed == ["flows"]


def test_file_changes_detects_add_modify_delete(tmp_path: Path) -> None:
    old, new = tmp_path / "o", tmp_path / "n"
    for root in (old, new):
        root.mkdir()
        (root / "same.txt").write_text("x")
    (old / "gone.txt").write_text("x")
    (new / "new.txt").write_text("x")
    (old / "mod.txt").write_text("1")
    (new / "mod.txt").write_text("2")
    assert file_changes(old, new) == [("D", "gone.txt"), ("M", "mod.txt"), ("A", "new.txt")]


def test_long_lists_are_capped(tmp_path: Path) -> None:
    changes = [("A", f"pages/p{index:03}.html") for index in range(100)]
    line = summarize_changes(changes, lambda _p: None, lambda _p: None).lines()[0]
    assert line.startswith("Pages: 100 added (p000, p001")
    assert line.endswith("… and 90 more)")


# -- what the commit message says (issue: noisy or wrong summaries) ------------------------------------------


def _real_61(name: str) -> Path:
    return FIXTURES.parent / "real-6.1.0" / "exports" / name


def test_an_initial_summary_names_a_few_per_kind_and_counts_the_rest(tmp_path: Path) -> None:
    for fixture in (FIXTURES / "meetdown", _real_61("meetdown"), _real_61("react-todo-demo"), _real_61("hello-world")):
        summary = compare_trees(None, fixture)
        for line in summary.lines():
            names_shown = line.split("(", 1)[1].rsplit(")", 1)[0].split(", ") if "(" in line else []
            assert len([n for n in names_shown if not n.startswith("…")]) <= 3, line


def test_schema_types_that_came_with_their_folders_are_added_not_changed(tmp_path: Path) -> None:
    new = tmp_path / "new"
    shutil.copytree(_real_61("meetdown"), new)
    old = tmp_path / "old"
    shutil.copytree(new, old)
    shutil.rmtree(old / "schema" / "Group")
    schema = json.loads((old / "schema" / "schema.json").read_text())
    schema["definitions"].pop("Group")
    (old / "schema" / "schema.json").write_text(json.dumps(schema, indent=2))
    summary = compare_trees(old, new)
    assert summary.categories["schema_types"].added == ["Group"]
    assert summary.categories["schema_types"].changed == []
    assert summary.subject().startswith("add ")


def test_a_change_inside_a_type_folder_is_a_changed_type(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(_real_61("meetdown"), old)
    shutil.copytree(old, new)
    function = next((new / "schema" / "Group" / "functions").iterdir())
    function.write_text(function.read_text() + "\n// edited\n")
    summary = compare_trees(old, new)
    assert summary.categories["schema_types"].changed == ["Group"]
    assert summary.subject() == "change schema type Group"


def test_two_added_pages_are_added_not_updated(tmp_path: Path) -> None:
    old, new = copy(tmp_path, to="a"), copy(tmp_path, to="b")
    pages = json.loads((new / "pages.json").read_text())
    for name in ("about", "news"):
        (new / "pages" / f"{name}.html").write_text(f"<html><body>{name}</body></html>")
        pages[name] = dict(pages["home"], name=name)
    (new / "pages.json").write_text(json.dumps(pages, indent=2))
    summary = compare_trees(old, new)
    assert summary.categories["pages"].added == ["about", "news"]
    assert summary.subject() == "add 2 pages"
    (new / "pages" / "home.html").write_text("<html></html>")
    assert compare_trees(old, new).subject() == "update 3 pages"
