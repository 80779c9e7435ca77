"""A tiny stand-in for Neo4j or Structr: a process that locks and keeps writing its data directory.

    python fakesvc.py start  --data DIR --run RUNDIR [--port P] [--pages N] [--interval S] [--fail-if FILE]
    python fakesvc.py stop   --run RUNDIR [--fail-if FILE]
    python fakesvc.py status --run RUNDIR          (exit 0 while running, 3 when not)
    python fakesvc.py run    ...                   (the service itself, in the foreground)

While it runs it holds a POSIX lock (fcntl, like the JVM) on DIR/databases/store_lock, answers HTTP 200 on
127.0.0.1:P (any path), and every `interval` seconds writes a counter into one 8 KiB page of
DIR/databases/neo4j/store.db and into DIR/databases/neo4j/header ("clean=0 counter=N"). On SIGTERM it writes
"clean=1 counter=N" (like a checkpoint on shutdown), releases the lock and exits. A copy taken while it runs
therefore always says clean=0; a cold copy says clean=1.

It refuses to start (exit 1 from `run`, so `start` fails its health wait) when the content of DIR/marker is
listed in RUNDIR/bad_markers: a model of restored data the service cannot open. `--fail-if FILE` makes start or
stop fail once (the file is removed) without doing anything: a flaky service manager. `--shutdown-seconds S`
makes the shutdown take S seconds, during which it still holds its lock and answers its port.
"""

from __future__ import annotations

import argparse
import fcntl
import http.server
import os
import signal
import sys
import time
from pathlib import Path

PAGE = 8192


def process_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def running_pid(run: Path) -> int | None:
    try:
        pid = int((run / "pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if process_alive(pid) else None


def _fail_once(flag: str | None) -> bool:
    if flag and Path(flag).exists():
        Path(flag).unlink()
        return True
    return False


class _Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"status":"pass"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def run(args: argparse.Namespace) -> int:
    data, run_dir = Path(args.data), Path(args.run)
    marker = data / "marker"
    bad = run_dir / "bad_markers"
    if marker.exists() and bad.exists() and marker.read_text().strip() in bad.read_text().split():
        sys.stderr.write("fakesvc: cannot open this data (bad marker)\n")
        return 1
    store_dir = data / "databases" / "neo4j"
    store_dir.mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(data / "databases" / "store_lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.lockf(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    store = store_dir / "store.db"
    if args.pages and (not store.exists() or store.stat().st_size < args.pages * PAGE):
        with store.open("ab") as handle:
            handle.truncate(args.pages * PAGE)
    header = store_dir / "header"
    counter = 0
    if header.exists():
        for part in header.read_text().split():
            if part.startswith("counter="):
                counter = int(part.split("=", 1)[1])
    import threading

    # The handler only flips a list: setting a threading.Event from a signal handler can deadlock the main thread.
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stopping.append(signum))
    server = None
    if args.port:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), _Quiet)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    (run_dir / "pid").write_text(str(os.getpid()))
    store_fd = os.open(store, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            time.sleep(args.interval)
            if stopping:
                break
            counter += 1
            if args.pages:
                page = (counter * 7919) % args.pages
                os.pwrite(store_fd, f"page {page} counter {counter}".encode().ljust(PAGE, b"."), page * PAGE)
            header.write_text(f"clean=0 counter={counter}\n")
        # A slow shutdown (a checkpoint): still holding the lock and answering the health port meanwhile.
        time.sleep(args.shutdown_seconds)
        if server is not None:
            server.shutdown()
            server.server_close()
        header.write_text(f"clean=1 counter={counter}\n")
        os.fsync(store_fd)
    finally:
        os.close(store_fd)
        fcntl.lockf(lock_fd, fcntl.LOCK_UN)
        os.close(lock_fd)
        (run_dir / "pid").unlink(missing_ok=True)
    return 0


def start(args: argparse.Namespace) -> int:
    import socket
    import subprocess

    if _fail_once(args.fail_if):
        sys.stderr.write("fakesvc: start failed (injected)\n")
        return 1
    run_dir = Path(args.run)
    run_dir.mkdir(parents=True, exist_ok=True)
    if running_pid(run_dir):
        return 0
    (run_dir / "pid").unlink(missing_ok=True)
    command = [
        sys.executable,
        __file__,
        "run",
        "--data",
        args.data,
        "--run",
        args.run,
        "--pages",
        str(args.pages),
        "--interval",
        str(args.interval),
        "--shutdown-seconds",
        str(args.shutdown_seconds),
    ]
    if args.port:
        command += ["--port", str(args.port)]
    with (run_dir / "log").open("ab") as log:
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if child.poll() is not None:
            sys.stderr.write(f"fakesvc: exited with {child.returncode} during startup\n")
            return 1
        if running_pid(run_dir):
            if not args.port:
                return 0
            try:
                socket.create_connection(("127.0.0.1", args.port), timeout=1).close()
                return 0
            except OSError:
                pass
        time.sleep(0.02)
    sys.stderr.write("fakesvc: did not come up\n")
    return 1


def stop(args: argparse.Namespace) -> int:
    if _fail_once(args.fail_if):
        sys.stderr.write("fakesvc: stop failed (injected)\n")
        return 1
    pid = running_pid(Path(args.run))
    if pid is None:
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return 0
        time.sleep(0.02)
    return 1


def status(args: argparse.Namespace) -> int:
    return 0 if running_pid(Path(args.run)) else 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fakesvc")
    parser.add_argument("action", choices=("start", "stop", "status", "run"))
    parser.add_argument("--data", default="")
    parser.add_argument("--run", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--pages", type=int, default=64)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--fail-if", default=None)
    parser.add_argument("--shutdown-seconds", type=float, default=0.0)
    args = parser.parse_args(argv)
    return {"start": start, "stop": stop, "status": status, "run": run}[args.action](args)


if __name__ == "__main__":
    sys.exit(main())
