"""`appsync backup drill`: restore rehearsals on scratch copies with scratch services (a fake Neo4j and the
emulator here; tests/test_backup_drill_real.py runs the real Neo4j). The live services are never touched."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from structr_appsync.backup.manifest import read_manifest
from structr_appsync.backup.prune import DRILL_REASON
from structr_appsync.errors import EXIT_FAILED, EXIT_OK
from tests.backup_support.live import LiveInstall, fake_neo4j_drill_table, make_live, start_live, stop_live
from tests.helpers import run_cli


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveInstall]:
    monkeypatch.setenv("APPSYNC_PASSWORD", "admin")
    install = make_live(tmp_path)
    install.drill_lines = fake_neo4j_drill_table()
    install.write_config()
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    start_live(install)
    try:
        install.structr.api.create_page("home")
        install.structr.api.upload_file("/docs/a.txt", b"alpha" * 100)
        install.structr.api.upload_file("/docs/b.txt", b"beta" * 100)
        exported = run_cli("-c", str(install.config), "export")
        assert exported.code == EXIT_OK, exported.err
        yield install
    finally:
        stop_live(install)


def _backup(install: LiveInstall) -> Path:
    result = run_cli("-c", str(install.config), "backup", "--json")
    assert result.code == EXIT_OK, result.err
    return install.destination / json.loads(result.out)["id"]


def _drill(install: LiveInstall, *extra: str) -> tuple[int, dict[str, object]]:
    install.service_log.unlink(missing_ok=True)
    before = install.structr.digest()
    result = run_cli("-c", str(install.config), "backup", "drill", "latest", "--json", *extra)
    assert result.out, result.err
    assert install.log_lines() == [], "the live services were never stopped or started"
    assert install.structr.digest() == before, "the live Structr's state is unchanged"
    assert install.neo4j.running() and install.structr.call("status") == 0
    return result.code, json.loads(result.out)


def test_drill_passes_and_is_recorded(live: LiveInstall) -> None:
    generation = _backup(live)
    code, outcome = _drill(live)
    assert code == EXIT_OK, outcome
    assert outcome["passed"] is True and outcome["mode"] == "full"
    counts = outcome["counts"]
    assert isinstance(counts, dict)
    assert counts["nodes_File"] == 2 and counts["nodes_Page"] == 1 and counts["files_hashed"] == 2
    assert counts["scratch_linked"] == 2, "file contents are hard links into the backup"
    assert not list(live.destination.glob(".drill-*")), "the scratch copy is removed"
    manifest = read_manifest(generation)
    assert [drill.passed for drill in manifest.drills] == [True]
    assert manifest.drills[0].app_commit == manifest.app_commit is not None
    assert run_cli("-c", str(live.config), "backup", "verify", "latest").code == EXIT_OK, "backup unchanged"
    listed = run_cli("-c", str(live.config), "backup", "list")
    assert " passed 20" in listed.out


def test_drill_fails_on_a_missing_files_entry(live: LiveInstall) -> None:
    info = live.structr.api.file_info("/docs/b.txt")
    assert info is not None
    uuid = str(info["id"])
    generation = _backup(live)
    (generation / "structr" / "files" / uuid[0] / uuid[1] / uuid[2] / uuid[3] / uuid).unlink()
    code, outcome = _drill(live)
    assert code == EXIT_FAILED
    reasons = outcome["reasons"]
    assert isinstance(reasons, list)
    assert any(r.startswith("backup verification: missing structr/files/") and uuid in r for r in reasons)
    assert any(r.startswith("consistency check: missing on disk: /docs/b.txt") and uuid in r for r in reasons)
    assert read_manifest(generation).drills[-1].passed is False
    assert "FAILED" in run_cli("-c", str(live.config), "backup", "list").out


def test_drill_fails_when_the_app_differs_from_the_recorded_commit(live: LiveInstall) -> None:
    live.structr.api.create_page("never-exported")
    _backup(live)
    code, outcome = _drill(live)
    assert code == EXIT_FAILED
    reasons = outcome["reasons"]
    assert isinstance(reasons, list)
    assert len(reasons) == 1 and "is 1 (drift)" in reasons[0] and "never-exported" in reasons[0]


def test_prune_keeps_the_newest_backup_that_passed_a_drill(live: LiveInstall) -> None:
    drilled = _backup(live)
    assert _drill(live)[0] == EXIT_OK
    newer = _backup(live)  # only keep_last = 1, and the automatic prune runs after the backup
    assert drilled.is_dir() and newer.is_dir()
    plan = json.loads(run_cli("-c", str(live.config), "backup", "prune", "--dry-run", "--json").out)
    kept = {item["id"]: item for item in plan}
    assert kept[drilled.name]["keep"] is True and DRILL_REASON in kept[drilled.name]["reasons"]
    assert _drill(live)[0] == EXIT_OK  # now the newer one passed: the older one may go
    run_cli("-c", str(live.config), "backup", "prune")
    assert not drilled.exists() and newer.is_dir()


def test_without_a_passed_drill_only_the_policy_decides(live: LiveInstall) -> None:
    first = _backup(live)
    newer = _backup(live)
    assert not first.exists() and newer.is_dir(), "keep_last = 1 prunes the older backup"


def test_offline_drill_without_a_drill_table(live: LiveInstall) -> None:
    live.drill_lines = []
    live.write_config()
    _backup(live)
    code, outcome = _drill(live, "--keep")
    assert code == EXIT_OK
    assert outcome["mode"] == "offline"
    notes = outcome["notes"]
    assert isinstance(notes, list) and "offline checks only" in notes[0]
    scratch = Path(str(outcome["scratch"]))
    assert (scratch / "structr" / "files").is_dir() and (scratch / "neo4j" / "marker").is_file()
