"""Cold backups end to end against two fake services (real processes holding a real POSIX store lock)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from structr_appsync.backup import copier, services, storelock
from structr_appsync.backup.manifest import read_manifest
from structr_appsync.errors import EXIT_BACKUP, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from tests.backup_support.install import REPO_ROOT, FakeInstall, make_install
from tests.helpers import run_cli

PAUSING_CLI = Path(__file__).resolve().parent / "backup_support" / "pausing_cli.py"


@pytest.fixture
def install(tmp_path: Path) -> Iterator[FakeInstall]:
    fake = make_install(tmp_path)
    fake.start()
    try:
        yield fake
    finally:
        copier.fault_hook = None
        fake.stop()


def cli(install: FakeInstall, *args: str):  # type: ignore[no-untyped-def]
    return run_cli("-c", str(install.config), *args)


def listed(install: FakeInstall) -> list[str]:
    result = cli(install, "backup", "list", "--json")
    assert result.code == EXIT_OK, result.err
    return [row["id"] for row in json.loads(result.out)]


def leftovers(install: FakeInstall, expected: tuple[str, ...] = ()) -> list[str]:
    """Anything in the destination besides the ``expected`` generations and the lock file.

    Deliberately not "besides what `backup list` shows": a half-written generation that were wrongly listed
    must count as a leftover too.
    """
    if not install.destination.exists():
        return []
    names = {path.name for path in install.destination.iterdir()}
    return sorted(names - set(expected) - {".appsync-backup.lock"})


def assert_clean_failure(install: FakeInstall, result, code: int, words: str) -> None:  # type: ignore[no-untyped-def]
    """A failed first backup: non-zero exit, the reason shown, services up, nothing listed, nothing left."""
    assert result.code == code, (result.out, result.err)
    assert words in result.err, result.err
    assert install.both_running(), "services must be running after a failed backup"
    assert listed(install) == []
    assert leftovers(install) == []


# ----------------------------------------------------------------------------------------------- round trip


def test_round_trip_restores_the_backed_up_state(install: FakeInstall) -> None:
    first = cli(install, "backup", "--json")
    assert first.code == EXIT_OK, first.err
    outcome = json.loads(first.out)
    assert outcome["downtime_seconds"] > 0
    backup_id = outcome["id"]
    generation = install.destination / backup_id
    backed_header = (generation / "neo4j" / "databases" / "neo4j" / "header").read_text()
    assert backed_header.startswith("clean=1")
    backed_store = (generation / "neo4j" / "databases" / "neo4j" / "store.db").read_bytes()

    # Change things after the backup: data, a new file, a deleted file, the config.
    new_file = install.structr.data / "files" / "f" / "f" / "f" / "f" / "ffff"
    new_file.parent.mkdir(parents=True)
    new_file.write_bytes(b"written after the backup")
    doomed = next((install.structr.data / "files").rglob("00abab*"))
    doomed.unlink()
    (install.structr.data / "structr.conf").write_text("changed\n")
    time.sleep(0.3)  # the fake Neo4j keeps writing pages

    result = cli(install, "backup", "restore", backup_id, "--yes")
    assert result.code == EXIT_OK, result.err
    assert install.both_running()
    assert not new_file.exists()
    assert doomed.exists()
    conf = install.structr.data / "structr.conf"
    assert conf.read_text().startswith("superuser.password")
    assert oct(conf.stat().st_mode & 0o777) == oct(0o640), "modes come back from the manifest"
    script = install.structr.data / "scripts" / "hello.sh"
    assert script.stat().st_mode & 0o777 == 0o750
    assert (install.structr.data / "scripts" / "latest").readlink() == Path("hello.sh")
    manifest = read_manifest(generation)
    entry = manifest.trees["structr"].files()["structr.conf"]
    assert conf.stat().st_mtime_ns == entry.mtime_ns
    link_entry = manifest.trees["structr"].files()["scripts/latest"]
    link = install.structr.data / "scripts" / "latest"
    assert link.lstat().st_mtime_ns == link_entry.mtime_ns, "symlinks get their timestamps back too"
    # The restored store started from exactly the backed-up bytes: the counter resumes from the backup.
    restored_counter = int(backed_header.split("counter=")[1])
    current = int(install.neo4j.header().split("counter=")[1])
    assert current >= restored_counter
    assert len(backed_store) == 600 * 8192
    # Previous directories are gone after success (no --keep-previous).
    assert not list(install.root.glob("**/.*appsync-previous*"))


def test_restore_keep_previous_and_latest(install: FakeInstall) -> None:
    assert cli(install, "backup").code == EXIT_OK
    (install.structr.data / "structr.conf").write_text("after\n")
    result = cli(install, "backup", "restore", "latest", "--yes", "--keep-previous")
    assert result.code == EXIT_OK, result.err
    kept = list(install.structr.data.parent.glob(".structr.appsync-previous-*"))
    assert len(kept) == 1
    assert (kept[0] / "structr.conf").read_text() == "after\n"
    assert str(kept[0]) in result.out


def test_restore_needs_confirmation(install: FakeInstall) -> None:
    assert cli(install, "backup").code == EXIT_OK
    result = cli(install, "backup", "restore", "latest")
    assert result.code == 5
    assert "--yes" in result.err


def test_backup_files_are_private_and_manifest_has_no_secrets(install: FakeInstall) -> None:
    result = cli(install, "backup", "--json")
    assert result.code == EXIT_OK, result.err
    generation = install.destination / json.loads(result.out)["id"]
    for path in [generation, *generation.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), path
    text = (generation / "manifest.json").read_text()
    assert "s3cret" not in text
    manifest = read_manifest(generation)
    assert manifest.config["service_manager"] == "command"
    assert manifest.downtime_seconds > 0
    assert manifest.files_total > 30
    assert manifest.trees["structr"].files()["structr.conf"].mode == 0o640


def test_dry_run_touches_nothing(install: FakeInstall) -> None:
    result = cli(install, "backup", "--dry-run")
    assert result.code == EXIT_OK, result.err
    assert "stop Structr, then Neo4j" in result.out
    assert "stop Structr" not in result.err  # the plan is printed once, not logged again
    assert not install.destination.exists()


# ----------------------------------------------------------------------------------------------- never live


def test_never_a_live_copy(install: FakeInstall) -> None:
    """A copy taken while the services run is torn (clean=0, store lock on the copy's source held); appsync's
    delta pass reads the data directory only once the store lock is free, and its backup is the shut-down state."""
    live_copy = install.root / "live-copy"
    shutil.copytree(install.neo4j.data, live_copy)
    # Never a clean shutdown state; sometimes even a torn (empty) header, caught mid-write.
    assert not (live_copy / "databases" / "neo4j" / "header").read_text().startswith("clean=1")
    assert storelock.held_locks(install.neo4j.data), "the fake holds its store lock while running"

    reads_while_locked: list[str] = []

    def spy(phase: str, relative: str) -> None:
        if phase == "delta" and relative.startswith("neo4j/") and storelock.held_locks(install.neo4j.data):
            reads_while_locked.append(relative)

    copier.fault_hook = spy
    result = cli(install, "backup", "--json")
    assert result.code == EXIT_OK, result.err
    assert reads_while_locked == []
    generation = install.destination / json.loads(result.out)["id"]
    backed = (generation / "neo4j" / "databases" / "neo4j" / "header").read_text()
    assert backed.startswith("clean=1"), backed
    # The live copy lags behind the shutdown state: same store file, different pages.
    live_store = (live_copy / "databases" / "neo4j" / "store.db").read_bytes()
    cold_store = (generation / "neo4j" / "databases" / "neo4j" / "store.db").read_bytes()
    assert live_store != cold_store


def test_refuses_when_store_lock_stays_held(install: FakeInstall, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second process keeps the store lock although the services say they stopped: no copy is made."""
    monkeypatch.setattr(services, "LOCK_GRACE_SECONDS", 0.5)
    (install.neo4j.data / "databases" / "neo4j" / "database_lock").touch()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import fcntl,os,sys,time;fd=os.open(sys.argv[1],os.O_RDWR);fcntl.lockf(fd,fcntl.LOCK_EX);"
                "print('locked',flush=True);time.sleep(60)"
            ),
            str(install.neo4j.data / "databases" / "neo4j" / "database_lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        result = cli(install, "backup")
    finally:
        holder.kill()
        holder.wait()
    assert_clean_failure(install, result, EXIT_BACKUP, "store lock is still held")


# ----------------------------------------------------------------------------------------------- faults


def test_stop_fails(install: FakeInstall) -> None:
    install.neo4j.stop_flag.touch()
    result = cli(install, "backup")
    assert_clean_failure(install, result, EXIT_BACKUP, "could not stop Neo4j")


def test_structr_does_not_stop(install: FakeInstall) -> None:
    install.structr.stop_flag.touch()
    result = cli(install, "backup")
    assert_clean_failure(install, result, EXIT_BACKUP, "could not stop Structr")


def test_copy_fails_halfway(install: FakeInstall) -> None:
    def broken(phase: str, relative: str) -> None:
        if phase == "delta" and relative.startswith("structr/files"):
            raise OSError(errno.EIO, "Input/output error")

    copier.fault_hook = broken
    result = cli(install, "backup")
    assert_clean_failure(install, result, EXIT_BACKUP, "Input/output error")


def test_disk_full_injected(install: FakeInstall) -> None:
    def full(phase: str, relative: str) -> None:
        if phase == "delta" and relative.startswith("neo4j/databases"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    copier.fault_hook = full
    result = cli(install, "backup")
    assert_clean_failure(install, result, EXIT_BACKUP, "No space left on device")
    assert "destination is full" in result.err


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], check=False)
    return done.returncode == 0


