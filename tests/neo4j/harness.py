"""A real Neo4j 5.26 Community server for the test suite (no Docker).

What runs
---------
``tests/neo4j/provision.sh`` copies ``org.neo4j:neo4j`` and its runtime dependencies from Maven
Central into ``$APPSYNC_NEO4J_HOME/neo4j-<version>/lib`` (default ``~/.cache/appsync-neo4j``).
A server is ``java -cp '<lib>/*' org.neo4j.server.CommunityEntryPoint``: the same bootstrapper the
``neo4j console`` script starts, reading a generated ``neo4j.conf``. It keeps a real record store
under ``<data>/databases/<db>/`` and transaction logs under ``<data>/transactions/<db>/``, listens
for Bolt on 127.0.0.1 only (HTTP/HTTPS off, server-side routing off, usage reporting off, auth
off), and on SIGTERM runs its shutdown hook: checkpoint, close the stores, release the locks.

An *instance dir* holds everything of one server::

    instance.json          settings, so ``ctl.py`` can manage the server from another process
    conf/neo4j.conf        generated
    data/                  Neo4j's data directory (server.directories.data): what a backup copies
    logs/                  neo4j.log, debug.log, console.log (stdout/stderr of the JVM)
    run/appsync-neo4j.pid  pid of the JVM while it runs (written by this module)

The store lock (verified on Neo4j 5.26.30, Linux, via /proc/locks)
------------------------------------------------------------------
* File: ``<data>/databases/store_lock`` -- the DBMS-wide lock, taken before any database opens
  and held until the JVM has shut down. Each database also locks
  ``<data>/databases/<name>/database_lock``, and the page cache locks every store file it maps.
* Kind: ``FileChannel.tryLock()``, i.e. a POSIX record lock (``fcntl(F_SETLK)``, ``F_WRLCK``,
  whole file). /proc/locks shows ``POSIX ADVISORY WRITE <pid> ... 0 EOF``.
* Check it with ``fcntl(F_GETLK)`` (see :func:`store_lock_holder`, takes nothing) or with
  ``fcntl.lockf(fd, LOCK_EX | LOCK_NB)`` on an ``O_RDWR`` descriptor and release it at once.
  NEVER with ``fcntl.flock()``: on Linux flock(2) locks and POSIX locks do not see each other, so
  flock succeeds while Neo4j runs.
* POSIX locks belong to a process: closing *any* descriptor of that file in the checking process
  drops that process's lock. And while a checker holds the lock, Neo4j refuses to start
  ("Lock file has been locked by another process").

Processes
---------
The JVM is launched detached (its own session, parent ``sh`` exits at once), so it outlives the
Python process that started it and never becomes that process's child. PID 1 on these machines
does not reap orphans, so a dead server can linger as a zombie: liveness checks here treat a
zombie as gone -- but only once /proc/<pid>/task shows no other threads. Measured: after SIGKILL
the JVM's main thread is a zombie within 5 ms while the store lock stays held for ~45 ms more, as
the other threads exit; after SIGTERM Neo4j releases the lock itself before exiting. stop() and
kill() therefore return only when the store lock is free.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import psutil  # type: ignore[import-untyped]

logger = logging.getLogger(__name__)

# tests/conftest.py points HOME at a temp dir and drops APPSYNC_* for every test, so the settings
# that locate the cache (and ~/.m2 for provisioning) are read once, when this module is imported.
_ENV_KEYS = ("HOME", "APPSYNC_NEO4J_HOME", "APPSYNC_NEO4J_VERSION", "APPSYNC_NEO4J_JAVA", "JAVA_HOME")
_ENV_AT_IMPORT = {key: os.environ[key] for key in _ENV_KEYS if key in os.environ}
_NO_PROVISION = os.environ.get("APPSYNC_NEO4J_NO_PROVISION") == "1"
# In CI (CI=true) a missing Neo4j fails the tests that need it instead of skipping them.
REQUIRE_NEO4J = os.environ.get("APPSYNC_REQUIRE_NEO4J") == "1" or os.environ.get("CI") == "true"

NEO4J_VERSION = _ENV_AT_IMPORT.get("APPSYNC_NEO4J_VERSION", "5.26.30")
ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
PROVISION_SCRIPT = Path(__file__).resolve().with_name("provision.sh")
CTL_SCRIPT = Path(__file__).resolve().with_name("ctl.py")
PID_FILE_NAME = "appsync-neo4j.pid"
INSTANCE_FILE_NAME = "instance.json"
DEFAULT_HEAP = "512m"
DEFAULT_PAGECACHE = "64m"
DEFAULT_START_TIMEOUT = 120.0
DEFAULT_STOP_TIMEOUT = 120.0
_INSTANCE_MARKER = "-Dappsync.neo4j.instance="
# Bolt's shutdown otherwise idles 2 x 5 s after the checkpoint is already done
QUICK_BOLT_SHUTDOWN = {
    "internal.dbms.bolt.netty_server_shutdown_quiet_period": "0",
    "internal.server.bolt.connection_shutdown_wait_time": "0s",
}

_provision_lock = threading.Lock()
_provision_result: tuple[bool, str] | None = None
_archive_tried = False
_launched: set[Path] = set()


class Neo4jHarnessError(RuntimeError):
    """The test Neo4j server could not be provisioned, started or stopped."""


# --------------------------------------------------------------------------- provisioning


def cache_root() -> Path:
    """Root of the provisioned distributions (``$APPSYNC_NEO4J_HOME`` as it was at import)."""
    env = _ENV_AT_IMPORT.get("APPSYNC_NEO4J_HOME")
    if env:
        return Path(env)
    home = _ENV_AT_IMPORT.get("HOME")
    return (Path(home) if home else Path.home()) / ".cache" / "appsync-neo4j"


def distribution_dir(version: str = NEO4J_VERSION) -> Path:
    return cache_root() / f"neo4j-{version}"


def lib_dir(version: str = NEO4J_VERSION) -> Path:
    return distribution_dir(version) / "lib"


def is_provisioned(version: str = NEO4J_VERSION) -> bool:
    dist = distribution_dir(version)
    return (dist / "READY").is_file() and (dist / "lib" / f"neo4j-{version}.jar").is_file()


def java_major(java: str) -> int | None:
    """Feature version of a java binary (17, 21, ...) or None when it does not run."""
    try:
        out = subprocess.run(
            [java, "-XshowSettings:properties", "-version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.stderr.splitlines():
        key, _, value = line.strip().partition(" = ")
        if key == "java.specification.version":
            with contextlib.suppress(ValueError):
                return int(value.split(".")[0])
    return None


_java_cache: dict[str, str | None] = {}


def find_java(version: str = NEO4J_VERSION) -> str | None:
    """The java binary for Neo4j: $APPSYNC_NEO4J_JAVA, the one provision.sh chose, or PATH's."""
    if version not in _java_cache:
        _java_cache[version] = _find_java(version)
    return _java_cache[version]


