"""A destination others can write into, directories appsync did not create, disks that fill (issue 11)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from structr_appsync.errors import EXIT_OK, EXIT_REFUSED
from tests.backup_support.install import FakeInstall, make_install
from tests.helpers import run_cli


@pytest.fixture
def install(tmp_path: Path) -> Iterator[FakeInstall]:
    fake = make_install(tmp_path, neo4j_pages=64)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def cli(install: FakeInstall, *args: str):  # type: ignore[no-untyped-def]
    return run_cli("-c", str(install.config), *args)


# ----------------------------------------------------------------------------------------------- planted symlinks


def test_a_symlink_planted_as_the_state_files_temporary_is_not_followed(install: FakeInstall) -> None:
    victim = install.root / "etc-shadow"
    victim.write_text("root:precious\n")
    install.destination.mkdir(mode=0o700)
    (install.destination / ".appsync-stopped.json.tmp").symlink_to(victim)
    result = cli(install, "backup", "--json")
    assert result.code == EXIT_OK, result.err
    assert victim.read_text() == "root:precious\n"
    assert install.both_running()


def test_a_symlink_planted_as_the_manifests_temporary_is_not_followed(tmp_path: Path) -> None:
    from structr_appsync.backup.manifest import create_private

    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    planted = tmp_path / ".manifest.json.tmp"
    planted.symlink_to(victim)
    fd = create_private(planted)
    try:
        os.write(fd, b"new")
    finally:
        os.close(fd)
    assert victim.read_text() == "keep\n"
    assert not planted.is_symlink()
    assert planted.read_bytes() == b"new"


def test_a_symlink_planted_as_the_lock_file_is_refused(install: FakeInstall) -> None:
    victim = install.root / "created-through-the-link"
    install.destination.mkdir(mode=0o700)
    (install.destination / ".appsync-backup.lock").symlink_to(victim)
    result = cli(install, "backup")
    assert result.code == EXIT_REFUSED, result.err
    assert "symbolic link" in result.err
    assert not victim.exists()
    assert install.both_running()
    assert json.loads(cli(install, "backup", "list", "--json").out) == []
