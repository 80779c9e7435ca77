"""Signal handling helpers: held-back signals are delivered afterwards, stop requests wake a waiting loop."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from structr_appsync.interrupts import signals_deferred, stop_requests


def test_stop_request_wakes_the_wait_long_before_its_timeout() -> None:
    with stop_requests() as stop:
        timer = threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGTERM))
        timer.start()
        started = time.monotonic()
        woke = stop.wait(30)
        timer.join()
    assert woke
    assert stop.received == ["SIGTERM"]
    assert time.monotonic() - started < 10


def test_wait_without_a_signal_times_out_and_says_so() -> None:
    with stop_requests() as stop:
        assert stop.wait(0.05) is False
        assert stop.received == []


def test_a_signal_that_came_before_the_wait_is_not_missed() -> None:
    with stop_requests() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.wait(30) is True
        assert stop.wait(30) is True
    assert stop.received == ["SIGINT"]


def test_handlers_and_wakeup_fd_are_restored_after_the_block() -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    with stop_requests():
        assert signal.getsignal(signal.SIGTERM) is not before[signal.SIGTERM]
    assert {sig: signal.getsignal(sig) for sig in before} == before
    previous = signal.set_wakeup_fd(-1)
    assert previous == -1


def test_deferred_signal_arrives_after_the_block_not_inside_it() -> None:
    seen: list[str] = []

    def handler(signum: int, _frame: object) -> None:
        seen.append("handled")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            seen.append("block finished")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert seen == ["block finished", "handled"]


def test_deferred_keyboard_interrupt_is_raised_after_the_block() -> None:
    # Install the handler this test relies on: a background job of a non-interactive shell starts with SIGINT
    # ignored, and then no KeyboardInterrupt would ever come.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    finished = False
    try:
        with pytest.raises(KeyboardInterrupt), signals_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            finished = True
    finally:
        signal.signal(signal.SIGINT, previous)
    assert finished
