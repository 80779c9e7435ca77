"""Signals and slow stops while services are being stopped: no service is ever left down (issue 11, items 1-3).

The fake services here take about a second to shut down and keep answering their health port meanwhile, as Neo4j
does during its shutdown checkpoint. A "start" during that second is a no-op, so only a restart that waits for the
stop to finish brings the service back.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from structr_appsync import process
from structr_appsync.errors import EXIT_BACKUP, EXIT_INTERRUPTED, EXIT_OK, CommandError
from tests.backup_support.install import REPO_ROOT, FakeInstall, make_install
from tests.helpers import run_cli

STATE_NAME = ".appsync-stopped.json"
PAUSING_CLI = Path(__file__).resolve().parent / "backup_support" / "pausing_cli.py"


@pytest.fixture
def slow_install(tmp_path: Path) -> Iterator[FakeInstall]:
    fake = make_install(tmp_path, neo4j_pages=64, shutdown_seconds=1.0)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def _appsync(install: FakeInstall, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "structr_appsync", "-c", str(install.config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for(path: Path, child: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if child.poll() is not None:
            raise AssertionError(f"appsync exited before stopping anything: {child.communicate()}")
        assert time.monotonic() < deadline, "appsync never began to stop the services"
        time.sleep(0.005)


def _down(install: FakeInstall) -> list[str]:
    return [service.name for service in (install.neo4j, install.structr) if not service.running()]


def _assert_stays_up(install: FakeInstall, when: str) -> None:
    """Both run now, and still a little more than a shutdown later (a stop still under way shows by then)."""
    assert _down(install) == [], f"{when}: down right away"
    time.sleep(1.5)
    assert _down(install) == [], f"{when}: went down a moment later"


@pytest.mark.slow
def test_signals_at_random_points_during_the_stops_never_leave_a_service_down(slow_install: FakeInstall) -> None:
    install = slow_install
    state = install.destination / STATE_NAME
    rng = random.Random(11)
    codes: list[int] = []
    for attempt in range(20):
        child = _appsync(install, "backup")
        _wait_for(state, child)
        # The state file is written just before Structr's stop; each stop takes about a second.
        time.sleep(rng.uniform(0.0, 2.3))
        sent = signal.SIGINT if attempt % 2 else signal.SIGTERM
        child.send_signal(sent)
        _out, err = child.communicate(timeout=120)
        codes.append(child.returncode)
        assert child.returncode in (EXIT_INTERRUPTED, EXIT_OK), err
        if state.exists():
            # appsync itself admits that something is still stopped: the next command must bring it back.
            recovered = run_cli("-c", str(install.config), "backup", "recover")
            assert recovered.code == EXIT_OK, recovered.err
            _assert_stays_up(install, f"attempt {attempt} ({sent.name}), after `backup recover`")
        else:
            _assert_stays_up(install, f"attempt {attempt} ({sent.name}), when appsync exited\n{err}")
    assert codes.count(EXIT_INTERRUPTED) >= 15, codes


def test_a_stop_that_outlasts_stop_timeout_is_waited_for_before_the_restart(tmp_path: Path) -> None:
    install = make_install(tmp_path, neo4j_pages=64, shutdown_seconds=2.0)
    install.write_config(stop_timeout=1.2)
    install.start()
    try:
        result = run_cli("-c", str(install.config), "backup")
        assert result.code == EXIT_BACKUP, result.err
        assert "could not stop Structr" in result.err
        assert "timed out" in result.err
        assert not (install.destination / STATE_NAME).exists()
        _assert_stays_up(install, "after the timed-out stop")
    finally:
        install.stop()


def test_a_timed_out_command_is_killed_with_everything_it_started(tmp_path: Path) -> None:
    late = tmp_path / "written-late"
    command = f"(sleep 1.5; touch {late}) & sleep 30"
    began = time.monotonic()
    with pytest.raises(CommandError, match="timed out"):
        process.run(command, shell=True, timeout=0.5)
    assert time.monotonic() - began < 5
    time.sleep(2.0)
    assert not late.exists(), "the timed-out command's background child was left running"


@pytest.mark.parametrize("sent", [signal.SIGHUP, signal.SIGQUIT])
def test_sighup_and_sigquit_in_the_downtime_restart_the_services(tmp_path: Path, sent: int) -> None:
    """A dropped ssh session (SIGHUP) or SIGQUIT while both services are down: handled like SIGTERM."""
    install = make_install(tmp_path, neo4j_pages=64)
    install.start()
    try:
        marker = tmp_path / "paused"
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        pausing = [sys.executable, str(PAUSING_CLI), str(marker), "delta", "structr/files", "--"]
        child = subprocess.Popen(
            [*pausing, "-c", str(install.config), "backup"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        _wait_for(marker, child)
        assert _down(install) == ["neo4j", "structr"], "paused in the downtime copy"
        child.send_signal(sent)
        _out, err = child.communicate(timeout=120)
        assert child.returncode == EXIT_INTERRUPTED, err
        assert signal.Signals(sent).name in err
        assert not (install.destination / STATE_NAME).exists()
        assert _down(install) == []
    finally:
        install.stop()