def test_disk_full_on_a_small_filesystem(install: FakeInstall) -> None:
    """A real ENOSPC: the destination is a 12 MiB tmpfs, the pre-pass fits, the downtime copy does not."""
    small = install.root / "small"
    if not _mount_tmpfs(small, "12m"):
        pytest.skip("needs root and tmpfs to mount a small filesystem (the injected ENOSPC test covers the rest)")
    try:
        install.destination = small / "backups"
        install.write_config()
        big = install.structr.data / "files" / "9" / "9" / "9" / "9" / "9999big"

        def grow(phase: str, relative: str) -> None:
            # Services are down now: a large file appears (as if written just before the stop).
            if phase == "delta" and relative == "neo4j/databases" and not big.exists():
                big.parent.mkdir(parents=True, exist_ok=True)
                big.write_bytes(os.urandom(10 * 1024 * 1024))

        copier.fault_hook = grow
        result = cli(install, "backup")
        assert_clean_failure(install, result, EXIT_BACKUP, "No space left on device")
        assert list((small / "backups").iterdir()) == [small / "backups" / ".appsync-backup.lock"]
    finally:
        copier.fault_hook = None
        subprocess.run(["umount", "-l", str(small)], check=False)


def test_start_fails(install: FakeInstall) -> None:
    install.neo4j.start_flag.touch()  # the first start fails, the retry works
    result = cli(install, "backup")
    assert_clean_failure(install, result, EXIT_BACKUP, "Neo4j start failed")
    assert "backup was discarded" in result.err
    assert not (install.destination / ".appsync-stopped.json").exists()


