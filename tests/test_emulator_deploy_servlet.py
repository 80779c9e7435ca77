"""GET and POST /structr/deploy (DeploymentServlet): ZIP export and upload with Structr's status texts."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import requests

from tests.paths import FIXTURES
from tests.structr_emulator.harness import Emulator, zip_dir
from tests.structr_emulator.pytest_fixtures import EmulatorFactory

URL = "/structr/deploy"


def _names(payload: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        return archive.namelist()


def _upload(emulator: Emulator, payload: bytes, *, file_name: str = "app.zip", **fields: str) -> requests.Response:
    data = {"mode": "app", **fields}
    return emulator.rest("POST", URL, files={"file": (file_name, payload, "application/zip")}, data=data,
                         allow_redirects=False)  # fmt: skip


def test_get_returns_zip_with_one_top_folder(meetdown_emulator: Emulator) -> None:
    response = meetdown_emulator.rest("GET", URL, params={"name": "myapp"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Content-Disposition"] == 'attachment; filename="myapp.zip"'
    names = _names(response.content)
    assert {name.split("/")[0] for name in names} == {"myapp"}
    assert "myapp/pages/home.html" in names and "myapp/deployment.conf" in names


def test_get_mode_test_is_an_empty_200(emulator: Emulator) -> None:
    response = emulator.rest("GET", URL, params={"mode": "test"})
    assert response.status_code == 200 and response.content == b""


@pytest.mark.parametrize(
    ("params", "status", "text"),
    [
        ({"name": "x", "mode": "weird"}, 400, "ERROR (400): Unknown mode."),
        ({"name": ""}, 400, "ERROR (400): Empty name parameter."),
        ({"name": "x", "mode": "data"}, 400, "ERROR (400): Empty types parameter."),
        ({"name": ".."}, 403, "ERROR (403): Invalid name parameter."),
    ],
)
def test_get_parameter_errors(emulator: Emulator, params: dict[str, str], status: int, text: str) -> None:
    response = emulator.rest("GET", URL, params=params)
    assert (response.status_code, response.text) == (status, text)


def test_get_auth_errors(emulator: Emulator) -> None:
    bad = requests.get(emulator.url + URL, params={"name": "x"}, headers={"X-User": "admin", "X-Password": "no"},
                       timeout=10)  # fmt: skip
    assert (bad.status_code, bad.text) == (401, "ERROR (401): Invalid user or password.")
    anonymous = requests.get(emulator.url + URL, params={"name": "x"}, timeout=10)
    assert (anonymous.status_code, anonymous.text) == (
        401,
        "ERROR (401): Download of export ZIP file only allowed for admins.",
    )
    emulator.rest("POST", "/structr/rest/User", json={"name": "dan", "password": "pw"})
    user = requests.get(emulator.url + URL, params={"name": "x"}, headers={"X-User": "dan", "X-Password": "pw"},
                        timeout=10)  # fmt: skip
    assert user.status_code == 401


def test_get_data_mode_exports_types(emulator: Emulator) -> None:
    response = emulator.rest("GET", URL, params={"name": "d", "mode": "data", "types": "User"})
    names = _names(response.content)
    assert "d/nodes/User.json" in names


def test_post_imports_renamed_zip_with_one_top_folder(emulator: Emulator) -> None:
    response = _upload(emulator, zip_dir(FIXTURES / "hello-world"), file_name="renamed-upload.zip")
    assert (response.status_code, response.text) == (200, "")
    assert response.headers["Content-Type"].startswith("text/html")
    assert [p["name"] for p in emulator.rest("GET", "/structr/rest/Page").json()["result"]] == ["hello-world"]


def test_post_redirect_url_gives_302(emulator: Emulator) -> None:
    response = _upload(emulator, zip_dir(FIXTURES / "hello-world"), redirectUrl="/structr/#dashboard")
    assert response.status_code == 302
    assert response.headers["Location"] == "/structr/#dashboard"


def _two_folder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a/pages.json", "{}")
        archive.writestr("b/pages.json", "{}")
    return buffer.getvalue()


def test_post_rejects_zip_with_several_top_folders(emulator: Emulator) -> None:
    response = _upload(emulator, _two_folder_zip())
    assert response.status_code == 400
    assert response.text.startswith("ERROR (400): Unable to deploy file.\nZip has multiple folders")
    empty = io.BytesIO()
    zipfile.ZipFile(empty, "w").close()
    response = _upload(emulator, empty.getvalue())
    assert response.text.startswith("ERROR (400): Unable to deploy file.\nZip is empty")


def test_post_zip_content_path(emulator: Emulator) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted((FIXTURES / "hello-world").rglob("*")):
            if path.is_file():
                archive.write(path, "repo/webapp/" + path.relative_to(FIXTURES / "hello-world").as_posix())
        archive.writestr("repo/README.md", "readme")
    assert _upload(emulator, buffer.getvalue(), zipContentPath="repo/webapp").status_code == 200
    for bad in ("../etc", "/abs", "repo/missing"):
        response = _upload(emulator, buffer.getvalue(), zipContentPath=bad)
        assert response.status_code == 400
        assert response.text.startswith("ERROR (400): Unable to deploy file.\n")


def test_post_precondition_failure_is_422_with_error_key(emulator: Emulator, tmp_path: Path) -> None:
    app = tmp_path / "newer"
    (app / "pages").mkdir(parents=True)
    (app / "deployment.conf").write_text("structr-version = 7.0.0 abc 1\n")
    response = _upload(emulator, zip_dir(app))
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"code", "error"} and body["code"] == 422
    assert body["error"].startswith("Incompatible Deployment Import: ")


def test_post_checks_multipart_auth_admin_and_mode(emulator: Emulator) -> None:
    payload = zip_dir(FIXTURES / "hello-world")
    response = requests.post(emulator.url + URL, data=b"", timeout=10)
    assert response.status_code == 400
    response = requests.post(emulator.url + URL, files={"file": ("a.zip", payload)}, data={"mode": "app"}, timeout=10)
    assert (response.status_code, response.text) == (401, "ERROR (401): Import of ZIP file only allowed for admins.")
    response = requests.post(emulator.url + URL, files={"file": ("a.zip", payload)}, data={"mode": "app"},
                             headers={"X-User": "admin", "X-Password": "bad"}, timeout=10)  # fmt: skip
    assert (response.status_code, response.text) == (401, "ERROR (401): Invalid user or password.")
    emulator.rest("POST", "/structr/rest/User", json={"name": "eve", "password": "pw"})
    response = requests.post(emulator.url + URL, files={"file": ("a.zip", payload)}, data={"mode": "app"},
                             headers={"X-User": "eve", "X-Password": "pw"}, timeout=10)  # fmt: skip
    assert response.status_code == 401
    response = _upload(emulator, payload, mode="other")
    assert (response.status_code, response.text) == (400, "ERROR (400): Unknown mode.")


def test_version_521_uses_the_file_name_rule_and_lets_any_user_upload(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    emulator = emulator_factory(version="5.2.1")
    payload = zip_dir(FIXTURES / "hello-world")
    renamed = _upload(emulator, payload, file_name="renamed.zip")
    assert renamed.status_code == 400
    assert renamed.text.startswith("ERROR (400): Unable to deploy file.")
    assert _upload(emulator, payload, file_name="hello-world.zip").status_code == 200
    emulator.rest("POST", "/structr/rest/User", json={"name": "frank", "password": "pw"})
    response = requests.post(emulator.url + URL, files={"file": ("hello-world.zip", payload)}, data={"mode": "app"},
                             headers={"X-User": "frank", "X-Password": "pw"}, timeout=10)  # fmt: skip
    assert response.status_code == 200


def test_post_data_mode_imports_data_zip(emulator_factory: EmulatorFactory, tmp_path: Path) -> None:
    source = emulator_factory()
    source.rest("POST", "/structr/rest/User", json={"name": "gina", "password": "pw"})
    payload = source.rest("GET", URL, params={"name": "data", "mode": "data", "types": "User"}).content
    target = emulator_factory()
    response = target.rest("POST", URL, files={"file": ("data.zip", payload)}, data={"mode": "data"})
    assert response.status_code == 200
    check = requests.get(target.url + "/structr/rest/_env", headers={"X-User": "gina", "X-Password": "pw"},
                         timeout=10)  # fmt: skip
    assert check.status_code == 401  # gina is not admin and there is no grant, but she authenticated
    assert check.json()["message"] == "Access denied"


def test_post_download_url(emulator: Emulator, tmp_path: Path) -> None:
    import functools
    import http.server
    import threading

    (tmp_path / "hello-world.zip").write_bytes(zip_dir(FIXTURES / "hello-world"))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        ok = emulator.rest("POST", URL, files={"downloadUrl": (None, f"{base}/hello-world.zip")},
                           data={"mode": "app"})  # fmt: skip
        assert ok.status_code == 200
        missing = emulator.rest("POST", URL, files={"downloadUrl": (None, f"{base}/nope.zip")}, data={"mode": "app"})
        assert (missing.status_code, missing.text) == (400, "ERROR (400): Unable to download from URL.")
    finally:
        server.shutdown()
        server.server_close()
    assert [p["name"] for p in emulator.rest("GET", "/structr/rest/Page").json()["result"]] == ["hello-world"]


def test_broken_export_gives_400_on_upload_and_500_on_rest_and_changes_nothing(
    emulator: Emulator, tmp_path: Path
) -> None:
    from tests.structr_emulator.expectations import writable_copy

    app = writable_copy(FIXTURES / "hello-world", tmp_path / "broken")
    (app / "pages.json").write_text("{ not json")
    digest = emulator.state_digest()
    response = _upload(emulator, zip_dir(app))
    assert response.status_code == 400
    assert response.text.startswith("ERROR (400): Unable to deploy file.\n")
    rest = emulator.rest("POST", "/structr/rest/maintenance/deploy", json={"mode": "import", "source": str(app)})
    assert rest.status_code == 500
    assert rest.json()["message"].startswith("JSONDecodeError in POST: ")
    assert emulator.state_digest() == digest
    assert requests.get(emulator.url + "/structr/health/ready", timeout=10).status_code == 200
