"""Per-step wall-clock timings, split into time spent waiting for the server and time spent in appsync."""

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

    @contextmanager
    def step(self, name: str, *, server: bool = False) -> Iterator[None]:
        begin = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - begin
            if server:
                self.server_steps.add(name)

    @property
    def total(self) -> float:
        return time.perf_counter() - self.started

    @property
    def server_seconds(self) -> float:
        return sum(seconds for name, seconds in self.timings.items() if name in self.server_steps)
