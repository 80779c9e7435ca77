"""JSON writers that reproduce the byte layout of Structr's Gson output (pretty and "compact")."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

# Gson escapes these characters by default (HTML-safe mode); Structr's exports show \u003c, \u003d, \u0027 ...
_GSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "=": "\\u003d",
    "'": "\\u0027",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _gson_escape(text: str) -> str:
    # The characters above never occur in JSON syntax outside string literals, so a plain replace is safe.
    for char, escaped in _GSON_ESCAPES.items():
        if char in text:
            text = text.replace(char, escaped)
    return text


def pretty(value: Any, *, sort_keys: bool = True) -> str:
    """Return `value` as Gson pretty JSON: two-space indent, nulls written, no trailing newline."""
    return _gson_escape(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=sort_keys))


def compact_object(value: Mapping[str, Any], *, first: str | None = None) -> str:
    """Return one object on one line, keys sorted (optionally with key `first` written first)."""
    if first is not None and first in value:
        ordered = {first: value[first]}
        ordered.update({key: value[key] for key in sorted(value) if key != first})
        text = json.dumps(ordered, ensure_ascii=False, separators=(",", ":"))
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return _gson_escape(text)


def compact_list(items: Iterable[Mapping[str, Any]], *, first: str | None = None) -> str:
    """Return Structr's "compact" list layout: `[`, one tab-indented object per line, `]`."""
    lines = [compact_object(item, first=first) for item in items]
    if not lines:
        return "[]"
    return "[\n" + ",\n".join("\t" + line for line in lines) + "\n]"


def dumps_state(value: Any) -> str:
    """Serialize internal state (store files); dict order is kept because schema order matters."""
    return json.dumps(value, ensure_ascii=False, indent=1)
