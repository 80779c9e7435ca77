"""`appsync import REF` against the emulator: restore, fresh database, dropped folders, refusals and rollback."""

from __future__ import annotations

import io
import json
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from structr_appsync.config import LoadedConfig, load_config
from structr_appsync.errors import EXIT_REFUSED, EXIT_SERVER, EXIT_UNREACHABLE, EXIT_USAGE, AppsyncError
from structr_appsync.gitrepo import GitRepo
from structr_appsync.sync import export_trees, importer
from structr_appsync.sync.import_plan import ImportPlan
from structr_appsync.sync.normalize import normalize_tree
from structr_appsync.workspace import Workspace
from tests.helpers import CliResult, run_cli
from tests.paths import FIXTURES
from tests.structr_emulator.harness import Emulator

EmulatorFactory = Callable[..., Emulator]


@dataclass
class Project:
    """A git repository with appsync.toml and one env per emulator."""

    root: Path
    envs: dict[str, Emulator]
    scratch: Path
    _exports: int = field(default=0)

    def cli(self, *argv: str) -> CliResult:
        return run_cli(*argv, cwd=self.root)

    def git(self, *argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=self.root, check=True, capture_output=True, text=True)
        return done.stdout.strip()

    @property
    def loaded(self) -> LoadedConfig:
        return load_config(self.root / "appsync.toml")

    def export(self, env: str = "dev", message: str = "export") -> str:
        result = self.cli("export", "--env", env, "-m", message)
        assert result.code == 0, result.err
        return self.git("rev-parse", "HEAD")

    def commit_folder(self, source: Path, message: str) -> str:
        """Commit a folder as the export folder, the way a plain `git add` would (git drops empty folders)."""
        target = self.root / "webapp"
        if target.exists():
            self.git("rm", "-rq", "webapp")
        subprocess.run(["cp", "-r", str(source), str(target)], check=True)
        self.git("add", "-A", "webapp")
        self.git("commit", "-qm", message)
        return self.git("rev-parse", "HEAD")

    def tree_at(self, sha: str) -> str:
        return self.git("rev-parse", f"{sha}:webapp")

    def server_tree(self, env: str = "dev") -> str:
        """The server's export, normalized and hashed as appsync commits it."""
        self._exports += 1
        folder = self.envs[env].export_dir(self.scratch / f"check-{self._exports}")
        normalize_tree(folder, self.loaded.settings.normalize)
        return export_trees.hash_export(GitRepo.open(self.root), folder)

    def refs(self, prefix: str) -> list[str]:
        return GitRepo.open(self.root).list_refs(prefix)


@pytest.fixture
def make_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Project]:
    monkeypatch.setenv("APPSYNC_PASSWORD", "admin")

    def make(**envs: Emulator) -> Project:
        root = tmp_path / "repo"
        root.mkdir()
        lines = ['export_dir = "webapp"', 'default_env = "dev"', ""]
        for name, emulator in envs.items():
            lines += [f"[env.{name}]", f'url = "{emulator.url}"', 'user = "admin"', ""]
        (root / "appsync.toml").write_text("\n".join(lines))
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        subprocess.run(["git", "add", "appsync.toml"], cwd=root, check=True)
        subprocess.run(["git", "commit", "-qm", "config"], cwd=root, check=True)
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        return Project(root, dict(envs), scratch)

    return make


def _page_names(emulator: Emulator) -> set[str]:
    response = emulator.rest("GET", "/structr/rest/Page")
    response.raise_for_status()
    return {item["name"] for item in response.json()["result"]}


@pytest.fixture
def evolving(meetdown_emulator: Emulator, make_project: Callable[..., Project]) -> tuple[Project, list[str]]:
    """Three exports of an evolving meetdown: as imported; a page removed; a page and a schema method added."""
    project = make_project(dev=meetdown_emulator)
    first = project.export(message="meetdown")
    meetdown_emulator.delete_page("logout")
    second = project.export(message="without logout")
    meetdown_emulator.create_page("news", "<html><body><h1>News</h1></body></html>")
    types = meetdown_emulator.rest("GET", "/structr/rest/SchemaNode").json()["result"]
    meetdown_emulator.add_schema_method(types[0]["name"], "appsyncProbe", "{ return 42; }")
    third = project.export(message="news page and a method")
    assert len({first, second, third}) == 3
    return project, [first, second, third]


