"""Benchmark `appsync export` against a bare baseline, in one run (a script, not a timed test).

    .venv/bin/python -m tests.bench.bench_export [--pages 2000] [--files 5000] [--megabytes 200] [--rounds 2]

It generates an app in the Structr emulator (pages, files in folders, one megabyte total split evenly), then
measures, in the same process and against the same emulator:

* baseline: one bare `GET /structr/deploy?name=webapp` streamed to disk, unzip into the repository (after
  removing the old folder), `git add -A && git commit`;
* `appsync export` (a separate process, as a user runs it) into its own repository;
* the same two again with nothing changed (the no-op export), and after one page changed;
* the peak RSS of the appsync process (VmHWM; its git children are small).

The best of --rounds runs is reported for each, as ratios appsync / baseline. The target is <= 1.15.

A run on the shared 2-core development box (2026-11-26, default size, 2 rounds): export 16.99s vs 15.86s
(ratio 1.07), no-op 10.92s vs 11.37s (0.96), one page changed 10.10s vs 10.74s (0.94), peak RSS 85.6 MiB.
Most of the time is the emulator producing the ZIP, which both sides pay.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from tests.structr_emulator.harness import ADMIN, Emulator, running_emulator

REPO_ROOT = Path(__file__).resolve().parents[2]
GRANTEES = [{"allowed": ["read", "write", "delete", "accessControl"], "name": "admin"}]


def _page_meta(position: int) -> dict[str, Any]:
    return {
        "basicAuthRealm": None, "cacheForSeconds": None, "category": "bench", "contentType": "text/html",
        "dontCache": False, "enableBasicAuth": False, "grantees": GRANTEES, "hidden": False,
        "id": uuid.uuid4().hex, "owner": {"name": "admin"}, "pageCreatesRawData": False, "position": position,
        "showOnErrorCodes": None, "visibleToAuthenticatedUsers": True, "visibleToPublicUsers": True,
    }  # fmt: skip


def _file_meta(kind: str, content_type: str | None) -> dict[str, Any]:
    return {
        "basicAuthRealm": None, "cacheForSeconds": None, "contentType": content_type, "enableBasicAuth": False,
        "grantees": GRANTEES, "id": uuid.uuid4().hex, "includeInFrontendExport": True, "owner": {"name": "admin"},
        "type": kind, "visibleToAuthenticatedUsers": True, "visibleToPublicUsers": True,
    }  # fmt: skip


def generate_export(folder: Path, *, pages: int, files: int, megabytes: float) -> None:
    """Write a deployment export with ``pages`` pages and ``files`` binary files of ``megabytes`` in total."""
    (folder / "pages").mkdir(parents=True)
    for name in ("components", "templates", "schema", "security"):
        (folder / name).mkdir()
    (folder / "deployment.conf").write_text(
        "structr-version = 6.1.0 bench 202601291042\nvisibility-flags-relative-to = parent\n"
        "uuid-format = without_dashes\n"
    )
    page_index = {}
    for number in range(pages):
        name = f"page-{number:05}"
        page_index[name] = _page_meta(number)
        ids = [uuid.uuid4().hex for _ in range(4)]
        (folder / "pages" / f"{name}.html").write_text(
            f'<!DOCTYPE html>\n<html data-structr-meta-id="{ids[0]}">\n'
            f'\t<head data-structr-meta-id="{ids[1]}">\n\t\t<title>{name}</title>\n\t</head>\n'
            f'\t<body data-structr-meta-id="{ids[2]}">\n'
            f'\t\t<h1 data-structr-meta-id="{ids[3]}"><!-- @structr:content(text/plain) -->Page {number}</h1>\n'
            "\t</body>\n</html>"
        )
    (folder / "pages.json").write_text(json.dumps(page_index, indent=2))
    size = int(megabytes * 1024 * 1024 / max(files, 1))
    file_index: dict[str, Any] = {"/bench": _file_meta("Folder", None)}
    for number in range(files):
        sub = f"/bench/d{number // 250:03}"
        if sub not in file_index:
            file_index[sub] = _file_meta("Folder", None)
            (folder / "files" / sub.lstrip("/")).mkdir(parents=True)
        path = f"{sub}/f{number:05}.bin"
        file_index[path] = _file_meta("File", "application/octet-stream")
        (folder / "files" / path.lstrip("/")).write_bytes(os.urandom(size))
    (folder / "files.json").write_text(json.dumps(dict(sorted(file_index.items())), indent=2))
    (folder / "schema" / "schema.json").write_text(json.dumps({"definitions": {}, "methods": []}, indent=2))


def zip_folder(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(folder.name + "/", b"")
        for path in sorted(folder.rglob("*")):
            arcname = f"{folder.name}/{path.relative_to(folder).as_posix()}"
            archive.writestr(arcname + "/", b"") if path.is_dir() else archive.write(path, arcname)
    return target


def git(repo: Path, *args: str, check: bool = True) -> None:
    subprocess.run(["git", *args], cwd=repo, check=check, capture_output=True)


def new_repo(path: Path, emulator: Emulator) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "appsync.toml").write_text(
        f'export_dir = "webapp"\ndefault_env = "bench"\n[env.bench]\nurl = "{emulator.url}"\nuser = "admin"\n'
    )
    (path / ".gitignore").write_text("appsync.toml\n")
    return path


def baseline_export(emulator: Emulator, repo: Path) -> None:
    """The bare way: one GET, unzip, git add -A && git commit."""
    with tempfile.TemporaryDirectory() as tmp:
        zip_path = Path(tmp) / "export.zip"
        with requests.get(
            emulator.url + "/structr/deploy",
            params={"name": "webapp"},
            headers={"X-User": ADMIN[0], "X-Password": ADMIN[1]},
            stream=True,
            timeout=3600,
        ) as response:
            response.raise_for_status()
            with zip_path.open("wb") as handle:
                for chunk in response.iter_content(1024 * 1024):
                    handle.write(chunk)
        shutil.rmtree(repo / "webapp", ignore_errors=True)
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "export", check=False)  # "nothing to commit" is fine for the no-op


# Runs `appsync export` and reports the process's own peak RSS (VmHWM). ru_maxrss from wait4 would be wrong here:
# Linux carries the forking parent's high-water mark over exec, so it reports this benchmark's own memory.
_RUN_EXPORT = """
import sys
from structr_appsync.cli import main
code = main(["export"])
with open("/proc/self/status") as status:
    peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
