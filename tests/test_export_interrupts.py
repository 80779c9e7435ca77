"""Ctrl-C, SIGTERM and a full disk in the middle of `appsync export` / `appsync import`: nothing is lost."""

from __future__ import annotations

import errno
import hashlib
import os
import pathlib
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import pytest

from structr_appsync.errors import EXIT_FAILED, EXIT_INTERRUPTED, ExportInvalid
from structr_appsync.exporttree import extract_export_zip
from structr_appsync.gitrepo import GitRepo
from tests.exportutil import head, make_export_repo
from tests.gitutil import git, repo_state
from tests.helpers import run_cli
from tests.paths import REPO_ROOT
from tests.structr_emulator.harness import Emulator


def full_state(root: Path) -> dict[str, str]:
    """repo_state plus every ref (refs/appsync too) and the index as `git ls-files -s` lists it."""
    state = repo_state(root)
    state["all-refs"] = git(root, "for-each-ref")
    state["ls-files"] = git(root, "ls-files", "-s")
    worktree = hashlib.sha256()
    for key in sorted(k for k in state if k.startswith(("file:", "link:", "dir:"))):
        worktree.update(f"{key}={state[key]}\n".encode())
    state["worktree-digest"] = worktree.hexdigest()
    return state


def spawn(root: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = {**os.environ, "APPSYNC_PASSWORD": "admin", "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "structr_appsync", *argv],
        cwd=root,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"appsync ended (exit {process.returncode}) before {what}: {out}{err}")
        if time.monotonic() > deadline:
            process.kill()
            process.communicate()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if not line.startswith("hint:")]


def exported_repo(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repo with one committed export, the user's work in progress, and a server change waiting to be exported."""
    root = make_export_repo(tmp_path, emulator, monkeypatch)
    assert run_cli("export", cwd=root).code == 0
    (root / "README.md").write_text("staged edit\n")
    git(root, "add", "README.md")
    (root / "README.md").write_text("unstaged edit on top\n")
    (root / "notes.txt").write_text("untracked\n")
    emulator.set_page_content("home", "<html><body>changed on the server</body></html>")
    return root


# -- a real process, a real signal, while the download is in flight ---------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_the_download_leaves_the_repository_byte_identical(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, sig: signal.Signals
) -> None:
    root = exported_repo(tmp_path, meetdown_emulator, monkeypatch)
    before = full_state(root)
    meetdown_emulator.set_fault("hang", seconds=15, path="/structr/deploy", count=1)
    tmp_base = root / ".git" / "appsync-tmp"
    process = spawn(root, "export")
    try:
        wait_for(lambda: any(tmp_base.glob("run-*/download")), process, "the download started")
        time.sleep(0.3)  # the GET is now waiting for the hung server
        process.send_signal(sig)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == EXIT_INTERRUPTED, err
    assert out == ""
    assert error_lines(err) == [f"appsync: error: interrupted by {sig.name}"], err
    assert "Traceback" not in err
    assert full_state(root) == before
    assert not tmp_base.exists()
    # the lock was released and nothing is in the way of the next export
    meetdown_emulator.clear_faults()
    result = run_cli("export", cwd=root)
    assert result.code == 0, result.err
    assert git(root, "show", "--name-only", "--format=", "HEAD").split() == ["webapp/pages/home.html"]


def test_signal_during_the_import_live_export_leaves_repository_server_and_tmp_untouched(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch)
    assert run_cli("export", cwd=root).code == 0
    first = head(root)
    meetdown_emulator.delete_page("login")
    assert run_cli("export", cwd=root).code == 0
    before = full_state(root)
    server_before = meetdown_emulator.state_digest()
    meetdown_emulator.set_fault("hang", seconds=15, path="/structr/deploy", count=1)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    process = spawn(root, "import", first, "--yes", "--allow-delete", env={"TMPDIR": str(tmp)})
    try:
        wait_for(lambda: any(tmp.glob("appsync-import-*/live")), process, "the live export started")
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == EXIT_INTERRUPTED, err
    assert error_lines(err) == ["appsync: error: interrupted by SIGINT"], err
    assert full_state(root) == before
    assert meetdown_emulator.state_digest() == server_before
    assert list(tmp.iterdir()) == []


