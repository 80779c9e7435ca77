"""Set-up helpers for export tests: a git repository wired to an emulator through appsync.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gitutil import git, make_repo
from tests.structr_emulator.harness import Emulator


def write_config(
    root: Path,
    emulator: Emulator,
    *,
    transfer: str = "zip",
    deploy_timeout: float = 60.0,
    server_dir: Path | None = None,
    lock_timeout: float = 30.0,
    env: str = "dev",
    normalize: str = "",
) -> Path:
    lines = [
        'export_dir = "webapp"',
        f'default_env = "{env}"',
        f"lock_timeout = {lock_timeout}",
        normalize,
        f"[env.{env}]",
        f'url = "{emulator.url}"',
        'user = "admin"',
        f'transfer = "{transfer}"',
        f"[env.{env}.timeouts]",
        f"deploy = {deploy_timeout}",
        "request = 10",
    ]
    if server_dir is not None:
        lines += [f"[env.{env}.path_transfer]", f'server_dir = "{server_dir}"']
    path = root / "appsync.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def make_export_repo(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch, **options: object) -> Path:
    """A git repository with one user commit (README) and an appsync.toml (untracked) for ``emulator``."""
    root = make_repo(tmp_path / "repo")
    (root / "README.md").write_text("my app\n")
    git(root, "add", "README.md")
    git(root, "commit", "-q", "-m", "user commit")
    write_config(root, emulator, **options)  # type: ignore[arg-type]
    monkeypatch.setenv("APPSYNC_PASSWORD", "admin")
    return root


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()


def commit_count(root: Path) -> int:
    return int(git(root, "rev-list", "--count", "HEAD").strip())


def message(root: Path, rev: str = "HEAD") -> str:
    return git(root, "log", "-1", "--format=%B", rev)
