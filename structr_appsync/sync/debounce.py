"""A debouncing worker thread: bursts of events become one action, actions never overlap.

Events are collected under a condition variable; each new event restarts the quiet interval (as watchdog's
own event debouncer does). When the interval passes without events, the worker runs the action once with the
whole batch. An optional periodic job runs on the same thread, so it is serialised with the action.
A failing action is reported through ``on_error`` and the worker keeps going.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

BatchAction = Callable[[frozenset[str]], None]
Job = Callable[[], None]
ErrorHandler = Callable[[str, Exception], None]


@dataclass(frozen=True)
class Periodic:
    """A job run every ``interval`` seconds, between batches (never at the same time as one)."""

    job: Job
    interval: float


class Debouncer:
    """Run ``action(batch)`` once events have been quiet for ``delay`` seconds.

    ``max_delay`` caps how long a never-ending stream of events can postpone the action.
    ``periodic`` runs every ``interval`` seconds (first run one interval after start).
    """

    def __init__(
        self,
        action: BatchAction,
        *,
        delay: float,
        on_error: ErrorHandler,
        max_delay: float | None = None,
        every: Periodic | None = None,
    ) -> None:
        if delay <= 0:
            raise ValueError("delay must be positive")
        periodic, interval = (every.job, every.interval) if every else (None, None)
        self._action = action
        self._delay = delay
        self._max_delay = max_delay
        self._on_error = on_error
        self._periodic = periodic
        self._interval = interval
        self._condition = threading.Condition()
        self._pending: set[str] = set()
        self._first_event = 0.0
        self._last_event = 0.0
        self._next_periodic = 0.0
        self._stopping = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="appsync-debouncer", daemon=True)

    def start(self) -> None:
        if self._interval is not None:
            self._next_periodic = time.monotonic() + self._interval
        self._thread.start()

    def trigger(self, item: str) -> None:
        """Record one event; safe to call from any thread (the filesystem observer's)."""
        with self._condition:
            now = time.monotonic()
            if not self._pending:
                self._first_event = now
            self._pending.add(item)
            self._last_event = now
            self._condition.notify()

    def discard_pending(self) -> int:
        """Forget events collected so far (used after appsync wrote the folder itself); return how many."""
        with self._condition:
            count = len(self._pending)
            self._pending.clear()
            return count

    @property
    def busy(self) -> bool:
        """True while an action or periodic job runs."""
        with self._condition:
            return self._busy

    def stop(self, timeout: float | None = None) -> int:
        """Stop after the running action (if any) finishes; return the number of unprocessed events."""
        with self._condition:
            self._stopping = True
            dropped = len(self._pending)
            self._pending.clear()
            self._condition.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        return dropped

    def _due(self, now: float) -> tuple[float | None, str | None]:
        """Return (seconds until the next job, which one is due now: 'action', 'periodic' or None)."""
        waits: list[float] = []
        if self._pending:
            deadline = self._last_event + self._delay
            if self._max_delay is not None:
                deadline = min(deadline, self._first_event + self._max_delay)
            if deadline <= now:
                return 0.0, "action"
            waits.append(deadline - now)
        if self._interval is not None:
            if self._next_periodic <= now:
                return 0.0, "periodic"
            waits.append(self._next_periodic - now)
        return (min(waits) if waits else None), None

    def _run(self) -> None:
        while True:
            with self._condition:
                while True:
                    if self._stopping:
                        return
                    wait, due = self._due(time.monotonic())
                    if due is not None:
                        break
                    self._condition.wait(wait)
                if due == "action":
                    batch = frozenset(self._pending)
                    self._pending.clear()
                    job: Job = functools.partial(self._action, batch)
                    label = "import"
                else:
                    assert self._periodic is not None and self._interval is not None
                    self._next_periodic = time.monotonic() + self._interval
                    job = self._periodic
                    label = "periodic export"
                self._busy = True
            try:
                job()
            except Exception as exc:  # noqa: BLE001 - reported, and watching goes on
                self._on_error(label, exc)
            finally:
                with self._condition:
                    self._busy = False
