"""Benchmark: does `appsync watch` keep its memory flat? Not a test; run it by hand or from CI.

    .venv/bin/python -m tests.bench.bench_watch              # 10 minutes, an edit every second
    .venv/bin/python -m tests.bench.bench_watch --minutes 2 --fixture hello-world   # more, smaller imports

It starts the emulator loaded with the meetdown fixture, a repository with one export, and
`python -m structr_appsync watch` as a separate process. Then it edits a page file once a second and samples the
watch process's RSS (psutil). It reports RSS at the start (after the first import, when all code is loaded)
and at the end, their ratio, the peak, and how many imports ran and failed.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from tests.paths import FIXTURES, REPO_ROOT
from tests.structr_emulator.harness import Emulator

# fixture -> (page file to edit, the closing tag an edit is put in front of)
PAGES = {"meetdown": ("webapp/pages/home.html", "</div>"), "hello-world": ("webapp/pages/hello-world.html", "</h1>")}
SAMPLE_EVERY = 30.0


def _git(repo: Path, *args: str, env: dict[str, str]) -> None:
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, timeout=120)


def _appsync(repo: Path, *args: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "structr_appsync", *args], cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"appsync {' '.join(args)} failed: {result.stderr.strip()}")


def _environment(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("APPSYNC_", "GIT_"))}
    env.update(
        HOME=str(home),
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        APPSYNC_PASSWORD="admin",
        PYTHONPATH=str(REPO_ROOT),
    )
    (home / ".gitconfig").write_text("[user]\n\tname = bench\n\temail = bench@example.com\n")
    return env


def _mib(value: int) -> str:
    return f"{value / 1024 / 1024:.1f} MiB"


def run(minutes: float, debounce: float, fixture: str) -> int:
    with tempfile.TemporaryDirectory(prefix="appsync-bench-watch-") as tmp:
        base = Path(tmp)
        env = _environment(base)
        with Emulator(base / "structr") as emulator:
            emulator.import_dir(FIXTURES / fixture)
            repo = base / "repo"
            repo.mkdir()
            _git(repo, "init", "-q", "-b", "main", env=env)
            _appsync(repo, "init", "--url", emulator.url, env=env)
            _appsync(repo, "export", env=env)
            page_name, tag = PAGES[fixture]
            page = repo / page_name
            original = page.read_text(encoding="utf-8")
            if tag not in original:
                raise SystemExit(f"{page_name} has no {tag} to edit")

            lines: list[str] = []
            watch = subprocess.Popen(
                [sys.executable, "-m", "structr_appsync", "watch", "--debounce", str(debounce)],
                cwd=repo,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            assert watch.stdout is not None
            stream = watch.stdout
            reader = threading.Thread(target=lambda: lines.extend(line.rstrip() for line in stream), daemon=True)
            reader.start()
            try:
                return _measure(watch, lines, page, (original, tag), minutes, fixture)
            finally:
                if watch.poll() is None:
                    watch.send_signal(signal.SIGINT)
                    try:
                        watch.wait(timeout=60)
                    except subprocess.TimeoutExpired:
                        watch.kill()
                        watch.wait()


def _count(lines: list[str], pattern: str) -> int:
    return sum(1 for line in list(lines) if re.search(pattern, line))


def _measure(
    watch: subprocess.Popen[str], lines: list[str], page: Path, edit_at: tuple[str, str], minutes: float, fixture: str
) -> int:
    original, tag = edit_at
    process = psutil.Process(watch.pid)
    deadline = time.monotonic() + 60
    while not _count(lines, "watching ") and time.monotonic() < deadline:
        time.sleep(0.1)
    # Warm up: the first import loads every module appsync needs; measure from there.
    page.write_text(original.replace(tag, f"<!-- warm-up -->{tag}", 1), encoding="utf-8")
    while not _count(lines, r"imported |failed") and time.monotonic() < deadline + 60:
        time.sleep(0.1)
    start_rss = process.memory_info().rss
    peak = start_rss
    samples = [(0.0, start_rss)]
    every_second: list[int] = []
    began = time.monotonic()
    end = began + minutes * 60
    next_sample = began + SAMPLE_EVERY
    edit = 0
    while time.monotonic() < end:
        edit += 1
        page.write_text(original.replace(tag, f"<!-- edit {edit} -->{tag}", 1), encoding="utf-8")
        time.sleep(1.0)
        rss = process.memory_info().rss
        peak = max(peak, rss)
        every_second.append(rss)
        if time.monotonic() >= next_sample:
            samples.append((time.monotonic() - began, rss))
            next_sample += SAMPLE_EVERY
    time.sleep(3.0)  # let the last import finish
    end_rss = process.memory_info().rss
    samples.append((time.monotonic() - began, end_rss))
    imports = _count(lines, r"imported ")
    failures = _count(lines, r"failed|not imported")

    print(f"watch benchmark: {minutes:g} min, {edit} edits (one per second) of {page.name} ({fixture})")
    for elapsed, rss in samples:
        print(f"  t={elapsed:6.0f}s  rss={_mib(rss)}")
    print(f"RSS start: {_mib(start_rss)}")
    print(f"RSS end:   {_mib(end_rss)}")
    print(f"RSS end/start: {end_rss / start_rss:.3f}   peak: {_mib(peak)}")
    # Single readings swing with the allocator; the means of the first and the last minute show the trend.
    window = max(1, min(60, len(every_second) // 3))
    first = sum(every_second[:window]) / window
    last = sum(every_second[-window:]) / window
    print(f"RSS mean of the first {window}s: {_mib(int(first))}, of the last {window}s: {_mib(int(last))}, "
          f"ratio {last / first:.3f}")  # fmt: skip
    durations = [float(match) for line in list(lines) for match in re.findall(r"\((\d+\.\d)s\)$", line)]
    average = f"{sum(durations) / len(durations):.1f}s" if durations else "n/a"
    print(f"imports: {imports} (edits arriving during an import are batched into the next)   average: {average}")
    print(f"failures: {failures}")
    if failures:
        print("first failures:", *[line for line in lines if re.search("failed|not imported", line)][:3], sep="\n  ")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to watch (default 10)")
    parser.add_argument("--debounce", type=float, default=0.5, help="watch --debounce (default 0.5 s)")
    parser.add_argument("--fixture", choices=sorted(PAGES), default="meetdown", help="app to load (default meetdown)")
    args = parser.parse_args(argv)
    return run(args.minutes, args.debounce, args.fixture)


if __name__ == "__main__":
    raise SystemExit(main())
