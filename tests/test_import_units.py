"""Unit tests of the import's pure parts: consent rules, principal scanning, wipe rules, materialize checks."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from structr_appsync.errors import RefNotFound, RefusedError
from structr_appsync.gitrepo import GitRepo
from structr_appsync.sync import export_trees, import_effects
from structr_appsync.sync.import_consent import ConsentRequest, require_consent
from structr_appsync.sync.import_plan import version_problem
from structr_appsync.sync.import_source import prepare
from structr_appsync.sync.principals import (
    created_by_pre_deploy,
    missing_principals,
    pre_deploy_hint,
    referenced_principals,
)
from structr_appsync.sync.timing import StepTimer
from tests.paths import FIXTURES

DELETES = {"pages": ["about"]}


def _request(*, protected: bool = False, deletions: dict[str, list[str]] | None = None) -> ConsentRequest:
    return ConsentRequest("dev", "v1", protected, deletions or {})


class Recorder:
    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.questions: list[str] = []

    def __call__(self, question: str) -> bool:
        self.questions.append(question)
        return self.answer


# -- consent --------------------------------------------------------------------------------------------------


def test_yes_alone_never_authorizes_a_deletion() -> None:
    with pytest.raises(RefusedError, match="--allow-delete"):
        require_consent(_request(deletions=DELETES), yes=True, allow_delete=False, confirm=None)


def test_allow_delete_authorizes_a_deletion_non_interactively() -> None:
    require_consent(_request(deletions=DELETES), yes=False, allow_delete=True, confirm=None)


def test_interactive_deletion_needs_a_typed_yes() -> None:
    declined = Recorder(False)
    with pytest.raises(RefusedError, match="declined"):
        require_consent(_request(deletions=DELETES), yes=True, allow_delete=False, confirm=declined)
    assert "REMOVES 1 page (about)" in declined.questions[0]
    accepted = Recorder(True)
    require_consent(_request(deletions=DELETES), yes=True, allow_delete=False, confirm=accepted)
    assert len(accepted.questions) == 1


def test_no_deletion_and_yes_does_not_ask() -> None:
    asked = Recorder(False)
    require_consent(_request(), yes=True, allow_delete=False, confirm=asked)
    assert asked.questions == []


def test_protected_env_always_asks_even_with_both_flags() -> None:
    asked = Recorder(True)
    require_consent(_request(protected=True), yes=True, allow_delete=True, confirm=asked)
    assert len(asked.questions) == 1
    assert "protected" in asked.questions[0]


@pytest.mark.parametrize(("yes", "allow_delete"), [(True, False), (False, True), (False, False)])
def test_protected_env_non_interactive_needs_both_flags(yes: bool, allow_delete: bool) -> None:
    with pytest.raises(RefusedError, match="protected"):
        require_consent(_request(protected=True), yes=yes, allow_delete=allow_delete, confirm=None)


def test_protected_env_non_interactive_with_both_flags_goes_on() -> None:
    require_consent(_request(protected=True, deletions=DELETES), yes=True, allow_delete=True, confirm=None)


# -- principals -----------------------------------------------------------------------------------------------


def test_meetdown_references_only_admin() -> None:
    found = referenced_principals(FIXTURES / "meetdown")
    assert set(found) == {"admin"}
    assert "pages.json" in found["admin"]
    assert any(place.startswith("pages/") for place in found["admin"])


def _tree_with_principals(root: Path) -> Path:
    export = root / "webapp"
    (export / "pages").mkdir(parents=True)
    (export / "pages" / "home.html").write_text(
        "<!-- @structr:owner(editor), @structr:grant(staff,rw), @structr:content(text/html) --><html></html>"
    )
    (export / "pages.json").write_text(
        json.dumps({"home": {"id": "a" * 32, "owner": {"name": "admin"}, "grantees": [{"name": "auditors"}]}})
    )
    (export / "schema").mkdir()
    # In schema.json "owner" is a property name, never a principal.
    (export / "schema" / "schema.json").write_text(json.dumps({"definitions": {"T": {"owner": {"name": "nobody"}}}}))
    (export / "pre-deploy.conf").write_text("{ $.getOrCreate('Group', 'name', 'staff'); }")
    return export


def test_principals_from_html_comments_and_json(tmp_path: Path) -> None:
    export = _tree_with_principals(tmp_path)
    found = referenced_principals(export)
    assert set(found) == {"editor", "staff", "admin", "auditors"}
    assert created_by_pre_deploy(export) == {"staff"}


def test_missing_and_ambiguous_principals(tmp_path: Path) -> None:
    export = _tree_with_principals(tmp_path)
    existing = {"admin": ["User"], "auditors": ["User", "Group"]}
    missing = missing_principals(referenced_principals(export), existing, created=created_by_pre_deploy(export))
    assert [(item.name, item.reason) for item in missing] == [("auditors", "ambiguous"), ("editor", "missing")]
    assert missing[1].used_in == ("pages/home.html",)
    assert "$.getOrCreate('User', 'name', 'editor')" in pre_deploy_hint(missing)


# -- wipe rules -----------------------------------------------------------------------------------------------


def test_effects_spell_out_wipes(tmp_path: Path) -> None:
    export = tmp_path / "meetdown"
    shutil.copytree(FIXTURES / "meetdown", export)
    effects = import_effects.import_effects(export, with_data=False)
    assert effects[0].startswith("pages, components and templates: all wiped")
    assert any(line.startswith("schema: all types") for line in effects)
    assert "resource access grants: all replaced" in effects
    assert any("never deletes files" in line for line in effects)


def test_wipe_marker_only_when_ref_has_no_dom_and_server_has(tmp_path: Path) -> None:
    assert import_effects.needs_wipe_marker(FIXTURES / "react-todo-demo", FIXTURES / "meetdown")
    assert not import_effects.needs_wipe_marker(FIXTURES / "meetdown", FIXTURES / "react-todo-demo")
    assert not import_effects.needs_wipe_marker(FIXTURES / "react-todo-demo", FIXTURES / "react-todo-demo")
    export = tmp_path / "app"
    shutil.copytree(FIXTURES / "react-todo-demo", export)
    original = (export / "templates.json").read_bytes()
    import_effects.add_wipe_marker(export)
    assert import_effects.dom_entry_count(export) == 1
    assert all((export / kind).is_dir() for kind in import_effects.DOM_KINDS)
    assert not list((export / "templates").glob("*.html"))  # nothing to create, only the wipe
    import_effects.remove_wipe_marker(export, original)
    assert (export / "templates.json").read_bytes() == original


# -- materialize checks ---------------------------------------------------------------------------------------


def test_prepare_restores_dropped_folders_and_sets_data_aside(tmp_path: Path) -> None:
    export = tmp_path / "ref" / "webapp"
    shutil.copytree(FIXTURES / "react-todo-demo", export)
    (export / "data" / "nodes").mkdir(parents=True)
    (export / "pages").mkdir()
    (export / "pages" / ".appsync-keep").write_text("placeholder")
    prepared = prepare(export, "v1:webapp", tmp_path)
    for kind in ("pages", "components", "templates"):
        assert (export / kind).is_dir()
        assert not any((export / kind).iterdir())
    assert not (export / "data").exists()
    assert prepared.data_dir is not None
    assert (prepared.data_dir / "nodes").is_dir()


def test_prepare_refuses_a_tree_that_is_not_an_export(tmp_path: Path) -> None:
    export = tmp_path / "ref" / "webapp"
    export.mkdir(parents=True)
    (export / "README.md").write_text("hello")
    with pytest.raises(RefNotFound, match=r"not a Structr deployment export: none of deployment.conf"):
        prepare(export, "v1:webapp", tmp_path)


def test_prepare_refuses_symlinks(tmp_path: Path) -> None:
    export = tmp_path / "ref" / "webapp"
    shutil.copytree(FIXTURES / "hello-world", export)
    (export / "files").mkdir()
    (export / "files" / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(RefNotFound, match="symlinks"):
        prepare(export, "v1:webapp", tmp_path)


# -- import-equivalent comparison ------------------------------------------------------------------------------


def _repo(tmp_path: Path) -> GitRepo:
    root = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return GitRepo.open(root)


def _tree(repo: GitRepo, folder: Path, files: dict[str, str]) -> str:
    for relative, text in files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return export_trees.hash_export(repo, folder)


def test_import_difference_ignores_what_structr_writes_itself(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    grant_4x = '[\n\t{"grantees":[{"allowed":"read,write","name":"admin"}],"id":"a","signature":"Todo"}\n]'
    grant_6x = '[\n\t{"grantees":[{"allowed":["read","write"],"name":"admin"}],"id":"a","signature":"Todo"}\n]'
    expected = _tree(
        repo,
        tmp_path / "ref",
        {
            "deployment.conf": "structr-version = 4.3-SNAPSHOT f5f3b 202210272126\n",
            "pre-deploy.conf": "{ $.getOrCreate('Group', 'name', 'staff'); }",
            "security/grants.json": grant_4x,
            "pages.json": '{"home": {"id": "1"}}',
            "pages/home.html": "<html></html>",
        },
    )
    actual = _tree(
        repo,
        tmp_path / "server",
        {
            "deployment.conf": "structr-version = 6.1.0 e3f1a 202601291042\nuuid-format = without_dashes\n",
            "pre-deploy.conf": "{\n\t// created automatically\n}",
            "post-deploy.conf": "{\n\t// created automatically\n}",
            "security/grants.json": grant_6x,
            "security/cors-settings.json": "[\n]",
            "pages.json": '{"home": {"id": "1"}}',
            "pages/home.html": "<html></html>",
        },
    )
    assert export_trees.import_difference(repo, expected, actual).is_empty
    (tmp_path / "server" / "pages" / "home.html").write_text("<html><body>edited</body></html>")
    changed = export_trees.hash_export(repo, tmp_path / "server")
    assert export_trees.import_difference(repo, expected, changed).lines() == ["Page: 1 changed (home)"]


def test_empty_dom_folders_hash_like_committed_exports(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    with_folders = tmp_path / "a"
    for kind in ("pages", "components", "templates"):
        (with_folders / kind).mkdir(parents=True)
    tree = _tree(repo, with_folders, {"pages.json": "{}"})
    listing = repo.git("ls-tree", "-r", "--name-only", tree).stdout.split()
    assert "pages/.appsync-keep" in listing
    assert not (with_folders / "pages" / ".appsync-keep").exists()  # still upload-ready


def test_server_seconds_is_the_union_of_overlapping_calls() -> None:
    timer = StepTimer()
    timer._server_intervals.extend([(0.0, 2.0), (1.0, 3.0), (5.0, 6.0)])
    assert timer.server_seconds == pytest.approx(4.0)


def test_a_ref_from_a_newer_structr_is_named(tmp_path: Path) -> None:
    ref, live = tmp_path / "ref", tmp_path / "live"
    ref.mkdir()
    live.mkdir()
    (live / "deployment.conf").write_text("structr-version = 5.2.1 a1b2c 202502101200\n")
    assert version_problem(ref, live) is None  # pre-3.5 exports carry no version: always accepted
    (ref / "deployment.conf").write_text("structr-version = 6.1.0 e3f1a 202601291042\n")
    assert "exported by Structr 6.1.0 and the server runs 5.2.1" in str(version_problem(ref, live))
    (ref / "deployment.conf").write_text("structr-version = 4.3-SNAPSHOT f5f3b 202210272126\n")
    assert version_problem(ref, live) is None