def _pausing(install: FakeInstall, marker: Path, phase: str, prefix: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, str(PAUSING_CLI), str(marker), phase, prefix, "--", "-c", str(install.config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for(path: Path, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"appsync exited early: {process.communicate()}")
        assert time.monotonic() < deadline, "appsync never reached the pause"
        time.sleep(0.05)


def test_sigterm_during_copy(install: FakeInstall) -> None:
    marker = install.root / "paused"
    process = _pausing(install, marker, "delta", "structr/files", "backup")
    _wait_for(marker, process)
    assert not install.structr.running(), "paused in the downtime copy"
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=90)
    assert process.returncode == EXIT_INTERRUPTED, err
    assert "SIGTERM" in err
    assert install.both_running()
    assert leftovers(install) == []


def _kill_backup_in_the_downtime(install: FakeInstall, prefix: str = "structr/files") -> None:
    """SIGKILL an `appsync backup` while it copies with both services stopped."""
    marker = install.root / "paused"
    process = _pausing(install, marker, "delta", prefix, "backup")
    _wait_for(marker, process)
    process.kill()
    process.communicate(timeout=30)
    assert not install.structr.running() and not install.neo4j.running()


def test_sigkill_during_copy_then_next_command_recovers(install: FakeInstall) -> None:
    _kill_backup_in_the_downtime(install)
    state = json.loads((install.destination / ".appsync-stopped.json").read_text())
    assert state["services"] == ["structr", "neo4j"]
    assert state["operation"] == "backup"

    result = cli(install, "backup", "list")
    assert result.code == EXIT_OK, result.err
    assert "found services stopped by an interrupted appsync backup" in result.err
    assert "started Neo4j, Structr" in result.err
    assert install.both_running()
    assert "no backups" in result.out
    assert not (install.destination / ".appsync-stopped.json").exists()
    # The staging directory of the killed run is gone too.
    assert leftovers(install) == []


def test_sigkill_during_copy_then_any_other_command_restarts_the_services(install: FakeInstall) -> None:
    _kill_backup_in_the_downtime(install)

    # `appsync log` has nothing to do with backups (and fails here: no git repository), yet the CLI boundary
    # notices the state file and brings the services back before running it.
    result = cli(install, "log")
    assert "started Neo4j, Structr" in result.err
    assert install.both_running()
    assert not (install.destination / ".appsync-stopped.json").exists()


def test_backup_recover_explicitly(install: FakeInstall) -> None:
    _kill_backup_in_the_downtime(install, "neo4j/")
    result = cli(install, "backup", "recover")
    assert result.code == EXIT_OK, result.err
    assert "started Neo4j, Structr" in result.out
    assert install.both_running()
    again = cli(install, "backup", "recover")
    assert "nothing to recover" in again.out


def test_recover_leaves_a_live_backup_alone(install: FakeInstall) -> None:
    from structr_appsync.backup import recover_stopped_services
    from structr_appsync.config import load_config

    marker = install.root / "paused"
    process = _pausing(install, marker, "delta", "structr/files", "backup")
    try:
        _wait_for(marker, process)
        assert recover_stopped_services(load_config(install.config)) == []
        assert not install.structr.running(), "a live backup keeps its services stopped"
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=90)
    assert install.both_running()


