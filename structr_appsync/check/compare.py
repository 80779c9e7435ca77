"""The merge of the two sorted streams (File nodes, files on disk) into findings, with the hashing done by a small
thread pool (xxh64 releases the GIL) behind a bounded window, so results come out in order and memory stays flat."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import xxhash

from structr_appsync.check.disk import DiskFile
from structr_appsync.check.listing import DbFile
from structr_appsync.check.report import CheckCounts, Finding

HASH_CHUNK = 1024 * 1024
_SIGN_BIT = 1 << 63


def signed_xxh64(value: int) -> int:
    """Structr stores the xxh64 as a signed 64-bit long."""
    return value - (1 << 64) if value >= _SIGN_BIT else value


def hash_file(path: Path) -> tuple[int, int]:
    """(signed xxh64 with seed 0, bytes read) of one file, read in 1 MiB chunks."""
    digest = xxhash.xxh64()
    buffer = bytearray(HASH_CHUNK)
    view = memoryview(buffer)
    total = 0
    with path.open("rb", buffering=0) as handle:
        while read := handle.readinto(buffer):
            digest.update(view[:read])
            total += read
    return signed_xxh64(digest.intdigest()), total


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


_Pending = Finding | None | Future[tuple[int, int]]


class Comparer:
    """Compares one File listing with one `files/` walk; findings go to ``on_finding`` in id order."""

    def __init__(
        self,
        files_dir: Path,
        *,
        quick: bool,
        on_finding: Callable[[Finding], None],
        on_progress: Callable[[CheckCounts], None] | None = None,
        workers: int | None = None,
    ) -> None:
        self.files_dir = files_dir
        self.quick = quick
        self.on_finding = on_finding
        self.on_progress = on_progress
        self.workers = workers or default_workers()
        self.counts = CheckCounts()
        self._window: deque[tuple[DbFile | None, DiskFile | None, _Pending]] = deque()
        self._window_limit = 8 * self.workers

    def run(self, nodes: Iterable[DbFile], disk: Iterable[DiskFile]) -> CheckCounts:
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="appsync-hash") as pool:
            try:
                for node, found in _merge(iter(nodes), iter(disk)):
                    self._window.append((node, found, self._start(pool, node, found)))
                    while len(self._window) > self._window_limit:
                        self._finish_one()
                while self._window:
                    self._finish_one()
            finally:
                for _node, _found, pending in self._window:
                    if isinstance(pending, Future):
                        pending.cancel()
        return self.counts

    def _start(self, pool: ThreadPoolExecutor, node: DbFile | None, found: DiskFile | None) -> _Pending:
        counts = self.counts
        if found is not None:
            counts.disk_files += 1
        if node is None:
            assert found is not None
            return Finding("orphan", uuid=found.key[-1], disk_path=found.relative, actual_size=found.size)
        counts.nodes += 1
        if node.external or node.mounted or node.other_storage:
            if node.other_storage:
                counts.unchecked_storage += 1
            elif node.mounted:
                counts.unchecked_mounted += 1
            else:
                counts.unchecked_external += 1
            return None
        counts.checked += 1
        relative = "/".join(node.key)
        if found is None:
            return Finding("missing", uuid=node.uuid, path=node.path, disk_path=relative, expected_size=node.size)
        if node.size is not None and node.size != found.size:
            return Finding("size", node.uuid, node.path, relative, expected_size=node.size, actual_size=found.size)
        if node.checksum is None:
            counts.without_checksum += 1
            return None
        if self.quick:
            return None
        return pool.submit(hash_file, self.files_dir.joinpath(*found.key))

    def _finish_one(self) -> None:
        node, found, pending = self._window.popleft()
        finding: Finding | None
        if isinstance(pending, Future):
            assert node is not None and found is not None
            try:
                actual, read = pending.result()
            except FileNotFoundError:  # removed between the walk and the read
                finding = Finding("missing", node.uuid, node.path, found.relative, expected_size=node.size)
            else:
                self.counts.hashed += 1
                self.counts.bytes_hashed += read
                finding = None
                if actual != node.checksum:
                    finding = Finding(
                        "checksum",
                        node.uuid,
                        node.path,
                        found.relative,
                        expected_checksum=node.checksum,
                        actual_checksum=actual,
                    )
        else:
            finding = pending
        if finding is not None:
            self.counts.by_kind[finding.kind] += 1
            self.on_finding(finding)
        if self.on_progress is not None:
            self.on_progress(self.counts)


def _merge(nodes: Iterator[DbFile], disk: Iterator[DiskFile]) -> Iterator[tuple[DbFile | None, DiskFile | None]]:
    """Pair nodes and disk files with the same key; either side may be missing."""
    node = next(nodes, None)
    found = next(disk, None)
    while node is not None or found is not None:
        if found is None or (node is not None and node.key < found.key):
            yield node, None
            node = next(nodes, None)
        elif node is None or found.key < node.key:
            yield None, found
            found = next(disk, None)
        else:
            yield node, found
            node = next(nodes, None)
            found = next(disk, None)
