"""Fault switches for tests, set through POST /_emulator/faults."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

KINDS = ("status", "hang", "drop_zip", "truncate_zip", "noop_deploy", "slow_deploy", "shuffle_order")


@dataclass
class Fault:
    kind: str
    path: str = ""
    count: int | None = None
    code: int = 500
    seconds: float = 0.0

    def matches(self, path: str) -> bool:
        return path.startswith(self.path)


@dataclass
class Faults:
    """Active faults; `take(kind, path)` consumes one use of a matching fault."""

    active: list[Fault] = field(default_factory=list)
    shuffle_order: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, kind: str, params: dict[str, Any]) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
        if kind == "shuffle_order":
            self.shuffle_order = bool(params.get("enabled", True))
            return
        count = params.get("count")
        if count is None and kind in ("drop_zip", "truncate_zip", "noop_deploy"):
            count = 1
        fault = Fault(
            kind=kind,
            path=str(params.get("path", "")),
            count=None if count is None else int(count),
            code=int(params.get("code", 500)),
            seconds=float(params.get("seconds", 0)),
        )
        with self.lock:
            self.active.append(fault)

    def clear(self) -> None:
        with self.lock:
            self.active.clear()
        self.shuffle_order = False

    def take(self, kind: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.active:
                if fault.kind == kind and fault.matches(path):
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count <= 0:
                            self.active.remove(fault)
                    return fault
        return None

    def describe(self) -> list[dict[str, Any]]:
        with self.lock:
            return [vars(fault).copy() for fault in self.active]
