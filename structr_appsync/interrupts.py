"""Holding Ctrl-C, SIGTERM, SIGHUP and SIGQUIT back while a step runs that must not stop halfway."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
from collections.abc import Iterator
from types import FrameType

# The signals that ask appsync to stop: Ctrl-C, SIGTERM, a dropped ssh session (SIGHUP) and SIGQUIT (Ctrl-\\).
# All four end the run the same way, through every cleanup (restarting stopped services first).
HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Run the block with the stop signals (HELD_SIGNALS) held back, then deliver them to the handlers in place before.

    A signal that arrives while the working tree is being swapped, the index rewritten or HEAD moved would
    otherwise stop the run between two steps that only make sense together, and the undo could not run.
    Outside the main thread (where handlers cannot be installed) the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in HELD_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        for signum in dict.fromkeys(received):
            signal.raise_signal(signum)


class StopRequests:
    """SIGINT/SIGTERM noted without taking any lock, so a long-running loop can wait for them safely.

    Setting a `threading.Event` from a signal handler can deadlock: the handler runs in the main thread, possibly
    while that thread already holds the event's internal lock inside `Event.wait`. Here the handler only appends
    to a list, and the wait is a `select` on a pipe that Python's wakeup fd writes to when a signal arrives.
    """

    def __init__(self, read_fd: int) -> None:
        self._read_fd = read_fd
        self.received: list[str] = []

    def note(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signal.Signals(signum).name)

    def wait(self, timeout: float) -> bool:
        """Sleep up to `timeout` seconds; True as soon as a stop signal has arrived (also if it came earlier)."""
        if not self.received:
            select.select([self._read_fd], [], [], timeout)
            with contextlib.suppress(BlockingIOError):
                os.read(self._read_fd, 512)
        return bool(self.received)


@contextlib.contextmanager
def stop_requests() -> Iterator[StopRequests]:
    """Within the block, SIGINT and SIGTERM only ask to stop; the handlers in place before come back after it."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.set_blocking(write_fd, False)
    requests = StopRequests(read_fd)
    previous_wakeup = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    previous = {sig: signal.signal(sig, requests.note) for sig in HELD_SIGNALS}
    try:
        yield requests
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        signal.set_wakeup_fd(previous_wakeup)
        os.close(read_fd)
        os.close(write_fd)
