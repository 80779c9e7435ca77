"""Structr's import rewrites of page, component and template HTML (used only by ``format_rewrites``).

Both files are cut into the same kind of tokens (structr comments, tags, text). A rewrite never adds or removes
an element, so two files whose token lists differ in length or kind differ for real. Token by token, each rule
below may explain a difference; whatever no rule explains is a real difference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GRANT_ORDER = "grant-order"
ELEMENT_IDS = "element-ids"
VISIBILITY_MARKERS = "visibility-markers"
REST_QUERY_ATTRIBUTE = "rest-query-attribute"
COMPONENT_DATA_KEY = "component-data-key"
PAGELINK_SRC = "pagelink-src"
SCRIPT_WHITESPACE = "script-whitespace"

HTML_RULES: dict[str, str] = {
    GRANT_ORDER: "grant strings in HTML comments written in the order rwda",
    ELEMENT_IDS: "elements without data-structr-meta-id given a new id",
    VISIBILITY_MARKERS: "@structr:public/@structr:protected markers recomputed relative to the parent",
    REST_QUERY_ATTRIBUTE: "data-structr-meta-rest-query moved out of the HTML",
    COMPONENT_DATA_KEY: "shared-component references given the component's data key",
    PAGELINK_SRC: 'the src="${link.path}" of page links dropped',
    SCRIPT_WHITESPACE: "trailing whitespace inside <script> trimmed",
}

_TOKEN = re.compile(
    r"(?P<comment><!--.*?-->)|(?P<script><script\b[^>]*>)(?P<body>.*?)(?P<close></script>)|(?P<tag><[^>]*>)|(?P<text>[^<]+)",
    re.DOTALL,
)
_LEADING_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_MARKER = re.compile(r"@structr:([A-Za-z-]+)(\(([^)]*)\))?")
_ATTRIBUTE = re.compile(r'([^\s=/>]+)(?:="([^"]*)")?')
_TAG_NAME = re.compile(r"</?([^\s>/]+)")
_VISIBILITY = frozenset({"public", "protected"})
META_ID = "data-structr-meta-id"
_REST_QUERY = "data-structr-meta-rest-query"
_DATA_KEY = "data-structr-meta-data-key"


@dataclass(frozen=True)
class _Token:
    kind: str  # comment, tag, text, script-body
    text: str


def _tokens(html: str) -> list[_Token]:
    result = []
    for match in _TOKEN.finditer(html):
        if match.group("script") is not None:
            result.append(_Token("tag", match.group("script")))
            body = match.group("body")
            head = _LEADING_COMMENT.match(body)
            if head:  # Structr puts the script's own markers first in its body
                result.append(_Token("comment", head.group(0)))
                body = body[head.end() :]
            result.append(_Token("script-body", body))
            result.append(_Token("tag", match.group("close")))
        else:
            kind = match.lastgroup or "text"
            result.append(_Token(kind, match.group(kind)))
    return result


def _markers(comment: str, *, sort_grants: bool) -> tuple[list[tuple[str, str]], list[str]] | None:
    """Return the structr markers of a comment without the visibility ones, and the visibility ones."""
    found = [(match.group(1), match.group(3) or "") for match in _MARKER.finditer(comment)]
    if not found:
        return None
    markers, visibility = [], []
    for name, argument in found:
        if name in _VISIBILITY:
            visibility.append(name)
            continue
        if name == "grant" and "," in argument and sort_grants:
            principal, letters = argument.rsplit(",", 1)
            argument = f"{principal},{''.join(sorted(letters))}"
        markers.append((name, argument))
    return markers, visibility


def _compare_comments(ref: str, server: str, rules: set[str]) -> bool:
    old, new = _markers(ref, sort_grants=False), _markers(server, sort_grants=False)
    if old is None or new is None:
        return False  # an ordinary HTML comment: compared as it is
    explained = {VISIBILITY_MARKERS} if old[1] != new[1] else set()
    if old[0] != new[0]:
        sorted_old, sorted_new = _markers(ref, sort_grants=True), _markers(server, sort_grants=True)
        if sorted_old is None or sorted_new is None or sorted_old[0] != sorted_new[0]:
            return False
        explained.add(GRANT_ORDER)
    rules.update(explained)
    return True


def _attributes(tag: str) -> tuple[str, dict[str, str | None]]:
    name_match = _TAG_NAME.match(tag)
    name = name_match.group(1).lower() if name_match else ""
    body = tag[name_match.end() :] if name_match else tag
    return name, {match.group(1): match.group(2) for match in _ATTRIBUTE.finditer(body)}


def _compare_tags(ref: str, server: str, ref_ids: set[str], rules: set[str]) -> bool:
    ref_name, ref_attrs = _attributes(ref)
    server_name, server_attrs = _attributes(server)
    if ref_name != server_name:
        return False
    explained: set[str] = set()
    new_id = server_attrs.get(META_ID)
    if META_ID not in ref_attrs and new_id is not None and new_id not in ref_ids:
        del server_attrs[META_ID]
        explained.add(ELEMENT_IDS)
    if _REST_QUERY in ref_attrs and _REST_QUERY not in server_attrs:
        del ref_attrs[_REST_QUERY]
        explained.add(REST_QUERY_ATTRIBUTE)
    if ref_name == "structr:component" and _DATA_KEY in server_attrs and _DATA_KEY not in ref_attrs:
        del server_attrs[_DATA_KEY]
        explained.add(COMPONENT_DATA_KEY)
    if ref_name == "a" and ref_attrs.get("src") == "${link.path}" and "src" not in server_attrs:
        del ref_attrs["src"]
        explained.add(PAGELINK_SRC)
    if ref_attrs != server_attrs:
        return False
    rules.update(explained)
    return True


def element_ids(html: str) -> set[str]:
    """The data-structr-meta-id values in an HTML file."""
    return set(re.findall(META_ID + r'="([^"]*)"', html))


def html_rewrites(ref: str, server: str) -> set[str] | None:
    """Return the rules that explain how ``server`` differs from ``ref``, or None for a real difference."""
    ref_tokens, server_tokens = _tokens(ref), _tokens(server)
    if len(ref_tokens) != len(server_tokens):
        return None
    ref_ids = element_ids(ref)
    rules: set[str] = set()
    for old, new in zip(ref_tokens, server_tokens, strict=True):
        if old.kind != new.kind:
            return None
        if old.text == new.text:
            continue
        if old.kind == "comment":
            same = _compare_comments(old.text, new.text, rules)
        elif old.kind == "tag":
            same = _compare_tags(old.text, new.text, ref_ids, rules)
        elif old.kind == "script-body" and old.text.rstrip() == new.text.rstrip():
            rules.add(SCRIPT_WHITESPACE)
            same = True
        else:
            same = False
        if not same:
            return None
    return rules


_START_TAG = re.compile(r"<(?![/!])([^\s>/]+)([^>]*)>")
_UNORDERED_GRANT = re.compile(r"@structr:grant\([^,)]*,([a-z]+)\)")


def html_forecast(html: str, *, dom_nodes: bool) -> set[str]:
    """The rules Structr's import will apply to this HTML file (a forecast from the file alone).

    ``dom_nodes``: the file's elements become DOM nodes with ids (pages and components; a template's HTML is text).
    """
    rules = set()
    if dom_nodes and any(META_ID not in match.group(2) for match in _START_TAG.finditer(html)):
        rules.add(ELEMENT_IDS)
    if any(list(letters) != sorted(letters, key="rwda".index) for letters in _UNORDERED_GRANT.findall(html)):
        rules.add(GRANT_ORDER)
    if _REST_QUERY in html:
        rules.add(REST_QUERY_ATTRIBUTE)
    if 'src="${link.path}"' in html:
        rules.add(PAGELINK_SRC)
    return rules
