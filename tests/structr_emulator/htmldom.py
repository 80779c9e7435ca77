"""HTML handling for pages, templates and shared components kept as Structr's deployment HTML.

The emulator stores the HTML text instead of a DOM tree. What matters for fidelity is element identity:
every element carries `data-structr-meta-id` (Structr sets the node UUID from it on import and writes it on
export), and principals named in `@structr:owner(...)`/`@structr:grant(...)` comments must resolve.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

META_ID = "data-structr-meta-id"
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9:_-]*")
_META_ID_VALUE = re.compile(r'data-structr-meta-id="([0-9a-fA-F-]+)"')
_RAW_TEXT = {"script", "style", "textarea"}
_COMMENT = re.compile(r"<!--(.*?)-->", re.DOTALL)
_PRINCIPAL_DIRECTIVE = re.compile(r"@structr:(owner|grant)\(([^,()]*)(?:,[^()]*)?\)")


@dataclass(frozen=True)
class StartTag:
    """One element start tag: its name, the span of the tag text and where attributes end."""

    name: str
    start: int
    end: int
    attrs_end: int


def iter_start_tags(html: str) -> Iterator[StartTag]:
    """Yield element start tags in document order, skipping comments, doctype and raw-text bodies."""
    pos = 0
    length = len(html)
    while True:
        lt = html.find("<", pos)
        if lt < 0 or lt + 1 >= length:
            return
        if html.startswith("<!--", lt):
            close = html.find("-->", lt + 4)
            pos = length if close < 0 else close + 3
            continue
        if html[lt + 1] in "!?/":
            close = html.find(">", lt)
            pos = length if close < 0 else close + 1
            continue
        match = _TAG_NAME.match(html, lt + 1)
        if match is None:
            pos = lt + 1
            continue
        end = _find_tag_end(html, match.end())
        if end < 0:
            return
        attrs_end = end - 1
        while attrs_end > match.end() and html[attrs_end - 1] in " \t\r\n/":
            attrs_end -= 1
        name = match.group(0)
        yield StartTag(name=name, start=lt, end=end, attrs_end=attrs_end)
        pos = end
        if name.lower() in _RAW_TEXT:
            close = html.lower().find("</" + name.lower(), pos)
            pos = length if close < 0 else close


def _find_tag_end(html: str, pos: int) -> int:
    quote: str | None = None
    while pos < len(html):
        char = html[pos]
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == ">":
            return pos + 1
        pos += 1
    return -1


def element_ids(html: str) -> list[str]:
    """Return the `data-structr-meta-id` values of all elements, in document order."""
    ids = []
    for tag in iter_start_tags(html):
        found = _META_ID_VALUE.search(html, tag.start, tag.end)
        if found:
            ids.append(found.group(1))
    return ids


def ensure_ids(html: str, new_uuid: Callable[[], str]) -> str:
    """Give every element without `data-structr-meta-id` a new UUID (Structr creates a node per element).

    The attribute is appended after the existing attributes, as Structr writes it last.
    """
    out: list[str] = []
    pos = 0
    for tag in iter_start_tags(html):
        if META_ID in html[tag.start : tag.end]:
            continue
        out.append(html[pos : tag.attrs_end])
        out.append(f' {META_ID}="{new_uuid()}"')
        pos = tag.attrs_end
    out.append(html[pos:])
    return "".join(out)


def principal_names(html: str) -> list[str]:
    """Return every principal named in owner/grant comment directives (with repetitions)."""
    names: list[str] = []
    for comment in _COMMENT.finditer(html):
        names.extend(match.group(2).strip() for match in _PRINCIPAL_DIRECTIVE.finditer(comment.group(1)))
    return names


def drop_principals(html: str, missing: set[str]) -> str:
    """Remove owner/grant directives naming principals in `missing` (Structr drops unresolved ones)."""
    if not missing:
        return html

    def fix_comment(match: re.Match[str]) -> str:
        body = match.group(1)
        if "@structr:" not in body:
            return match.group(0)
        parts = [part.strip() for part in body.strip().split(", @")]
        kept = []
        for index, part in enumerate(parts):
            text = part if index == 0 else "@" + part
            directive = _PRINCIPAL_DIRECTIVE.fullmatch(text)
            if directive and directive.group(2).strip() in missing:
                continue
            kept.append(text)
        if not kept:
            return ""
        return "<!-- " + ", ".join(kept) + " -->"

    return _COMMENT.sub(fix_comment, html)


def new_page_html(page_name: str, new_uuid: Callable[[], str]) -> str:
    """Return the HTML Structr's "create page" template produces, in deployment format."""
    return (
        "<!DOCTYPE html>\n"
        f'<html {META_ID}="{new_uuid()}">\n'
        f'\t<head {META_ID}="{new_uuid()}">\n'
        f'\t\t<title {META_ID}="{new_uuid()}"><!-- @structr:content(text/plain) -->'
        "${capitalize(page.name)}</title>\n"
        "\t</head>\n"
        f'\t<body {META_ID}="{new_uuid()}">\n'
        f'\t\t<h1 {META_ID}="{new_uuid()}"><!-- @structr:content(text/plain) -->'
        "${capitalize(page.name)}</h1>\n"
        f'\t\t<div {META_ID}="{new_uuid()}"><!-- @structr:content(text/plain) -->'
        f"Initial body text of {page_name}</div>\n"
        "\t</body>\n"
        "</html>"
    )
