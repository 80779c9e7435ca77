"""Small HTTP helpers: Structr's result envelope, lenient JSON bodies, multipart parsing."""

from __future__ import annotations

import json
import math
import re
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

_UNQUOTED_KEY = re.compile(r"([{,]\s*)([A-Za-z_$][A-Za-z0-9_$]*)\s*:")


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
    if not content_type.lower().startswith("multipart/") or not body:
        return {}
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(header + body)
    fields: dict[str, tuple[str | None, bytes]] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True)
        fields[str(name)] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return fields