@pytest.fixture
def small(emulator: Emulator, make_project: Callable[..., Project]) -> tuple[Project, list[str]]:
    """A small app in two exports: hello-world plus a page "about"; then "about" gone, "news" and a type added."""
    emulator.import_dir(FIXTURES / "hello-world")
    project = make_project(dev=emulator)
    emulator.create_page("about", "<html><body><h1>About</h1></body></html>")
    first = project.export(message="hello world with about")
    emulator.delete_page("about")
    emulator.create_page("news", "<html><body><h1>News</h1></body></html>")
    emulator.add_schema_type("Probe")
    emulator.add_schema_method("Probe", "answer", "{ return 42; }")
    second = project.export(message="news instead of about, a Probe type")
    return project, [first, second]


# -- 1. restore an older commit -----------------------------------------------------------------------------


def test_restore_older_commit_exactly(evolving: tuple[Project, list[str]]) -> None:
    project, (first, _second, third) = evolving
    emulator = project.envs["dev"]
    assert "logout" not in _page_names(emulator)

    refused = project.cli("import", first, "--yes")
    assert refused.code == EXIT_REFUSED, refused.err
    assert "--allow-delete" in refused.err
    assert "news" in refused.out  # the plan names the page that would go
    assert project.server_tree() == project.tree_at(third)  # refused = untouched

    head, index = project.git("rev-parse", "HEAD"), project.git("write-tree")
    result = project.cli("import", first, "--yes", "--allow-delete")
    assert result.code == 0, result.err
    assert "verified" in result.out
    assert project.server_tree() == project.tree_at(first)
    assert (project.git("rev-parse", "HEAD"), project.git("write-tree")) == (head, index)
    assert project.git("status", "--porcelain") == ""  # the checkout is never touched
    pages = _page_names(emulator)
    assert "logout" in pages  # removed later, back again
    assert "news" not in pages  # added later, gone


def test_after_an_import_the_seal_is_the_imported_state(small: tuple[Project, list[str]]) -> None:
    project, (first, second) = small
    assert project.cli("import", first, "--yes", "--allow-delete").code == 0
    # last-export now records what the import verified, so a second import is not refused as "uncommitted".
    result = project.cli("import", second, "--yes", "--allow-delete")
    assert result.code == 0, result.err
    assert project.server_tree() == project.tree_at(second)


# -- 2. fresh database --------------------------------------------------------------------------------------


def test_fresh_emulator_in_one_command(
    meetdown_emulator: Emulator, emulator_factory: EmulatorFactory, make_project: Callable[..., Project]
) -> None:
    fresh = emulator_factory()
    project = make_project(dev=meetdown_emulator, fresh=fresh)
    commit = project.export()
    result = project.cli("import", commit, "--env", "fresh")
    assert result.code == 0, result.err
    assert "verified" in result.out
    assert project.server_tree("fresh") == project.tree_at(commit)
    assert project.refs("refs/appsync/fresh/last-export")


def test_missing_principals_are_listed_with_the_pre_deploy_hint(
    emulator: Emulator, make_project: Callable[..., Project], tmp_path: Path
) -> None:
    project = make_project(dev=emulator)
    app = tmp_path / "hello"
    subprocess.run(["cp", "-r", str(FIXTURES / "hello-world"), str(app)], check=True)
    html = app / "pages" / "hello-world.html"
    html.write_text(html.read_text().replace("<html", "<!-- @structr:owner(editors) --><html", 1))
    commit = project.commit_folder(app, "hello with an owner the server lacks")
    result = project.cli("import", commit, "--dry-run")
    assert result.code == 0, result.err
    assert "editors (missing; used in pages/hello-world.html)" in result.out
    assert "pre-deploy.conf" in result.out
    assert "$.getOrCreate('User', 'name', 'editors')" in result.out


# -- 3. folders git dropped ---------------------------------------------------------------------------------


