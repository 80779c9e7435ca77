"""Benchmark: downtime, storage and memory of `appsync backup`. Not a test; run it by hand or from CI.

    .venv/bin/python -m tests.bench.bench_backup                      # 128 MiB store + 128 MiB files/ (quick)
    .venv/bin/python -m tests.bench.bench_backup --size-mb 1024 --files 20000    # the issue's full size
    .venv/bin/python -m tests.bench.bench_backup --neo4j      # real Neo4j: the floor (see bench_backup_neo4j.py)

A synthetic install: a Neo4j-like data directory (record store files made of 8 KiB pages, a transaction log, the
store lock files) and a Structr directory whose files/ holds FILES files in Structr's uuid layout. Both are
"served" by the fake service of the backup tests (a process holding the store lock), stopped and started through
service_manager = "command". Between two backups 1 % of the store's pages and 1 % of the files change and 100
files are added. Reported in one run:

* downtime: appsync's mean downtime (generations 2..7) divided by the naive cold backup's (stop both,
  `tar -czf` both directories, start both), and by the same with an uncompressed `tar -cf`;
* storage: the disk usage of 7 generations divided by that of one, for files/ and for the whole install
  (hard links counted once);
* memory: peak RSS of the appsync processes (each backup runs in its own process; ru_maxrss).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from structr_appsync.backup.store import disk_usage
from tests.backup_support.install import make_install
from tests.paths import REPO_ROOT

PAGE = 8192
STORE_FILES = {  # share of the store, roughly like a real graph
    "neostore.nodestore.db": 0.10,
    "neostore.relationshipstore.db": 0.25,
    "neostore.propertystore.db": 0.30,
    "neostore.propertystore.db.strings": 0.25,
    "neostore.labeltokenstore.db": 0.01,
    "neostore.relationshipgroupstore.db": 0.04,
    "neostore.nodestore.db.labels": 0.05,
}


def _page(rng: random.Random) -> bytes:
    """Half random, half zeros: a store page compresses about 2:1, as real ones roughly do."""
    return rng.randbytes(PAGE // 2) + bytes(PAGE // 2)


def build_store(data: Path, size: int, rng: random.Random) -> list[Path]:
    store = data / "databases" / "neo4j"
    store.mkdir(parents=True, exist_ok=True)
    (data / "databases" / "store_lock").touch()
    (store / "database_lock").touch()
    files = []
    for name, share in STORE_FILES.items():
        pages = max(int(size * share) // PAGE, 1)
        path = store / name
        with path.open("wb") as handle:
            for _ in range(pages):
                handle.write(_page(rng))
        files.append(path)
    transactions = data / "transactions" / "neo4j"
    transactions.mkdir(parents=True, exist_ok=True)
    (transactions / "neostore.transaction.db.0").write_bytes(rng.randbytes(min(size // 50, 16 * 1024 * 1024)))
    return files


def _file_path(files: Path, rng: random.Random) -> Path:
    uuid = rng.randbytes(16).hex()
    return files / uuid[0] / uuid[1] / uuid[2] / uuid[3] / uuid


def build_files(files: Path, size: int, count: int, rng: random.Random) -> list[Path]:
    each = max(size // count, 1)
    made = []
    for _ in range(count):
        path = _file_path(files, rng)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(each))
        made.append(path)
    return made


def mutate(stores: list[Path], files: list[Path], files_dir: Path, rng: random.Random) -> None:
    """1 % of the store pages, 1 % of the files, 100 new files."""
    total_pages = sum(path.stat().st_size // PAGE for path in stores)
    for _ in range(max(total_pages // 100, 1)):
        path = rng.choice(stores)
        page = rng.randrange(path.stat().st_size // PAGE)
        with path.open("r+b") as handle:
            handle.seek(page * PAGE)
            handle.write(_page(rng))
    for path in rng.sample(files, max(len(files) // 100, 1)):
        path.write_bytes(rng.randbytes(path.stat().st_size))
    size = files[0].stat().st_size
    for _ in range(100):
        path = _file_path(files_dir, rng)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
        files.append(path)


# Runs appsync's CLI and reports the process's own peak RSS (ru_maxrss, KiB on Linux) on the last stderr line.
_LAUNCHER = (
    "import resource, sys\n"
    "from structr_appsync.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "sys.stderr.write(f'\\nMAXRSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n')\n"
    "sys.exit(code)\n"
)


def appsync_backup(config: Path) -> tuple[dict[str, object], int]:
    """One `appsync backup --json` in its own process; returns its JSON result and its peak RSS in bytes."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, "-c", str(config), "backup", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"appsync backup failed ({result.returncode}): {result.stderr}")
    rss = int(result.stderr.strip().splitlines()[-1].split()[1]) * 1024
    return dict(json.loads(result.stdout)), rss


