"""pytest fixtures: `emulator`, `emulator_factory`, `meetdown_emulator` (registered via tests/conftest.py)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.paths import FIXTURES
from tests.structr_emulator.harness import Emulator, running_emulator

EmulatorFactory = Callable[..., Emulator]


@pytest.fixture
def emulator_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorFactory]:
    """Call with optional data_dir= and Emulator options; every emulator made is stopped at teardown."""
    made: list[Emulator] = []

    def make(data_dir: Path | None = None, **options: Any) -> Emulator:
        emulator = Emulator(data_dir or tmp_path_factory.mktemp("structr-data"), **options)
        made.append(emulator)
        emulator.start()
        return emulator

    yield make
    for emulator in made:
        emulator.stop()


@pytest.fixture
def emulator(emulator_factory: EmulatorFactory) -> Emulator:
    """A fresh emulator (6.1.0, admin/admin), stopped after the test."""
    return emulator_factory()


@pytest.fixture(scope="session")
def _meetdown_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stopped emulator's data directory with meetdown imported once per session (copied per test)."""
    data_dir = tmp_path_factory.mktemp("meetdown-template") / "data"
    with running_emulator(data_dir) as emulator:
        emulator.import_dir(FIXTURES / "meetdown")
    (data_dir / "logs" / "server.log").unlink()
    return data_dir


@pytest.fixture
def meetdown_emulator(
    emulator_factory: EmulatorFactory, _meetdown_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Emulator:
    """A fresh emulator with the meetdown fixture imported (a cold copy of a data dir that imported it)."""
    data_dir = tmp_path_factory.mktemp("structr-data") / "data"
    shutil.copytree(_meetdown_data_dir, data_dir, ignore=shutil.ignore_patterns("store_lock"))
    return emulator_factory(data_dir)
