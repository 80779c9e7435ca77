"""The fault switches: status codes, hangs, broken ZIP downloads, silent no-op deployments, slow deployments."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from pathlib import Path

import pytest
import requests

from tests.paths import FIXTURES
from tests.structr_emulator.harness import Emulator, EmulatorError, zip_dir

DEPLOY = "/structr/rest/maintenance/deploy"


def test_status_fault_with_path_prefix_and_count(emulator: Emulator) -> None:
    emulator.set_fault("status", code=503, path="/structr/rest/", count=2)
    assert requests.get(emulator.url + "/structr/health", timeout=10).status_code == 200  # other path
    assert emulator.rest("GET", "/structr/rest/_env").status_code == 503
    assert emulator.rest("GET", "/structr/rest/_env").status_code == 503
    assert emulator.rest("GET", "/structr/rest/_env").status_code == 200
    emulator.set_fault("status", code=500)
    assert emulator.rest("GET", "/structr/rest/_env").status_code == 500
    assert emulator.rest("GET", "/structr/deploy", params={"mode": "test"}).status_code == 500
    emulator.clear_faults()
    assert emulator.rest("GET", "/structr/rest/_env").status_code == 200


def test_hang_fault_delays_the_answer(emulator: Emulator) -> None:
    emulator.set_fault("hang", seconds=3, path="/structr/health", count=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(emulator.url + "/structr/health", timeout=0.5)
    assert requests.get(emulator.url + "/structr/health", timeout=10).status_code == 200


def test_drop_zip_closes_the_connection_mid_download(emulator: Emulator, tmp_path: Path) -> None:
    emulator.import_dir(FIXTURES / "hello-world")
    emulator.set_fault("drop_zip")
    with pytest.raises(requests.exceptions.RequestException):
        response = emulator.rest("GET", "/structr/deploy", params={"name": "x"})
        response.raise_for_status()
        zipfile.ZipFile(io.BytesIO(response.content)).testzip()
    assert emulator.export_dir(tmp_path / "ok").is_dir()  # next download is fine


def test_truncate_zip_sends_a_complete_reply_with_a_broken_zip(emulator: Emulator, tmp_path: Path) -> None:
    emulator.set_fault("truncate_zip")
    response = emulator.rest("GET", "/structr/deploy", params={"name": "x"})
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.content)
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(response.content))
    with pytest.raises(zipfile.BadZipFile):
        emulator.set_fault("truncate_zip")
        emulator.export_dir(tmp_path / "broken")


def test_noop_deploy_fault_for_rest_and_upload(emulator: Emulator) -> None:
    emulator.set_fault("noop_deploy")
    response = emulator.rest("POST", DEPLOY, json={"mode": "import", "source": str(FIXTURES / "hello-world")})
    assert response.status_code == 200 and response.json()["result"] == []
    assert "start" not in response.headers
    assert emulator.rest("GET", "/structr/rest/Page").json()["result"] == []
    emulator.set_fault("noop_deploy", path="/structr/deploy")
    emulator.import_dir(FIXTURES / "hello-world")  # answered 200 ...
    assert emulator.rest("GET", "/structr/rest/Page").json()["result"] == []  # ... and did nothing
    emulator.import_dir(FIXTURES / "hello-world")
    assert len(emulator.rest("GET", "/structr/rest/Page").json()["result"]) == 1


def test_slow_deploy_fault_makes_ready_answer_503(emulator: Emulator) -> None:
    emulator.set_fault("slow_deploy", seconds=1.5)
    worker = threading.Thread(target=emulator.import_dir, args=(FIXTURES / "hello-world",))
    worker.start()
    seen = set()
    deadline = time.monotonic() + 10
    while worker.is_alive() and time.monotonic() < deadline:
        seen.add(requests.get(emulator.url + "/structr/health/ready", timeout=10).status_code)
        time.sleep(0.05)
    worker.join()
    assert 503 in seen
    assert requests.get(emulator.url + "/structr/health/ready", timeout=10).status_code == 200


def test_unknown_fault_kind_is_rejected(emulator: Emulator) -> None:
    with pytest.raises(EmulatorError, match="unknown fault kind"):
        emulator.set_fault("explode")


def test_faults_do_not_touch_the_control_endpoint(emulator: Emulator) -> None:
    emulator.set_fault("status", code=500)
    emulator.set_fault("shuffle_order", enabled=False)  # still reachable
    emulator.clear_faults()
    payload = zip_dir(FIXTURES / "hello-world")
    assert payload[:2] == b"PK"


def test_noop_deploy_on_a_zip_download_gives_an_empty_body(emulator: Emulator, tmp_path: Path) -> None:
    emulator.import_dir(FIXTURES / "hello-world")
    emulator.set_fault("noop_deploy", path="/structr/deploy")
    response = emulator.rest("GET", "/structr/deploy", params={"name": "x"})
    assert (response.status_code, response.content) == (200, b"")
    assert (emulator.export_dir(tmp_path / "out") / "pages" / "hello-world.html").is_file()  # one-shot
