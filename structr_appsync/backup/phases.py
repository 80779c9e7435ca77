"""Where a downtime goes: a stopwatch that times the named phases of a backup or restore.

Phase names are `step.service` (``stop.structr``, ``down.neo4j``, ``start.neo4j``, ``health.neo4j``, ...) or a
single word for steps of their own (``store_lock``, ``copy``, ``swap``). A name seen twice (a retried start) adds
up. The order is the order in which phases began, so a listing reads like the timeline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

_LABELS = {
    "stop": "{} stop",
    "down": "{} proof of stop",
    "start": "{} start",
    "health": "{} health wait",
    "retry": "{} retry pause",
}
_SERVICE_LABELS = {"structr": "Structr", "neo4j": "Neo4j"}
_STEP_LABELS = {"store_lock": "store lock check", "copy": "copy", "swap": "swap directories"}


def label(name: str) -> str:
    """A phase name for people: ``health.neo4j`` -> ``Neo4j health wait``."""
    step, _, service = name.partition(".")
    if service and step in _LABELS:
        return _LABELS[step].format(_SERVICE_LABELS.get(service, service))
    return _STEP_LABELS.get(name, name)


@dataclass
class PhaseClock:
    """Seconds per phase, in the order the phases began."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def measure(self, name: str) -> Iterator[None]:
        """Time the block as phase ``name``; a failing block is timed too."""
        began = time.monotonic()
        try:
            yield
        finally:
            self.add(name, time.monotonic() - began)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + max(seconds, 0.0)

    def rounded(self) -> dict[str, float]:
        return {name: round(value, 3) for name, value in self.seconds.items()}


def largest(phases: dict[str, float]) -> tuple[str, float] | None:
    """The phase that took longest, or None when nothing was timed."""
    if not phases:
        return None
    name = max(phases, key=lambda key: phases[key])
    return name, phases[name]


def describe_largest(phases: dict[str, float]) -> str:
    """``largest phase Neo4j stop 6.02s`` (empty when nothing was timed)."""
    found = largest(phases)
    if found is None:
        return ""
    return f"largest phase {label(found[0])} {found[1]:.2f}s"


def largest_phase(phases: dict[str, float]) -> dict[str, str | float] | None:
    """The largest phase for JSON: name, label and seconds."""
    found = largest(phases)
    if found is None:
        return None
    return {"name": found[0], "label": label(found[0]), "seconds": round(found[1], 3)}


def as_rows(phases: dict[str, float]) -> list[dict[str, str | float]]:
    """The phases for JSON, as a list so that the timeline order survives sorted keys."""
    return [{"name": name, "label": label(name), "seconds": round(value, 3)} for name, value in phases.items()]
