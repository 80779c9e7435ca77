"""Small HTTP helpers: Structr's result envelope, lenient JSON bodies, multipart parsing."""

from __future__ import annotations

import json
import math
import re
from typing import Any

_UNQUOTED_KEY = re.compile(r"([{,]\s*)([A-Za-z_$][A-Za-z0-9_$]*)\s*:")
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_PARAM = re.compile(r'(\w+)="([^"]*)"')


def envelope(result: Any, *, page_size: int | None = None, total: int | None = None) -> dict[str, Any]:
    """StreamingWriter's envelope: result, result_count, page_count and timing keys."""
    count = total if total is not None else (len(result) if isinstance(result, list) else 1)
    pages = math.ceil(count / page_size) if page_size else (1 if count else 0)
    return {
        "result": result,
        "result_count": count,
        "page_count": pages,
        "result_count_time": "0.000010000",
        "serialization_time": "0.000020000",
        "query_time": "0.000030000",
    }


def error_body(code: int, message: str, errors: list[Any] | None = None) -> dict[str, Any]:
    """FrameworkException#toJSON."""
    return {"code": code, "message": message, "errors": errors or []}


def parse_json_body(raw: bytes) -> Any:
    """Structr's JSON parser is lenient: unquoted keys like {mode:"import"} are accepted."""
    if not raw.strip():
        return {}
    text = raw.decode("utf-8")
    try:
        return json.loads(text)
    except ValueError:
        return json.loads(_UNQUOTED_KEY.sub(r'\1"\2":', text))


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Return field name -> (file name or None, raw value) for a multipart/form-data body."""
    match = _BOUNDARY.search(content_type)
    if not content_type.lower().startswith("multipart/") or match is None or not body:
        return {}
    delimiter = b"--" + match.group(1).encode("latin-1")
    fields: dict[str, tuple[str | None, bytes]] = {}
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, value = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        disposition = next(
            (line for line in head.decode("utf-8", "replace").split("\r\n")
             if line.lower().startswith("content-disposition:")),
            "",
        )  # fmt: skip
        params = dict(_PARAM.findall(disposition))
        if "name" in params:
            fields[params["name"]] = (params.get("filename"), value.removesuffix(b"\r\n"))
    return fields
