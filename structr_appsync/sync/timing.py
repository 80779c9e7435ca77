"""Per-step wall-clock timings, split into time spent waiting for the server and time spent in appsync.

Steps may run in parallel threads (the ref is prepared while the server exports), so the server's share is
the union of the server steps' intervals, not the sum of their durations.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class StepTimer:
    """Accumulates seconds per named step; steps marked ``server`` are server round trips."""

    timings: dict[str, float] = field(default_factory=dict)
    server_steps: set[str] = field(default_factory=set)
    started: float = field(default_factory=time.perf_counter)
    _server_intervals: list[tuple[float, float]] = field(default_factory=list)

    @contextmanager
    def step(self, name: str, *, server: bool = False) -> Iterator[None]:
        begin = time.perf_counter()
        try:
            yield
        finally:
            end = time.perf_counter()
            self.timings[name] = self.timings.get(name, 0.0) + end - begin
            if server:
                self.server_steps.add(name)
                self._server_intervals.append((begin, end))

    @property
    def total(self) -> float:
        return time.perf_counter() - self.started

    @property
    def server_seconds(self) -> float:
        """Wall-clock seconds during which at least one server call was in flight."""
        covered = 0.0
        reach = float("-inf")
        for begin, end in sorted(self._server_intervals):
            if end > reach:
                covered += end - max(begin, reach)
                reach = end
        return covered
