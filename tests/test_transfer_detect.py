"""Issue 19: `appsync init` picks the transfer that works; a missing ZIP servlet is named as such."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from structr_appsync.config import Timeouts
from structr_appsync.errors import EXIT_OK, EXIT_REFUSED, EXIT_SERVER, DeployServletMissing, ServerError
from structr_appsync.server import NO_DEPLOY_SERVLET, StructrClient
from structr_appsync.sync import transfer_detect
from tests.exportutil import make_export_repo, write_config
from tests.gitutil import git, make_repo
from tests.helpers import run_cli
from tests.paths import FIXTURES
from tests.structr_emulator.harness import Emulator
from tests.structr_emulator.pytest_fixtures import EmulatorFactory

REAL_610 = FIXTURES.parent / "real-6.1.0" / "exports"


@pytest.fixture
def community_521(emulator_factory: EmulatorFactory) -> Emulator:
    """A 5.2.1 without the ZIP servlet, as the recorded Community build (real-5.2.1/http/transcripts.txt)."""
    return emulator_factory(version="5.2.1", extra_args=("--no-deploy-servlet",))


def test_the_emulator_flag_answers_like_jetty(community_521: Emulator) -> None:
    response = community_521.rest("GET", "/structr/deploy?name=webapp")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "text/html;charset=iso-8859-1"
    assert "HTTP ERROR 404" in response.text
    assert community_521.rest("GET", "/structr/rest/_env").status_code == 200


def _config(project: Path) -> tuple[str, dict[str, object]]:
    text = (project / "appsync.toml").read_text()
    return text, tomllib.loads(text)["env"]["dev"]


def test_init_then_export_against_a_521_without_zip_servlet_works_in_one_go(
    tmp_path: Path, community_521: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    community_521.create_page("home")  # the harness imports over the ZIP servlet, which this one lacks
    project = tmp_path / "app"
    project.mkdir()
    monkeypatch.setenv("APPSYNC_PASSWORD", "admin")
    result = run_cli("init", "--url", community_521.url, cwd=project)
    assert result.code == EXIT_OK, result.err
    assert "transfer = 'path'" in result.out and "does not serve the ZIP servlet" in result.out
    assert "to do:" not in result.out  # the server is on this host: the default server_dir works
    text, env = _config(project)
    assert env["transfer"] == "path"
    assert "# transfer: /structr/deploy answered 404 while /structr/rest/_env answers" in text
    assert '[env."dev".path_transfer]' in text
    exported = run_cli("export", cwd=project)
    assert exported.code == EXIT_OK, exported.err
    assert (project / "webapp" / "pages" / "home.html").is_file()
    assert git(project, "log", "--format=%s").startswith("Export dev")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("admin", "/structr/deploy?mode=test answered 200: the ZIP servlet is there"),
        (None, "/structr/deploy?mode=test answered 401: the ZIP servlet is there"),  # probed without credentials
    ],
)
def test_init_picks_zip_when_the_servlet_answers(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch, password: str | None, reason: str
) -> None:
    if password is None:
        monkeypatch.delenv("APPSYNC_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("APPSYNC_PASSWORD", password)
    result = run_cli("init", "--url", emulator.url, cwd=tmp_path)
    assert result.code == EXIT_OK, result.err
    text, env = _config(tmp_path)
    assert env["transfer"] == "zip"
    assert f"# transfer: {reason}" in text


def test_init_names_the_shared_volume_when_structr_is_elsewhere(
    tmp_path: Path, community_521: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer_detect, "is_this_host", lambda url: False)
    monkeypatch.setenv("APPSYNC_PASSWORD", "admin")
    result = run_cli("init", "--url", community_521.url, cwd=tmp_path)
    assert result.code == EXIT_OK, result.err
    assert "to do: Structr is not on this host: set path_transfer.server_dir" in result.out
    assert "path_transfer.local_dir to the same directory as this machine sees it (a shared volume)" in result.out


def test_an_explicit_transfer_is_not_probed(tmp_path: Path) -> None:
    result = run_cli("init", "--url", "http://localhost:9", "--transfer", "path", cwd=tmp_path)
    assert result.code == EXIT_OK, result.err
    text, env = _config(tmp_path)
    assert env["transfer"] == "path" and "# transfer: chosen with --transfer" in text


def test_is_this_host() -> None:
    assert transfer_detect.is_this_host("http://127.0.0.1:8082")
    assert transfer_detect.is_this_host("http://localhost:8082")
    assert not transfer_detect.is_this_host("http://192.0.2.10:8082")  # TEST-NET-1, never this machine


def test_export_with_zip_forced_names_the_missing_servlet(
    tmp_path: Path, community_521: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_export_repo(tmp_path, community_521, monkeypatch, transfer="zip")
    result = run_cli("export", cwd=root)
    assert result.code == EXIT_SERVER
    assert f"appsync: error: {NO_DEPLOY_SERVLET}\n" in result.err
    assert NO_DEPLOY_SERVLET == (
        'this Structr does not serve /structr/deploy (Structr 5.2 Community does not); set transfer = "path"'
    )


def test_a_404_from_a_url_that_is_not_structr_still_says_so(emulator: Emulator) -> None:
    # Under /nothing, _env answers 404 as well: the URL is not Structr's base, and the error says that.
    client = StructrClient(url=emulator.url + "/nothing", user="admin", password="admin", timeouts=Timeouts())
    with client, pytest.raises(ServerError) as caught:
        client.probe()
    assert not isinstance(caught.value, DeployServletMissing)
    assert "is this Structr's base URL?" in str(caught.value)


def _repo_with_webapp(tmp_path: Path, source: Path) -> Path:
    root = make_repo(tmp_path / "repo")
    shutil.copytree(source, root / "webapp")
    git(root, "add", "webapp")
    git(root, "commit", "-q", "-m", "webapp from a real export")
    return root


def test_an_import_over_zip_on_a_521_without_servlet_names_the_missing_servlet(
    tmp_path: Path, community_521: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo_with_webapp(tmp_path, FIXTURES / "hello-world")
    write_config(root, community_521, transfer="zip")
    monkeypatch.setenv("APPSYNC_PASSWORD", "admin")
    before = community_521.state_digest()
    result = run_cli("import", "HEAD", "--yes", "--allow-delete", cwd=root)
    assert result.code == EXIT_SERVER
    assert NO_DEPLOY_SERVLET in result.err
    assert community_521.state_digest() == before


def test_a_61_export_is_refused_by_a_521_before_anything_changes(
    tmp_path: Path, community_521: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real 6.1.0 export, committed as it is, onto the 5.2.1 Community build (path transfer, no ZIP servlet).
    root = _repo_with_webapp(tmp_path, REAL_610 / "hello-world")

    write_config(root, community_521, transfer="path", server_dir=tmp_path / "transfer")
    monkeypatch.setenv("APPSYNC_PASSWORD", "admin")
    before = community_521.state_digest()
    result = run_cli("import", "HEAD", "--yes", "--allow-delete", cwd=root)
    assert result.code == EXIT_REFUSED, result.err
    assert "exported by Structr 6.1.0 and the server runs 5.2.1" in result.err
    assert community_521.state_digest() == before
    assert git(root, "for-each-ref", "refs/appsync/") == ""