def test_sigterm_during_prepass_never_stops_services(install: FakeInstall) -> None:
    marker = install.root / "paused"
    process = _pausing(install, marker, "prepass", "structr/", "backup")
    _wait_for(marker, process)
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == EXIT_INTERRUPTED, err
    assert "Stopping" not in err
    assert install.both_running()
    assert leftovers(install) == []


# ----------------------------------------------------------------------------------------------- restore faults


def test_failed_restore_puts_previous_state_back(install: FakeInstall) -> None:
    assert cli(install, "backup").code == EXIT_OK
    (install.neo4j.data / "marker").write_text("v2\n")
    (install.structr.data / "structr.conf").write_text("current\n")
    (install.neo4j.run / "bad_markers").write_text("v1\n")  # the service cannot open the backed-up data

    result = cli(install, "backup", "restore", "latest", "--yes")
    assert result.code == EXIT_BACKUP, result.err
    assert "previous state is back and running" in result.err
    assert install.both_running()
    assert (install.neo4j.data / "marker").read_text() == "v2\n"
    assert (install.structr.data / "structr.conf").read_text() == "current\n"
    assert not (install.destination / ".appsync-stopped.json").exists()
    assert not list(install.root.glob("**/.*appsync-*restore*"))


def test_restore_refuses_a_corrupt_backup(install: FakeInstall) -> None:
    result = cli(install, "backup", "--json")
    generation = install.destination / json.loads(result.out)["id"]
    target = generation / "structr" / "structr.conf"
    data = bytearray(target.read_bytes())
    data[3] ^= 0x01
    target.write_bytes(bytes(data))
    (install.structr.data / "structr.conf").write_text("current\n")
    result = cli(install, "backup", "restore", "latest", "--yes")
    assert result.code == EXIT_BACKUP
    assert "fails verification" in result.err
    assert (install.structr.data / "structr.conf").read_text() == "current\n"
    assert install.both_running()


# ----------------------------------------------------------------------------------------------- verify, list, prune


def test_verify_catches_a_flipped_byte_missing_and_extra(install: FakeInstall) -> None:
    result = cli(install, "backup", "--json")
    backup_id = json.loads(result.out)["id"]
    ok = cli(install, "backup", "verify", backup_id)
    assert ok.code == EXIT_OK, ok.out
    assert "OK" in ok.out
    # verify counts files as the backup did (folders and links apart)
    assert f"({json.loads(result.out)['files_total']} files and " in ok.out

    generation = install.destination / backup_id
    store = generation / "neo4j" / "databases" / "neo4j" / "store.db"
    with store.open("r+b") as handle:
        handle.seek(123_456)
        byte = handle.read(1)
        handle.seek(123_456)
        handle.write(bytes([byte[0] ^ 0x40]))
    victim = next((generation / "structr" / "files").rglob("01abab*"))
    victim.unlink()
    (generation / "structr" / "intruder").write_text("x")

    bad = cli(install, "backup", "verify", backup_id, "--json")
    assert bad.code == EXIT_FAILED
    report = json.loads(bad.out)
    assert report["changed"] == ["neo4j/databases/neo4j/store.db"]
    assert report["missing"] == [f"structr/{victim.relative_to(generation / 'structr')}"]
    assert report["extra"] == ["structr/intruder"]


