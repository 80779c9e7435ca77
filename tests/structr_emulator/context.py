"""Process-wide context shared by the request handlers: store, version, faults, deployment guard."""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field

from tests.structr_emulator.faults import Faults
from tests.structr_emulator.store import Journal, Store

DEFAULT_BUILDS = {"6.1.0": "e3f1a 202601291042", "5.2.1": "9b4c2 202502181530"}
SUPERUSER_NAME = "superadmin"


@dataclass
class Context:
    """Everything a handler needs; one instance per emulator process."""

    store: Store
    journal: Journal
    version: str
    build: str
    superuser_password: str | None
    log: logging.Logger
    faults: Faults = field(default_factory=Faults)
    deploy_delay: float = 0.0
    deploy_servlet: bool = True  # False: /structr/deploy is not mounted (real-5.2.1 transcript: Jetty's 404)
    sessions: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    deployment_guard: threading.Lock = field(default_factory=threading.Lock)
    deployment_active: bool = False

    @property
    def is_v5(self) -> bool:
        return self.version.startswith("5.")

    @property
    def full_version(self) -> str:
        """VersionHelper.getFullVersionInfo(): "<version> <build> <timestamp>"."""
        return f"{self.version} {self.build}"

    def rng(self) -> random.Random | None:
        """A random source when the `shuffle_order` switch is on (grantees/allowed/data order noise)."""
        return random.Random() if self.faults.shuffle_order else None

    def try_begin_deployment(self) -> bool:
        with self.deployment_guard:
            if self.deployment_active:
                return False
            self.deployment_active = True
            return True

    def end_deployment(self) -> None:
        with self.deployment_guard:
            self.deployment_active = False