sys.stderr.write(f"VmHWM {peak}\\n")
raise SystemExit(code)
"""


def appsync_export(repo: Path, env: dict[str, str]) -> int:
    """Run `appsync export` as its own process; return its peak RSS in KiB."""
    result = subprocess.run(
        [sys.executable, "-c", _RUN_EXPORT], cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"appsync export failed ({result.returncode}): {result.stderr}")
    peaks = [line.split()[1] for line in result.stderr.splitlines() if line.startswith("VmHWM ")]
    return int(peaks[-1]) if peaks else 0


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--megabytes", type=float, default=200.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="appsync-bench-") as tmp_name:
        tmp = Path(tmp_name)
        env = {**os.environ, "APPSYNC_PASSWORD": "admin", "PYTHONPATH": str(REPO_ROOT),
               "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
               "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}  # fmt: skip
        os.environ.update({key: env[key] for key in env if key.startswith("GIT_")})
        started = time.perf_counter()
        generate_export(tmp / "gen" / "webapp", pages=args.pages, files=args.files, megabytes=args.megabytes)
        zip_path = zip_folder(tmp / "gen" / "webapp", tmp / "webapp.zip")
        shutil.rmtree(tmp / "gen")
        emulator = running_emulator(tmp / "structr")
        try:
            with zip_path.open("rb") as handle:
                response = emulator.rest(
                    "POST", "/structr/deploy", files={"file": ("webapp.zip", handle, "application/zip")},
                    data={"mode": "app"}, timeout=3600,
                )  # fmt: skip
            response.raise_for_status()
            zip_path.unlink()
            print(
                f"generated {args.pages} pages and {args.files} files ({args.megabytes:g} MB) in the emulator "
                f"in {time.perf_counter() - started:.1f}s"
            )
            results: dict[str, list[float]] = {
                key: []
                for key in ("baseline", "appsync", "baseline-noop", "appsync-noop", "baseline-1page", "appsync-1page")
            }
            peaks: list[int] = []
            for round_number in range(args.rounds):
                base_repo = new_repo(tmp / f"baseline-{round_number}", emulator)
                app_repo = new_repo(tmp / f"appsync-{round_number}", emulator)
                results["baseline"].append(timed(lambda r=base_repo: baseline_export(emulator, r)))
                results["appsync"].append(timed(lambda r=app_repo: peaks.append(appsync_export(r, env))))
                results["baseline-noop"].append(timed(lambda r=base_repo: baseline_export(emulator, r)))
                results["appsync-noop"].append(timed(lambda r=app_repo: peaks.append(appsync_export(r, env))))
                emulator.set_page_content("page-00001", f"<html><body>round {round_number}</body></html>")
                results["baseline-1page"].append(timed(lambda r=base_repo: baseline_export(emulator, r)))
                results["appsync-1page"].append(timed(lambda r=app_repo: peaks.append(appsync_export(r, env))))
                shutil.rmtree(base_repo)
                shutil.rmtree(app_repo)
        finally:
            emulator.stop()
    best = {key: min(values) for key, values in results.items()}
    print(f"baseline export      {best['baseline']:7.2f}s   (GET + unzip + git add -A && git commit)")
    print(
        f"appsync export       {best['appsync']:7.2f}s   "
        f"ratio {best['appsync'] / best['baseline']:.3f} (target <= 1.15)"
    )
    print(f"baseline no-op       {best['baseline-noop']:7.2f}s")
    print(
        f"appsync no-op        {best['appsync-noop']:7.2f}s   ratio {best['appsync-noop'] / best['baseline-noop']:.3f}"
        f"   (vs. baseline export: {best['appsync-noop'] / best['baseline']:.3f})"
    )
    print(f"baseline 1 page      {best['baseline-1page']:7.2f}s")
    print(
        f"appsync 1 page       {best['appsync-1page']:7.2f}s   "
        f"ratio {best['appsync-1page'] / best['baseline-1page']:.3f}   (one page changed in Structr)"
    )
    print(f"appsync peak RSS     {max(peaks) / 1024:7.1f} MiB")
    print(
        f"(best of {args.rounds} rounds; all runs: "
        + json.dumps({k: [round(v, 2) for v in vs] for k, vs in results.items()})
        + ")"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
