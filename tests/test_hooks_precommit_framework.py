"""The pre-commit framework runs appsync's export through the entry in .pre-commit-hooks.yaml.

The hook repository is a git repository made from this source tree at a commit (pre-commit clones it and
builds a virtualenv with `pip install .`, fetching appsync's dependencies from PyPI). The environment is cached
for the whole test session in a temporary PRE_COMMIT_HOME.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]  # installed with pre-commit

from tests.helpers import run_cli
from tests.hookutil import git, hook_env, init_repo
from tests.paths import FIXTURES, REPO_ROOT
from tests.structr_emulator.harness import Emulator

PRE_COMMIT = Path(sys.executable).with_name("pre-commit")
SOURCE_ITEMS = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "hooks", "structr_appsync")


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A git repository holding this source tree, and its commit (what a `rev:` pins)."""
    repo = tmp_path_factory.mktemp("appsync-hook-repo")
    for item in SOURCE_ITEMS:
        source = REPO_ROOT / item
        if source.is_dir():
            shutil.copytree(source, repo / item, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, repo / item)
    env = hook_env({"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"})  # fmt: skip
    git(repo, "init", "-q", "-b", "main", env=env)
    git(repo, "add", "-A", env=env)
    git(repo, "commit", "-q", "-m", "appsync at test time", env=env)
    return repo, git(repo, "rev-parse", "HEAD", env=env).stdout.strip()


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def test_hook_manifest_matches_the_hidden_entry_point() -> None:
    manifest = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    hooks = {hook["id"]: hook for hook in manifest}
    assert hooks["appsync-export"]["entry"] == "appsync hook-run pre-commit"
    assert hooks["appsync-export"]["language"] == "python"
    assert hooks["appsync-export"]["pass_filenames"] is False
    assert hooks["appsync-export"]["always_run"] is True
    assert hooks["appsync-drift-check"]["entry"] == "appsync hook-run pre-push"
    assert hooks["appsync-drift-check"]["stages"] == ["pre-push"]


@pytest.mark.slow
def test_pre_commit_framework_runs_the_export(
    tmp_path: Path,
    emulator: Emulator,
    hook_repo: tuple[Path, str],
    pre_commit_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not PRE_COMMIT.exists():
        pytest.skip(f"pre-commit is not installed beside {sys.executable}")
    monkeypatch.setenv("APPSYNC_PASSWORD", "admin")
    monkeypatch.setenv("PRE_COMMIT_HOME", str(pre_commit_home))
    emulator.import_dir(FIXTURES / "hello-world")
    repo = init_repo(tmp_path / "project")
    assert run_cli("init", "--url", emulator.url, cwd=repo).code == 0
    assert run_cli("export", cwd=repo).code == 0
    hook_path, rev = hook_repo
    config = {"repos": [{"repo": str(hook_path), "rev": rev, "hooks": [{"id": "appsync-export"}]}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    env = hook_env({"PRE_COMMIT_HOME": str(pre_commit_home)})
    env.pop("PYTHONPATH", None)  # the hook must run from the environment pre-commit built, not this checkout
    installed = subprocess.run(
        [str(PRE_COMMIT), "install"], cwd=repo, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert installed.returncode == 0, installed.stderr

    emulator.set_page_content("hello-world", "<!DOCTYPE html>\n<html><body><h1>via pre-commit</h1></body></html>")
    git(repo, "add", "appsync.toml", ".pre-commit-config.yaml", env=env)
    result = git(repo, "commit", "-m", "with the framework", env=env, check=False, stdin="")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "appsync export" in result.stdout + result.stderr  # the framework's status line for the hook
    files = git(repo, "show", "--name-only", "--format=", "HEAD").stdout.split()
    assert "webapp/pages/hello-world.html" in files
    assert "via pre-commit" in git(repo, "show", "HEAD:webapp/pages/hello-world.html").stdout
