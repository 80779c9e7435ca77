"""Helpers for the hook and watch tests: real git repositories, git run as a subprocess so hooks really run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.paths import REPO_ROOT


def hook_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment git runs with: appsync importable by the baked interpreter (no install needed)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("APPSYNC_HOOK_ACTIVE", None)
    env.pop("APPSYNC_SKIP", None)
    env.update(extra or {})
    return env


def git(
    repo: Path, *args: str, env: dict[str, str] | None = None, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run git in ``repo`` with hooks enabled; raise with git's output when ``check`` and it fails."""
    result = subprocess.run(
        ["git", *args],
        cwd=repo,
        env=env if env is not None else hook_env(),
        capture_output=True,
        text=True,
        input=stdin,
        timeout=300,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def init_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("test repository\n")
    git(path, "add", "README.md")
    git(path, "commit", "-q", "-m", "initial", env=hook_env({"APPSYNC_SKIP": "1"}))
    return path


def appsync_cli(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m structr_appsync` as a separate process (as a user or an installed hook would)."""
    return subprocess.run(
        [sys.executable, "-m", "structr_appsync", *args],
        cwd=repo,
        env=env if env is not None else hook_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def write_executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path