def naive_backup(install, target: Path, compress: bool) -> float:  # type: ignore[no-untyped-def]
    """The seed's procedure as people script it: stop both, tar both, start both. Returns the downtime."""
    began = time.monotonic()
    subprocess.run(install.structr.stop_command, shell=True, check=True)
    subprocess.run(install.neo4j.stop_command, shell=True, check=True)
    flags = "-czf" if compress else "-cf"
    subprocess.run(
        ["tar", flags, str(target), "-C", str(install.root), "neo4j/data", "structr"], check=True, capture_output=True
    )
    subprocess.run(install.neo4j.start_command, shell=True, check=True)
    subprocess.run(install.structr.start_command, shell=True, check=True)
    return time.monotonic() - began


_FS_IOC_FIEMAP = 0xC020660B
_FIEMAP_HEADER = struct.Struct("=QQIIII")  # fm_start, fm_length, fm_flags, fm_mapped_extents, fm_extent_count, pad
_FIEMAP_EXTENT = struct.Struct("=QQQQQIIII")  # logical, physical, length, 2 reserved, flags, 3 reserved
_FIEMAP_FLAG_SYNC = 0x1
_FIEMAP_EXTENT_LAST = 0x1
_BATCH = 256


def _extents(path: str) -> list[tuple[int, int]]:
    """Physical (start, length) extents of a file via FIEMAP (empty when the filesystem cannot tell)."""
    found: list[tuple[int, int]] = []
    start = 0
    with open(path, "rb") as handle:
        while True:
            request = bytearray(_FIEMAP_HEADER.size + _BATCH * _FIEMAP_EXTENT.size)
            _FIEMAP_HEADER.pack_into(request, 0, start, 2**64 - 1 - start, _FIEMAP_FLAG_SYNC, 0, _BATCH, 0)
            try:
                fcntl.ioctl(handle.fileno(), _FS_IOC_FIEMAP, request)
            except OSError:
                return found
            mapped = _FIEMAP_HEADER.unpack_from(request, 0)[3]
            if not mapped:
                return found
            last = False
            for index in range(mapped):
                logical, physical, length, _r1, _r2, flags, *_rest = _FIEMAP_EXTENT.unpack_from(
                    request, _FIEMAP_HEADER.size + index * _FIEMAP_EXTENT.size
                )
                found.append((physical, length))
                start = logical + length
                last = last or bool(flags & _FIEMAP_EXTENT_LAST)
            if last:
                return found


def physical_usage(roots: list[Path]) -> int:
    """Bytes of disk blocks referenced by the files under ``roots``, each block counted once: hard links and
    reflink-shared extents (btrfs, XFS) are shared storage. This is block-level deduplication's view."""
    intervals: list[tuple[int, int]] = []
    for root in roots:
        for current, _dirs, names in os.walk(root):
            for name in names:
                path = os.path.join(current, name)
                if not os.path.islink(path):
                    intervals.extend(_extents(path))
    intervals.sort()
    total, end = 0, -1
    for start, length in intervals:
        stop = start + length
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