def test_react_todo_over_pages_gives_no_pages(
    meetdown_emulator: Emulator, make_project: Callable[..., Project]
) -> None:
    project = make_project(dev=meetdown_emulator)
    project.export()
    react = project.commit_folder(FIXTURES / "react-todo-demo", "react-todo-demo as in its own repository")
    assert project.git("ls-tree", "--name-only", react, "webapp/").count("pages") == 1  # pages.json only

    refused = project.cli("import", react, "--yes")
    assert refused.code == EXIT_REFUSED
    assert len(_page_names(meetdown_emulator)) == 13

    result = project.cli("import", react, "--yes", "--allow-delete")
    assert result.code == 0, result.err + result.out
    assert _page_names(meetdown_emulator) == set()
    export = meetdown_emulator.export_dir(project.scratch / "after")
    for kind in ("pages", "components", "templates"):
        assert not list((export / kind).glob("*.html")), kind
    assert (export / "files.json").read_text().strip() == "{}"  # meetdown's files removed too


# -- 4. refusals and rollback -------------------------------------------------------------------------------


def test_uncommitted_server_changes_are_refused(small: tuple[Project, list[str]]) -> None:
    project, (first, _second) = small
    emulator = project.envs["dev"]
    emulator.set_page_content("hello-world", "<html><body>edited in the UI, never exported</body></html>")
    before = emulator.state_digest()
    result = project.cli("import", first, "--yes", "--allow-delete")
    assert result.code == EXIT_REFUSED
    assert "in no commit" in result.err
    assert "appsync export" in result.err
    assert emulator.state_digest() == before
    assert project.refs("refs/appsync/dev/pre-import/") == []

    forced = project.cli("import", first, "--yes", "--allow-delete", "--force")
    assert forced.code == 0, forced.err
    assert project.server_tree() == project.tree_at(first)


def test_a_server_never_exported_counts_as_uncommitted(
    emulator: Emulator, make_project: Callable[..., Project]
) -> None:
    emulator.import_dir(FIXTURES / "hello-world")
    emulator.create_page("draft", "<html><body>work in progress</body></html>")
    project = make_project(dev=emulator)
    commit = project.commit_folder(FIXTURES / "hello-world", "hello world")
    result = project.cli("import", commit, "--yes", "--allow-delete")
    assert result.code == EXIT_REFUSED
    assert "in no commit" in result.err
    assert "draft" in result.out  # the plan lists what would be lost
    assert "draft" in _page_names(emulator)


def test_dry_run_leaves_the_server_byte_identical(small: tuple[Project, list[str]]) -> None:
    project, (first, _second) = small
    emulator = project.envs["dev"]
    before = emulator.state_digest()
    result = project.cli("import", first, "--dry-run")
    assert result.code == 0, result.err
    assert "Dry run" in result.out
    assert "pages, components and templates: all wiped" in result.out
    assert "Removes:" in result.out
    assert emulator.state_digest() == before
    assert project.refs("refs/appsync/dev/pre-import/") == []
    as_json = project.cli("import", first, "--dry-run", "--json")
    assert as_json.code == 0, as_json.err
    report = json.loads(as_json.out)
    assert report["dry_run"] is True
    assert report["imported"] is False
    assert report["deletions"]["pages"] == ["news"]
    assert report["rollback_ref"] is None
    assert emulator.state_digest() == before


def test_importing_the_pre_import_ref_rolls_back(small: tuple[Project, list[str]]) -> None:
    project, (first, third) = small
    assert project.cli("import", first, "--yes", "--allow-delete").code == 0
    (rollback,) = project.refs("refs/appsync/dev/pre-import/")
    result = project.cli("import", rollback, "--yes", "--allow-delete")
    assert result.code == 0, result.err
    assert project.server_tree() == project.tree_at(third)


def test_a_ref_without_an_export_is_refused(emulator: Emulator, make_project: Callable[..., Project]) -> None:
    project = make_project(dev=emulator)
    result = project.cli("import", "HEAD")
    assert result.code == EXIT_USAGE
    assert "has no webapp/ folder" in result.err
    (project.root / "webapp").mkdir()
    (project.root / "webapp" / "notes.txt").write_text("not an export")
    project.git("add", "webapp")
    project.git("commit", "-qm", "not an export")
    result = project.cli("import", "HEAD")
    assert result.code == EXIT_USAGE
    assert "not a Structr deployment export" in result.err
    assert project.cli("import", "no-such-ref").code == EXIT_USAGE


