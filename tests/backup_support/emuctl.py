"""Start, stop and query the Structr emulator from a shell, like a service manager would.

    python emuctl.py start  --data DIR --run RUNDIR --port P     (detached; exit 0 once it listens)
    python emuctl.py stop   --run RUNDIR                         (SIGTERM, wait until gone)
    python emuctl.py status --run RUNDIR                         (0 while running, 3 when not)

The emulator's DIR plays the Structr directory (files/, db/, logs/); the pid file lives in RUNDIR.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# Run as a script, so this folder is on sys.path: share the pid-file helpers of the fake service.
from fakesvc import process_alive, running_pid

REPO_ROOT = Path(__file__).resolve().parents[2]


def start(args: argparse.Namespace) -> int:
    run = Path(args.run)
    run.mkdir(parents=True, exist_ok=True)
    if running_pid(run):
        return 0
    log = run / "stdout"
    command = [sys.executable, "-m", "tests.structr_emulator", "--data-dir", args.data, "--port", str(args.port)]
    with log.open("wb") as out, (run / "stderr").open("ab") as err:
        child = subprocess.Popen(
            command, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
        )
    (run / "pid").write_text(str(child.pid))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if child.poll() is not None:
            sys.stderr.write(f"emulator exited with {child.returncode}\n")
            return 1
        if log.read_text().startswith("listening on "):
            return 0
        time.sleep(0.05)
    return 1


def stop(args: argparse.Namespace) -> int:
    run = Path(args.run)
    pid = running_pid(run)
    if pid is None:
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while process_alive(pid):
        if time.monotonic() > deadline:
            return 1
        time.sleep(0.05)
    (run / "pid").unlink(missing_ok=True)
    return 0


def status(args: argparse.Namespace) -> int:
    return 0 if running_pid(Path(args.run)) else 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emuctl")
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument("--data", default="")
    parser.add_argument("--run", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    return {"start": start, "stop": stop, "status": status}[args.action](args)


if __name__ == "__main__":
    sys.exit(main())