def _mib(value: float) -> str:
    return f"{value / 1024 / 1024:,.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--neo4j" in argv:  # the real-Neo4j mode lives in its own module
        from tests.bench import bench_backup_neo4j

        return bench_backup_neo4j.main([arg for arg in argv if arg != "--neo4j"])
    parser = argparse.ArgumentParser(prog="bench_backup", description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=128, help="size of the store and of files/ (each), MiB")
    parser.add_argument("--files", type=int, default=None, help="number of files in files/ (default 20000)")
    parser.add_argument("--generations", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=None, help="where to build the install (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    size = args.size_mb * 1024 * 1024
    count = args.files or 20000
    rng = random.Random(20261126)
    work = Path(tempfile.mkdtemp(prefix="bench-backup-", dir=args.workdir))
    # The fake Neo4j keeps writing pages of its own 8 MiB store file while it runs (about 20 per second, and
    # more at shutdown is not modelled), so the delta pass always has pages to write.
    install = make_install(work, neo4j_pages=1024, interval=0.05)
    install.write_config(prune_after_backup=False)
    try:
        print(f"building: store {_mib(size)}, files/ {_mib(size)} in {count} files ({work})", flush=True)
        stores = build_store(install.neo4j.data, size, rng)
        files_dir = install.structr.data / "files"
        files = build_files(files_dir, size, count, rng)
        install.start()

        results = []
        peak_rss = 0
        for generation in range(1, args.generations + 1):
            if generation > 1:
                mutate(stores, files, files_dir, rng)
            outcome, rss = appsync_backup(install.config)
            peak_rss = max(peak_rss, rss)
            results.append(outcome)
            print(
                f"  generation {generation}: downtime {outcome['downtime_seconds']:.3f}s "
                f"(copy {outcome['copy_seconds']:.3f}s, {_mib(float(outcome['bytes_copied_during_downtime']))} "
                f"written while down), new {_mib(float(outcome['bytes_new']))}",
                flush=True,
            )

        mutate(stores, files, files_dir, rng)
        naive_gz = naive_backup(install, work / "naive.tar.gz", compress=True)
        print(f"  naive stop + tar -czf + start: {naive_gz:.3f}s", flush=True)
        mutate(stores, files, files_dir, rng)
        naive_tar = naive_backup(install, work / "naive.tar", compress=False)
        print(f"  naive stop + tar -cf + start:  {naive_tar:.3f}s", flush=True)

        later = results[1:] or results
        downtime = sum(float(r["downtime_seconds"]) for r in later) / len(later)
        generations = [install.destination / str(r["id"]) for r in results]
        files_one = disk_usage([generations[0] / "structr" / "files"])
        files_all = disk_usage([g / "structr" / "files" for g in generations])
        whole_one = disk_usage([generations[0]])
        whole_all = disk_usage(generations)

        print()
        print(f"install: store {_mib(size)}, files/ {_mib(size)} in {count} files; {args.generations} generations")
        print(f"appsync mean downtime (generations 2..{args.generations}): {downtime:.3f}s")
        print(f"downtime ratio vs naive tar -czf: {downtime / naive_gz:.4f}   (target <= 0.05)")
        print(f"downtime ratio vs naive tar -cf:  {downtime / naive_tar:.4f}")
        print(f"storage ratio files/ ({args.generations} gens / 1): {files_all / files_one:.3f}   (target <= 1.3)")
        print(f"storage ratio whole install ({args.generations} gens / 1): {whole_all / whole_one:.3f}")
        blocks_one = physical_usage([generations[0]])
        blocks_all = physical_usage(generations)
        print(
            f"storage ratio whole install, block view ({args.generations} gens / 1): {blocks_all / blocks_one:.3f}"
            "   (disk blocks counted once via FIEMAP: reflink-shared extents are shared storage)"
        )
        print(f"peak RSS of appsync: {_mib(peak_rss)}   (target <= 200 MiB)")
        return 0
    finally:
        install.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
