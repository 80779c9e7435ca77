"""Helpers for tests that need real git repositories and byte-exact before/after comparisons."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    return path


def repo_state(repo: Path) -> dict[str, str]:
    """HEAD, every ref, the index file bytes and every working-tree file (bytes and mode), as digests."""
    state: dict[str, str] = {}
    head = subprocess.run(
        ["git", "rev-parse", "-q", "--verify", "HEAD"], cwd=repo, capture_output=True, text=True, check=False
    )
    state["HEAD"] = head.stdout.strip()
    state["refs/heads"] = git(repo, "for-each-ref", "refs/heads")
    index = repo / ".git" / "index"
    state["index"] = hashlib.sha256(index.read_bytes()).hexdigest() if index.exists() else "-"
    for path in sorted(repo.rglob("*")):
        relative = path.relative_to(repo)
        if relative.parts[0] == ".git":
            continue
        if path.is_symlink():
            state[f"link:{relative}"] = str(path.readlink())
        elif path.is_file():
            state[f"file:{relative}"] = f"{path.stat().st_mode:o}:" + hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.is_dir():
            state[f"dir:{relative}"] = ""
    return state