def _find_java(version: str) -> str | None:
    candidates: list[str] = []
    env = _ENV_AT_IMPORT.get("APPSYNC_NEO4J_JAVA")
    if env:
        candidates.append(env)
    recorded = distribution_dir(version) / "java"
    if recorded.is_file():
        candidates.append(recorded.read_text(encoding="utf-8").strip())
    java_home = _ENV_AT_IMPORT.get("JAVA_HOME")
    if java_home:
        candidates.append(str(Path(java_home) / "bin" / "java"))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(on_path)
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK) and java_major(candidate) in (17, 21):
            return candidate
    return None


def provision(version: str = NEO4J_VERSION, *, visible: bool = False) -> tuple[bool, str]:
    """Run provision.sh (idempotent); returns (ok, its last message). ``visible``: its progress goes to stderr."""
    global _provision_result
    env = dict(os.environ, **_ENV_AT_IMPORT)
    env.update(APPSYNC_NEO4J_VERSION=version, APPSYNC_NEO4J_HOME=str(cache_root()))
    try:
        out = subprocess.run(
            ["bash", str(PROVISION_SCRIPT)],
            stdout=subprocess.PIPE,
            stderr=None if visible else subprocess.STDOUT,
            text=True,
            env=env,
            timeout=900,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"provision.sh failed to run: {exc}"
    lines = (out.stdout or "").strip().splitlines()
    message = lines[-1] if lines else f"exit {out.returncode}"
    if visible:
        _provision_result = (out.returncode == 0, message)
    return out.returncode == 0, message


def neo4j_available(auto_provision: bool = True) -> tuple[bool, str]:
    """Whether a test Neo4j server can run here; the reason when not.

    When the jars are missing but Java and Maven are present, provision.sh is run once per
    process (set APPSYNC_NEO4J_NO_PROVISION=1 to forbid that)."""
    global _provision_result
    if _NO_PROVISION:
        auto_provision = False
    if not is_provisioned():
        if not auto_provision:
            return False, (f"Neo4j {NEO4J_VERSION} is not provisioned in {distribution_dir()}; run {PROVISION_SCRIPT}")
        with _provision_lock:
            if _provision_result is None:
                _provision_result = provision()
        ok, message = _provision_result
        if not ok:
            return False, f"Neo4j not available: {message}"
    if find_java() is None:
        return False, "no Java 17 or 21 found for Neo4j 5.26 (set APPSYNC_NEO4J_JAVA or JAVA_HOME)"
    with _provision_lock:
        global _archive_tried
        if not _archive_tried:
            _archive_tried = True
            ensure_class_archive()
    return True, f"Neo4j {NEO4J_VERSION} in {distribution_dir()}"


def class_archive_path(java: str, version: str = NEO4J_VERSION) -> Path:
    """Where the AppCDS archive (Neo4j's classes, pre-parsed) for this java binary lives."""
    key = hashlib.sha256(os.path.realpath(java).encode()).hexdigest()[:12]
    return distribution_dir(version) / f"classes-{key}.jsa"


def ensure_class_archive(timeout: float = 600.0) -> Path | None:
    """Build the class archive once per java (about 30 s): later starts take about a third less.

    A training server starts with -XX:ArchiveClassesAtExit, runs a few queries and stops; the JVM
    writes the archive on exit. Servers use it when present (-Xshare:auto ignores a stale one).
    Returns None when it could not be built; servers then simply start without it."""
    java = find_java()
    if java is None or not is_provisioned():
        return None
    archive = class_archive_path(java)
    if archive.is_file():
        return archive
    dist = distribution_dir()
    with (dist / ".archive.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # between our own processes only; not a Neo4j lock
        if archive.is_file():
            return archive
        with tempfile.TemporaryDirectory(prefix=".train-", dir=dist) as tmp:
            dump = Path(tmp) / "classes.jsa"
            server = Neo4jServer(Path(tmp) / "instance", java=java, class_archive=None, dump_archive=dump)
            try:
                server.start(timeout=timeout)
                write_nodes(server.bolt_uri, 100)
                count_nodes(server.bolt_uri, "Item")
                server.stop(timeout=timeout)
            except Exception as exc:  # the archive is only an optimisation; never fail a test run over it
                logger.warning("no class archive for Neo4j: %s", exc)
                server.kill()
                return None
            if not dump.is_file():
                logger.warning("no class archive for Neo4j: the JVM wrote none\n%s", server.log_tail())
                return None
            os.replace(dump, archive)
    logger.info("built Neo4j class archive %s", archive)
    return archive


# --------------------------------------------------------------------------- small helpers


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bolt_ready(host: str, port: int, timeout: float = 2.0) -> bool:
    """True when a Bolt server at host:port completes the version handshake."""
    proposals = b"\x60\x60\xb0\x17" + b"\x00\x08\x08\x05" + b"\x00\x00\x04\x04" + b"\x00" * 8
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(proposals)
            reply = b""
            while len(reply) < 4:
                chunk = sock.recv(4 - len(reply))
                if not chunk:
                    return False
                reply += chunk
    except OSError:
        return False
    return reply != b"\x00\x00\x00\x00"


def store_lock_path(data_dir: Path) -> Path:
    """The DBMS store lock of a Neo4j 5 data directory."""
    return Path(data_dir) / "databases" / "store_lock"


def store_lock_holder(lock_file: Path) -> int | None:
    """Pid of the process holding a POSIX lock on lock_file, or None when it is free (or absent).

    Uses fcntl(F_GETLK), which only asks and takes nothing. Outside Linux it falls back to a
    lockf() attempt and returns -1 for "held by someone"."""
    try:
        fd = os.open(lock_file, os.O_RDONLY if sys.platform == "linux" else os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        if sys.platform == "linux":
            # struct flock on Linux: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid
            query = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0) + b"\x00" * 4
            answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
            l_type, _whence, _start, _len, l_pid = struct.unpack("hhqqi", answer[:28])
            if l_type == fcntl.F_UNLCK:
                return None
            return int(l_pid)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return -1
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def store_lock_is_free(lock_file: Path) -> bool:
    """True when no process holds Neo4j's POSIX lock on lock_file (an absent file is free)."""
    return store_lock_holder(lock_file) is None


def _alive(pid: int) -> bool:
    """True while the process exists and has not finished exiting; False for none or a zombie.

    A multi-threaded process (the JVM) is not done when its main thread is a zombie: its other
    threads may still be exiting, and its files -- with Neo4j's locks -- are closed only when
    the last one is gone. So a zombie leader with threads left in /proc/<pid>/task is alive."""
    try:
        if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
            return True
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    try:
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except OSError:
        return False


# --------------------------------------------------------------------------- the server


class Neo4jServer:
    """One Neo4j server with its own instance dir, data dir and Bolt port on 127.0.0.1."""

    def __init__(
        self,
        instance_dir: Path,
        *,
        bolt_port: int | None = None,
        data_dir: Path | None = None,
        heap: str = DEFAULT_HEAP,
        pagecache: str = DEFAULT_PAGECACHE,
        java: str | None = None,
        lib: Path | None = None,
        jvm_args: tuple[str, ...] = (),
        class_archive: Path | bool | None = True,
        dump_archive: Path | None = None,
        write: bool = True,
        quick_bolt_shutdown: bool = True,
        extra_settings: dict[str, str] | None = None,
    ) -> None:
        """class_archive: True uses the archive of ensure_class_archive() if it exists, a path
        uses that one, None uses none. dump_archive: write one at exit (training only).
        write: create the instance dir, conf and an empty data dir now (open() passes False).
        quick_bolt_shutdown: write the settings that take Bolt's idle quiet period out of the stop
        (QUICK_BOLT_SHUTDOWN); False leaves Neo4j's defaults, as a stock install has them.
        extra_settings: more neo4j.conf lines (they win over the generated ones)."""
        self.instance_dir = Path(instance_dir).resolve()
        self.data_dir = Path(data_dir).resolve() if data_dir else self.instance_dir / "data"
        self.bolt_port = bolt_port if bolt_port is not None else free_port()
        self.heap = heap
        self.pagecache = pagecache
        self.java = java or find_java() or "java"
        self.lib = Path(lib) if lib else lib_dir()
        self.jvm_args = tuple(jvm_args)
        if class_archive is True:
            class_archive = class_archive_path(self.java)
        self.class_archive = class_archive if isinstance(class_archive, Path) else None
        self.dump_archive = dump_archive
        self.quick_bolt_shutdown = quick_bolt_shutdown
        self.extra_settings = dict(extra_settings or {})
        if write:
            self._write_files()
            self.data_dir.mkdir(parents=True, exist_ok=True)

    # ---- layout

    @classmethod
    def open(cls, instance_dir: Path) -> Neo4jServer:
        """The server described by an existing instance dir (as written by the constructor)."""
        path = Path(instance_dir) / INSTANCE_FILE_NAME
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise Neo4jHarnessError(f"{path} is missing: not a Neo4j test instance") from exc
        return cls(
            Path(instance_dir),
            bolt_port=int(spec["bolt_port"]),
            data_dir=Path(spec["data_dir"]),
            heap=str(spec["heap"]),
            pagecache=str(spec["pagecache"]),
            java=str(spec["java"]),
            lib=Path(spec["lib"]),
            jvm_args=tuple(spec.get("jvm_args", ())),
            class_archive=Path(spec["class_archive"]) if spec.get("class_archive") else None,
            write=False,
            quick_bolt_shutdown=bool(spec.get("quick_bolt_shutdown", True)),
            extra_settings=dict(spec.get("extra_settings", {})),
        )

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def bolt_uri(self) -> str:
        return f"bolt://{self.host}:{self.bolt_port}"

    @property
    def conf_dir(self) -> Path:
        return self.instance_dir / "conf"

    @property
    def logs_dir(self) -> Path:
        return self.instance_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.instance_dir / "run"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / PID_FILE_NAME

    @property
    def conf_path(self) -> Path:
        return self.conf_dir / "neo4j.conf"

    @property
    def console_log(self) -> Path:
        return self.logs_dir / "console.log"

    @property
    def store_lock_path(self) -> Path:
        """``<data>/databases/store_lock``: POSIX-locked (fcntl) by Neo4j while it runs."""
        return store_lock_path(self.data_dir)

    def _config_text(self) -> str:
        settings = {
            "server.directories.data": str(self.data_dir),
            "server.directories.logs": str(self.logs_dir),
            "server.directories.run": str(self.run_dir),
            "server.default_listen_address": self.host,
            "server.default_advertised_address": self.host,
            "server.bolt.enabled": "true",
            "server.bolt.listen_address": f"{self.host}:{self.bolt_port}",
            "server.bolt.advertised_address": f"{self.host}:{self.bolt_port}",
            "server.http.enabled": "false",
            "server.https.enabled": "false",
            "dbms.routing.enabled": "false",
            "dbms.security.auth_enabled": "false",
            "dbms.usage_report.enabled": "false",
            "server.memory.pagecache.size": self.pagecache,
            # tx logs would otherwise be preallocated at 256 MiB each: slow copies, full disks
            "db.tx_log.preallocate": "false",
        }
        if self.quick_bolt_shutdown:
            settings.update(QUICK_BOLT_SHUTDOWN)
        settings.update(self.extra_settings)
        lines = ["# Generated by tests/neo4j/harness.py; rewritten on every construction."]
        lines += [f"{key}={value}" for key, value in settings.items()]
        return "\n".join(lines) + "\n"

    def _write_files(self) -> None:
        # Never creates the data dir here: a restore may have moved it aside for a moment, and an
        # empty dir in its place would change what a rename does. Neo4j creates it if missing.
        for directory in (self.conf_dir, self.logs_dir, self.run_dir):
            directory.mkdir(parents=True, exist_ok=True)
        (self.conf_dir / "neo4j.conf").write_text(self._config_text(), encoding="utf-8")
        spec = {
            "bolt_port": self.bolt_port,
            "data_dir": str(self.data_dir),
            "heap": self.heap,
            "pagecache": self.pagecache,
            "java": self.java,
            "lib": str(self.lib),
            "jvm_args": list(self.jvm_args),
            "class_archive": str(self.class_archive) if self.class_archive else None,
            "quick_bolt_shutdown": self.quick_bolt_shutdown,
            "extra_settings": self.extra_settings,
            "version": NEO4J_VERSION,
        }
        (self.instance_dir / INSTANCE_FILE_NAME).write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")

    def java_command(self) -> list[str]:
        share: list[str] = []
        if self.dump_archive is not None:
            share = [f"-XX:ArchiveClassesAtExit={self.dump_archive}"]
        elif self.class_archive is not None and self.class_archive.is_file():
            share = ["-Xshare:auto", f"-XX:SharedArchiveFile={self.class_archive}", "-Xlog:cds=off"]
        return [
            self.java,
            *share,
            "-Xms128m",
            f"-Xmx{self.heap}",
            "-XX:+UseSerialGC",
            "-XX:-UsePerfData",
            "-XX:+ExitOnOutOfMemoryError",
            "-Dfile.encoding=UTF-8",
            f"{_INSTANCE_MARKER}{self.instance_dir}",
            "--add-opens=java.base/java.nio=ALL-UNNAMED",
            "--add-opens=java.base/java.io=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
            *self.jvm_args,
            "-cp",
            f"{self.lib}/*",
            ENTRY_POINT,
            f"--home-dir={self.instance_dir}",
            f"--config-dir={self.conf_dir}",
        ]

    # ---- process state

    def pid(self) -> int | None:
        """Pid of this instance's running JVM (from the pid file, checked against its cmdline)."""
        try:
            pid = int(self.pid_file.read_text(encoding="utf-8").strip())
        except (FileNotFoundError, ValueError):
            return None
        if not _alive(pid):
            return None
        try:
            process = psutil.Process(pid)
            if process.status() == psutil.STATUS_ZOMBIE:
                return pid  # still exiting (see _alive); a zombie's pid cannot have been reused
            cmdline = process.cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None
        if f"{_INSTANCE_MARKER}{self.instance_dir}" not in cmdline:
            return None
        return pid

    def is_running(self) -> bool:
        return self.pid() is not None

    def is_ready(self) -> bool:
        return self.is_running() and bolt_ready(self.host, self.bolt_port)

    def log_tail(self, lines: int = 40) -> str:
        parts: list[str] = []
        for path in (self.console_log, self.logs_dir / "neo4j.log", self.logs_dir / "debug.log"):
            if path.is_file():
                text = path.read_text(encoding="utf-8", errors="replace").splitlines()
                parts.append(f"--- {path}\n" + "\n".join(text[-lines:]))
        return "\n".join(parts)

    def debug_log_since_launch(self) -> str:
        """What Neo4j wrote to debug.log since the last launch."""
        debug_log = self.logs_dir / "debug.log"
        if not debug_log.is_file():
            return ""
        try:
            offset = int((self.run_dir / "debug.log.offset").read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            offset = 0
        with debug_log.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", errors="replace")

    def recovered_on_last_start(self) -> bool:
        """True when the last start had to replay transaction logs: the store was not shut down
        cleanly (a crash, or a copy taken while Neo4j ran). A cold copy never needs it."""
        return "Recovery required" in self.debug_log_since_launch()

    # ---- start and stop

    def launch(self, *, stop_at_exit: bool = True) -> int:
        """Start the JVM detached and return its pid; does not wait for Bolt.

        With stop_at_exit the server is stopped when this Python process exits (a safety net
        for tests); ctl.py passes False, since its whole point is to leave the server running."""
        running = self.pid()
        if running is not None:
            return running
        if not (self.lib / f"neo4j-{NEO4J_VERSION}.jar").is_file():
            raise Neo4jHarnessError(f"Neo4j jars missing in {self.lib}; run {PROVISION_SCRIPT}")
        self._write_files()
        debug_log = self.logs_dir / "debug.log"
        offset = debug_log.stat().st_size if debug_log.is_file() else 0
        (self.run_dir / "debug.log.offset").write_text(f"{offset}\n", encoding="utf-8")
        # sh backgrounds the JVM and exits: the JVM is nobody's child here, in its own session.
        script = '"$@" </dev/null >>"$0" 2>&1 & echo $!'
        out = subprocess.run(
            ["/bin/sh", "-c", script, str(self.console_log), *self.java_command()],
            cwd=self.instance_dir,
            capture_output=True,
            text=True,
            start_new_session=True,
            check=True,
        )
        pid = int(out.stdout.strip())
        tmp = self.pid_file.with_suffix(".tmp")
        tmp.write_text(f"{pid}\n", encoding="utf-8")
        tmp.replace(self.pid_file)
        if stop_at_exit:
            _launched.add(self.instance_dir)
        logger.info("launched Neo4j pid %s for %s on %s", pid, self.data_dir, self.bolt_uri)
        return pid

    def wait_ready(self, timeout: float = DEFAULT_START_TIMEOUT) -> float:
        """Wait until Bolt answers; returns the seconds waited. Raises if the JVM dies or times out."""
        began = time.monotonic()
        while True:
            if not self.is_running():
                raise Neo4jHarnessError(f"Neo4j for {self.data_dir} exited during startup\n{self.log_tail()}")
            if bolt_ready(self.host, self.bolt_port, timeout=1.0):
                return time.monotonic() - began
            if time.monotonic() - began > timeout:
                raise Neo4jHarnessError(
                    f"Neo4j for {self.data_dir} not accepting Bolt on {self.bolt_port} "
                    f"after {timeout:.0f} s\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def start(self, timeout: float = DEFAULT_START_TIMEOUT, *, new_port_on_clash: bool = False) -> float:
        """Start (if not running) and wait until Bolt accepts connections; returns seconds taken.

        new_port_on_clash: when the Bolt port was taken meanwhile, move to a free one and retry
        (only for a server whose port nobody has been told yet, as in the fixtures)."""
        began = time.monotonic()
        for attempt in range(3):
            self.launch()
            try:
                self.wait_ready(timeout)
            except Neo4jHarnessError as exc:
                if not (new_port_on_clash and attempt < 2 and "Address already in use" in str(exc)):
                    raise
                logger.warning("Bolt port %s taken; retrying on another", self.bolt_port)
                self.bolt_port = free_port()
                self._write_files()
                continue
            break
        return time.monotonic() - began

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT, *, kill_after_timeout: bool = True) -> float:
        """SIGTERM (Neo4j checkpoints and releases its locks), wait until gone; returns seconds.

        After `timeout` the JVM is SIGKILLed (unless kill_after_timeout is False) and
        Neo4jHarnessError is raised either way."""
        began = time.monotonic()
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return 0.0
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        while _alive(pid):
            if time.monotonic() - began > timeout:
                if kill_after_timeout:
                    self.kill()
                raise Neo4jHarnessError(f"Neo4j pid {pid} did not stop within {timeout:.0f} s")
            time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        self._wait_lock_free(began + timeout)
        return time.monotonic() - began

    def _wait_lock_free(self, deadline: float) -> None:
        """After the JVM is gone its store lock is free; anything else holding it is reported."""
        while True:
            holder = store_lock_holder(self.store_lock_path)
            if holder is None:
                return
            if time.monotonic() > deadline:
                raise Neo4jHarnessError(f"{self.store_lock_path} is still locked by pid {holder}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the JVM (a crash: no checkpoint) and wait until it is gone."""
        pid = self.pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while _alive(pid):
            if time.monotonic() > deadline:
                raise Neo4jHarnessError(f"Neo4j pid {pid} still there 60 s after SIGKILL")
            time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        self._wait_lock_free(deadline)

    # ---- shell commands for a `command` service manager

    def _ctl(self, action: str, *extra: str) -> str:
        args = [sys.executable, str(CTL_SCRIPT), action, "--instance", str(self.instance_dir), *extra]
        return shlex.join(args)

    def start_command(self, wait: float | None = None) -> str:
        """Shell command: launch detached and exit 0 (with `wait`: exit 0 only once Bolt answers)."""
        return self._ctl("start", *(["--wait", f"{wait:g}"] if wait is not None else []))

    def stop_command(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> str:
        """Shell command: SIGTERM and wait until the JVM is gone; exit 0 (also when not running)."""
        return self._ctl("stop", "--timeout", f"{timeout:g}")

    def status_command(self) -> str:
        """Shell command: exit 0 while the JVM runs, 3 when it does not (LSB/systemctl style)."""
        return self._ctl("status")

    # ---- context manager

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _stop_launched_servers() -> None:
    """Last resort at interpreter exit: stop servers this process launched and left running."""
    for instance_dir in list(_launched):
        with contextlib.suppress(Exception):
            Neo4jServer.open(instance_dir).stop(timeout=30)


atexit.register(_stop_launched_servers)


# --------------------------------------------------------------------------- data through Bolt

_IDENTIFIER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _label(label: str) -> str:
    if not label or not set(label) <= _IDENTIFIER_CHARS or label[0].isdigit():
        raise ValueError(f"not a plain label: {label!r}")
    return label


def write_nodes(uri: str, n: int, label: str = "Item", *, payload_bytes: int = 0, batch: int = 10_000) -> int:
    """Create n nodes (properties seq and, if payload_bytes, a payload string); returns n."""
    from neo4j import GraphDatabase

    query = f"UNWIND range($first, $last) AS i CREATE (:{_label(label)} {{seq: i, payload: $payload}})"
    payload = "x" * payload_bytes if payload_bytes else None
    with GraphDatabase.driver(uri, auth=None, max_transaction_retry_time=5.0) as driver:
        done = 0
        while done < n:
            size = min(batch, n - done)
            driver.execute_query(query, first=done, last=done + size - 1, payload=payload)
            done += size
    return n


def count_nodes(uri: str, label: str | None = None) -> int:
    """Number of nodes (with that label) in the default database."""
    from neo4j import GraphDatabase

    pattern = f"(n:{_label(label)})" if label else "(n)"
    with GraphDatabase.driver(uri, auth=None, max_transaction_retry_time=5.0) as driver:
        records, _summary, _keys = driver.execute_query(f"MATCH {pattern} RETURN count(n) AS c")
    return int(records[0]["c"])