def test_protected_env_needs_both_flags_without_a_terminal(small: tuple[Project, list[str]]) -> None:
    project, (first, _second) = small
    emulator = project.envs["dev"]
    config = project.root / "appsync.toml"
    config.write_text(config.read_text() + "protected = true\n")
    before = emulator.state_digest()
    assert project.cli("import", first, "--yes").code == EXIT_REFUSED
    assert project.cli("import", first, "--allow-delete").code == EXIT_REFUSED
    assert emulator.state_digest() == before
    assert project.cli("import", first, "--yes", "--allow-delete").code == 0


# -- 5. upload faults ---------------------------------------------------------------------------------------


def _import_with_fault(project: Project, ref: str, inject: Callable[[], None]) -> AppsyncError:
    def on_plan(_plan: ImportPlan) -> None:
        inject()  # after the live export was read, before the upload

    sealed = project.git("rev-parse", "refs/appsync/dev/last-export")
    with pytest.raises(AppsyncError) as caught:
        importer.import_ref(
            Workspace.open(project.loaded),
            ref,
            importer.ImportOptions(env="dev", yes=True, allow_delete=True, on_plan=on_plan),
        )
    error = caught.value
    assert project.git("rev-parse", "refs/appsync/dev/last-export") == sealed  # nothing recorded as imported
    assert "\n" not in str(error)
    rollback = project.refs("refs/appsync/dev/pre-import/")
    assert len(rollback) == 1
    assert error.hint is not None
    assert rollback[0] in error.hint
    return error


def test_upload_answered_500(small: tuple[Project, list[str]]) -> None:
    project, (first, third) = small
    emulator = project.envs["dev"]
    error = _import_with_fault(project, first, lambda: emulator.set_fault("status", code=500, path="/structr/deploy"))
    assert error.exit_code == EXIT_SERVER
    assert "500" in str(error)
    emulator.clear_faults()
    assert project.server_tree() == project.tree_at(third)


def test_upload_connection_dropped(small: tuple[Project, list[str]]) -> None:
    project, (first, _second) = small
    emulator = project.envs["dev"]

    def drop() -> None:
        emulator.set_fault("hang", seconds=30, path="/structr/deploy")
        threading.Timer(1.0, emulator.kill).start()

    error = _import_with_fault(project, first, drop)
    assert error.exit_code == EXIT_UNREACHABLE


