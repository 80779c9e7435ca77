"""Must-show 1 and 2: fixtures import and export back; export -> import -> export is byte-identical."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.paths import FIXTURES
from tests.structr_emulator import expectations
from tests.structr_emulator.context import DEFAULT_BUILDS
from tests.structr_emulator.harness import Emulator
from tests.structr_emulator.htmldom import element_ids
from tests.structr_emulator.pytest_fixtures import EmulatorFactory

FIXTURE_NAMES = ("hello-world", "meetdown", "react-todo-demo")
DOM_FOLDERS = ("pages/", "components/")


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_reexport_matches_input_up_to_documented_differences(
    name: str, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.import_dir(FIXTURES / name)
    exported = expectations.read_tree(emulator.export_dir(tmp_path / "out"))
    expected = expectations.expected_export(FIXTURES / name, tmp_path, version="6.1.0", build=DEFAULT_BUILDS["6.1.0"])

    assert sorted(exported) == sorted(expected)
    injected_total: list[str] = []
    for rel, content in expected.items():
        actual = exported[rel]
        if rel.startswith(DOM_FOLDERS) and rel.endswith(".html"):
            # Documented difference: elements without data-structr-meta-id get a new UUID on import.
            assert content is not None and actual is not None
            original = content.decode()
            stripped, injected = expectations.strip_injected_ids(actual.decode(), original)
            assert stripped == original, rel
            assert set(element_ids(original)) <= set(element_ids(actual.decode()))
            injected_total.extend(injected)
        else:
            assert actual == content, rel
    assert len(injected_total) == len(set(injected_total))
    if name == "hello-world":
        assert len(injected_total) == 1  # the second <h1> has no id in the fixture
    if name == "meetdown":
        assert len(injected_total) > 200  # pre-3.5 export: no element ids at all


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_export_import_export_is_byte_identical_apart_from_version_stamp(
    name: str, emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    first = emulator_factory()
    first.import_dir(FIXTURES / name)
    export_one = first.export_dir(tmp_path / "one")
    # The second server runs a different build: only the version stamp in deployment.conf may differ.
    second = emulator_factory(build="77777 202612011200")
    second.import_dir(export_one)
    export_two = second.export_dir(tmp_path / "two")

    tree_one = expectations.read_tree(export_one)
    tree_two = expectations.read_tree(export_two)
    assert sorted(tree_one) == sorted(tree_two)
    differing = [rel for rel in tree_one if tree_one[rel] != tree_two[rel]]
    assert differing == ["deployment.conf"]
    assert tree_two["deployment.conf"] == expectations.deployment_conf("6.1.0", "77777 202612011200")


def test_repeated_export_of_unchanged_app_is_byte_identical(meetdown_emulator: Emulator, tmp_path: Path) -> None:
    one = expectations.read_tree(meetdown_emulator.export_dir(tmp_path / "a"))
    two = expectations.read_tree(meetdown_emulator.export_dir(tmp_path / "b"))
    assert one == two
