"""Import semantics of structr-api.md §3: order, wipe rules, files, replaced types, extend mode, principals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.paths import FIXTURES
from tests.structr_emulator.expectations import writable_copy
from tests.structr_emulator.harness import Emulator

DEPLOY = "/structr/rest/maintenance/deploy"


def _pages(emulator: Emulator) -> set[str]:
    return {page["name"] for page in emulator.rest("GET", "/structr/rest/Page").json()["result"]}


def _import(emulator: Emulator, source: Path, *, extend: bool = False) -> None:
    response = emulator.rest("POST", DEPLOY, json={"mode": "import", "source": str(source),
                                                   "extendExistingApp": extend})  # fmt: skip
    assert response.status_code == 200 and "end" in response.headers, response.text


def _log(emulator: Emulator) -> str:
    return (emulator.data_dir / "logs" / "server.log").read_text()


def test_react_todo_demo_over_meetdown_keeps_meetdown_pages(meetdown_emulator: Emulator) -> None:
    before = _pages(meetdown_emulator)
    assert len(before) == 13
    _import(meetdown_emulator, FIXTURES / "react-todo-demo")
    assert _pages(meetdown_emulator) == before
    assert "NOT removing any data" in _log(meetdown_emulator)


def test_meetdown_with_a_page_removed_and_all_folders_present_removes_it(
    meetdown_emulator: Emulator, tmp_path: Path
) -> None:
    app = writable_copy(FIXTURES / "meetdown", tmp_path / "meetdown")
    (app / "pages" / "logout.html").unlink()
    pages = json.loads((app / "pages.json").read_text())
    del pages["logout"]
    (app / "pages.json").write_text(json.dumps(pages))
    _import(meetdown_emulator, app)
    assert _pages(meetdown_emulator) == _pages_in(FIXTURES / "meetdown") - {"logout"}


def _pages_in(app: Path) -> set[str]:
    return {path.stem for path in (app / "pages").glob("*.html")}


def test_missing_templates_folder_skips_the_wipe_but_replaces_same_named_pages(
    meetdown_emulator: Emulator, tmp_path: Path
) -> None:
    meetdown_emulator.create_page("hand-made")
    app = writable_copy(FIXTURES / "meetdown", tmp_path / "meetdown")
    shutil.rmtree(app / "templates")  # git drops empty folders
    (app / "pages" / "home.html").write_text("<html><body><h1>new home</h1></body></html>")
    _import(meetdown_emulator, app)
    assert "hand-made" in _pages(meetdown_emulator)
    assert "new home" in meetdown_emulator.page_html("home")
    assert [p["name"] for p in meetdown_emulator.rest("GET", "/structr/rest/Page").json()["result"]].count("home") == 1


def test_empty_page_component_template_jsons_import_no_html(meetdown_emulator: Emulator, tmp_path: Path) -> None:
    app = tmp_path / "empty"
    for folder in ("pages", "components", "templates"):
        (app / folder).mkdir(parents=True)
        (app / f"{folder}.json").write_text("{}")
    (app / "pages" / "stray.html").write_text("<html></html>")
    _import(meetdown_emulator, app)
    assert "stray" not in _pages(meetdown_emulator)
    assert len(_pages(meetdown_emulator)) == 13


def test_page_and_element_uuids_come_from_the_export(emulator: Emulator) -> None:
    _import(emulator, FIXTURES / "hello-world")
    [page] = emulator.rest("GET", "/structr/rest/Page").json()["result"]
    assert page["id"] == "722b24c6927c441cbd845a86ab0e6fed"
    assert 'data-structr-meta-id="9401fa1abaed4a9990bc726c193ac976"' in emulator.page_html("hello-world")


def test_files_are_never_deleted_and_same_checksum_is_kept(meetdown_emulator: Emulator, tmp_path: Path) -> None:
    extra_id = meetdown_emulator.upload_file("/uploads/user.txt", b"user data")
    css = meetdown_emulator.file_info("/css/main.css")
    assert css is not None
    blob = meetdown_emulator.data_dir / "files" / "4" / "4" / "2" / "c" / css["id"]
    mtime = blob.stat().st_mtime_ns
    _import(meetdown_emulator, FIXTURES / "meetdown")
    assert meetdown_emulator.file_info("/uploads/user.txt")["id"] == extra_id  # type: ignore[index]
    assert blob.stat().st_mtime_ns == mtime  # same uuid and checksum: content not rewritten
    app = writable_copy(FIXTURES / "meetdown", tmp_path / "meetdown")
    (app / "files" / "css" / "main.css").write_text("body { color: red }")
    (app / "files" / "css" / "not-listed.css").write_text("ignored")
    _import(meetdown_emulator, app)
    assert blob.read_text() == "body { color: red }"
    assert meetdown_emulator.file_info("/css/main.css")["id"] == css["id"]  # type: ignore[index]
    assert meetdown_emulator.file_info("/css/not-listed.css") is None
    assert "not in files.json" in _log(meetdown_emulator)


def test_always_replaced_types_even_in_extend_mode(meetdown_emulator: Emulator, tmp_path: Path) -> None:
    meetdown_emulator.rest("POST", "/structr/rest/Widget", json={"name": "local widget"})
    meetdown_emulator.set_grant("LocalOnly", 1)
    _import(meetdown_emulator, FIXTURES / "meetdown", extend=True)
    widgets = [w["name"] for w in meetdown_emulator.rest("GET", "/structr/rest/Widget").json()["result"]]
    assert widgets == ["test-widget"]
    signatures = [
        g["signature"] for g in meetdown_emulator.rest("GET", "/structr/rest/ResourceAccess").json()["result"]
    ]
    assert "LocalOnly" not in signatures
    # A type whose file is absent is left untouched.
    app = writable_copy(FIXTURES / "meetdown", tmp_path / "meetdown")
    (app / "widgets.json").unlink()
    meetdown_emulator.rest("POST", "/structr/rest/Widget", json={"name": "second"})
    _import(meetdown_emulator, app)
    widgets = [w["name"] for w in meetdown_emulator.rest("GET", "/structr/rest/Widget").json()["result"]]
    assert sorted(widgets) == ["second", "test-widget"]


def test_schema_is_replaced_or_merged_in_extend_mode(meetdown_emulator: Emulator) -> None:
    meetdown_emulator.add_schema_type("LocalType")
    _import(meetdown_emulator, FIXTURES / "hello-world")  # no schema folder: schema untouched
    assert _type_names(meetdown_emulator) >= {"LocalType", "Event"}
    _import(meetdown_emulator, FIXTURES / "react-todo-demo", extend=True)
    assert _type_names(meetdown_emulator) >= {"LocalType", "Event", "Todo"}
    _import(meetdown_emulator, FIXTURES / "react-todo-demo")
    names = _type_names(meetdown_emulator)
    assert "Todo" in names and "LocalType" not in names and "Event" not in names


def _type_names(emulator: Emulator) -> set[str]:
    return {node["name"] for node in emulator.rest("GET", "/structr/rest/SchemaNode").json()["result"]}


def test_extend_mode_replaces_same_named_pages_only(meetdown_emulator: Emulator, tmp_path: Path) -> None:
    meetdown_emulator.create_page("local")
    app = writable_copy(FIXTURES / "hello-world", tmp_path / "hw")
    for folder in ("components", "templates"):
        (app / folder).mkdir()
    _import(meetdown_emulator, app, extend=True)
    assert _pages(meetdown_emulator) == _pages_in(FIXTURES / "meetdown") | {"local", "hello-world"}
    _import(meetdown_emulator, app)  # clean mode with all three folders: full wipe
    assert _pages(meetdown_emulator) == {"hello-world"}


def test_missing_principals_are_dropped_with_a_warning(emulator: Emulator, tmp_path: Path) -> None:
    app = writable_copy(FIXTURES / "hello-world", tmp_path / "hw")
    pages = json.loads((app / "pages.json").read_text())
    pages["hello-world"]["owner"] = {"name": "ghost"}
    pages["hello-world"]["grantees"] = [{"name": "editors", "allowed": "read,write"}]
    (app / "pages.json").write_text(json.dumps(pages))
    html = (app / "pages" / "hello-world.html").read_text()
    (app / "pages" / "hello-world.html").write_text(html.replace("<head ", "<!-- @structr:owner(ghost) --><head ", 1))
    _import(emulator, app)
    assert "Missing Principal(s)" in _log(emulator)
    assert "ghost (2x)" in _log(emulator) and "editors (1x)" in _log(emulator)
    [page] = emulator.rest("GET", "/structr/rest/Page").json()["result"]
    assert page["owner"] is None and page["grantees"] == []
    assert "@structr:owner(ghost)" not in emulator.page_html("hello-world")


def test_pre_deploy_get_or_create_makes_principals_resolve(emulator: Emulator, tmp_path: Path) -> None:
    app = writable_copy(FIXTURES / "hello-world", tmp_path / "hw")
    pages = json.loads((app / "pages.json").read_text())
    pages["hello-world"]["grantees"] = [{"name": "editors", "allowed": ["read"]}]
    (app / "pages.json").write_text(json.dumps(pages))
    (app / "pre-deploy.conf").write_text("{\n\t$.getOrCreate('Group', 'name', 'editors');\n}\n")
    _import(emulator, app)
    assert "Missing Principal(s)" not in _log(emulator)
    groups = emulator.rest("GET", "/structr/rest/Group").json()["result"]
    assert [group["name"] for group in groups] == ["editors"]
    [page] = emulator.rest("GET", "/structr/rest/Page").json()["result"]
    assert page["grantees"] == [{"name": "editors", "allowed": ["read"]}]


def test_ambiguous_principal_names_are_dropped(emulator: Emulator, tmp_path: Path) -> None:
    emulator.rest("POST", "/structr/rest/User", json={"name": "team"})
    emulator.rest("POST", "/structr/rest/Group", json={"name": "team"})
    app = writable_copy(FIXTURES / "hello-world", tmp_path / "hw")
    pages = json.loads((app / "pages.json").read_text())
    pages["hello-world"]["owner"] = {"name": "team"}
    (app / "pages.json").write_text(json.dumps(pages))
    _import(emulator, app)
    assert "ambiguous principal name(s), dropped: [team (1x)]" in _log(emulator)


def test_steps_run_in_structr_order(emulator: Emulator, tmp_path: Path) -> None:
    app = writable_copy(FIXTURES / "meetdown", tmp_path / "meetdown")
    (app / "pre-deploy.conf").write_text("{ $.getOrCreate('User', 'name', 'early'); }")
    (app / "post-deploy.conf").write_text("{ }")
    (app / "data" / "nodes").mkdir(parents=True)
    (app / "data" / "nodes" / "User.json").write_text(json.dumps([{"id": "a" * 32, "name": "seeded", "type": "User"}]))
    _import(emulator, app)
    log = _log(emulator)
    markers = [
        "Applying configuration from pre-deploy.conf",
        "Importing resource access grants",
        "Importing mail templates",
        "Importing widgets",
        "Importing localizations",
        "Importing application configuration data",
        "Replacing the schema",
        "Importing files",
        "Removing pages, templates and components",
        "Imported templates",
        "Imported components",
        "Imported page",
        "Importing sites",
        "Linking deferred page links",
        "Importing embedded application data from data/",
        "Imported module data",
        "Applying configuration from post-deploy.conf",
        "Running MigrationService",
    ]
    positions = [log.index(marker) for marker in markers]
    assert positions == sorted(positions)
    names = {user["name"] for user in emulator.rest("GET", "/structr/rest/User").json()["result"]}
    assert {"early", "seeded"} <= names
    assert "Deprecation Notice" in log  # meetdown has no deployment.conf
    assert "pre-4.0 export" in log  # meetdown's grants.json has no visibility flags


def test_missing_method_source_file_gives_warning_and_null_source(emulator: Emulator, tmp_path: Path) -> None:
    app = writable_copy(FIXTURES / "react-todo-demo", tmp_path / "todo")
    (app / "schema" / "Todo" / "methods" / "onCreate").unlink()
    _import(emulator, app)
    assert "Missing Schema file(s): Todo/methods/onCreate" in _log(emulator)
    methods = emulator.rest("GET", "/structr/rest/SchemaMethod", params={"name": "onCreate"}).json()["result"]
    todo = [m for m in methods if m["schemaNode"]["name"] == "Todo"]
    assert todo[0]["source"] is None


def test_sites_are_deleted_with_the_dom_wipe(meetdown_emulator: Emulator) -> None:
    meetdown_emulator.rest("POST", "/structr/rest/Site", json={"name": "old-site", "hostname": "old"})
    _import(meetdown_emulator, FIXTURES / "meetdown")  # sites.json exists ([]) and the wipe runs
    assert meetdown_emulator.rest("GET", "/structr/rest/Site").json()["result"] == []
