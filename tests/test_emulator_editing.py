"""Editing the application over REST the way a user in Structr's UI would, and seeing it in the export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.structr_emulator.harness import Emulator, EmulatorError
from tests.structr_emulator.htmldom import element_ids


def _json(path: Path) -> object:
    return json.loads(path.read_text())


def test_page_create_change_delete(emulator: Emulator, tmp_path: Path) -> None:
    page_id = emulator.create_page("about")
    html = emulator.page_html("about")
    assert html.startswith("<!DOCTYPE html>") and "Initial body text of about" in html
    ids = element_ids(html)
    assert len(ids) == 6 and len(set(ids)) == 6
    out = emulator.export_dir(tmp_path / "one")
    assert _json(out / "pages.json")["about"]["id"] == page_id  # type: ignore[index]
    assert (out / "pages" / "about.html").read_text() == html

    emulator.set_page_content("about", html.replace("Initial body text of about", "We build things."))
    out = emulator.export_dir(tmp_path / "two")
    changed = (out / "pages" / "about.html").read_text()
    assert "We build things." in changed and element_ids(changed) == ids  # element identity kept

    emulator.delete_page("about")
    out = emulator.export_dir(tmp_path / "three")
    assert _json(out / "pages.json") == {}
    assert list((out / "pages").iterdir()) == []


def test_new_elements_in_changed_content_get_ids(emulator: Emulator) -> None:
    emulator.create_page("p", "<html><body><p>one</p></body></html>")
    assert len(element_ids(emulator.page_html("p"))) == 3


def test_schema_type_and_method_lifecycle(emulator: Emulator, tmp_path: Path) -> None:
    emulator.add_schema_type("Invoice")
    emulator.add_schema_method("Invoice", "total", "{ return 1; }")
    out = emulator.export_dir(tmp_path / "a")
    assert (out / "schema" / "Invoice" / "methods" / "total").read_text() == "{ return 1; }"
    emulator.add_schema_method("Invoice", "total", "{ return 2; }")  # change
    out = emulator.export_dir(tmp_path / "b")
    assert (out / "schema" / "Invoice" / "methods" / "total").read_text() == "{ return 2; }"
    emulator.remove_schema_method("Invoice", "total")
    out = emulator.export_dir(tmp_path / "c")
    assert not (out / "schema" / "Invoice").exists()
    assert _json(out / "schema" / "schema.json")["definitions"]["Invoice"]["methods"] == {}  # type: ignore[index]
    emulator.remove_schema_type("Invoice")
    out = emulator.export_dir(tmp_path / "d")
    assert _json(out / "schema" / "schema.json") == {"definitions": {}, "methods": []}
    with pytest.raises(EmulatorError):
        emulator.remove_schema_type("Invoice")


def test_duplicate_type_is_rejected(emulator: Emulator) -> None:
    emulator.add_schema_type("Thing")
    response = emulator.rest("POST", "/structr/rest/SchemaNode", json={"name": "Thing"})
    assert response.status_code == 422


def test_file_upload_replace_delete(emulator: Emulator, tmp_path: Path) -> None:
    file_id = emulator.upload_file("/assets/css/app.css", b"a {}")
    assert emulator.upload_file("/assets/css/app.css", b"b {}") == file_id  # replace keeps the uuid
    blob = emulator.data_dir / "files" / file_id[0] / file_id[1] / file_id[2] / file_id[3] / file_id
    assert blob.read_bytes() == b"b {}"
    out = emulator.export_dir(tmp_path / "a")
    assert (out / "files" / "assets" / "css" / "app.css").read_bytes() == b"b {}"
    index = _json(out / "files.json")
    assert index["/assets"]["includeInFrontendExport"] is True  # type: ignore[index]
    assert index["/assets/css/app.css"]["id"] == file_id  # type: ignore[index]
    emulator.delete_file("/assets/css/app.css")
    assert not blob.exists()
    out = emulator.export_dir(tmp_path / "b")
    assert not (out / "files" / "assets" / "css" / "app.css").exists()
    assert "/assets/css/app.css" not in _json(out / "files.json")  # type: ignore[operator]


def test_deleting_a_folder_deletes_its_files(emulator: Emulator) -> None:
    file_id = emulator.upload_file("/tmp-folder/x.bin", b"x")
    emulator.delete_file("/tmp-folder")
    assert emulator.file_info("/tmp-folder/x.bin") is None
    assert not (emulator.data_dir / "files" / file_id[0] / file_id[1] / file_id[2] / file_id[3] / file_id).exists()


def test_grant_change_is_exported(emulator: Emulator, tmp_path: Path) -> None:
    emulator.set_grant("Invoice", 1)
    emulator.set_grant("Invoice", 255)
    out = emulator.export_dir(tmp_path / "a")
    text = (out / "security" / "grants.json").read_text()
    [line] = text.splitlines()[1:-1]
    grant = json.loads(line.strip())
    assert grant["signature"] == "Invoice" and grant["flags"] == 255
    assert list(grant) == sorted(grant)


def test_custom_data_nodes_crud(emulator: Emulator) -> None:
    emulator.add_schema_type("Ticket")
    created = emulator.rest("POST", "/structr/rest/Ticket", json={"name": "T-1", "priority": 3})
    assert created.status_code == 201
    ticket_id = created.json()["result"][0]
    emulator.rest("PUT", f"/structr/rest/Ticket/{ticket_id}", json={"priority": 1})
    [ticket] = emulator.rest("GET", "/structr/rest/Ticket").json()["result"]
    assert ticket["priority"] == 1 and ticket["type"] == "Ticket"
    assert emulator.rest("GET", f"/structr/rest/{ticket_id}").json()["result"]["name"] == "T-1"
    assert emulator.rest("DELETE", f"/structr/rest/Ticket/{ticket_id}").status_code == 200
    assert emulator.rest("GET", "/structr/rest/Ticket").json()["result"] == []
    assert emulator.rest("GET", "/structr/rest/NoSuchType").status_code == 404
