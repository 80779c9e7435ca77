"""hook_runner's guards and argument handling, in-process (the server at 127.0.0.1:9 is never reachable)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from structr_appsync.errors import EXIT_UNREACHABLE
from structr_appsync.sync import hook_install, hook_runner
from tests.hookutil import git, hook_env, init_repo

UNREACHABLE = '[env.dev]\nurl = "http://127.0.0.1:9"\n'
SHA_A, SHA_B = "a" * 40, "b" * 40


def at(repo: Path) -> hook_runner.HookCall:
    """A hook call in ``repo`` with an environment that sets none of appsync's variables."""
    return hook_runner.HookCall(cwd=repo, environ={})


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("APPSYNC_PASSWORD", "secret")
    return init_repo(tmp_path / "repo")


def configure(repo: Path, extra: str = "") -> None:
    (repo / "appsync.toml").write_text(UNREACHABLE + extra)


@pytest.mark.parametrize(
    ("environ", "hook", "skipped"),
    [
        ({}, "pre-commit", False),
        ({"APPSYNC_HOOK_ACTIVE": "1"}, "pre-commit", True),
        ({"APPSYNC_HOOK_ACTIVE": "0"}, "pre-commit", False),
        ({"APPSYNC_SKIP": "1"}, "post-merge", True),
        ({"APPSYNC_SKIP": "true"}, "pre-push", True),
        ({"APPSYNC_SKIP": "pre-push"}, "pre-push", True),
        ({"APPSYNC_SKIP": "pre-push"}, "pre-commit", False),
        ({"APPSYNC_SKIP": "post-merge, pre-commit"}, "pre-commit", True),
        ({"APPSYNC_SKIP": ""}, "pre-commit", False),
    ],
)
def test_skip_reason(environ: dict[str, str], hook: str, skipped: bool) -> None:
    assert (hook_runner.skip_reason(hook, environ) is not None) is skipped


def test_an_unreachable_server_fails_pre_push_with_exit_3_or_warns(repo: Path) -> None:
    configure(repo)
    assert hook_runner.run_hook("pre-push", ["origin", "url"], at(repo)) == EXIT_UNREACHABLE
    configure(repo, '[hooks.pre-push]\non_unreachable = "warn"\n')
    assert hook_runner.run_hook("pre-push", ["origin", "url"], at(repo)) == 0


def test_pushing_only_deletions_needs_no_server(repo: Path) -> None:
    configure(repo)
    refs = f"(delete) {'0' * 40} refs/heads/old {SHA_A}\n"
    call = hook_runner.HookCall(stdin_text=refs, cwd=repo, environ={})
    assert hook_runner.run_hook("pre-push", ["origin", "url"], call) == 0


def test_disabled_hook_does_nothing(repo: Path) -> None:
    configure(repo, "[hooks.pre-commit]\nenabled = false\n")
    assert hook_runner.run_hook("pre-commit", [], at(repo)) == 0


@pytest.mark.parametrize(
    "args",
    [
        [SHA_A, SHA_B, "0"],  # a file checkout
        [SHA_A, SHA_A, "1"],  # HEAD did not move (git checkout -b)
        ["0" * 40, SHA_B, "1"],  # a clone or a new worktree
        [],
    ],
)
def test_post_checkout_ignores_everything_but_a_branch_switch(repo: Path, args: list[str]) -> None:
    configure(repo, "[hooks.post-checkout]\nenabled = true\n")
    # It would fail to import (no export folder, no server), with a warning: here nothing may even be tried.
    assert hook_runner.run_hook("post-checkout", args, at(repo)) == 0


def test_post_hooks_report_failures_as_warnings(repo: Path, caplog: pytest.LogCaptureFixture) -> None:
    configure(repo, "[hooks.post-merge]\nenabled = true\n")
    (repo / "webapp").mkdir()
    (repo / "webapp" / "pages.json").write_text("{}")
    git(repo, "add", "webapp")
    git(repo, "commit", "-q", "-m", "export", env=hook_env({"APPSYNC_SKIP": "1"}))
    assert hook_runner.run_hook("post-merge", ["0"], at(repo)) == 0
    assert any(record.levelname == "WARNING" and "post-merge" in record.getMessage() for record in caplog.records)


def test_missing_config_blocks_pre_hooks_and_warns_in_post_hooks(repo: Path) -> None:
    assert hook_runner.run_hook("pre-commit", [], at(repo)) == 2
    assert hook_runner.run_hook("post-merge", ["0"], at(repo)) == 0


def test_post_checkout_never_imports_when_an_apply_rebase_starts(repo: Path) -> None:
    """`git rebase --apply` runs post-checkout (flag 1) before it creates rebase-apply/: no import then."""
    configure(repo, "[hooks.post-checkout]\nenabled = true\n")
    git(repo, "add", "appsync.toml")
    git(repo, "commit", "-q", "-m", "config", env=hook_env({"APPSYNC_SKIP": "1"}))
    quiet = hook_env({"APPSYNC_SKIP": "1"})
    git(repo, "checkout", "-q", "-b", "feature", env=quiet)
    (repo / "webapp").mkdir()
    (repo / "webapp" / "feature.json").write_text('{"feature": 1}')
    git(repo, "add", "webapp")
    git(repo, "commit", "-q", "-m", "feature export", env=quiet)
    git(repo, "checkout", "-q", "main", env=quiet)
    (repo / "other.txt").write_text("main moves on\n")
    (repo / "webapp").mkdir()
    (repo / "webapp" / "pages.json").write_text('{"main": 1}')
    git(repo, "add", "other.txt", "webapp")
    git(repo, "commit", "-q", "-m", "main export", env=quiet)
    git(repo, "checkout", "-q", "feature", env=quiet)
    hook_install.install(hook_install.locate(repo, use_hooks_path=False), ["post-checkout"], python=sys.executable)

    # A branch switch tries to import (and warns: the server is unreachable) -- so the check below can fail.
    switched = git(repo, "checkout", "-q", "main")
    assert "appsync post-checkout" in switched.stderr
    git(repo, "checkout", "-q", "feature", env=quiet)

    rebased = git(repo, "-c", "rebase.backend=apply", "rebase", "-q", "main")
    assert (repo / "webapp" / "feature.json").exists() and (repo / "webapp" / "pages.json").exists()
    assert "appsync post-checkout" not in rebased.stderr, rebased.stderr
