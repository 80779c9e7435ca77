"""The watch machinery with injected callbacks: debouncing, filtering, own-write suppression, error recovery."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from structr_appsync.config import AppsyncConfig, EnvConfig, LoadedConfig
from structr_appsync.errors import RefusedError, ServerUnavailable
from structr_appsync.sync.debounce import Debouncer, Periodic
from structr_appsync.sync.watch_session import WatchOptions, WatchSession, invalid_json
from structr_appsync.sync.watcher import FolderWatcher, changed_paths, is_ignored, tree_state
from structr_appsync.workspace import Workspace
from tests.hookutil import git, hook_env, init_repo

WAIT = 15.0  # generous upper bound for something that normally takes well under a second


def wait_for(condition: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


class Recorder:
    def __init__(self) -> None:
        self.batches: list[frozenset[str]] = []
        self.errors: list[tuple[str, Exception]] = []
        self.lock = threading.Lock()

    def action(self, batch: frozenset[str]) -> None:
        with self.lock:
            self.batches.append(batch)

    def on_error(self, label: str, error: Exception) -> None:
        self.errors.append((label, error))


def test_a_burst_of_events_gives_one_action_with_the_whole_batch() -> None:
    recorder = Recorder()
    # delay well above the gaps between events, so that a busy machine cannot split the burst
    debouncer = Debouncer(recorder.action, delay=1.0, on_error=recorder.on_error)
    debouncer.start()
    try:
        for index in range(20):
            debouncer.trigger(f"pages/p{index % 3}.html")
            time.sleep(0.04)
        assert wait_for(lambda: len(recorder.batches) == 1)
        time.sleep(1.2)  # nothing else may follow
        assert recorder.batches == [frozenset({"pages/p0.html", "pages/p1.html", "pages/p2.html"})]
    finally:
        debouncer.stop()


def test_a_failing_action_is_reported_and_the_next_batch_still_runs() -> None:
    calls: list[frozenset[str]] = []
    errors: list[tuple[str, Exception]] = []

    def action(batch: frozenset[str]) -> None:
        calls.append(batch)
        if len(calls) == 1:
            raise ServerUnavailable("cannot reach http://127.0.0.1:9")

    debouncer = Debouncer(action, delay=0.1, on_error=lambda label, exc: errors.append((label, exc)))
    debouncer.start()
    try:
        debouncer.trigger("a")
        assert wait_for(lambda: len(errors) == 1)
        debouncer.trigger("b")
        assert wait_for(lambda: len(calls) == 2)
        assert calls[1] == frozenset({"b"})
        assert errors[0][0] == "import" and isinstance(errors[0][1], ServerUnavailable)
    finally:
        debouncer.stop()


def test_max_delay_bounds_an_endless_stream() -> None:
    recorder = Recorder()
    debouncer = Debouncer(recorder.action, delay=0.5, max_delay=0.3, on_error=recorder.on_error)
    debouncer.start()
    try:
        deadline = time.monotonic() + 5
        while not recorder.batches and time.monotonic() < deadline:
            debouncer.trigger("busy.html")
            time.sleep(0.05)
        assert recorder.batches, "the action never ran while events kept coming"
    finally:
        debouncer.stop()


def test_periodic_job_runs_on_the_same_thread_and_never_overlaps_the_action() -> None:
    active = threading.Lock()
    overlaps: list[str] = []
    periodic_runs: list[float] = []

    def guarded(name: str) -> None:
        if not active.acquire(blocking=False):
            overlaps.append(name)
            return
        try:
            time.sleep(0.05)
        finally:
            active.release()

    def periodic() -> None:
        periodic_runs.append(time.monotonic())
        guarded("periodic")

    debouncer = Debouncer(
        lambda _batch: guarded("action"), delay=0.05, on_error=lambda *_: None, every=Periodic(periodic, 0.1)
    )
    debouncer.start()
    try:
        for _ in range(30):
            debouncer.trigger("x")
            time.sleep(0.03)
        assert wait_for(lambda: len(periodic_runs) >= 3)
    finally:
        debouncer.stop()
    assert overlaps == []


def test_stop_reports_unprocessed_events_and_ends_the_thread() -> None:
    recorder = Recorder()
    debouncer = Debouncer(recorder.action, delay=30, on_error=recorder.on_error)
    debouncer.start()
    debouncer.trigger("a")
    debouncer.trigger("b")
    assert debouncer.stop(timeout=5) == 2
    assert recorder.batches == []


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        ("pages/index.html", False),
        ("schema/schema.json", False),
        ("files/css/site.css", False),
        ("pages/.index.html.swp", True),
        ("pages/.index.html.swx", True),
        ("pages/index.html~", True),
        ("pages/.#index.html", True),
        ("pages/4913", True),
        ("pages/index.html.tmp", True),
        ("pages/#index.html#", True),
        (".git/index", True),
        ("sub/.git/HEAD", True),
        ("pages/index.html___jb_tmp___", True),
    ],
)
def test_ignored_paths(path: str, ignored: bool) -> None:
    assert is_ignored(path) is ignored


def test_tree_state_sees_edits_and_deletions_but_not_temp_files(tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    page = tmp_path / "pages" / "a.html"
    page.write_text("<p>1</p>")
    before = tree_state(tmp_path)
    (tmp_path / "pages" / ".a.html.swp").write_text("swap")
    assert changed_paths(before, tree_state(tmp_path)) == []
    page.write_text("<p>22</p>")
    (tmp_path / "pages" / "b.html").write_text("new")
    after = tree_state(tmp_path)
    assert changed_paths(before, after) == ["pages/a.html", "pages/b.html"]
    page.unlink()
    assert changed_paths(after, tree_state(tmp_path)) == ["pages/a.html"]


def test_folder_watcher_debounces_real_saves_and_ignores_editor_files(tmp_path: Path) -> None:
    folder = tmp_path / "webapp"
    (folder / "pages").mkdir(parents=True)
    recorder = Recorder()
    watcher = FolderWatcher(folder, recorder.action, debounce=1.0, on_error=recorder.on_error)
    watcher.start()
    try:
        # Editor noise only: nothing may happen.
        for name in (".index.html.swp", "4913", ".#index.html", "index.html~", "index.html.tmp"):
            (folder / "pages" / name).write_text("noise")
            (folder / "pages" / name).unlink()
        (folder / ".git").mkdir()
        (folder / ".git" / "index").write_text("x")
        time.sleep(1.0)
        assert recorder.batches == []
        # 20 saves within a second: one batch.
        page = folder / "pages" / "index.html"
        for index in range(20):
            page.write_text(f"<p>{index}</p>")
            time.sleep(0.04)
        assert wait_for(lambda: len(recorder.batches) == 1)
        time.sleep(1.2)
        assert len(recorder.batches) == 1
        assert "pages/index.html" in recorder.batches[0]
        # An atomic save (write a temp file, rename over the target) counts for the target.
        temp = folder / "pages" / "index.html.tmp"
        temp.write_text("<p>atomic</p>")
        temp.replace(page)
        assert wait_for(lambda: len(recorder.batches) == 2)
        assert recorder.batches[1] == frozenset({"pages/index.html"})
    finally:
        watcher.stop()


def test_folder_watcher_rearms_when_the_folder_is_swapped(tmp_path: Path) -> None:
    folder = tmp_path / "webapp"
    folder.mkdir()
    recorder = Recorder()
    watcher = FolderWatcher(folder, recorder.action, debounce=0.2, on_error=recorder.on_error)
    watcher.start()
    try:
        replacement = tmp_path / "new"
        replacement.mkdir()
        folder.rename(tmp_path / "old")
        replacement.rename(folder)
        watcher.check_folder()
        assert wait_for(lambda: len(recorder.batches) == 1)  # the rescan trigger
        (folder / "page.html").write_text("x")
        assert wait_for(lambda: any("page.html" in batch for batch in recorder.batches))
    finally:
        watcher.stop()


def test_invalid_json_names_the_file_and_position(tmp_path: Path) -> None:
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "schema.json").write_text('{"definitions": {,}}')
    (tmp_path / "pages.json").write_text("{}")
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "user-data.json").write_text("not json, and that is fine")
    problems = invalid_json(tmp_path)
    assert len(problems) == 1
    assert problems[0].startswith("schema/schema.json: invalid JSON (line 1, column 18")


# -- WatchSession with injected import/export functions --------------------------------------------------------


def make_loaded(root: Path, *, protected: bool = False) -> LoadedConfig:
    settings = AppsyncConfig(env={"dev": EnvConfig(url="http://127.0.0.1:9", protected=protected)})
    return LoadedConfig(path=root / "appsync.toml", settings=settings)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = init_repo(tmp_path / "project")
    (root / "webapp" / "pages").mkdir(parents=True)
    (root / "webapp" / "pages.json").write_text('{"index": {}}\n')
    (root / "webapp" / "pages" / "index.html").write_text("<p>0</p>\n")
    (root / "webapp" / "schema").mkdir()
    (root / "webapp" / "schema" / "schema.json").write_text('{"definitions": {}, "methods": []}\n')
    git(root, "add", "webapp")
    git(root, "commit", "-q", "-m", "export", env=hook_env({"APPSYNC_SKIP": "1"}))
    return root


class FakeServer:
    def __init__(self) -> None:
        self.imports: list[dict[str, str]] = []
        self.exports = 0
        self.fail_next = False
        # (file name, content) the "user" saves while the next export is running
        self.user_save_during_export: tuple[str, str] | None = None

    def import_function(self, _loaded: LoadedConfig, env_name: str, folder: Path) -> str:
        if self.fail_next:
            self.fail_next = False
            raise ServerUnavailable("cannot reach http://127.0.0.1:9")
        self.imports.append({p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*.html")})
        return f"imported into {env_name}"

    def export_function(self, loaded: LoadedConfig, _env_name: str, _force: bool) -> str | None:
        self.exports += 1
        # The export rewrites the folder and commits it, as the real one does: these writes must not come back
        # as an import.
        page = loaded.export_path / "pages" / "index.html"
        page.write_text(page.read_text())
        (loaded.export_path / "pages" / "exported.html").write_text("<p>from server</p>\n")
        git(loaded.root, "add", "webapp")
        git(loaded.root, "commit", "-q", "--allow-empty", "-m", "export", env=hook_env({"APPSYNC_SKIP": "1"}))
        if self.user_save_during_export is not None:
            name, content = self.user_save_during_export
            self.user_save_during_export = None
            (loaded.export_path / "pages" / name).write_text(content)
        return "committed 0123456789"


def start_session(
    project: Path, server: FakeServer, messages: list[str], *, interval: float | None = None, debounce: float = 0.3
) -> WatchSession:
    options = WatchOptions(
        debounce=debounce,
        export_interval=interval,
        import_function=server.import_function,
        export_function=server.export_function,
    )
    session = WatchSession(Workspace.open(make_loaded(project)), "dev", messages.append, options)
    session.start()
    return session


def test_session_imports_a_burst_once_with_the_final_content(project: Path) -> None:
    server, messages = FakeServer(), []
    session = start_session(project, server, messages, debounce=1.0)
    try:
        page = project / "webapp" / "pages" / "index.html"
        for index in range(20):
            page.write_text(f"<p>{index + 1}</p>\n")
            time.sleep(0.04)
        assert wait_for(lambda: len(server.imports) == 1)
        time.sleep(1.2)
    finally:
        session.stop()
    assert len(server.imports) == 1
    assert server.imports[0]["pages/index.html"] == "<p>20</p>\n"
    assert len(messages) == 1 and messages[0].startswith("imported pages/index.html into env 'dev'")


def test_session_rejects_broken_json_keeps_watching_and_imports_the_fix(project: Path) -> None:
    server, messages = FakeServer(), []
    session = start_session(project, server, messages)
    schema = project / "webapp" / "schema" / "schema.json"
    try:
        schema.write_text('{"definitions": {"Broken": }\n')
        assert wait_for(lambda: session.counters.rejected == 1)
        assert server.imports == []
        assert "not imported: schema/schema.json: invalid JSON" in messages[0]
        schema.write_text('{"definitions": {}, "methods": []}\n')
        assert wait_for(lambda: len(server.imports) == 1)
    finally:
        session.stop()


def test_session_reports_a_failed_import_and_retries_on_the_next_save(project: Path) -> None:
    server, messages = FakeServer(), []
    server.fail_next = True
    session = start_session(project, server, messages)
    page = project / "webapp" / "pages" / "index.html"
    try:
        page.write_text("<p>a</p>\n")
        assert wait_for(lambda: session.counters.failures == 1)
        assert "import failed: cannot reach http://127.0.0.1:9; still watching" in messages[0]
        page.write_text("<p>b</p>\n")
        assert wait_for(lambda: len(server.imports) == 1)
    finally:
        session.stop()


def test_periodic_export_does_not_trigger_an_import_of_its_own_writes(project: Path) -> None:
    server, messages = FakeServer(), []
    session = start_session(project, server, messages, interval=0.5)
    try:
        assert wait_for(lambda: server.exports >= 2)
        time.sleep(0.8)
    finally:
        session.stop()
    assert server.imports == []
    assert any(message.startswith("exported env 'dev': committed") for message in messages)


def test_a_save_during_a_periodic_export_is_imported_not_taken_for_our_own_write(project: Path) -> None:
    server, messages = FakeServer(), []
    server.user_save_during_export = ("index.html", "<p>saved while exporting</p>\n")
    session = start_session(project, server, messages, interval=0.5)
    try:
        assert wait_for(lambda: len(server.imports) == 1)
    finally:
        session.stop()
    assert server.imports[0]["pages/index.html"] == "<p>saved while exporting</p>\n"
    assert (project / "webapp" / "pages" / "index.html").read_text() == "<p>saved while exporting</p>\n"


def test_periodic_export_waits_while_local_edits_are_not_on_the_server(project: Path) -> None:
    server, messages = FakeServer(), []
    server.fail_next = True  # the import of the edit fails, so the server does not have it
    session = start_session(project, server, messages, interval=1.0)
    try:
        (project / "webapp" / "pages" / "index.html").write_text("<p>local</p>\n")
        assert wait_for(lambda: session.counters.skipped_exports >= 1)
    finally:
        session.stop()
    assert server.exports == 0
    assert (project / "webapp" / "pages" / "index.html").read_text() == "<p>local</p>\n"


def test_session_refuses_a_protected_env(project: Path) -> None:
    with pytest.raises(RefusedError, match="protected"):
        WatchSession(Workspace.open(make_loaded(project, protected=True)), "dev", print, WatchOptions(debounce=1))


def test_watch_command_needs_an_export_folder_and_a_development_env(project: Path) -> None:
    from tests.helpers import run_cli

    (project / "appsync.toml").write_text(
        'export_dir = "missing"\n[env.dev]\nurl = "http://127.0.0.1:9"\n'
        '[env.prod]\nurl = "http://127.0.0.1:9"\nprotected = true\n[watch]\nenv = "dev"\n'
    )
    missing = run_cli("watch", cwd=project)
    assert missing.code == 2
    assert "the export folder" in missing.err and "does not exist" in missing.err
    assert "hint: run `appsync export --env dev` first" in missing.err
    protected = run_cli("watch", "--env", "prod", cwd=project)
    assert protected.code == 5
    assert "env 'prod' is protected; watch only imports into development environments" in protected.err
