"""POST /structr/rest/maintenance/deployData for User, Group and custom types (password hash and salt)."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from tests.structr_emulator.harness import Emulator
from tests.structr_emulator.pytest_fixtures import EmulatorFactory

DATA = "/structr/rest/maintenance/deployData"


def _populate(emulator: Emulator) -> None:
    emulator.add_schema_type("Ticket")
    user = emulator.rest("POST", "/structr/rest/User", json={"name": "hank", "password": "pw1", "eMail": "h@x.org"})
    emulator.rest("POST", "/structr/rest/Group", json={"name": "support", "members": [user.json()["result"][0]]})
    emulator.rest("POST", "/structr/rest/Ticket", json={"name": "T-1", "priority": 2})


def test_export_writes_sorted_raw_properties_including_password_hash(emulator: Emulator, tmp_path: Path) -> None:
    _populate(emulator)
    response = emulator.rest("POST", DATA, json={"mode": "export", "target": str(tmp_path / "d"),
                                                 "types": " User, Group ,Ticket,Unknown"})  # fmt: skip
    assert response.status_code == 200 and "end" in response.headers
    users = json.loads((tmp_path / "d" / "nodes" / "User.json").read_text())
    hank = next(user for user in users if user["name"] == "hank")
    assert list(hank) == sorted(hank)
    assert len(hank["password"]) == 128 and hank["salt"] and hank["password"] != "pw1"
    assert "owner" in hank and "grantees" in hank
    assert [t["name"] for t in json.loads((tmp_path / "d" / "nodes" / "Ticket.json").read_text())] == ["T-1"]
    rels = json.loads((tmp_path / "d" / "relationships" / "GroupCONTAINSPrincipal.json").read_text())
    assert rels[0]["sourceId"] and rels[0]["targetId"] == hank["id"]
    for name in ("files.json", "file-parents.json", "pre-data-deploy.conf", "post-data-deploy.conf"):
        assert (tmp_path / "d" / name).exists()
    log = (emulator.data_dir / "logs" / "server.log").read_text()
    assert "Type can not be found: Unknown" in log


def test_import_into_fresh_server_keeps_password_hash(emulator_factory: EmulatorFactory, tmp_path: Path) -> None:
    source = emulator_factory()
    _populate(source)
    source.rest("POST", DATA, json={"mode": "export", "target": str(tmp_path / "d"), "types": "User,Group,Ticket"})
    target = emulator_factory()
    target.add_schema_type("Ticket")
    response = target.rest("POST", DATA, json={"mode": "import", "source": str(tmp_path / "d")})
    assert response.status_code == 200 and "end" in response.headers
    login = requests.post(target.url + "/structr/rest/login", json={"eMail": "h@x.org", "password": "pw1"}, timeout=10)
    assert login.status_code == 200
    assert [t["name"] for t in target.rest("GET", "/structr/rest/Ticket").json()["result"]] == ["T-1"]
    groups = target.rest("GET", "/structr/rest/Group").json()["result"]
    assert [g["name"] for g in groups] == ["support"]
    # Import deletes and recreates nodes with the same id: importing twice leaves one copy. The source's
    # admin has another uuid than the target's, so both exist (the emulator has no uniqueness constraint).
    target.rest("POST", DATA, json={"mode": "import", "source": str(tmp_path / "d")})
    names = [u["name"] for u in target.rest("GET", "/structr/rest/User").json()["result"]]
    assert sorted(names) == ["admin", "admin", "hank"]


def test_data_export_requires_types_and_absolute_target(emulator: Emulator, tmp_path: Path) -> None:
    response = emulator.rest("POST", DATA, json={"mode": "export", "target": str(tmp_path / "d"), "types": " "})
    assert response.status_code == 422
    response = emulator.rest("POST", DATA, json={"mode": "export", "target": "rel", "types": "User"})
    assert response.status_code == 422
    response = emulator.rest("POST", DATA, json={"mode": "weird"})
    assert response.status_code == 200 and "start" not in response.headers


def test_unknown_type_in_data_import_is_skipped(emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / "d" / "nodes").mkdir(parents=True)
    (tmp_path / "d" / "nodes" / "Ghost.json").write_text(json.dumps([{"id": "b" * 32, "name": "boo"}]))
    response = emulator.rest("POST", DATA, json={"mode": "import", "source": str(tmp_path / "d")})
    assert "end" in response.headers
    assert "Type can not be found: Ghost" in (emulator.data_dir / "logs" / "server.log").read_text()


def test_data_export_order_is_unsorted_noise_with_shuffle(emulator: Emulator, tmp_path: Path) -> None:
    for index in range(8):
        emulator.rest("POST", "/structr/rest/User", json={"name": f"user{index}"})
    emulator.set_fault("shuffle_order")
    orders = set()
    for index in range(4):
        target = tmp_path / f"d{index}"
        emulator.rest("POST", DATA, json={"mode": "export", "target": str(target), "types": "User"})
        orders.add(tuple(u["name"] for u in json.loads((target / "nodes" / "User.json").read_text())))
    assert len(orders) > 1
