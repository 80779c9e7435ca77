"""`appsync watch` as a real process against the emulator: debounced imports, invalid edits, clean stops."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import run_cli
from tests.hookutil import git, hook_env, init_repo
from tests.paths import FIXTURES
from tests.structr_emulator.harness import Emulator

PAGE_FILE = Path("webapp/pages/hello-world.html")
WAIT = 60.0


class WatchProcess:
    """`python -m structr_appsync watch` with its output collected line by line."""

    def __init__(self, repo: Path, *args: str) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "structr_appsync", "watch", *args],
            cwd=repo,
            env=hook_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def matching(self, pattern: str) -> list[str]:
        return [line for line in list(self.lines) if re.search(pattern, line)]

    def wait_for(self, pattern: str, count: int = 1, timeout: float = WAIT) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.matching(pattern)
            if len(found) >= count:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {count}x {pattern!r} in watch output:\n" + "\n".join(self.lines))

    def stop(self, sig: signal.Signals = signal.SIGINT) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=WAIT)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)
        return code


@pytest.fixture
def project(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("APPSYNC_PASSWORD", "admin")
    emulator.import_dir(FIXTURES / "hello-world")
    repo = init_repo(tmp_path / "repo")
    assert run_cli("init", "--url", emulator.url, cwd=repo).code == 0
    git(repo, "add", "appsync.toml")
    git(repo, "commit", "-q", "-m", "config", env=hook_env({"APPSYNC_SKIP": "1"}))
    assert run_cli("export", cwd=repo).code == 0
    return repo


@pytest.fixture
def watch(project: Path) -> Iterator[WatchProcess]:
    process = WatchProcess(project)  # the default debounce: 1 s
    try:
        process.wait_for("watching .*webapp -> env 'dev' \\(debounce 1s")
        yield process
    finally:
        process.stop(signal.SIGKILL)


def server_page(emulator: Emulator) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        return (emulator.export_dir(Path(tmp)) / "pages" / "hello-world.html").read_text()


def rollback_points(repo: Path) -> list[str]:
    # Every import appsync makes saves one rollback point first: a server-independent import counter.
    return git(repo, "for-each-ref", "--format=%(refname)", "refs/appsync/dev/pre-import/").stdout.split()


def edited(original: str, text: str) -> str:
    marker = "${capitalize(page.name)}</h1>"
    assert marker in original
    return original.replace(marker, f"${{capitalize(page.name)}} {text}</h1>", 1)


def test_twenty_saves_in_a_second_give_one_import_with_the_final_content(
    project: Path, emulator: Emulator, watch: WatchProcess
) -> None:
    page = project / PAGE_FILE
    original = page.read_text()
    started = time.monotonic()
    for index in range(1, 21):
        page.write_text(edited(original, f"save {index}"))
        time.sleep(0.04)
    assert time.monotonic() - started < 1.5
    watch.wait_for(r"imported pages/hello-world\.html into env 'dev'")
    time.sleep(2.0)  # a second import would have happened by now
    assert len(watch.matching("imported ")) == 1, watch.lines
    assert len(rollback_points(project)) == 1
    assert "save 20</h1>" in server_page(emulator)
    assert watch.stop(signal.SIGINT) == 0
    assert watch.matching(r"stopped \(SIGINT\)")


def test_broken_schema_is_reported_not_imported_and_watching_continues(
    project: Path, emulator: Emulator, watch: WatchProcess
) -> None:
    before = emulator.state_digest()
    schema = project / "webapp" / "schema" / "schema.json"
    valid = schema.read_text()
    schema.write_text(valid.rstrip().rstrip("}") + ', "definitions": {"Broken": }\n')
    line = watch.wait_for("not imported: schema/schema.json: invalid JSON")[0]
    assert "fix it and save again" in line
    time.sleep(1.0)
    assert emulator.state_digest() == before
    assert rollback_points(project) == []

    # Still watching: fix the schema and edit the page, and that goes through.
    schema.write_text(valid)
    page = project / PAGE_FILE
    page.write_text(edited(page.read_text(), "after the fix"))
    watch.wait_for(r"imported .*into env 'dev'")
    assert "after the fix</h1>" in server_page(emulator)
    assert watch.stop(signal.SIGTERM) == 0
    assert watch.matching(r"stopped \(SIGTERM\)")


def test_failed_import_is_reported_and_watching_continues(
    project: Path, emulator: Emulator, watch: WatchProcess
) -> None:
    emulator.set_fault("status", code=500, path="/structr/deploy", count=1)
    page = project / PAGE_FILE
    original = page.read_text()
    page.write_text(edited(original, "first try"))
    watch.wait_for("still watching")
    emulator.clear_faults()
    page.write_text(edited(original, "second try"))
    watch.wait_for(r"imported .*into env 'dev'")
    assert "second try</h1>" in server_page(emulator)


def test_watch_ignores_editor_files_and_git(project: Path, emulator: Emulator, watch: WatchProcess) -> None:
    pages = project / "webapp" / "pages"
    for name in (".hello-world.html.swp", "4913", ".#hello-world.html", "hello-world.html~", "x.tmp"):
        (pages / name).write_text("editor noise")
    git(project, "commit", "-q", "--allow-empty", "-m", "touch .git")
    time.sleep(2.0)
    assert watch.matching("imported|not imported|failed") == []
    assert rollback_points(project) == []


def test_watch_takes_the_same_repository_lock_as_the_cli(project: Path, emulator: Emulator) -> None:
    from structr_appsync.config import load_config
    from structr_appsync.workspace import Workspace

    config = project / "appsync.toml"
    config.write_text("lock_timeout = 1\n" + config.read_text())
    loaded = load_config(project / "appsync.toml")
    process = WatchProcess(project, "--debounce", "0.3")
    try:
        process.wait_for("watching ")
        page = project / PAGE_FILE
        original = page.read_text()
        with Workspace.open(loaded).locked():  # as a running `appsync export` or hook would hold it
            page.write_text(edited(original, "while locked"))
            line = process.wait_for("still watching")[0]
        assert "another appsync process is busy" in line
        assert rollback_points(project) == []
        page.write_text(edited(original, "after the lock"))
        process.wait_for(r"imported .*into env 'dev'")
        assert "after the lock</h1>" in server_page(emulator)
    finally:
        assert process.stop() == 0


def test_periodic_export_commits_server_changes_without_reimporting_its_own_writes(
    project: Path, emulator: Emulator
) -> None:
    head = git(project, "rev-parse", "HEAD").stdout.strip()
    process = WatchProcess(project, "--debounce", "0.3", "--export-every", "0.05")  # every 3 seconds
    try:
        process.wait_for("watching ")
        emulator.set_page_content("hello-world", "<!DOCTYPE html>\n<html><body><h1>made in the UI</h1></body></html>")
        line = process.wait_for("exported env 'dev': committed")[0]
        assert "Page: 1 changed (hello-world)" in line
        commit = line.split("committed ", 1)[1].split(":", 1)[0]
        assert "made in the UI" in git(project, "show", f"{commit}:{PAGE_FILE}").stdout
        assert git(project, "rev-parse", f"{commit}^").stdout.strip() == head
        time.sleep(4.0)  # another export round, and time for any echo of its writes
        assert process.matching("imported |failed") == []
        assert rollback_points(project) == []
        # Still watching the (swapped-in) folder: a local edit is imported.
        page = project / PAGE_FILE
        page.write_text(page.read_text().replace("made in the UI", "edited locally"))
        process.wait_for(r"imported .*into env 'dev'")
        assert "edited locally" in server_page(emulator)
    finally:
        assert process.stop() == 0