def test_generations_share_unchanged_files(install: FakeInstall) -> None:
    first = json.loads(cli(install, "backup", "--json").out)
    second = json.loads(cli(install, "backup", "--json").out)
    one, two = install.destination / first["id"], install.destination / second["id"]
    for path in (one / "structr" / "files").rglob("*"):
        if path.is_file():
            twin = two / path.relative_to(one)
            assert path.stat().st_ino == twin.stat().st_ino, f"{twin} should be a hard link"
    assert second["bytes_new"] < first["bytes_new"]
    # Verify still passes on both (a hard link is fine).
    assert cli(install, "backup", "verify", first["id"]).code == EXIT_OK
    assert cli(install, "backup", "verify", second["id"]).code == EXIT_OK


def test_block_delta_writes_only_changed_pages(install: FakeInstall) -> None:
    install.stop()
    store = install.neo4j.data / "databases" / "neo4j" / "store.db"
    with store.open("r+b") as handle:
        handle.truncate(1200 * 8192)  # 9.4 MiB: above the block-delta threshold
    install.start()
    result = cli(install, "backup", "--json")
    assert result.code == EXIT_OK, result.err
    outcome = json.loads(result.out)
    # The fake writes a few pages while the pre-pass runs; only those pages (plus small files) are written
    # while the services are down, not the 9.4 MiB store.
    assert outcome["bytes_copied_during_downtime"] < 1200 * 8192 // 2, outcome


def test_prune_dry_run_prints_the_plan(install: FakeInstall) -> None:
    ids = [json.loads(cli(install, "backup", "--json").out)["id"] for _ in range(3)]
    install.write_config(prune_after_backup=False)
    config = install.config.read_text().replace(
        "keep_last = 20", "keep_last = 1\nkeep_daily = 0\nkeep_weekly = 0\nkeep_monthly = 0"
    )
    install.config.write_text(config)
    plan = cli(install, "backup", "prune", "--dry-run")
    assert plan.code == EXIT_OK, plan.err
    assert f"keep         {ids[-1]}" in plan.out
    assert f"would prune  {ids[0]}" in plan.out
    assert listed(install) == ids
    done = cli(install, "backup", "prune", "--json")
    assert done.code == EXIT_OK
    assert listed(install) == ids[-1:]
    assert sorted(p.name for p in install.destination.iterdir() if not p.name.startswith(".")) == ids[-1:]


def test_no_pruning_after_a_failed_backup(install: FakeInstall) -> None:
    ids = [json.loads(cli(install, "backup", "--json").out)["id"] for _ in range(2)]
    config = install.config.read_text().replace(
        "keep_last = 20", "keep_last = 1\nkeep_daily = 0\nkeep_weekly = 0\nkeep_monthly = 0"
    )
    install.config.write_text(config)
    install.neo4j.stop_flag.touch()
    assert cli(install, "backup").code == EXIT_BACKUP
    assert listed(install) == ids


# ----------------------------------------------------------------------------------------------- snapshot, reflink


def test_snapshot_command_is_used_during_the_downtime(install: FakeInstall) -> None:
    released = install.root / "released"
    install.write_config(
        snapshot_command='cp -a "$APPSYNC_NEO4J_DATA" "$APPSYNC_SNAPSHOT_DIR/neo4j" && '
        'cp -a "$APPSYNC_STRUCTR_DIR" "$APPSYNC_SNAPSHOT_DIR/structr"',
        snapshot_release_command=f"touch {released}",
    )
    result = cli(install, "backup", "--json")
    assert result.code == EXIT_OK, result.err
    outcome = json.loads(result.out)
    assert outcome["method"] == "snapshot"
    assert released.exists()
    generation = install.destination / outcome["id"]
    assert (generation / "neo4j" / "databases" / "neo4j" / "header").read_text().startswith("clean=1")
    assert not (generation / ".snapshot").exists()
    assert cli(install, "backup", "verify", outcome["id"]).code == EXIT_OK


def test_failing_snapshot_command_restarts_services(install: FakeInstall) -> None:
    install.write_config(snapshot_command="echo 'lvcreate: volume group full' >&2; exit 5")
    result = cli(install, "backup")
    assert_clean_failure(install, result, EXIT_BACKUP, "the snapshot command failed")
    assert "volume group full" in result.err


