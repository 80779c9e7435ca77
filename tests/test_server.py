"""The Structr client against the emulator: auth, export download, imports and the 200-that-is-a-failure cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from structr_appsync.config import Timeouts
from structr_appsync.errors import AuthError, DeploymentFailed, ExportInvalid, ServerError, ServerUnavailable
from structr_appsync.server import StructrClient
from tests.paths import FIXTURES
from tests.structr_emulator.harness import Emulator
from tests.structr_emulator.pytest_fixtures import EmulatorFactory


def client(emulator: Emulator, password: str = "admin", **timeouts: float) -> StructrClient:
    return StructrClient(url=emulator.url, user="admin", password=password, timeouts=Timeouts(**timeouts))


def test_probe_version_and_auth(emulator: Emulator) -> None:
    with client(emulator) as good:
        good.probe()
        assert good.structr_version() == "6.1.0"
        assert good.is_deployment_active() is False
        good.wait_ready(5)
    with client(emulator, "wrong") as bad, pytest.raises(AuthError, match="401"):
        bad.probe()


def test_unreachable_server(tmp_path: Path) -> None:
    with (
        StructrClient(url="http://127.0.0.1:9", user="a", password="b", timeouts=Timeouts(connect=1)) as nowhere,
        pytest.raises(ServerUnavailable, match="cannot reach"),
    ):
        nowhere.probe()


def test_download_export_validates_and_extracts(tmp_path: Path, meetdown_emulator: Emulator) -> None:
    with client(meetdown_emulator) as api:
        folder = api.download_export(tmp_path / "dl")
    assert (folder / "pages" / "home.html").is_file()
    assert (folder / "deployment.conf").read_text().startswith("structr-version = 6.1.0")
    assert not (tmp_path / "dl" / "export.zip").exists()


@pytest.mark.parametrize(
    ("fault", "error", "words"),
    [("truncate_zip", ExportInvalid, "truncated"), ("noop_deploy", ExportInvalid, "empty body")],
)
def test_download_export_faults(
    tmp_path: Path, meetdown_emulator: Emulator, fault: str, error: type[Exception], words: str
) -> None:
    meetdown_emulator.set_fault(fault)
    with client(meetdown_emulator) as api, pytest.raises(error, match=words):
        api.download_export(tmp_path / "dl")


def test_hang_past_the_timeout_is_unavailable(tmp_path: Path, emulator: Emulator) -> None:
    emulator.set_fault("hang", seconds=3, path="/structr/deploy")
    with client(emulator, deploy=1) as api, pytest.raises(ServerUnavailable, match="did not answer"):
        api.download_export(tmp_path / "dl")


def test_server_error_status(tmp_path: Path, emulator: Emulator) -> None:
    emulator.set_fault("status", code=500, path="/structr/deploy", count=1)
    with client(emulator) as api, pytest.raises(ServerError, match="500") as caught:
        api.download_export(tmp_path / "dl")
    assert caught.value.exit_code == 4


def test_path_export_and_silent_noops(tmp_path: Path, meetdown_emulator: Emulator) -> None:
    with client(meetdown_emulator) as api:
        api.deploy_export_to(str(tmp_path / "out" / "webapp"))
        assert (tmp_path / "out" / "webapp" / "pages" / "home.html").is_file()
        meetdown_emulator.set_fault("noop_deploy")
        with pytest.raises(DeploymentFailed, match="did nothing"):
            api.deploy_export_to(str(tmp_path / "out2" / "webapp"))
        with pytest.raises(DeploymentFailed, match="relative paths are not allowed"):
            api.deploy_export_to("relative/path")


def test_import_precondition_failure_answered_with_200_is_detected(tmp_path: Path, emulator: Emulator) -> None:
    empty = tmp_path / "not-an-export"
    empty.mkdir()
    with client(emulator) as api, pytest.raises(DeploymentFailed):
        api.deploy_import_from(str(empty))


def test_upload_import_and_refusal(tmp_path: Path, emulator: Emulator) -> None:
    with client(emulator) as api:
        api.upload_import(FIXTURES / "hello-world")
        assert "hello-world" in emulator.export_dir(tmp_path / "check").joinpath("pages.json").read_text()
        junk = tmp_path / "junk"
        junk.mkdir()
        (junk / "readme.txt").write_text("not an export")
        with pytest.raises(DeploymentFailed, match="refused the import"):
            api.upload_import(junk)


def test_v5_import_precondition_422_is_a_deployment_failure(tmp_path: Path, emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(version="5.2.1")
    empty = tmp_path / "not-an-export"
    empty.mkdir()
    with client(emulator) as api, pytest.raises(DeploymentFailed) as caught:
        api.deploy_import_from(str(empty))
    assert caught.value.status == 422


def test_upload_zip_stores_compressed_formats_and_deflates_text(tmp_path: Path) -> None:
    import zipfile

    from structr_appsync.exportzip import zip_folder

    folder = tmp_path / "webapp"
    (folder / "files").mkdir(parents=True)
    (folder / "files" / "photo.JPG").write_bytes(b"\xff\xd8" + bytes(range(256)) * 40)
    (folder / "files" / "site.css").write_text("body { color: red; }\n" * 200)
    zip_path = tmp_path / "upload.zip"
    zip_folder(folder, zip_path, top="webapp")
    with zipfile.ZipFile(zip_path) as archive:
        kinds = {info.filename: info.compress_type for info in archive.infolist()}
        assert archive.read("webapp/files/photo.JPG") == (folder / "files" / "photo.JPG").read_bytes()
    assert kinds["webapp/files/photo.JPG"] == zipfile.ZIP_STORED
    assert kinds["webapp/files/site.css"] == zipfile.ZIP_DEFLATED
