"""`appsync check` against the emulator: files/ with a missing, an orphan and a corrupted file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from structr_appsync.check import check_files
from structr_appsync.check.listing import PageSource
from structr_appsync.check.runner import CheckOptions
from structr_appsync.config import Timeouts
from structr_appsync.errors import EXIT_FAILED, EXIT_OK, EXIT_SERVER, EXIT_UNREACHABLE, EXIT_USAGE, ServerError
from structr_appsync.server import StructrClient
from tests.helpers import run_cli
from tests.structr_emulator.harness import Emulator


def write_config(path: Path, url: str, structr_dir: Path) -> Path:
    config = path / "appsync.toml"
    config.write_text(
        "\n".join(
            [
                "[env.dev]",
                f'url = "{url}"',
                "[env.dev.backup]",
                f"destination = {json.dumps(str(path / 'backups'))}",
                f"neo4j_data = {json.dumps(str(path / 'neo4j'))}",
                f"structr_dir = {json.dumps(str(structr_dir))}",
                'service_manager = "command"',
            ]
        )
        + "\n"
    )
    return config


def blob(emulator: Emulator, uuid: str) -> Path:
    return emulator.data_dir / "files" / uuid[0] / uuid[1] / uuid[2] / uuid[3] / uuid


@pytest.fixture
def files_install(emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("APPSYNC_PASSWORD", "admin")
    ids = {name: emulator.upload_file(f"/docs/{name}.txt", f"content of {name}".encode() * 50) for name in "abcdef"}
    external = emulator.rest("POST", "/structr/rest/File", json={"name": "far.bin", "isExternal": True})
    assert external.status_code == 201
    # an external file's bytes are not Structr's: remove them, the check must not call that missing
    external_id = external.json()["result"][0]
    blob(emulator, external_id).unlink()
    return {"ids": ids, "config": write_config(tmp_path, emulator.url, emulator.data_dir)}


def break_files(emulator: Emulator, ids: dict[str, str]) -> str:
    blob(emulator, ids["b"]).unlink()  # missing
    corrupted = blob(emulator, ids["d"])
    data = bytearray(corrupted.read_bytes())
    data[10] ^= 0xFF  # same size, other bytes
    corrupted.write_bytes(bytes(data))
    orphan_id = "ffff" + "0" * 28
    orphan = blob(emulator, orphan_id)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"nobody owns me")
    return orphan_id


def test_consistent_installation_exits_0(files_install: dict[str, Any]) -> None:
    result = run_cli("-c", str(files_install["config"]), "check")
    assert result.code == EXIT_OK, result.out + result.err
    assert "consistent: 6 of 7 files checked (sizes and xxh64 checksums)" in result.out
    assert "1 not checkable (external 1" in result.out


def test_exactly_the_three_problems_are_reported(emulator: Emulator, files_install: dict[str, Any]) -> None:
    ids = files_install["ids"]
    orphan_id = break_files(emulator, ids)
    result = run_cli("-c", str(files_install["config"]), "check")
    assert result.code == EXIT_FAILED
    lines = [line for line in result.out.splitlines() if not line.startswith("dev (")]
    assert sorted(lines) == sorted(
        [
            f"missing on disk: /docs/b.txt [{ids['b']}]",
            next(line for line in lines if line.startswith("checksum mismatch: /docs/d.txt")),
            f"orphan on disk (no File node): files/f/f/f/f/{orphan_id} [{orphan_id}]",
        ]
    )
    assert f"[{ids['d']}] (database " in result.out
    assert "3 problem(s)" in result.out


def test_quick_misses_the_corrupted_file_and_says_so(emulator: Emulator, files_install: dict[str, Any]) -> None:
    ids = files_install["ids"]
    break_files(emulator, ids)
    result = run_cli("-c", str(files_install["config"]), "check", "--quick")
    assert result.code == EXIT_FAILED
    assert "/docs/d.txt" not in result.out
    assert "missing on disk: /docs/b.txt" in result.out
    assert "orphan on disk" in result.out
    assert "sizes only (--quick), checksums not compared" in result.out


def test_json_carries_the_same_findings(emulator: Emulator, files_install: dict[str, Any]) -> None:
    ids = files_install["ids"]
    orphan_id = break_files(emulator, ids)
    text = run_cli("-c", str(files_install["config"]), "check")
    result = run_cli("-c", str(files_install["config"]), "check", "--json")
    assert result.code == EXIT_FAILED
    body = json.loads(result.out)
    assert body["consistent"] is False
    found = {(item["kind"], item["uuid"]) for item in body["findings"]}
    assert found == {("missing", ids["b"]), ("checksum", ids["d"]), ("orphan", orphan_id)}
    assert body["counts"]["unchecked"]["external"] == 1
    assert body["counts"]["missing"] == body["counts"]["checksum"] == body["counts"]["orphan"] == 1
    for item in body["findings"]:
        assert item["uuid"] in text.out


def test_size_mismatch_is_reported_without_hashing(emulator: Emulator, files_install: dict[str, Any]) -> None:
    ids = files_install["ids"]
    blob(emulator, ids["e"]).write_bytes(b"short")
    result = run_cli("-c", str(files_install["config"]), "check", "--json")
    body = json.loads(result.out)
    assert [(f["kind"], f["uuid"], f["actual_size"]) for f in body["findings"]] == [("size", ids["e"], 5)]
    assert body["counts"]["hashed"] == 5


def test_paging_walks_every_page(emulator: Emulator, files_install: dict[str, Any]) -> None:
    ids = files_install["ids"]
    break_files(emulator, ids)
    with StructrClient(url=emulator.url, user="admin", password="admin", timeouts=Timeouts()) as client:
        report = check_files(client, emulator.data_dir / "files", CheckOptions(page_size=2, workers=2))
    assert report.counts.nodes == 7
    assert {finding.kind for finding in report.findings} == {"missing", "checksum", "orphan"}


class _Pages:
    url = "http://fake"

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids

    def list_page(
        self, type_name: str, *, page: int, page_size: int, properties: tuple[str, ...], sort: str = "id"
    ) -> list[dict[str, Any]]:
        chunk = self.ids[(page - 1) * page_size : page * page_size]
        return [{"id": uuid, "path": f"/{uuid}", "size": 0, "checksum": None} for uuid in chunk]


def test_an_unsorted_listing_is_refused(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    source: PageSource = _Pages(["b" * 32, "a" * 32])
    with pytest.raises(ServerError, match="not sorted by id"):
        check_files(source, tmp_path / "files")


def test_a_repeated_entry_after_a_page_shift_is_counted_once(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    source: PageSource = _Pages(["a" * 32, "b" * 32, "b" * 32, "c" * 32])
    report = check_files(source, tmp_path / "files", CheckOptions(page_size=2))
    assert report.counts.nodes == 3
    assert report.counts.by_kind["missing"] == 3


def test_errors_have_the_usual_codes(emulator: Emulator, files_install: dict[str, Any], tmp_path: Path) -> None:
    config = files_install["config"]
    assert run_cli("-c", str(config), "check", "--env", "nope").code == EXIT_USAGE
    (tmp_path / "other").mkdir()
    gone = write_config(tmp_path / "other", "http://127.0.0.1:9", emulator.data_dir)
    assert run_cli("-c", str(gone), "check").code == EXIT_UNREACHABLE
    emulator.set_fault("status", code=500, path="/structr/rest/File")
    assert run_cli("-c", str(config), "check").code == EXIT_SERVER
