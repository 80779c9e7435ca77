"""The Neo4j test harness runs a real Neo4j: store on disk, store lock held while running, clean stop, restart."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest

from tests.neo4j import harness
from tests.neo4j.harness import (
    Neo4jHarnessError,
    Neo4jServer,
    bolt_ready,
    count_nodes,
    neo4j_available,
    store_lock_holder,
    store_lock_is_free,
    write_nodes,
)


def _posix_locks_of(pid: int) -> set[tuple[str, str, int]]:
    """(kind, mode, inode) of the locks /proc/locks lists for pid."""
    found: set[tuple[str, str, int]] = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        # "1: POSIX  ADVISORY  WRITE 6177 fe:00:9978797 0 EOF"; blocked waiters have "->" in field 1
        if len(fields) >= 6 and fields[1] != "->" and fields[4] == str(pid):
            found.add((fields[1], fields[3], int(fields[5].rsplit(":", 1)[1])))
    return found


@contextmanager
def _held_posix_lock(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)  # closing drops this process's POSIX locks on the file


def _gone(pid: int) -> bool:
    """No such process, or a zombie whose threads have all exited (PID 1 here reaps no orphans)."""
    try:
        if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
            return False
    except psutil.NoSuchProcess:
        return True
    return len(os.listdir(f"/proc/{pid}/task")) <= 1


def _sh(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["/bin/sh", "-c", command], cwd=cwd, capture_output=True, text=True, timeout=180, check=False)


@pytest.mark.neo4j
def test_store_lock_is_a_posix_write_lock_held_while_running(neo4j_server: Neo4jServer) -> None:
    lock = neo4j_server.store_lock_path
    pid = neo4j_server.pid()
    assert pid is not None
    assert lock == neo4j_server.data_dir / "databases" / "store_lock"
    assert lock.is_file()

    assert store_lock_holder(lock) == pid
    assert not store_lock_is_free(lock)
    fd = os.open(lock, os.O_RDWR)
    try:
        with pytest.raises(OSError):
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)

    held = _posix_locks_of(pid)
    assert ("POSIX", "WRITE", lock.stat().st_ino) in held
    for database in ("neo4j", "system"):
        database_lock = neo4j_server.data_dir / "databases" / database / "database_lock"
        assert ("POSIX", "WRITE", database_lock.stat().st_ino) in held
        assert store_lock_holder(database_lock) == pid

    # The trap: flock(2) and POSIX locks do not see each other on Linux, so flock says "free".
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@pytest.mark.neo4j
def test_stop_checkpoints_frees_the_lock_and_a_restart_keeps_the_data(neo4j_server: Neo4jServer) -> None:
    uri = neo4j_server.bolt_uri
    write_nodes(uri, 1500, label="Item", payload_bytes=100)
    assert count_nodes(uri, "Item") == 1500
    pid = neo4j_server.pid()
    assert pid is not None

    stop_seconds = neo4j_server.stop()
    print(f"neo4j stop took {stop_seconds:.1f} s")

    assert _gone(pid)
    assert not neo4j_server.is_running()
    assert not neo4j_server.pid_file.exists()
    assert not bolt_ready(neo4j_server.host, neo4j_server.bolt_port)
    assert store_lock_is_free(neo4j_server.store_lock_path)
    with _held_posix_lock(neo4j_server.store_lock_path):
        pass
    store = neo4j_server.data_dir / "databases" / "neo4j"
    assert (store / "neostore.nodestore.db").stat().st_size > 0
    assert (neo4j_server.data_dir / "transactions" / "neo4j" / "neostore.transaction.db.0").is_file()
    debug_log = (neo4j_server.logs_dir / "debug.log").read_text()
    assert 'Checkpoint triggered by "Database shutdown"' in debug_log

    # same data dir, same port, through the context manager this time
    again = Neo4jServer.open(neo4j_server.instance_dir)
    with again:
        assert again.data_dir == neo4j_server.data_dir
        assert not again.recovered_on_last_start()
        assert count_nodes(uri, "Item") == 1500
        write_nodes(uri, 10, label="Other")
        assert count_nodes(uri) == 1510
    assert not again.is_running()
    assert store_lock_is_free(again.store_lock_path)

    # a crash (SIGKILL, no checkpoint) is visible on the next start: Neo4j replays its tx logs
    again.start()
    write_nodes(uri, 7, label="Late")
    again.kill()
    assert store_lock_is_free(again.store_lock_path)
    again.start()
    assert again.recovered_on_last_start()
    assert count_nodes(uri, "Late") == 7


@pytest.mark.neo4j
def test_neo4j_refuses_to_start_while_someone_holds_the_store_lock(neo4j_server: Neo4jServer) -> None:
    write_nodes(neo4j_server.bolt_uri, 5)
    neo4j_server.stop()
    with _held_posix_lock(neo4j_server.store_lock_path):
        with pytest.raises(Neo4jHarnessError, match="exited during startup") as failure:
            neo4j_server.start(timeout=120)
        assert "lock" in str(failure.value).lower()
        assert not neo4j_server.is_running()
    neo4j_server.start()
    assert count_nodes(neo4j_server.bolt_uri) == 5


@pytest.mark.neo4j
def test_shell_commands_stop_report_and_start_the_server(neo4j_server: Neo4jServer, tmp_path: Path) -> None:
    write_nodes(neo4j_server.bolt_uri, 42)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    status = _sh(neo4j_server.status_command(), elsewhere)
    assert status.returncode == 0, status.stderr
    assert "running" in status.stdout

    pid = neo4j_server.pid()
    assert pid is not None
    stop = _sh(neo4j_server.stop_command(), elsewhere)
    assert stop.returncode == 0, stop.stderr
    assert _gone(pid)
    assert store_lock_is_free(neo4j_server.store_lock_path)
    assert _sh(neo4j_server.status_command(), elsewhere).returncode == 3
    assert _sh(neo4j_server.stop_command(), elsewhere).returncode == 0  # stopping a stopped server is fine

    start = _sh(neo4j_server.start_command(), elsewhere)
    assert start.returncode == 0, start.stderr
    neo4j_server.wait_ready()
    assert count_nodes(neo4j_server.bolt_uri) == 42
    assert _sh(neo4j_server.stop_command(timeout=120), elsewhere).returncode == 0

    waited = _sh(neo4j_server.start_command(wait=120), elsewhere)
    assert waited.returncode == 0, waited.stderr
    assert bolt_ready(neo4j_server.host, neo4j_server.bolt_port)
    assert _sh(neo4j_server.status_command(), elsewhere).stdout.strip().endswith(neo4j_server.bolt_uri)


@pytest.mark.neo4j
def test_only_bolt_listens_and_only_on_loopback(neo4j_server: Neo4jServer) -> None:
    pid = neo4j_server.pid()
    assert pid is not None
    listening = [c for c in psutil.Process(pid).net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    assert {c.laddr.port for c in listening} == {neo4j_server.bolt_port}
    assert {c.laddr.ip for c in listening} <= {"127.0.0.1", "::ffff:127.0.0.1"}
    config = (neo4j_server.conf_dir / "neo4j.conf").read_text()
    assert "server.http.enabled=false" in config
    assert "dbms.usage_report.enabled=false" in config


def test_availability_names_the_missing_piece(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(harness._ENV_AT_IMPORT, "APPSYNC_NEO4J_HOME", str(tmp_path / "empty-cache"))
    ok, reason = neo4j_available(auto_provision=False)
    assert not ok
    assert "provision.sh" in reason
    assert str(tmp_path / "empty-cache") in reason


def test_provision_fails_clearly_without_maven(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "sed", "head", "mkdir", "mktemp", "rm", "cat", "flock", "ls", "wc", "du", "cut", "mv", "cp"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "APPSYNC_NEO4J_HOME": str(tmp_path / "cache")}
    result = subprocess.run(
        [str(bin_dir / "bash"), str(harness.PROVISION_SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "Maven (mvn) not found" in result.stderr or "no Java 17 or 21 found" in result.stderr
    assert not (tmp_path / "cache" / f"neo4j-{harness.NEO4J_VERSION}" / "READY").exists()
