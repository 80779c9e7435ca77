"""`appsync hooks install|uninstall|status` against real git repositories, with hooks run by real git."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from structr_appsync.errors import HookError
from structr_appsync.sync import hook_install
from tests.helpers import run_cli
from tests.hookutil import git, hook_env, init_repo, write_executable

FOREIGN = '#!/bin/sh\necho "foreign $0 $*" >> "$(git rev-parse --git-dir)/foreign.log"\n'


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return init_repo(tmp_path / "repo")


def hooks_dir(repo: Path) -> Path:
    return repo / ".git" / "hooks"


def foreign_log(repo: Path) -> list[str]:
    log = repo / ".git" / "foreign.log"
    return log.read_text().splitlines() if log.exists() else []


def test_install_writes_marked_executable_shims_with_the_interpreter(repo: Path) -> None:
    result = run_cli("hooks", "install", "--hooks", "pre-commit,post-merge", cwd=repo)
    assert result.code == 0, result.err
    for name in ("pre-commit", "post-merge"):
        shim = hooks_dir(repo) / name
        text = shim.read_text()
        assert text.startswith("#!/bin/sh\n")
        assert hook_install.HOOK_ID in text
        assert f"# appsync-hook-version: {hook_install.SHIM_VERSION}" in text
        assert f"HOOK_TYPE={name}\n" in text
        assert f"APPSYNC_PYTHON={sys.executable}\n" in text
        assert shim.stat().st_mode & stat.S_IXUSR
    assert not (hooks_dir(repo) / "pre-push").exists()
    states = {s.hook_type: s.state for s in hook_install.status(hook_install.locate(repo, use_hooks_path=False))}
    assert states["pre-commit"] is hook_install.HookState.CURRENT
    assert states["pre-push"] is hook_install.HookState.ABSENT


def test_default_install_is_pre_commit_and_pre_push_plus_enabled_post_hooks(repo: Path) -> None:
    (repo / "appsync.toml").write_text('[env.dev]\nurl = "http://127.0.0.1:9"\n[hooks.post-merge]\nenabled = true\n')
    assert run_cli("hooks", "install", cwd=repo).code == 0
    present = sorted(p.name for p in hooks_dir(repo).iterdir() if not p.name.endswith(".sample"))
    assert present == ["post-merge", "pre-commit", "pre-push"]


def test_foreign_hook_is_kept_still_runs_and_comes_back_on_uninstall(repo: Path) -> None:
    original = write_executable(hooks_dir(repo) / "pre-commit", FOREIGN)
    original.chmod(0o750)  # not what appsync writes its own shims with
    original_bytes = original.read_bytes()
    assert run_cli("hooks", "install", "--hooks", "pre-commit", cwd=repo).code == 0
    legacy = hooks_dir(repo) / "pre-commit.legacy"
    assert legacy.read_bytes() == original_bytes
    assert stat.S_IMODE(legacy.stat().st_mode) == 0o750
    assert hook_install.HOOK_ID in original.read_text()

    # appsync's own part is skipped here; the foreign hook must run all the same, through real `git commit`.
    git(repo, "commit", "-q", "--allow-empty", "-m", "one", env=hook_env({"APPSYNC_SKIP": "1"}))
    assert len(foreign_log(repo)) == 1

    status = run_cli("hooks", "status", cwd=repo)
    assert "pre-commit: installed (version 1), chains to pre-commit.legacy" in status.out

    # Installing again must not move our own shim over the foreign hook.
    again = run_cli("hooks", "install", "--hooks", "pre-commit", cwd=repo)
    assert "already installed" in again.out
    assert legacy.read_bytes() == original_bytes

    assert run_cli("hooks", "uninstall", cwd=repo).code == 0
    assert original.read_bytes() == original_bytes
    assert stat.S_IMODE(original.stat().st_mode) == 0o750
    assert not legacy.exists()
    git(repo, "commit", "-q", "--allow-empty", "-m", "two")
    assert len(foreign_log(repo)) == 2


def test_failing_foreign_pre_commit_stops_the_commit_before_appsync(repo: Path) -> None:
    write_executable(hooks_dir(repo) / "pre-commit", "#!/bin/sh\necho lint failed >&2\nexit 3\n")
    assert run_cli("hooks", "install", "--hooks", "pre-commit", cwd=repo).code == 0
    result = git(repo, "commit", "--allow-empty", "-m", "x", check=False)
    assert result.returncode != 0
    assert "lint failed" in result.stderr
    assert "appsync" not in result.stderr  # appsync's part never started


def test_commit_without_config_fails_with_one_actionable_line(repo: Path) -> None:
    assert run_cli("hooks", "install", "--hooks", "pre-commit", cwd=repo).code == 0
    result = git(repo, "commit", "--allow-empty", "-m", "x", check=False)
    assert result.returncode == 1
    assert "error: appsync pre-commit: no appsync.toml" in result.stderr
    assert "hint: " in result.stderr and "APPSYNC_SKIP=1" in result.stderr
    assert "Traceback" not in result.stderr
    # APPSYNC_SKIP=1 lets the commit through; so does APPSYNC_SKIP naming the hook.
    git(repo, "commit", "-q", "--allow-empty", "-m", "x", env=hook_env({"APPSYNC_SKIP": "1"}))
    git(repo, "commit", "-q", "--allow-empty", "-m", "y", env=hook_env({"APPSYNC_SKIP": "pre-push,pre-commit"}))


def test_recursion_guard_skips_appsync_but_not_the_foreign_hook(repo: Path, tmp_path: Path) -> None:
    write_executable(hooks_dir(repo) / "pre-commit", FOREIGN)
    marker = tmp_path / "appsync-called"
    fake_bin = tmp_path / "bin"
    write_executable(fake_bin / "appsync", f'#!/bin/sh\necho "$@" >> {marker}\n')
    location = hook_install.locate(repo, use_hooks_path=False)
    hook_install.install(location, ["pre-commit"], python="/nonexistent/python3")
    env = hook_env({"PATH": f"{fake_bin}:/usr/bin:/bin", "APPSYNC_HOOK_ACTIVE": "1"})
    git(repo, "commit", "-q", "--allow-empty", "-m", "by appsync", env=env)
    assert len(foreign_log(repo)) == 1
    assert not marker.exists()


def test_missing_interpreter_falls_back_to_appsync_on_path(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "appsync-called"
    fake_bin = tmp_path / "bin"
    write_executable(fake_bin / "appsync", f'#!/bin/sh\necho "$@" >> {marker}\n')
    location = hook_install.locate(repo, use_hooks_path=False)
    hook_install.install(location, ["pre-commit", "post-checkout"], python="/nonexistent/python3")
    states = {s.hook_type: s for s in hook_install.status(location)}
    assert states["pre-commit"].interpreter == "/nonexistent/python3"
    assert not states["pre-commit"].interpreter_ok
    git(repo, "commit", "-q", "--allow-empty", "-m", "x", env=hook_env({"PATH": f"{fake_bin}:/usr/bin:/bin"}))
    assert marker.read_text().splitlines() == ["hook-run pre-commit --"]


def test_no_interpreter_and_no_appsync_gives_one_line_error(repo: Path) -> None:
    location = hook_install.locate(repo, use_hooks_path=False)
    hook_install.install(location, ["pre-commit", "post-checkout"], python="/nonexistent/python3")
    env = hook_env({"PATH": "/usr/bin:/bin"})
    result = git(repo, "commit", "--allow-empty", "-m", "x", env=env, check=False)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "appsync not found" in lines[0] and "APPSYNC_SKIP=1" in lines[0]
    # A post-* hook cannot undo anything: it reports and lets git succeed.
    git(repo, "branch", "other", env=env)
    checkout = git(repo, "checkout", "-q", "other", env=env, check=False)
    assert checkout.returncode == 0
    assert "appsync not found" in checkout.stderr


def test_pre_push_refs_reach_both_the_foreign_hook_and_appsync(repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    legacy_seen = tmp_path / "legacy-stdin"
    ours_seen = tmp_path / "appsync-stdin"
    write_executable(hooks_dir(repo) / "pre-push", f"#!/bin/sh\ncat > {legacy_seen}\n")
    fake_bin = tmp_path / "bin"
    write_executable(fake_bin / "appsync", f'#!/bin/sh\necho "$@" > {ours_seen}.args\ncat > {ours_seen}\n')
    location = hook_install.locate(repo, use_hooks_path=False)
    hook_install.install(location, ["pre-push"], python="/nonexistent/python3")
    git(repo, "push", "-q", "origin", "main", env=hook_env({"PATH": f"{fake_bin}:/usr/bin:/bin"}))
    head = git(repo, "rev-parse", "HEAD").stdout.strip()
    assert head in legacy_seen.read_text()
    assert legacy_seen.read_text() == ours_seen.read_text()
    assert Path(f"{ours_seen}.args").read_text().split() == ["hook-run", "pre-push", "--", "origin", str(remote)]


def test_older_appsync_shims_are_upgraded_in_place(repo: Path) -> None:
    old_versioned = hook_install.render("pre-commit", sys.executable).replace(
        f"# appsync-hook-version: {hook_install.SHIM_VERSION}", "# appsync-hook-version: 0"
    )
    write_executable(hooks_dir(repo) / "pre-commit", old_versioned)
    write_executable(hooks_dir(repo) / "pre-push", f"#!/bin/sh\n{hook_install.PRIOR_IDS[0]}\nexec appsync x\n")
    location = hook_install.locate(repo, use_hooks_path=False)
    states = {s.hook_type: s for s in hook_install.status(location)}
    assert states["pre-commit"].state is hook_install.HookState.OUTDATED
    assert states["pre-commit"].version == 0
    assert states["pre-push"].state is hook_install.HookState.OUTDATED

    result = run_cli("hooks", "install", cwd=repo)
    assert result.code == 0
    assert "pre-commit: upgraded from version 0" in result.out
    assert not (hooks_dir(repo) / "pre-commit.legacy").exists()
    assert not (hooks_dir(repo) / "pre-push.legacy").exists()
    states = {s.hook_type: s for s in hook_install.status(location)}
    assert states["pre-commit"].state is hook_install.HookState.CURRENT
    assert states["pre-push"].state is hook_install.HookState.CURRENT


def test_core_hooks_path_is_refused_with_a_hint_unless_asked(repo: Path) -> None:
    git(repo, "config", "core.hooksPath", ".husky/_")
    refused = run_cli("hooks", "install", cwd=repo)
    assert refused.code == 1
    assert "core.hooksPath is set to '.husky/_'" in refused.err
    assert "hint: install there with `appsync hooks install --hooks-path`" in refused.err
    assert not (hooks_dir(repo) / "pre-commit").exists()

    accepted = run_cli("hooks", "install", "--hooks-path", "--hooks", "pre-commit", cwd=repo)
    assert accepted.code == 0, accepted.err
    installed = repo / ".husky" / "_" / "pre-commit"
    assert hook_install.HOOK_ID in installed.read_text()
    # git really runs it from there: without a config the commit fails with appsync's message.
    result = git(repo, "commit", "--allow-empty", "-m", "x", check=False)
    assert "appsync pre-commit: no appsync.toml" in result.stderr

    assert "core.hooksPath = .husky/_" in run_cli("hooks", "status", cwd=repo).out
    assert run_cli("hooks", "uninstall", cwd=repo).code == 0
    assert not installed.exists()


def test_hooks_path_pointing_at_the_default_directory_is_not_refused(repo: Path) -> None:
    git(repo, "config", "core.hooksPath", str(hooks_dir(repo)))
    assert run_cli("hooks", "install", "--hooks", "pre-commit", cwd=repo).code == 0


def test_foreign_hook_and_legacy_file_together_are_refused(repo: Path) -> None:
    write_executable(hooks_dir(repo) / "pre-commit", FOREIGN)
    write_executable(hooks_dir(repo) / "pre-commit.legacy", "#!/bin/sh\nexit 0\n")
    with pytest.raises(HookError, match=r"pre-commit\.legacy already exists"):
        hook_install.install(hook_install.locate(repo, use_hooks_path=False), ["pre-commit"])
    assert (hooks_dir(repo) / "pre-commit").read_text() == FOREIGN


def test_uninstall_leaves_foreign_hooks_alone(repo: Path) -> None:
    write_executable(hooks_dir(repo) / "pre-push", FOREIGN)
    result = run_cli("hooks", "uninstall", cwd=repo)
    assert result.code == 0
    assert "pre-push: not appsync's hook, left in place" in result.out
    assert (hooks_dir(repo) / "pre-push").read_text() == FOREIGN


@pytest.mark.parametrize("action", ["install", "uninstall", "status"])
def test_outside_a_repository_is_a_setup_error(tmp_path: Path, action: str) -> None:
    result = run_cli("hooks", action, cwd=tmp_path)
    assert result.code == 2  # as for every other command run outside a repository
    assert "is not inside a git repository" in result.err


def test_unknown_hook_name_is_refused(repo: Path) -> None:
    result = run_cli("hooks", "install", "--hooks", "pre-commit,commit-msg", cwd=repo)
    assert result.code == 1
    assert "unknown hook 'commit-msg'" in result.err


def test_status_json(repo: Path) -> None:
    run_cli("hooks", "install", "--hooks", "pre-push", cwd=repo)
    result = run_cli("hooks", "status", "--json", cwd=repo)
    assert result.code == 0
    assert '"state": "current"' in result.out
    assert '"state": "absent"' in result.out


def test_hook_run_is_hidden_from_help() -> None:
    result = run_cli("--help")
    assert "hooks" in result.out
    assert "hook-run" not in result.out
    assert "SUPPRESS" not in result.out


def test_template_is_found_from_the_source_tree() -> None:
    text = hook_install.render("post-checkout", "/opt/py/bin/python3")
    assert "APPSYNC_PYTHON=/opt/py/bin/python3\n" in text
    quoted = hook_install.render("post-checkout", "/opt/my py/bin/python3")
    assert "APPSYNC_PYTHON='/opt/my py/bin/python3'\n" in quoted


def test_a_module_in_the_repository_cannot_shadow_appsyncs_imports(repo: Path) -> None:
    # The hook runs with the repository as its working directory; python -m would normally import from there.
    (repo / "structr_appsync").mkdir()
    (repo / "structr_appsync" / "__init__.py").write_text("raise SystemExit('shadowed')\n")
    (repo / "structr_appsync" / "__main__.py").write_text("raise SystemExit('shadowed')\n")
    assert run_cli("hooks", "install", "--hooks", "pre-commit", cwd=repo).code == 0
    result = git(repo, "commit", "--allow-empty", "-m", "x", check=False)
    assert "shadowed" not in result.stderr
    assert "appsync pre-commit: no appsync.toml" in result.stderr
