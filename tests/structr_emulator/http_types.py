"""Request and response values passed between the HTTP server and the route modules."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.structr_emulator.auth import Principal


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    principal: Principal | None = None
    auth_failed: bool = False

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return {key: values[-1] for key, values in parse_qs(urlsplit(self.target).query).items()}

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    drop_after: int | None = None  # fault: close the connection after this many body bytes

    @classmethod
    def json(cls, status: int, value: Any, headers: dict[str, str] | None = None) -> Response:
        text = json.dumps(value, indent=4, ensure_ascii=False)
        return cls(status=status, body=text.encode("utf-8"), headers=dict(headers or {}))

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/html; charset=utf-8") -> Response:
        return cls(status=status, body=text.encode("utf-8"), content_type=content_type)
