"""format_rewrites: Structr 6.1's import rewrites are told apart from real differences (issue 10)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from structr_appsync.config import NormalizeConfig
from structr_appsync.gitrepo import GitRepo
from structr_appsync.sync.export_trees import hash_export
from structr_appsync.sync.format_rewrites import (
    DIFFERENT,
    RULES,
    SAME,
    classify_file,
    compare_changes,
    compare_trees,
    feature_version,
    tree_format,
)
from structr_appsync.sync.normalize import normalize_tree
from tests.paths import FIXTURES

REAL_610 = FIXTURES.parent / "real-6.1.0" / "exports"
REAL_521 = FIXTURES.parent / "real-5.2.1" / "exports"
FIXTURE_NAMES = ("meetdown", "react-todo-demo", "hello-world")


def _load(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()}


def _what_61_makes_of_the_521_export() -> dict[str, bytes]:
    # 6.1.0 imported the original hello-world (whose second <h1> has no id) and gave it a random id; 5.2.1 did the
    # same with another random id. Importing the 5.2.1 export keeps the id it has (structr-api.md §9), so the 6.1
    # export of it is the recorded one with 5.2.1's id in that place.
    server = _load(REAL_610 / "hello-world")
    page = "pages/hello-world.html"
    server[page] = server[page].replace(b"d409b5be0d5940fe90eb45dc74c19718", b"be9de6f7f3794261b0cc4b1d2867b783")
    return server


def _pair(name: str) -> tuple[dict[str, bytes], dict[str, bytes]]:
    if name == "5.2.1 hello-world":
        return _load(REAL_521 / "hello-world"), _what_61_makes_of_the_521_export()
    return _load(FIXTURES / name), _load(REAL_610 / name)


PAIRS = (*FIXTURE_NAMES, "5.2.1 hello-world")
EXPECTED_RULES = {
    "meetdown": {
        "grant-order",
        "element-ids",
        "visibility-markers",
        "rest-query-attribute",
        "component-data-key",
        "pagelink-src",
        "script-whitespace",
        "allowed-list",
        "index-defaults",
        "file-defaults",
        "widget-defaults",
        "grant-defaults",
        "builtin-types",
        "schema-keys",
        "sources-in-files",
        "extends-as-traits",
        "server-written",
        "default-files",
    },
    "react-todo-demo": {"allowed-list", "builtin-types", "schema-keys", "server-written", "default-files"},
    "hello-world": {"element-ids", "index-defaults", "server-written", "default-files"},
    "5.2.1 hello-world": {"builtin-types", "empty-grants", "server-written", "default-files", "sources-in-files"},
}


@pytest.mark.parametrize("name", PAIRS)
def test_every_difference_of_a_real_import_is_a_format_rewrite(name: str) -> None:
    ref, server = _pair(name)
    differing = {path for path in ref.keys() | server.keys() if ref.get(path) != server.get(path)}
    result = compare_trees(ref, server)
    assert result.differences == []
    assert result.format_only
    classified = result.rewritten.keys() | result.added_by_format.keys() | result.removed_by_format.keys()
    assert classified == differing  # every differing file is accounted for, none twice
    assert set(result.rule_counts()) == EXPECTED_RULES[name]


def test_the_meetdown_counts_name_the_rewrites() -> None:
    result = compare_trees(*_pair("meetdown"))
    counts = result.rule_counts()
    assert counts["element-ids"] == 17  # 13 pages and 4 components had elements without ids
    assert counts["server-written"] == 3
    assert "deployment.conf" in result.added_by_format
    assert "security/cors-settings.json" in result.added_by_format
    # edit-event.html: @structr:protected dropped, a component reference gains its data key, a script trimmed
    assert result.rewritten["pages/edit-event.html"] == (
        "component-data-key",
        "element-ids",
        "grant-order",
        "script-whitespace",
        "visibility-markers",
    )


def test_react_todo_demo_built_in_types_are_dropped_by_format() -> None:
    result = compare_trees(*_pair("react-todo-demo"))
    assert result.removed_by_format["schema/A/methods/avoidWhitespace"] == ("builtin-types",)
    assert "schema/Todo/methods/onCreate" not in result.rewritten  # unchanged custom method file
    assert result.rewritten_count == 725


def _meetdown_with(change: dict[str, bytes | None]) -> list[tuple[str, str]]:
    ref, server = _pair("meetdown")
    for path, data in change.items():
        if data is None:
            server.pop(path)
        else:
            server[path] = data
    return [(item.path, item.reason) for item in compare_trees(ref, server).differences]


def test_changed_page_text_is_a_real_difference() -> None:
    page = _pair("meetdown")[1]["pages/home.html"]
    changed = page.replace(b"Welcome to Meetdown", b"Welcome to Meetup")
    assert _meetdown_with({"pages/home.html": changed}) == [("pages/home.html", "page content differs")]


def test_a_removed_page_is_a_real_difference() -> None:
    assert _meetdown_with({"pages/login.html": None}) == [("pages/login.html", "page missing on the server")]
    ref, server = _pair("meetdown")
    del server["pages/login.html"]
    assert [item.as_change() for item in compare_trees(ref, server).differences] == [("D", "pages/login.html")]


def test_a_changed_schema_method_is_a_real_difference() -> None:
    assert _meetdown_with({"schema/Event/methods/publish": b"(set(this, 'visibleToPublicUsers', false))"}) == [
        ("schema/Event/methods/publish", "schema method Event.publish changed")
    ]


def test_a_changed_method_of_a_built_in_type_is_a_real_difference() -> None:
    # meetdown adds publish/join/... to Structr's built-in Group type: those methods are the app's.
    assert _meetdown_with({"schema/Group/methods/join": b"null"}) == [
        ("schema/Group/methods/join", "schema method Group.join changed")
    ]


def test_a_file_with_other_bytes_is_a_real_difference() -> None:
    assert _meetdown_with({"files/css/main.css": b"body { color: red }"}) == [
        ("files/css/main.css", "file content differs")
    ]


def test_a_removed_custom_schema_type_is_a_real_difference() -> None:
    ref, server = _pair("react-todo-demo")
    schema = json.loads(server["schema/schema.json"])
    del schema["definitions"]["TodoTask"]
    server["schema/schema.json"] = json.dumps(schema).encode()
    assert [item.reason for item in compare_trees(ref, server).differences] == ["schema type TodoTask removed"]


# --- each rule, alone ---------------------------------------------------------------------------------------

_ID = "0123456789abcdef0123456789abcdef"
_SCHEMA = "schema/schema.json"


def _schema(definitions: dict[str, object]) -> bytes:
    return json.dumps({"definitions": definitions, "methods": []}).encode()


RULE_CASES: dict[str, tuple[str, bytes | None, bytes | None]] = {
    "grant-order": (
        "pages/p.html",
        b"<!-- @structr:grant(admin,arwd) --><p>x</p>",
        b"<!-- @structr:grant(admin,rwda) --><p>x</p>",
    ),
    "element-ids": (
        "pages/p.html",
        b"<div><p>new paragraph</p></div>",
        f'<div><p data-structr-meta-id="{_ID}">new paragraph</p></div>'.encode(),
    ),
    "visibility-markers": (
        "components/c.html",
        b"<!-- @structr:owner(admin) --><div>x</div>",
        b"<!-- @structr:public, @structr:owner(admin) --><div>x</div>",
    ),
    "rest-query-attribute": ("pages/p.html", b'<div data-structr-meta-rest-query="Group">x</div>', b"<div>x</div>"),
    "component-data-key": (
        "pages/p.html",
        b'<structr:component src="abc"></structr:component>',
        b'<structr:component src="abc" data-structr-meta-data-key="event"></structr:component>',
    ),
    "pagelink-src": (
        "pages/p.html",
        b'<a href="${link.name}" src="${link.path}">x</a>',
        b'<a href="${link.name}">x</a>',
    ),
    "script-whitespace": ("pages/p.html", b"<script>go();\n\n\t</script>", b"<script>go();</script>"),
    "json-layout": ("sites.json", b'[\n  {"id": "a", "name": "s"}\n]', b'[{"id":"a","name":"s"}]'),
    "allowed-list": (
        "mail-templates.json",
        b'[{"id": "m", "grantees": [{"allowed": "read,write", "name": "admin"}]}]',
        b'[{"id": "m", "grantees": [{"allowed": ["read", "write"], "name": "admin"}]}]',
    ),
    "entry-order": ("localizations.json", b'[{"id": "a"}, {"id": "b"}]', b'[{"id": "b"}, {"id": "a"}]'),
    "index-defaults": (
        "pages.json",
        b'{"home": {"id": "h", "position": 1}}',
        b'{"home": {"contentType": "text/html", "id": "h", "position": 1, "restQuery": null}}',
    ),
    "file-defaults": (
        "files.json",
        b'{"/css": {"cacheForSeconds": null, "type": "Folder", "useAsJavascriptLibrary": false}}',
        b'{"/css": {"type": "Folder"}}',
    ),
    "widget-defaults": (
        "widgets.json",
        b'[{"id": "w", "pictures": []}]',
        b'[{"id": "w", "isPageTemplate": false, "selectors": null}]',
    ),
    "grant-defaults": (
        "security/grants.json",
        b'[{"flags": 1, "id": "g", "signature": "/"}]',
        (
            b'[{"flags": 1, "grantees": [], "id": "g", "signature": "/", "visibleToAuthenticatedUsers": false, '
            b'"visibleToPublicUsers": true}]'
        ),
    ),
    "empty-grants": (
        "security/grants.json",
        (
            b'[{"flags": 0, "grantees": [], "id": "g", "signature": "A", "visibleToAuthenticatedUsers": false, '
            b'"visibleToPublicUsers": false}]'
        ),
        b"[]",
    ),
    "builtin-types": (_SCHEMA, _schema({"A": {"isBuiltinType": True, "type": "object"}}), _schema({})),
    "schema-keys": (
        _SCHEMA,
        _schema({"T": {"isBuiltinType": False, "methods": {"m": {"source": "1", "comment": ""}}}}),
        _schema({"T": {"isServiceClass": False, "traits": [], "methods": {"m": {"source": "1", "httpVerb": "POST"}}}}),
    ),
    "extends-as-traits": (
        _SCHEMA,
        _schema({"M": {"$extends": "#/definitions/User"}}),
        _schema({"M": {"traits": ["User"]}}),
    ),
    "server-written": ("pre-deploy.conf", b"{\n\t// old comment\n}", b"{\n\t// new comment\n}"),
    "default-files": ("events/action-mapping.json", None, b"[]"),
}


@pytest.mark.parametrize("rule", sorted(RULE_CASES))
def test_each_rule_explains_its_own_rewrite(rule: str) -> None:
    path, ref, server = RULE_CASES[rule]
    verdict = classify_file(path, ref, server)
    assert verdict.status == "rewrite", verdict
    assert verdict.rules == (rule,)
    tree = compare_trees({path: ref} if ref is not None else {}, {path: server} if server is not None else {})
    assert tree.differences == []
    assert tree.rule_counts() == {rule: 1}


def test_sources_moved_into_files_are_a_rewrite() -> None:
    ref = {_SCHEMA: _schema({"T": {"methods": {"m": {"source": "return 1;"}}}})}
    server = {
        _SCHEMA: _schema({"T": {"methods": {"m": {"source": "./T/methods/m"}}}}),
        "schema/T/methods/m": b"return 1;",
    }
    result = compare_trees(ref, server)
    assert result.differences == []
    assert result.added_by_format == {"schema/T/methods/m": ("sources-in-files",)}
    server["schema/T/methods/m"] = b"return 2;"
    assert [item.reason for item in compare_trees(ref, server).differences] == ["schema method T.m changed"]


def test_a_file_listed_without_content_is_created_empty() -> None:
    ref = {"files.json": b'{"/a.txt": {"type": "File"}}'}
    result = compare_trees(ref, {**ref, "files/a.txt": b""})
    assert result.added_by_format == {"files/a.txt": ("empty-file-content",)}
    assert compare_trees(ref, {**ref, "files/b.txt": b""}).differences[0].reason == "file added on the server"


def test_every_rule_has_a_case() -> None:
    covered = set(RULE_CASES) | {"sources-in-files", "empty-file-content"}
    assert covered == set(RULES)


# --- what is not a rewrite ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "ref", "server"),
    [
        ("pages/p.html", b'<p data-structr-meta-id="a">x</p>', b'<p data-structr-meta-id="b">x</p>'),  # id changed
        ("pages/p.html", b"<p>x</p>", b"<p>x</p><p>y</p>"),  # an element more
        ("pages/p.html", b'<div class="a">x</div>', b'<div class="b">x</div>'),
        ("pages/p.html", b"<!-- @structr:grant(admin,rw) --><p>x</p>", b"<!-- @structr:grant(admin,r) --><p>x</p>"),
        ("pages.json", b'{"home": {"position": 1}}', b'{"home": {"position": 2}}'),
        ("pages.json", b'{"home": {"contentType": "text/plain"}}', b'{"home": {}}'),
        ("files.json", b'{"/a": {"contentType": "text/css"}}', b'{"/a": {}}'),  # not the default value
        ("security/grants.json", b'[{"flags": 5, "id": "g"}]', b"[]"),  # a grant that grants something
        ("pages.json", b"{not json", b"{}"),
        (
            _SCHEMA,
            _schema({"T": {"methods": {"m": {"source": "1"}}}}),
            _schema({"T": {"methods": {"m": {"source": "2"}}}}),
        ),
        (_SCHEMA, _schema({"T": {"type": "object"}}), _schema({})),  # a custom type gone
    ],
)
def test_real_differences_stay_differences(path: str, ref: bytes, server: bytes) -> None:
    assert classify_file(path, ref, server).status == DIFFERENT


def test_equal_bytes_are_the_same() -> None:
    assert classify_file("pages/p.html", b"<p>x</p>", b"<p>x</p>").status == SAME


# --- which Structr made a tree ---------------------------------------------------------------------------------


def test_tree_format_recognizes_older_exports() -> None:
    meetdown = tree_format(_load(FIXTURES / "meetdown").get)  # an export without deployment.conf
    assert meetdown.version is None and meetdown.older_than("6.1.0")
    assert any("built-in types" in marker for marker in meetdown.markers)
    old = tree_format(_load(FIXTURES / "react-todo-demo").get)
    assert old.version == "4.3-SNAPSHOT" and old.older_than("6.1.0")
    five = tree_format(_load(REAL_521 / "hello-world").get)
    assert five.version == "5.2.1" and five.older_than("6.1.0") and not five.older_than("5.2.1")
    assert any("deployment-date" in marker for marker in five.markers)
    new = tree_format(_load(REAL_610 / "meetdown").get)
    assert new.version == "6.1.0" and new.markers == () and not new.older_than("6.1.0")


def test_a_tree_without_version_is_older_only_when_its_format_says_so() -> None:
    assert tree_format({_SCHEMA: _schema({"A": {"isBuiltinType": True}})}.get).older_than("6.1.0")
    assert not tree_format({"pages.json": b"{}"}.get).older_than("6.1.0")


def test_feature_version() -> None:
    assert feature_version("4.3-SNAPSHOT") == (4, 3)
    assert feature_version("6.1.0") == (6, 1)
    assert feature_version("10.0") > feature_version("6.1.0")


# --- the way the import's verification will call it: git trees, the server's export normalized -------------


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_git_trees_of_a_committed_export_and_the_normalized_server_export(tmp_path: Path, name: str) -> None:
    # As importer.py does: both folders normalized, hashed with appsync's placeholders.
    GitRepo.create(tmp_path / "repo")
    repo = GitRepo.open(tmp_path / "repo")
    ref_dir, server_dir = tmp_path / "ref", tmp_path / "server"
    shutil.copytree(FIXTURES / name, ref_dir)
    shutil.copytree(REAL_610 / name, server_dir)
    normalize_tree(ref_dir, NormalizeConfig())
    normalize_tree(server_dir, NormalizeConfig(), previous=ref_dir)
    ref_tree, server_tree = hash_export(repo, ref_dir), hash_export(repo, server_dir)
    result = compare_changes(
        repo.diff_trees(ref_tree, server_tree),
        lambda path: repo.read_blob(ref_tree, path),
        lambda path: repo.read_blob(server_tree, path),
    )
    assert result.differences == []
    assert result.rewritten_count > 0
