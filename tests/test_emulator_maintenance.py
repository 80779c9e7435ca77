"""POST /structr/rest/maintenance/deploy|deployData|maintenanceMode with the 6.x and 5.2.1 quirks."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import requests

from tests.paths import FIXTURES
from tests.structr_emulator.harness import Emulator
from tests.structr_emulator.pytest_fixtures import EmulatorFactory

DEPLOY = "/structr/rest/maintenance/deploy"


def _deploy(emulator: Emulator, **body: object) -> requests.Response:
    return emulator.rest("POST", DEPLOY, json=body)


def test_export_and_import_answer_200_with_start_end_duration_headers(emulator: Emulator, tmp_path: Path) -> None:
    response = _deploy(emulator, mode="import", source=str(FIXTURES / "meetdown"))
    assert response.status_code == 200
    assert response.json()["result"] == []
    assert {"start", "end", "duration"} <= set(response.headers)
    assert response.headers["duration"].endswith("s")
    response = _deploy(emulator, mode="export", target=str(tmp_path / "export"))
    assert response.status_code == 200 and "end" in response.headers
    assert (tmp_path / "export" / "pages" / "home.html").is_file()
    assert set(response.json()) == {"result", "result_count", "page_count", "result_count_time",
                                    "serialization_time", "query_time"}  # fmt: skip


def test_unknown_or_missing_mode_is_a_silent_200_noop(emulator: Emulator, tmp_path: Path) -> None:
    digest = emulator.state_digest()
    for body in ({"mode": "imprt", "source": str(FIXTURES / "meetdown")}, {"source": str(FIXTURES / "meetdown")}):
        response = emulator.rest("POST", DEPLOY, json=body)
        assert response.status_code == 200
        assert response.json()["result"] == []
        assert not {"start", "end", "duration"} & set(response.headers)
    assert emulator.state_digest() == digest
    assert "Unsupported mode" in (emulator.data_dir / "logs" / "server.log").read_text()


def test_concurrent_deployment_is_a_silent_200_noop(emulator_factory: EmulatorFactory, tmp_path: Path) -> None:
    emulator = emulator_factory(deploy_delay=1.5)
    results: dict[str, requests.Response] = {}
    first = threading.Thread(
        target=lambda: results.update(first=_deploy(emulator, mode="import", source=str(FIXTURES / "hello-world")))
    )
    first.start()
    deadline = time.monotonic() + 10
    while requests.get(emulator.url + "/structr/health/ready", timeout=5).status_code != 503:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    env = emulator.rest("GET", "/structr/rest/_env").json()["result"]
    assert env["isDeploymentActive"] is True
    download = emulator.rest("GET", "/structr/deploy", params={"name": "x"})
    assert (download.status_code, download.content) == (200, b"")  # the export was a no-op: empty body
    second = _deploy(emulator, mode="export", target=str(tmp_path / "never"))
    first.join()
    assert second.status_code == 200 and second.json()["result"] == []
    assert "start" not in second.headers
    assert not (tmp_path / "never").exists()
    assert "end" in results["first"].headers
    assert requests.get(emulator.url + "/structr/health/ready", timeout=5).status_code == 200
    assert "Prevented deployment" in (emulator.data_dir / "logs" / "server.log").read_text()


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("", "Please provide source path"),
        ("relative/path", "not an absolute path"),
        ("/does/not/exist", "does not exist"),
    ],
)
def test_failed_precondition_is_200_with_error_string_and_no_end_header(
    emulator: Emulator, source: str, fragment: str
) -> None:
    response = _deploy(emulator, mode="import", source=source)
    assert response.status_code == 200
    [message] = response.json()["result"]
    assert message.startswith("Deployment Import not started: ") and fragment in message
    assert "start" in response.headers
    assert "end" not in response.headers and "duration" not in response.headers


def test_newer_export_version_is_refused(emulator: Emulator, tmp_path: Path) -> None:
    source = tmp_path / "newer"
    (source / "pages").mkdir(parents=True)
    (source / "deployment.conf").write_text("structr-version = 6.2.0-SNAPSHOT abcde 202603010000\n")
    response = _deploy(emulator, mode="import", source=str(source))
    assert response.status_code == 200
    assert response.json()["result"][0].startswith("Incompatible Deployment Import: ")
    (source / "deployment.conf").write_text("structr-version = 6.1.9 abcde 202603010000\n")  # same first two digits
    assert "end" in _deploy(emulator, mode="import", source=str(source)).headers


def test_uuid_format_mismatch_is_refused_and_both_is_accepted(emulator: Emulator, tmp_path: Path) -> None:
    source = tmp_path / "dashes"
    (source / "pages").mkdir(parents=True)
    (source / "deployment.conf").write_text("structr-version = 6.1.0 x 1\nuuid-format = with_dashes\n")
    response = _deploy(emulator, mode="import", source=str(source))
    assert "uuid" in response.json()["result"][0].lower() and "end" not in response.headers
    (source / "deployment.conf").write_text("structr-version = 6.1.0 x 1\nuuid-format = both\n")
    assert "end" in _deploy(emulator, mode="import", source=str(source)).headers


def test_folder_without_deployment_files_is_refused(emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / "empty" / "random").mkdir(parents=True)
    response = _deploy(emulator, mode="import", source=str(tmp_path / "empty"))
    assert "does not contain any of the files" in response.json()["result"][0]


def test_version_521_answers_422_for_failed_preconditions(emulator_factory: EmulatorFactory, tmp_path: Path) -> None:
    emulator = emulator_factory(version="5.2.1")
    response = _deploy(emulator, mode="import", source="/does/not/exist")
    assert response.status_code == 422
    assert "does not exist" in response.json()["result"][0]
    assert "start" in response.headers and "end" not in response.headers
    source = tmp_path / "from6"
    (source / "pages").mkdir(parents=True)
    (source / "deployment.conf").write_text("structr-version = 6.1.0 x 1\nuuid-format = without_dashes\n")
    assert _deploy(emulator, mode="import", source=str(source)).status_code == 422  # newer than 5.2
    (source / "deployment.conf").write_text("structr-version = 5.2.0 x 1\nuuid-format = with_dashes\n")
    assert "end" in _deploy(emulator, mode="import", source=str(source)).headers  # no uuid check before 6.0


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (None, "Please provide target path for deployment export."),
        ("relative/dir", "Target path 'relative/dir' is not an absolute path - relative paths are not allowed."),
    ],
)
def test_export_target_errors_are_422_framework_errors(emulator: Emulator, target: str | None, message: str) -> None:
    body = {"mode": "export"} if target is None else {"mode": "export", "target": target}
    response = emulator.rest("POST", DEPLOY, json=body)
    assert response.status_code == 422
    assert response.json() == {"code": 422, "message": message, "errors": []}


def test_export_io_error_is_swallowed_200_without_end_header(emulator: Emulator, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    response = _deploy(emulator, mode="export", target=str(blocker))
    assert response.status_code == 200 and response.json()["result"] == []
    assert "start" in response.headers and "end" not in response.headers


def test_other_methods_give_405_and_lenient_json_is_accepted(emulator: Emulator, tmp_path: Path) -> None:
    for method in ("GET", "PUT", "DELETE"):
        assert emulator.rest(method, DEPLOY).status_code == 405
    assert emulator.rest("OPTIONS", DEPLOY).headers["Allow"] == "POST"
    raw = f'{{mode:"export", target:"{tmp_path / "lenient"}"}}'
    response = emulator.rest("POST", DEPLOY, data=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and "end" in response.headers


def test_extend_existing_app_accepts_string_true(emulator: Emulator) -> None:
    emulator.import_dir(FIXTURES / "meetdown")
    emulator.create_page("extra")
    response = _deploy(emulator, mode="import", source=str(FIXTURES / "meetdown"), extendExistingApp="TRUE")
    assert "end" in response.headers
    names = {page["name"] for page in emulator.rest("GET", "/structr/rest/Page").json()["result"]}
    assert "extra" in names and "home" in names


def test_maintenance_mode_is_reported_in_env(emulator: Emulator) -> None:
    def env() -> dict[str, object]:
        return dict(emulator.rest("GET", "/structr/rest/_env").json()["result"])

    assert env()["maintenanceModeActive"] is False
    path = "/structr/rest/maintenance/maintenanceMode"
    assert emulator.rest("POST", path, json={"action": "enable"}).status_code == 200
    assert env()["maintenanceModeActive"] is True
    emulator.rest("POST", path, json={"action": "disable"})
    assert env()["maintenanceModeActive"] is False
    assert emulator.rest("POST", path, json={"action": "toggle"}).status_code == 422


def test_env_reports_version_and_deployment_state(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(build="abcde 202601011200")
    response = emulator.rest("GET", "/structr/rest/_env")
    env = response.json()["result"]
    assert env["components"]["structr"] == {"version": "6.1.0", "build": "abcde", "date": "202601011200"}
    assert env["isDeploymentActive"] is False
    assert response.headers["X-Structr-Edition"] == "Community"


def test_health_endpoints(emulator: Emulator) -> None:
    health = requests.get(emulator.url + "/structr/health", timeout=10)
    assert health.status_code == 200
    assert health.headers["Content-Type"] == "application/health+json"
    assert health.json()["status"] == "pass"
    assert requests.get(emulator.url + "/structr/health/ready", timeout=10).status_code == 200


def test_schema_import_failure_is_a_422_framework_error(emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / "app" / "schema").mkdir(parents=True)
    (tmp_path / "app" / "schema" / "schema.json").write_text("{ broken")
    digest = emulator.state_digest()
    response = _deploy(emulator, mode="import", source=str(tmp_path / "app"))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == 422 and body["message"].startswith("Unable to import schema: ")
    assert emulator.state_digest() == digest
