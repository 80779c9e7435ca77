"""format_rewrites' forecast from the ref alone (for the plan) and its one-line summary."""

from __future__ import annotations

import pytest

from structr_appsync.sync.format_rewrites import compare_trees, forecast_rewrites, rewrite_summary
from tests.test_format_rewrites import PAIRS, _meetdown_with, _pair

# Rules a forecast can tell from a file itself, which must then match what the real import did file for file.
EXACT = ("element-ids", "grant-order", "rest-query-attribute", "pagelink-src", "allowed-list", "default-files")


@pytest.mark.parametrize("name", PAIRS)
def test_the_forecast_matches_what_the_real_import_did(name: str) -> None:
    ref, server = _pair(name)
    forecast = forecast_rewrites(ref, ref.get)
    actual = compare_trees(ref, server).rule_counts()
    assert forecast, "an older-format export always gets rewritten"
    assert set(forecast) <= set(actual)
    for rule in EXACT:
        assert forecast.get(rule, 0) == actual.get(rule, 0), rule
    assert forecast.get("builtin-types", 0) == actual.get("builtin-types", 0)


def test_a_61_export_is_forecast_to_stay_as_it_is() -> None:
    server = _pair("meetdown")[1]
    assert forecast_rewrites(server, server.get) == {}


def test_templates_get_no_element_ids() -> None:
    tree = {"templates/t.html": b"<div>text</div>", "pages/p.html": b'<p data-structr-meta-id="x">a</p>'}
    assert "element-ids" not in forecast_rewrites(tree, tree.get)
    tree["components/c.html"] = b"<div>text</div>"
    assert forecast_rewrites(tree, tree.get)["element-ids"] == 1


def test_rewrite_summary_names_the_version_and_the_counts() -> None:
    result = compare_trees(*_pair("hello-world"))
    line = rewrite_summary(result.rewritten_count, result.rule_counts(), "6.1.0")
    assert line == (
        "Structr 6.1.0 rewrote 22 files into its format (default-files 17, server-written 3, element-ids 1, "
        "index-defaults 1)"
    )
    assert rewrite_summary(1, {"element-ids": 1}, None) == "Structr rewrote 1 file into its format (element-ids 1)"


def test_a_changed_function_of_a_built_in_type_is_a_real_difference() -> None:
    assert _meetdown_with({"schema/Group/functions/imageUpload.writeFunction": b"{ return 1; }"}) == [
        ("schema/schema.json", "schema function Group.imageUpload writeFunction changed")
    ]