def test_a_signal_during_the_upload_names_the_rollback_ref(
    tmp_path: Path, emulator_factory: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the upload has begun the server may be half-imported: the message must not claim otherwise."""
    from tests.paths import FIXTURES

    emulator = emulator_factory(deploy_delay=4)
    emulator.import_dir(FIXTURES / "meetdown")
    root = make_export_repo(tmp_path, emulator, monkeypatch)
    assert run_cli("export", cwd=root).code == 0
    first = head(root)
    emulator.delete_page("login")
    assert run_cli("export", cwd=root).code == 0
    before = repo_state(root)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    process = spawn(root, "import", first, "--yes", "--allow-delete", env={"TMPDIR": str(tmp)})
    try:
        wait_for(lambda: git(root, "for-each-ref", "refs/appsync/dev/pre-import/") != "", process, "the rollback point")
        time.sleep(1)  # the upload is in flight; the emulator takes 4 s over the import
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    rollback_ref = git(root, "for-each-ref", "--format=%(refname)", "refs/appsync/dev/pre-import/").strip()
    assert process.returncode == EXIT_INTERRUPTED, err
    assert [line for line in error_lines(err) if line.startswith("appsync")] == [
        "appsync: error: interrupted by SIGINT"
    ], err
    assert "nothing was left half-done" not in err
    assert f"roll back with: appsync import {rollback_ref}" in err, err
    assert repo_state(root) == before
    assert list(tmp.iterdir()) == []


# -- signals at the worst moments of the working-tree update (in process, at exact points) ----------------------


def test_a_signal_just_after_head_moved_finishes_the_export_consistently(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = exported_repo(tmp_path, meetdown_emulator, monkeypatch)
    old_head = head(root)
    original = GitRepo.update_ref

    def update_then_interrupt(self: GitRepo, name: str, sha: str, **kwargs: Any) -> None:
        original(self, name, sha, **kwargs)
        if name == "HEAD":
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(GitRepo, "update_ref", update_then_interrupt)
    result = run_cli("export", cwd=root)
    assert result.code == EXIT_INTERRUPTED, result.err
    # HEAD moved, so the working tree and the index must be at the new commit too, not rolled back under it
    assert head(root) != old_head
    assert git(root, "status", "--porcelain", "--", "webapp") == ""
    assert git(root, "diff", "--cached", "--name-only") == "README.md\n"
    assert "changed on the server" in (root / "webapp" / "pages" / "home.html").read_text()
    assert git(root, "rev-parse", "refs/appsync/dev/last-export^{tree}") != ""
    assert not (root / ".git" / "appsync-tmp").exists()


def test_a_signal_while_the_export_folder_is_swapped_loses_nothing(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch)
    assert run_cli("export", cwd=root).code == 0
    (root / "webapp" / "pages" / "home.html").write_text("my local edit\n")  # dirty: --force swaps the folder
    original = pathlib.Path.rename

    def rename_then_interrupt(self: Path, target: Any) -> Path:
        moved = original(self, target)
        if Path(target).name == "previous-worktree":  # the user's folder is aside, the new one not yet in
            os.kill(os.getpid(), signal.SIGINT)
        return moved

    monkeypatch.setattr(pathlib.Path, "rename", rename_then_interrupt)
    result = run_cli("export", "--force", cwd=root)
    monkeypatch.setattr(pathlib.Path, "rename", original)
    assert result.code == EXIT_INTERRUPTED, result.err
    # either as it was (with the local edit) or fully at the new state (the export, equal to HEAD)
    assert (root / "webapp" / "pages").is_dir(), "the export folder disappeared"
    local = (root / "webapp" / "pages" / "home.html").read_text()
    if local != "my local edit\n":
        assert git(root, "status", "--porcelain", "--", "webapp") == ""
    assert not (root / ".git" / "appsync-tmp").exists()


# -- a full disk ------------------------------------------------------------------------------------------------


class _FullDisk:
    """A file opened for writing on a disk that has just filled up."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def write(self, _data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def close(self) -> None:
        self._real.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


@pytest.mark.parametrize(
    "victim",
    [
        lambda path: path.name == "export.zip",  # streaming the download to disk
        lambda path: "unzipped" in path.parts,  # extracting it
        lambda path: path.name == "index.saved",  # saving the user's index before the swap
    ],
    ids=["download", "extract", "index-backup"],
)
def test_a_full_disk_during_export_is_one_clear_line_and_the_repository_is_untouched(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, victim: Callable[[Path], bool]
) -> None:
    root = exported_repo(tmp_path, meetdown_emulator, monkeypatch)
    before = full_state(root)
    original = pathlib.Path.open
    hits: list[Path] = []

    def open_on_full_disk(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = original(self, mode, *args, **kwargs)
        if "w" in mode and ".git" in self.parts and victim(self):
            hits.append(self)
            return _FullDisk(handle)
        return handle

    monkeypatch.setattr(pathlib.Path, "open", open_on_full_disk)
    if victim(Path("index.saved")):  # shutil.copy2 writes with open(), not Path.open
        import shutil

        real_copy = shutil.copy2

        def copy_on_full_disk(src: Any, dst: Any, **kwargs: Any) -> Any:
            if Path(dst).name == "index.saved":
                hits.append(Path(dst))
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
            return real_copy(src, dst, **kwargs)

        monkeypatch.setattr(shutil, "copy2", copy_on_full_disk)
    result = run_cli("export", cwd=root)
    monkeypatch.undo()
    assert hits, "the fault was never injected"
    assert result.code == EXIT_FAILED, result.err
    assert result.out == ""
    lines = error_lines(result.err)
    assert len(lines) == 1 and lines[0].startswith("appsync: error: cannot write on this machine: No space left"), (
        result.err
    )
    assert "hint: free disk space" in result.err
    assert "Traceback" not in result.err and "bug" not in result.err
    assert full_state(root) == before
    assert not (root / ".git" / "appsync-tmp").exists()


def test_a_full_disk_while_copying_a_path_transfer_export_is_reported_as_such(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch, transfer="path", server_dir=tmp_path / "shared")
    before = full_state(root)
    original_rename, real_copy = pathlib.Path.rename, shutil.copyfile

    def rename(self: Path, destination: Any) -> Path:
        if "shared" in self.parts:  # the shared folder is on another filesystem: the export must be copied
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), str(self))
        return original_rename(self, destination)

    def copy_on_full_disk(src: Any, dst: Any, **kwargs: Any) -> Any:
        if ".git" in Path(dst).parts:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        return real_copy(src, dst, **kwargs)

    monkeypatch.setattr(pathlib.Path, "rename", rename)
    monkeypatch.setattr(shutil, "copyfile", copy_on_full_disk)
    result = run_cli("export", cwd=root)
    monkeypatch.undo()
    assert result.code == EXIT_FAILED, result.err
    assert error_lines(result.err)[0].startswith("appsync: error: cannot write on this machine: No space left"), (
        result.err
    )
    assert full_state(root) == before
    assert list((tmp_path / "shared").iterdir()) == []