def test_upload_silent_noop_is_not_success(small: tuple[Project, list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    project, (first, third) = small
    emulator = project.envs["dev"]
    real_push = importer.transfer.push_import

    def push_into_a_noop(*args: Any, **kwargs: Any) -> None:
        emulator.set_fault("noop_deploy")  # only the upload: the live export before it must work
        real_push(*args, **kwargs)

    monkeypatch.setattr(importer.transfer, "push_import", push_into_a_noop)
    result = project.cli("import", first, "--yes", "--allow-delete")
    assert result.code == EXIT_SERVER, result.err
    assert "silent no-op" in result.err
    assert "verified" not in result.out
    assert "Imported" not in result.out
    (rollback,) = project.refs("refs/appsync/dev/pre-import/")
    assert rollback in result.err
    errors = [line for line in result.err.splitlines() if line.startswith("appsync: error:")]
    assert len(errors) == 1  # one line, plus the hint
    assert project.server_tree() == project.tree_at(third)


# -- data ---------------------------------------------------------------------------------------------------


def test_with_data_imports_the_data_folder_and_only_then(
    small: tuple[Project, list[str]], emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    project, _commits = small
    source = project.envs["dev"]
    assert source.rest("POST", "/structr/rest/Group", json={"name": "editors"}).status_code == 201
    target = tmp_path / "data-export"
    answer = source.rest(
        "POST", "/structr/rest/maintenance/deployData", json={"mode": "export", "target": str(target), "types": "Group"}
    )
    assert answer.status_code == 200, answer.text
    subprocess.run(["cp", "-r", str(target), str(project.root / "webapp" / "data")], check=True)
    project.git("add", "webapp")
    project.git("commit", "-qm", "seed data: the editors group")
    fresh = emulator_factory()
    config = project.root / "appsync.toml"
    config.write_text(config.read_text() + f'\n[env.fresh]\nurl = "{fresh.url}"\nuser = "admin"\n')

    def groups() -> set[str]:
        return {item["name"] for item in fresh.rest("GET", "/structr/rest/Group").json()["result"]}

    plain = project.cli("import", "HEAD", "--env", "fresh", "--yes")
    assert plain.code == 0, plain.err
    assert "editors" not in groups()
    with_data = project.cli("import", "HEAD", "--env", "fresh", "--yes", "--with-data")
    assert with_data.code == 0, with_data.err
    assert "data/: the data deployment in the ref is imported too" in with_data.out
    assert "editors" in groups()


def test_import_directory_puts_the_working_tree_folder_on_the_server(small: tuple[Project, list[str]]) -> None:
    project, (first, second) = small
    unchanged = importer.import_directory(
        Workspace.open(project.loaded), project.root / "webapp", "working tree", importer.ImportOptions(env="dev")
    )
    assert not unchanged.imported
    assert unchanged.verified
    project.git("rm", "-rq", "webapp")
    project.git("checkout", first, "--", "webapp")
    outcome = importer.import_directory(
        Workspace.open(project.loaded),
        project.root / "webapp",
        "working tree",
        importer.ImportOptions(env="dev", yes=True, allow_delete=True),
    )
    assert outcome.imported
    assert outcome.verified
    assert project.server_tree() == project.tree_at(first)
    assert project.git("status", "--porcelain", "--", "webapp")  # the user's edits, left as they were
    assert set(outcome.timings) >= {"materialize", "fetch_live", "upload", "verify_export"}
    assert 0 < outcome.server_seconds < outcome.total_seconds
    assert project.tree_at(second) != project.tree_at(first)


def test_path_transfer_mode_imports_the_same(small: tuple[Project, list[str]], tmp_path: Path) -> None:
    project, (first, _second) = small
    staging = tmp_path / "staging"
    staging.mkdir()
    config = project.root / "appsync.toml"
    config.write_text(config.read_text() + f'transfer = "path"\n\n[env.dev.path_transfer]\nserver_dir = "{staging}"\n')
    result = project.cli("import", first, "--yes", "--allow-delete")
    assert result.code == 0, result.err
    assert project.server_tree() == project.tree_at(first)
    assert list(staging.iterdir()) == []  # the staging folders are cleaned up


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "code"), [("yes\n", 0), ("y\n", EXIT_REFUSED)])
def test_a_terminal_user_authorizes_deletions_by_typing_yes(
    small: tuple[Project, list[str]], monkeypatch: pytest.MonkeyPatch, answer: str, code: int
) -> None:
    project, (first, _second) = small
    monkeypatch.setattr("sys.stdin", _Terminal(answer))
    before = project.envs["dev"].state_digest()
    result = project.cli("import", first, "--yes")  # --yes does not skip the deletion question
    assert result.code == code, result.err
    assert "This REMOVES 1 page (news)" in result.err
    assert "Type yes to go on" in result.err
    if code:
        assert project.envs["dev"].state_digest() == before
    else:
        assert project.server_tree() == project.tree_at(first)


def test_a_ref_from_a_newer_structr_is_refused_before_anything_changes(
    small: tuple[Project, list[str]], emulator_factory: EmulatorFactory
) -> None:
    project, (first, _second) = small
    old = emulator_factory(version="5.2.1")
    config = project.root / "appsync.toml"
    config.write_text(config.read_text() + f'\n[env.old]\nurl = "{old.url}"\nuser = "admin"\n')
    before = old.state_digest()
    result = project.cli("import", first, "--env", "old", "--yes", "--allow-delete")
    assert result.code == EXIT_REFUSED, result.err
    assert "exported by Structr 6.1.0 and the server runs 5.2.1" in result.err
    assert old.state_digest() == before
    assert project.refs("refs/appsync/old/pre-import/") == []
