"""The emulator process: CLI, store lock, persistence, SIGTERM, state written while running."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import xxhash

from tests.structr_emulator.harness import REPO_ROOT, Emulator, EmulatorError, running_emulator
from tests.structr_emulator.pytest_fixtures import EmulatorFactory

ADMIN = {"X-User": "admin", "X-Password": "admin"}


def test_cli_prints_listening_line_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.structr_emulator", "--data-dir", str(tmp_path / "d"), "--port", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.split()[-1]
        assert requests.get(url + "/structr/health", timeout=10).status_code == 200
        process.terminate()
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
    assert "Structr emulator stopped" in (tmp_path / "d" / "logs" / "server.log").read_text()


def test_second_process_on_same_data_dir_refuses_to_start(emulator: Emulator) -> None:
    other = Emulator(emulator.data_dir)
    with pytest.raises(EmulatorError, match="locked by another emulator process"):
        other.start()
    assert emulator.is_running()
    assert not other.is_running()


def test_fresh_data_dir_has_admin_user_with_is_admin(emulator: Emulator) -> None:
    users = emulator.rest("GET", "/structr/rest/User").json()["result"]
    assert [(user["name"], user["isAdmin"]) for user in users] == [("admin", True)]
    assert "password" not in users[0] and "salt" not in users[0]


def test_restart_reuses_port_and_keeps_state(emulator: Emulator) -> None:
    port = emulator.port
    emulator.create_page("kept")
    emulator.upload_file("/assets/a.txt", b"hello")
    digest = emulator.state_digest()
    emulator.stop()
    assert not emulator.is_running()
    emulator.start()
    assert emulator.port == port
    assert emulator.state_digest() == digest
    pages = emulator.rest("GET", "/structr/rest/Page").json()["result"]
    assert [page["name"] for page in pages] == ["kept"]


def test_state_digest_is_stable_while_nothing_changes(emulator: Emulator) -> None:
    emulator.create_page("p")
    first = emulator.state_digest()
    time.sleep(0.6)  # several journal intervals; the heartbeat file is not part of the digest
    emulator.rest("GET", "/structr/rest/Page")
    assert emulator.state_digest() == first
    emulator.set_page_content("p", "<html><body>changed</body></html>")
    assert emulator.state_digest() != first


def test_cold_copy_of_data_dir_restores_everything(emulator: Emulator, tmp_path: Path) -> None:
    emulator.create_page("backup-me")
    file_id = emulator.upload_file("/docs/readme.txt", b"content")
    digest = emulator.state_digest()
    emulator.stop()
    copy = tmp_path / "restored"
    shutil.copytree(emulator.data_dir, copy)
    with running_emulator(copy) as restored:
        assert restored.state_digest() == digest
        info = restored.file_info("/docs/readme.txt")
        assert info is not None and info["id"] == file_id


def test_copy_taken_while_running_can_reference_deleted_content(emulator: Emulator, tmp_path: Path) -> None:
    file_id = emulator.upload_file("/img/logo.png", b"\x89PNG fake")
    emulator.flush()
    emulator.journal(paused=True)  # the writer has not run yet when the copy is taken
    emulator.delete_file("/img/logo.png")  # deleting a file removes its content from files/ at once
    copy = tmp_path / "hot-copy"
    shutil.copytree(emulator.data_dir, copy, ignore=shutil.ignore_patterns("store_lock"))
    emulator.journal(paused=False)

    db_files = json.loads((copy / "db" / "files.json").read_text())
    assert file_id in db_files["nodes"]  # the copied database still lists the file ...
    assert not (
        copy / "files" / file_id[0] / file_id[1] / file_id[2] / file_id[3] / file_id
    ).exists()  # ... not its content


def test_copy_taken_during_a_journal_write_has_disagreeing_parts(emulator: Emulator, tmp_path: Path) -> None:
    emulator.flush()
    emulator.journal(hold_after="app")  # the next write stops after db/app.json
    emulator.create_page("half-written")
    deadline = time.monotonic() + 10
    while not emulator.status()["held"] and time.monotonic() < deadline:
        time.sleep(0.05)
    copy = tmp_path / "hot-copy"
    shutil.copytree(emulator.data_dir, copy, ignore=shutil.ignore_patterns("store_lock"))
    emulator.journal(release=True)

    generations = {part: json.loads((copy / "db" / f"{part}.json").read_text())["generation"] for part in
                   ("meta", "app", "principals", "files", "data")}  # fmt: skip
    assert generations["meta"] == generations["app"]
    assert generations["principals"] < generations["app"]
    with running_emulator(copy) as restored:
        assert restored.is_running()
    assert "different generations" in (copy / "logs" / "server.log").read_text()


def test_binary_content_layout_and_checksum_follow_structr(emulator: Emulator) -> None:
    content = bytes(range(256)) * 40
    file_id = emulator.upload_file("/media/blob.bin", content)
    on_disk = emulator.data_dir / "files" / file_id[0] / file_id[1] / file_id[2] / file_id[3] / file_id
    assert on_disk.read_bytes() == content
    info = emulator.file_info("/media/blob.bin")
    assert info is not None
    unsigned = xxhash.xxh64_intdigest(content)
    assert info["checksum"] == (unsigned - 2**64 if unsigned >= 2**63 else unsigned)
    assert info["size"] == len(content)


def test_emulator_factory_and_context_manager_stop_processes(emulator_factory: EmulatorFactory, tmp_path: Path) -> None:
    with running_emulator(tmp_path / "ctx") as inner:
        pid = inner.pid
        assert inner.is_running()
    assert not inner.is_running()
    assert pid is not None
    made = emulator_factory(version="5.2.1")
    env = made.rest("GET", "/structr/rest/_env").json()["result"]
    assert env["components"]["structr"]["version"] == "5.2.1"


def test_requests_are_served_concurrently(emulator: Emulator) -> None:
    import threading

    emulator.set_fault("hang", seconds=2, path="/structr/health", count=1)
    slow = threading.Thread(target=requests.get, args=(emulator.url + "/structr/health",), kwargs={"timeout": 10})
    slow.start()
    time.sleep(0.2)
    assert emulator.rest("GET", "/structr/rest/_env").status_code == 200
    assert slow.is_alive()  # the hanging request did not block the other one
    slow.join()


def test_crash_with_a_torn_state_part_loads_it_empty_with_a_warning(emulator: Emulator) -> None:
    emulator.create_page("before-crash")
    emulator.flush()
    emulator.kill()
    principals = emulator.data_dir / "db" / "principals.json"
    principals.write_text(principals.read_text()[:20])  # a write cut short by the crash
    emulator.start()
    assert emulator.rest("GET", "/structr/rest/_env").status_code == 401  # admin is gone with the torn part
    log = (emulator.data_dir / "logs" / "server.log").read_text()
    assert "store part principals unreadable" in log