def test_a_full_disk_while_staging_rolls_the_files_back_even_if_the_index_copy_fails(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git fails on the full disk; putting the index back must not need space, and the files are undone anyway."""
    import shutil

    from structr_appsync.errors import GitError

    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch)
    assert run_cli("export", cwd=root).code == 0
    (root / "webapp" / "pages" / "home.html").write_text("my local edit\n")
    meetdown_emulator.set_page_content("login", "<html><body>changed on the server</body></html>")
    before = full_state(root)
    real_copy = shutil.copy2

    def copy_on_full_disk(src: Any, dst: Any, **kwargs: Any) -> Any:
        if Path(dst).name != "index.saved":  # the backup was taken before the disk filled up
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        return real_copy(src, dst, **kwargs)

    def reset_on_full_disk(self: GitRepo, commit: str, path: str) -> None:
        raise GitError("git reset failed: fatal: unable to write new index file: No space left on device")

    monkeypatch.setattr(shutil, "copy2", copy_on_full_disk)
    monkeypatch.setattr(GitRepo, "index_paths_from", reset_on_full_disk)
    result = run_cli("export", "--force", cwd=root)
    monkeypatch.undo()
    assert result.code == EXIT_FAILED, result.err
    assert "No space left on device" in result.err
    assert (root / "webapp" / "pages" / "home.html").read_text() == "my local edit\n"
    assert full_state(root) == before


def test_when_even_the_undo_fails_the_users_files_are_kept_not_deleted(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from structr_appsync.errors import GitError

    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch)
    assert run_cli("export", cwd=root).code == 0
    (root / "webapp" / "pages" / "home.html").write_text("my local edit\n")
    original = pathlib.Path.rename

    def rename_fails_back(self: Path, target: Any) -> Path:
        if self.name == "previous-worktree":  # the undo's move of the user's folder back into place
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(self))
        return original(self, target)

    def reset_fails(self: GitRepo, commit: str, path: str) -> None:
        raise GitError("git reset failed: simulated")

    monkeypatch.setattr(pathlib.Path, "rename", rename_fails_back)
    monkeypatch.setattr(GitRepo, "index_paths_from", reset_fails)
    result = run_cli("export", "--force", cwd=root)
    monkeypatch.undo()
    assert result.code != 0
    assert "are kept in" in result.err
    kept = list((root / ".git" / "appsync-tmp").glob("run-*/previous-worktree/pages/home.html"))
    assert [path.read_text() for path in kept] == ["my local edit\n"]
    # the next run (this process has ended by then) points at it instead of deleting it
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True, capture_output=True)
    (kept[0].parents[2] / "owner.pid").write_bytes(gone.stdout.strip())
    monkeypatch.setenv("APPSYNC_PASSWORD", "admin")
    meetdown_emulator.set_fault("status", code=500, path="/structr/deploy")
    result = run_cli("export", "--force", cwd=root)
    assert str(kept[0].parents[2]) in result.err
    assert kept[0].read_text() == "my local edit\n"


def test_apply_changes_undoes_a_file_whose_replacement_could_not_be_placed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from structr_appsync.sync.worktree import apply_changes

    target, new, backup = tmp_path / "webapp", tmp_path / "new", tmp_path / "backup"
    for folder, files in (
        (target, {"a.html": "old a", "b.html": "old b"}),
        (new, {"a.html": "new a", "b.html": "new b"}),
    ):
        (folder / "pages").mkdir(parents=True)
        for name, text in files.items():
            (folder / "pages" / name).write_text(text)
    original = pathlib.Path.rename
    failing = new / "pages" / "b.html"

    def rename(self: Path, destination: Any) -> Path:
        if self == failing:  # the old b.html is already aside when its replacement fails to move in
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(self))
        return original(self, destination)

    monkeypatch.setattr(pathlib.Path, "rename", rename)
    with pytest.raises(OSError, match="Input/output error"):
        apply_changes(target, new, [("M", "pages/a.html"), ("M", "pages/b.html")], backup)
    monkeypatch.undo()
    assert {path.name: path.read_text() for path in (target / "pages").iterdir()} == {
        "a.html": "old a",
        "b.html": "old b",
    }


def test_a_swap_that_fails_halfway_puts_the_users_folder_back(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch)
    assert run_cli("export", cwd=root).code == 0
    (root / "webapp" / "pages" / "home.html").write_text("my local edit\n")
    before = full_state(root)
    original = pathlib.Path.rename

    def rename(self: Path, destination: Any) -> Path:
        if self.name == "webapp" and "unzipped" in self.parts:  # the user's folder is aside; the new one fails
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(self))
        return original(self, destination)

    monkeypatch.setattr(pathlib.Path, "rename", rename)
    result = run_cli("export", "--force", cwd=root)
    monkeypatch.setattr(pathlib.Path, "rename", original)
    assert result.code == EXIT_FAILED, result.err
    assert full_state(root) == before
    assert not (root / ".git" / "appsync-tmp").exists()


def test_a_full_disk_after_the_upload_still_names_the_rollback_ref(
    tmp_path: Path, meetdown_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from structr_appsync.sync import importer

    root = make_export_repo(tmp_path, meetdown_emulator, monkeypatch)
    assert run_cli("export", cwd=root).code == 0
    first = head(root)
    meetdown_emulator.delete_page("login")
    assert run_cli("export", cwd=root).code == 0

    def verify_on_full_disk(*_args: Any, **_kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(importer, "_verify", verify_on_full_disk)
    result = run_cli("import", first, "--yes", "--allow-delete", cwd=root)
    rollback_ref = git(root, "for-each-ref", "--format=%(refname)", "refs/appsync/dev/pre-import/").strip()
    assert result.code == EXIT_FAILED, result.err
    errors = [line for line in result.err.splitlines() if line.startswith("appsync:")]
    assert errors == [
        "appsync: error: cannot write on this machine: No space left on device; the import was not verified"
    ]
    assert rollback_ref and f"roll back with: appsync import {rollback_ref}" in result.err


def test_a_corrupt_deflate_stream_is_an_invalid_export_not_a_crash(tmp_path: Path) -> None:
    payload = os.urandom(40_000).hex().encode()
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("webapp/deployment.conf", b"{}")
        archive.writestr("webapp/files/blob.txt", payload)
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as archive:
        info = archive.getinfo("webapp/files/blob.txt")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start : start + 64] = bytes([0xFF]) * 64  # an invalid deflate block header; the directory stays intact
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(data))
    with pytest.raises(ExportInvalid, match="truncated or corrupt"):
        extract_export_zip(bad, tmp_path / "out")


# -- the password never shows -----------------------------------------------------------------------------------

SECRET = "Pw-9f3c1e7a-never-show"
WRONG_SECRET = "Pw-0b5d2c88-wrong-one"


def _everything_git_stores(root: Path) -> bytes:
    objects = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"], cwd=root, check=True, capture_output=True
    ).stdout
    texts = [objects, git(root, "for-each-ref").encode(), git(root, "log", "--all", "--format=%B%n%N").encode()]
    for path in (root / ".git").rglob("*"):
        if path.is_file() and "objects" not in path.relative_to(root / ".git").parts:
            texts.append(path.read_bytes())  # refs, reflogs, config, index, hooks
    return b"\n".join(texts)


def test_the_password_never_reaches_argv_logs_commits_refs_or_errors(
    tmp_path: Path, emulator_factory: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    import psutil

    from tests.paths import FIXTURES

    emulator = emulator_factory(superuser_password=SECRET)
    emulator.import_dir(FIXTURES / "hello-world")
    root = make_export_repo(tmp_path, emulator, monkeypatch)
    config = root / "appsync.toml"
    config.write_text(config.read_text().replace('user = "admin"', 'user = "superadmin"'))
    secret_env = {"APPSYNC_PASSWORD": SECRET}

    # argv of appsync and of everything it starts, looked at while the export waits for the server
    emulator.set_fault("hang", seconds=2, path="/structr/deploy", count=1)
    process = spawn(root, "-vv", "export", env=secret_env)
    argv_seen: list[str] = []
    try:
        wait_for(lambda: any((root / ".git" / "appsync-tmp").glob("run-*/download")), process, "the download")
        me = psutil.Process(process.pid)
        for proc in [me, *me.children(recursive=True)]:
            with_children = proc.cmdline()
            argv_seen.append(" ".join(with_children))
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert argv_seen and "structr_appsync" in argv_seen[0]
    assert all(SECRET not in argv for argv in argv_seen)
    assert "GET" in err, "-vv should log the requests (else this check proves nothing)"
    assert SECRET not in out + err

    emulator.set_page_content("hello-world", "<html><body>second</body></html>")
    for argv in (["-vv", "export"], ["-vv", "status"], ["-vv", "import", "HEAD~1", "--dry-run"]):
        done = subprocess.run(
            [sys.executable, "-m", "structr_appsync", *argv],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **secret_env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert SECRET not in done.stdout + done.stderr, argv

    # a refused password, with tracebacks on: neither the right nor the wrong one is printed
    for argv in (["-vv", "export"], ["-vv", "status"]):
        done = subprocess.run(
            [sys.executable, "-m", "structr_appsync", *argv],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "APPSYNC_PASSWORD": WRONG_SECRET},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 3, done.stderr
        assert "Traceback" in done.stderr  # -v shows the exception chain, which must not hold the password either
        assert WRONG_SECRET not in done.stdout + done.stderr and SECRET not in done.stderr, argv

    stored = _everything_git_stores(root)
    assert git(root, "rev-list", "--count", "HEAD") == "3\n"  # the commits to search exist
    assert SECRET.encode() not in stored and WRONG_SECRET.encode() not in stored


# -- one line that says what to do -------------------------------------------------------------------------------


def _one_error_with_hint(err: str) -> tuple[str, str]:
    lines = err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("appsync: error: ") and lines[1].startswith("hint: "), err
    return lines[0], lines[1]


def test_a_url_that_is_not_structrs_base_says_so(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_export_repo(tmp_path, emulator, monkeypatch)
    config = root / "appsync.toml"
    config.write_text(config.read_text().replace(f'url = "{emulator.url}"', f'url = "{emulator.url}/structr"'))
    before = full_state(root)
    for command in ("export", "status"):
        result = run_cli(command, cwd=root)
        assert result.code == 4, result.err
        error, hint = _one_error_with_hint(result.err)
        assert "is this Structr's base URL?" in error
        assert "env.<name>.url" in hint
    assert full_state(root) == before


def test_an_unreachable_port_and_an_unknown_ref_say_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:

    class Nowhere:
        url = "http://127.0.0.1:9"  # discard port: nothing listens

    root = make_export_repo(tmp_path, Nowhere(), monkeypatch)  # type: ignore[arg-type]
    result = run_cli("export", cwd=root)
    assert result.code == 3, result.err
    error, _hint = _one_error_with_hint(result.err)
    assert error.endswith("connection refused (nothing listens on that port)")
    result = run_cli("import", "no-such-ref", cwd=root)
    assert result.code == 2, result.err
    error, hint = _one_error_with_hint(result.err)
    assert "'no-such-ref' is not a commit" in error and "appsync log" in hint


def test_a_password_written_into_the_url_is_refused_without_being_echoed(tmp_path: Path) -> None:
    secret = "Pw-7c1e"  # short: pydantic abbreviates long values, which would hide the leak from this test
    (tmp_path / "appsync.toml").write_text(
        f'export_dir = "webapp"\ndefault_env = "dev"\n[env.dev]\nurl = "http://admin:{secret}@localhost:8082"\n'
    )
    git(tmp_path, "init", "-q")
    result = run_cli("-v", "export", cwd=tmp_path)
    assert result.code == 2, result.err
    assert "env.dev.url" in result.err and "must not contain credentials" in result.err
    assert "Traceback" in result.err  # -v: the whole chain is printed, and it must not quote the value either
    assert secret not in result.out + result.err