def test_reflink_clones_replace_copies_when_the_filesystem_can(
    install: FakeInstall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stand-in for btrfs/XFS: a clone that is a plain copy, reported as a successful FICLONE."""
    cloned: list[str] = []

    def fake_clone(self: copier.Cloner, source: Path, target: Path) -> bool:
        shutil.copyfile(source, target)
        target.chmod(0o600)
        cloned.append(source.name)
        self.supported = True
        return True

    monkeypatch.setattr(copier.Cloner, "clone", fake_clone)
    result = cli(install, "backup", "--json")
    assert result.code == EXIT_OK, result.err
    outcome = json.loads(result.out)
    assert outcome["method"] == "reflink"
    assert outcome["bytes_copied_during_downtime"] < 100, "changed files are cloned, not copied (a symlink is)"
    assert "store.db" in cloned
    assert cli(install, "backup", "verify", outcome["id"]).code == EXIT_OK


def test_never_two_backups_nor_a_backup_and_a_restore(install: FakeInstall) -> None:
    assert cli(install, "backup").code == EXIT_OK
    install.config.write_text("lock_timeout = 0.3\n" + install.config.read_text())
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import fcntl, sys; f = open(sys.argv[1], 'a+'); fcntl.flock(f, fcntl.LOCK_EX);"
                " print('locked', flush=True); sys.stdin.read()"
            ),
            str(install.destination / ".appsync-backup.lock"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        for args in (("backup",), ("backup", "restore", "latest", "--yes"), ("backup", "prune")):
            result = cli(install, *args)
            assert result.code == 6, (args, result.err)
            assert "busy with a backup or restore" in result.err
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert install.both_running()
    assert len(listed(install)) == 1


def test_monitoring_pings_start_success_and_failure(install: FakeInstall) -> None:
    import http.server
    import threading

    pings: list[tuple[str, str]] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            pings.append((self.path, body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/ping"
    with install.config.open("a") as handle:
        handle.write(
            f'[env.test.backup.monitoring]\nstart_url = "{base}/start"\nsuccess_url = "{base}"\n'
            f'failure_url = "{base}/fail"\n'
        )
    try:
        assert cli(install, "backup").code == EXIT_OK
        install.neo4j.stop_flag.touch()
        assert cli(install, "backup").code == EXIT_BACKUP
    finally:
        server.shutdown()
        server.server_close()
    assert [path for path, _ in pings] == ["/ping/start", "/ping", "/ping/start", "/ping/fail"]
    assert "downtime" in pings[1][1]
    assert "could not stop Neo4j" in pings[3][1]


def test_recover_on_startup_for_the_cli_boundary(install: FakeInstall) -> None:
    from structr_appsync.backup import recover_on_startup

    marker = install.root / "paused"
    process = _pausing(install, marker, "delta", "neo4j/", "backup")
    _wait_for(marker, process)
    process.kill()
    process.communicate(timeout=30)
    messages = recover_on_startup(install.config)
    assert len(messages) == 1
    assert "started Neo4j, Structr" in messages[0]
    assert install.both_running()
    assert recover_on_startup(install.config) == []


@pytest.fixture
def xfs_root(tmp_path: Path) -> Iterator[Path]:
    """A small XFS filesystem with reflinks, loop-mounted (needs root, mkfs.xfs and a loop device)."""
    if os.geteuid() != 0 or shutil.which("mkfs.xfs") is None:
        pytest.skip("needs root and mkfs.xfs (xfsprogs) to loop-mount an XFS with reflinks")
    image, mount_point = tmp_path / "xfs.img", tmp_path / "xfs"
    mount_point.mkdir()
    with image.open("wb") as handle:
        handle.truncate(320 * 1024 * 1024)
    subprocess.run(["mkfs.xfs", "-q", "-m", "reflink=1", str(image)], check=True)
    if subprocess.run(["mount", "-o", "loop", str(image), str(mount_point)], check=False).returncode != 0:
        pytest.skip("cannot loop-mount here")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_reflinks_on_a_real_xfs(xfs_root: Path) -> None:
    fake = make_install(xfs_root / "install", neo4j_pages=2000)
    fake.start()
    try:
        first = cli(fake, "backup", "--json")
        assert first.code == EXIT_OK, first.err
        outcome = json.loads(first.out)
        assert outcome["method"] == "reflink"
        assert outcome["bytes_copied_during_downtime"] < 100, "changed files are cloned (FICLONE), not copied"
        assert cli(fake, "backup", "verify", outcome["id"]).code == EXIT_OK
        generation = fake.destination / outcome["id"]
        assert (generation / "neo4j" / "databases" / "neo4j" / "header").read_text().startswith("clean=1")
    finally:
        fake.stop()
