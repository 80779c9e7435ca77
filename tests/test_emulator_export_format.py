"""Export layout and formats of structr-api.md §2: folders, deployment.conf, tree schema, JSON, files/ pruning."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.paths import FIXTURES
from tests.structr_emulator import expectations
from tests.structr_emulator.harness import Emulator
from tests.structr_emulator.pytest_fixtures import EmulatorFactory

DEPLOY = "/structr/rest/maintenance/deploy"


def _export(emulator: Emulator, target: Path) -> Path:
    response = emulator.rest("POST", DEPLOY, json={"mode": "export", "target": str(target)})
    assert "end" in response.headers, response.text
    return target


def test_fresh_export_creates_all_folders_even_when_empty(emulator: Emulator, tmp_path: Path) -> None:
    out = _export(emulator, tmp_path / "out")
    for folder in ("components", "files", "pages", "schema", "security", "templates", "events", "modules",
                   "mail-templates"):  # fmt: skip
        assert (out / folder).is_dir(), folder
    assert (out / "deployment.conf").read_text() == (
        "structr-version = 6.1.0 e3f1a 202601291042\nvisibility-flags-relative-to = parent\n"
        "uuid-format = without_dashes\n"
    )
    assert (out / "schema" / "schema.json").read_text() == '{\n  "definitions": {},\n  "methods": []\n}'
    assert (out / "pages.json").read_text() == "{}"
    assert (out / "security" / "grants.json").read_text() == "[]"


def test_version_521_writes_a_changing_deployment_date(emulator_factory: EmulatorFactory, tmp_path: Path) -> None:
    emulator = emulator_factory(version="5.2.1")
    first = (_export(emulator, tmp_path / "a") / "deployment.conf").read_text()
    time.sleep(1.1)  # the date has one-second resolution
    second = (_export(emulator, tmp_path / "b") / "deployment.conf").read_text()
    assert first.startswith("structr-version = 5.2.1 ")
    assert "deployment-date = " in first and "uuid-format" not in first
    assert first != second
    # Files that 6.0.0 introduced are not written by 5.2.1.
    assert not (tmp_path / "a" / "page-paths.json").exists()
    assert not (tmp_path / "a" / "security" / "schema-grants.json").exists()
    assert (tmp_path / "a" / "security" / "cors-settings.json").exists()


def test_existing_deployment_conf_is_updated_not_rewritten(emulator: Emulator, tmp_path: Path) -> None:
    target = tmp_path / "repo"
    target.mkdir()
    (target / "deployment.conf").write_text(
        "structr-version = 4.3-SNAPSHOT b3371 202208301030\ndeployment-date = 2022-08-30T12:42:03+0200\n"
        "custom.key = kept\n"
    )
    _export(emulator, target)
    assert (target / "deployment.conf").read_text() == (
        "structr-version = 6.1.0 e3f1a 202601291042\ndeployment-date = 2022-08-30T12:42:03+0200\n"
        "custom.key = kept\nvisibility-flags-relative-to = parent\nuuid-format = without_dashes\n"
    )


def test_build_stamp_follows_the_server_build(emulator_factory: EmulatorFactory, tmp_path: Path) -> None:
    emulator = emulator_factory(build="f00ba 202602020202")
    conf = (_export(emulator, tmp_path / "a") / "deployment.conf").read_text()
    assert conf.startswith("structr-version = 6.1.0 f00ba 202602020202\n")
    emulator.stop()
    emulator.build = "cafe1 202603030303"  # a Structr upgrade with the same database
    emulator.start()
    conf = (_export(emulator, tmp_path / "a") / "deployment.conf").read_text()
    assert conf.startswith("structr-version = 6.1.0 cafe1 202603030303\n")


def test_export_empties_its_folders_and_keeps_foreign_entries(emulator: Emulator, tmp_path: Path) -> None:
    target = tmp_path / "repo"
    for rel in ("pages/old.html", "components/old.html", "templates/old.html", "schema/Old/methods/x",
                "mail-templates/old.html", ".git/HEAD", "README.md", "data/nodes/User.json"):  # fmt: skip
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        (target / rel).write_text("old")
    (target / "pre-deploy.conf").write_text("{ custom script }")
    _export(emulator, target)
    for rel in ("pages/old.html", "components/old.html", "templates/old.html", "schema/Old", "mail-templates/old.html"):
        assert not (target / rel).exists(), rel
    for rel in (".git/HEAD", "README.md", "data/nodes/User.json"):
        assert (target / rel).read_text() == "old"
    assert (target / "pre-deploy.conf").read_text() == "{ custom script }"  # never overwritten


def test_files_folder_is_pruned_and_unchanged_files_are_not_rewritten(emulator: Emulator, tmp_path: Path) -> None:
    emulator.upload_file("/static/site.css", b"body {}")
    emulator.upload_file("/private-top.txt", b"x")
    target = _export(emulator, tmp_path / "repo")
    css = target / "files" / "static" / "site.css"
    assert css.read_bytes() == b"body {}"
    (target / "files" / "static" / "stale.css").write_text("stale")
    (target / "files" / "gone").mkdir()
    mtime = css.stat().st_mtime_ns
    time.sleep(0.05)
    _export(emulator, target)
    assert css.stat().st_mtime_ns == mtime
    assert not (target / "files" / "static" / "stale.css").exists()
    assert not (target / "files" / "gone").exists()
    index = json.loads((target / "files.json").read_text())
    assert sorted(index) == ["/private-top.txt", "/static", "/static/site.css"]
    assert "size" not in index["/static/site.css"] and "checksum" not in index["/static/site.css"]


def test_only_flagged_top_level_nodes_are_exported(emulator: Emulator, tmp_path: Path) -> None:
    emulator.upload_file("/public/a.txt", b"a")
    folder = emulator.rest("POST", "/structr/rest/Folder", json={"name": "hidden"}).json()["result"][0]
    emulator.rest("POST", "/structr/rest/Folder", json={"name": "flagged", "parentId": folder,
                                                        "includeInFrontendExport": True})  # fmt: skip
    index = json.loads((_export(emulator, tmp_path / "out") / "files.json").read_text())
    assert sorted(index) == ["/public", "/public/a.txt"]


def test_tree_format_schema_writes_sources_as_files(emulator: Emulator, tmp_path: Path) -> None:
    emulator.add_schema_type("Project")
    emulator.add_schema_method("Project", "archive", "{ $.this.archived = true; }")
    emulator.rest("POST", "/structr/rest/SchemaMethod", json={"name": "cleanup", "source": "{ 'global' }"})
    out = _export(emulator, tmp_path / "out")
    schema = json.loads((out / "schema" / "schema.json").read_text())
    assert schema["definitions"]["Project"]["methods"]["archive"]["source"] == "./Project/methods/archive"
    assert (out / "schema" / "Project" / "methods" / "archive").read_text() == "{ $.this.archived = true; }"
    assert schema["methods"][0]["source"] == "./_globalMethods/cleanup"
    assert (out / "schema" / "_globalMethods" / "cleanup").read_text() == "{ 'global' }"
    assert "\\u0027global\\u0027" not in (out / "schema" / "schema.json").read_text()


def test_json_files_use_structr_sorting_and_formats(emulator: Emulator, tmp_path: Path) -> None:
    emulator.import_dir(FIXTURES / "meetdown")
    emulator.set_grant("Zeta", 1)
    emulator.set_grant("Alpha", 2)
    out = _export(emulator, tmp_path / "out")
    grants_text = (out / "security" / "grants.json").read_text()
    lines = grants_text.splitlines()
    assert lines[0] == "[" and lines[-1] == "]" and all(line.startswith("\t{") for line in lines[1:-1])
    signatures = [json.loads(line.strip().rstrip(","))["signature"] for line in lines[1:-1]]
    assert signatures == sorted(signatures)
    widgets = (out / "widgets.json").read_text()
    assert "\\u003cdiv\\u003e" in widgets  # Gson escapes HTML characters
    pages = (out / "pages.json").read_text()
    assert pages.startswith('{\n  "edit-event": {\n    "basicAuthRealm": null,')
    assert (out / "application-configuration-data.json").read_text().startswith('[\n\t{"configType":')


def test_grantee_order_noise_when_shuffle_is_on(emulator: Emulator, tmp_path: Path) -> None:
    meetdown_emulator = emulator
    page = {"id": emulator.create_page("home")}
    grantees = [{"name": name, "allowed": ["read", "write", "delete", "accessControl"]}
                for name in ("admin", "editors", "readers")]  # fmt: skip
    meetdown_emulator.rest("PUT", f"/structr/rest/Page/{page['id']}", json={"grantees": grantees})
    plain = {(_export(meetdown_emulator, tmp_path / f"p{i}") / "pages.json").read_text() for i in range(3)}
    assert len(plain) == 1
    meetdown_emulator.set_fault("shuffle_order")
    noisy = {(_export(meetdown_emulator, tmp_path / f"n{i}") / "pages.json").read_text() for i in range(6)}
    assert len(noisy) > 1
    parsed = [json.loads(text)["home"]["grantees"] for text in noisy]
    assert all(sorted(g["name"] for g in item) == ["admin", "editors", "readers"] for item in parsed)


def test_moving_a_schema_box_changes_only_the_layout_file(meetdown_emulator: Emulator, tmp_path: Path) -> None:
    before = expectations.read_tree(meetdown_emulator.export_dir(tmp_path / "a"))
    meetdown_emulator.move_schema_box("Event")
    after = expectations.read_tree(meetdown_emulator.export_dir(tmp_path / "b"))
    assert [rel for rel in before if before[rel] != after[rel]] == ["application-configuration-data.json"]


def test_two_pages_with_the_same_name_overwrite_each_other(emulator: Emulator, tmp_path: Path) -> None:
    emulator.create_page("twin", "<html><body>first</body></html>")
    emulator.create_page("twin", "<html><body>second</body></html>")
    out = _export(emulator, tmp_path / "out")
    assert list(json.loads((out / "pages.json").read_text())) == ["twin"]
    assert "second" in (out / "pages" / "twin.html").read_text()
