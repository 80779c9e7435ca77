"""Benchmark `appsync import` against a bare baseline, in one run (a script, not a timed test).

    .venv/bin/python -m tests.bench.bench_import [--pages 2000] [--files 5000] [--megabytes 200] [--rounds 2]

It generates the export benchmark's app in the Structr emulator, exports it twice with `appsync export` (the
second time with one page changed), and then alternates between importing the two commits, measuring:

* baseline: `git archive` of the ref's export folder as a ZIP, and one bare `POST /structr/deploy` of it;
* the full safe import (`importer.import_ref`: materialize, plan with a live export, seal, rollback point,
  upload, wait for ready, verify with a second export, record), with its per-step timings.

Reported: the ratio of the two wall times, the breakdown by step, and the share of the import's wall time
spent outside server calls (target <= 10 %). Server steps include the client-side ZIP work of the transfer
(zipping the upload, unzipping the exports); that part is measured separately and shown as well.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from structr_appsync import exportzip
from structr_appsync.config import load_config
from structr_appsync.sync import exporter, importer
from structr_appsync.workspace import Workspace
from tests.bench.bench_export import generate_export, new_repo, zip_folder
from tests.structr_emulator.harness import ADMIN, Emulator, running_emulator

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def upload_zip(emulator: Emulator, zip_path: Path) -> None:
    with zip_path.open("rb") as handle:
        response = requests.post(
            emulator.url + "/structr/deploy",
            headers={"X-User": ADMIN[0], "X-Password": ADMIN[1]},
            files={"file": ("webapp.zip", handle, "application/zip")},
            data={"mode": "app"},
            timeout=3600,
        )
    response.raise_for_status()


def baseline_import(emulator: Emulator, repo: Path, ref: str, scratch: Path) -> float:
    """The bare way: git archive of the export folder at ``ref`` as a ZIP, one upload request."""
    started = time.perf_counter()
    zip_path = scratch / "baseline.zip"
    subprocess.run(
        ["git", "archive", "--format=zip", "--prefix=webapp/", "-o", str(zip_path), f"{ref}:webapp"],
        cwd=repo,
        check=True,
    )
    upload_zip(emulator, zip_path)
    elapsed = time.perf_counter() - started
    zip_path.unlink()
    return elapsed


def client_zip_seconds(repo: Path, ref: str, scratch: Path) -> tuple[float, float]:
    """Seconds appsync's transfer spends zipping one upload and unzipping one export, measured on their own."""
    folder = scratch / "zipwork" / "webapp"
    subprocess.run(["git", "worktree", "add", "-q", "--detach", str(scratch / "wt"), ref], cwd=repo, check=True)
    shutil.copytree(scratch / "wt" / "webapp", folder)
    subprocess.run(["git", "worktree", "remove", "--force", str(scratch / "wt")], cwd=repo, check=True)
    started = time.perf_counter()
    exportzip.zip_folder(folder, scratch / "zipwork.zip", top="webapp")
    zipping = time.perf_counter() - started
    started = time.perf_counter()
    shutil.unpack_archive(scratch / "zipwork.zip", scratch / "unzipped")
    unzipping = time.perf_counter() - started
    shutil.rmtree(scratch / "zipwork")
    shutil.rmtree(scratch / "unzipped")
    (scratch / "zipwork.zip").unlink()
    return zipping, unzipping


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--megabytes", type=float, default=200.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    os.environ.update(GIT_IDENTITY)
    os.environ["APPSYNC_PASSWORD"] = "admin"

    with tempfile.TemporaryDirectory(prefix="appsync-bench-import-") as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        generate_export(tmp / "gen" / "webapp", pages=args.pages, files=args.files, megabytes=args.megabytes)
        zip_path = zip_folder(tmp / "gen" / "webapp", tmp / "webapp.zip")
        shutil.rmtree(tmp / "gen")
        emulator = running_emulator(tmp / "structr")
        try:
            upload_zip(emulator, zip_path)
            zip_path.unlink()
            repo = new_repo(tmp / "repo", emulator)
            ws = Workspace.open(load_config(repo / "appsync.toml"))
            first = exporter.export_app(ws, exporter.ExportOptions(env="bench", message="bench app")).commit
            emulator.set_page_content("page-00000", "<html><body><h1>changed</h1></body></html>")
            second = exporter.export_app(ws, exporter.ExportOptions(env="bench", message="one page changed")).commit
            assert first and second, "the exports made no commits"
            print(
                f"generated {args.pages} pages and {args.files} files ({args.megabytes:g} MB), exported twice, "
                f"in {time.perf_counter() - started:.1f}s"
            )
            scratch = tmp / "scratch"
            scratch.mkdir()
            zipping, unzipping = client_zip_seconds(repo, first, scratch)
            baselines: list[float] = []
            runs: list[importer.ImportOutcome] = []
            walls: list[float] = []
            for round_number in range(args.rounds):
                target, other = (first, second) if round_number % 2 == 0 else (second, first)
                baselines.append(baseline_import(emulator, repo, target, scratch))
                # The baseline put `target` on the server behind appsync's back: put `other` back, sealed.
                sealing = importer.ImportOptions(env="bench", yes=True, allow_delete=True, force=True)
                importer.import_ref(ws, other, sealing)
                measured = importer.ImportOptions(env="bench", yes=True, allow_delete=True)
                begin = time.perf_counter()
                outcome = importer.import_ref(ws, target, measured)
                walls.append(time.perf_counter() - begin)
                assert outcome.verified and outcome.imported
                runs.append(outcome)
        finally:
            emulator.stop()

    best = min(range(len(walls)), key=lambda index: walls[index])
    outcome, wall, baseline = runs[best], walls[best], min(baselines)
    outside = wall - outcome.server_seconds
    client_zip = zipping + 2 * unzipping  # one upload zipped, two exports (plan, verify) unzipped
    print(f"baseline import      {baseline:7.2f}s   (git archive --format=zip + one POST /structr/deploy)")
    print(f"appsync import       {wall:7.2f}s   ratio {wall / baseline:.2f} (plan + rollback point + upload + verify)")
    print("breakdown by step (s; * = server call):")
    for name, seconds in sorted(outcome.timings.items(), key=lambda item: -item[1]):
        marker = "*" if name in outcome.server_steps else " "
        print(f"  {marker} {name:<20} {seconds:7.3f}   {100 * seconds / wall:5.1f} %")
    print(f"  unaccounted            {wall - sum(outcome.timings.values()):7.3f}")
    print(f"outside server calls {outside:7.2f}s   {100 * outside / wall:.1f} % of the wall time (target <= 10 %)")
    print(
        f"  counting the transfer's own ZIP work as appsync's too ({zipping:.2f}s zip, {unzipping:.2f}s unzip x2): "
        f"{100 * (outside + client_zip) / wall:.1f} %"
    )
    print(
        f"(best of {args.rounds} rounds; walls {json.dumps([round(w, 2) for w in walls])}, "
        f"baselines {json.dumps([round(b, 2) for b in baselines])})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
