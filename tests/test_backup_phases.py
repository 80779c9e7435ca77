"""Where the downtime goes: per-phase timings of backup and restore, the summary, the trend, the Neo4j advice and
the pre-stop checkpoint's fallbacks. Against the fake services of the backup tests (real processes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from structr_appsync.backup import neo4j_advice
from structr_appsync.backup.manifest import read_manifest
from structr_appsync.backup.phases import PhaseClock, describe_largest, label
from structr_appsync.errors import EXIT_OK
from tests.backup_support.install import FakeInstall, free_port, running_install
from tests.helpers import run_cli

TIMELINE = [
    "stop.structr",
    "down.structr",
    "stop.neo4j",
    "down.neo4j",
    "store_lock",
    "copy",
    "start.neo4j",
    "health.neo4j",
    "start.structr",
    "health.structr",
]


@pytest.fixture
def install(tmp_path: Path) -> Iterator[FakeInstall]:
    with running_install(tmp_path) as fake:
        yield fake


def cli(install: FakeInstall, *args: str):  # type: ignore[no-untyped-def]
    return run_cli("-c", str(install.config), *args)


def test_backup_phases_add_up_to_the_downtime_in_json_and_manifest(install: FakeInstall) -> None:
    result = cli(install, "backup", "--json")
    assert result.code == EXIT_OK, result.err
    outcome = json.loads(result.out)
    phases = {phase["name"]: phase["seconds"] for phase in outcome["phases"]}
    assert list(phases) == TIMELINE
    assert all(seconds >= 0 for seconds in phases.values())
    assert abs(sum(phases.values()) - outcome["downtime_seconds"]) <= 0.2, phases
    biggest = max(phases, key=phases.__getitem__)
    assert outcome["largest_phase"]["name"] == biggest
    manifest = read_manifest(install.destination / outcome["id"])
    assert manifest.phases == phases
    assert manifest.copy_seconds <= phases["copy"] + 0.001
    assert outcome["checkpoint_seconds"] is None  # no Bolt access configured
    assert outcome["advice"] == []


def test_restore_phases_add_up_to_its_downtime(install: FakeInstall) -> None:
    backup = json.loads(cli(install, "backup", "--json").out)
    result = cli(install, "backup", "restore", backup["id"], "--yes", "--json")
    assert result.code == EXIT_OK, result.err
    outcome = json.loads(result.out)
    phases = {phase["name"]: phase["seconds"] for phase in outcome["phases"]}
    assert list(phases) == [name if name != "copy" else "swap" for name in TIMELINE]
    assert abs(sum(phases.values()) - outcome["downtime_seconds"]) <= 0.2


def test_summary_names_the_largest_phase_and_list_shows_the_trend(install: FakeInstall) -> None:
    first = cli(install, "backup")
    assert first.code == EXIT_OK, first.err
    assert "largest phase " in first.out
    assert cli(install, "backup").code == EXIT_OK
    rows = json.loads(cli(install, "backup", "list", "--json").out)
    assert len(rows) == 2
    for row in rows:
        assert [phase["name"] for phase in row["phases"]] == TIMELINE
        assert row["largest_phase"]["seconds"] == max(phase["seconds"] for phase in row["phases"])
    trend = cli(install, "backup", "list", "--phases")
    assert trend.code == EXIT_OK, trend.err
    header, *lines = trend.out.splitlines()
    assert header.split()[2:] == TIMELINE
    assert [line.split()[0] for line in lines] == [row["id"] for row in rows]
    assert lines[0].split()[1] == f"{rows[0]['downtime_seconds']:.2f}s"
    listing = cli(install, "backup", "list")
    assert label(rows[1]["largest_phase"]["name"]) in listing.out.splitlines()[-1]


def test_a_retried_start_adds_up_under_one_phase() -> None:
    clock = PhaseClock()
    clock.add("start.neo4j", 1.0)
    clock.add("health.neo4j", 0.5)
    clock.add("start.neo4j", 2.0)
    assert clock.seconds == {"start.neo4j": 3.0, "health.neo4j": 0.5}
    assert describe_largest(clock.seconds) == "largest phase Neo4j start 3.00s"
    assert describe_largest({}) == ""


def test_an_unreachable_bolt_only_costs_the_checkpoint(install: FakeInstall) -> None:
    install.write_config()
    text = install.config.read_text()
    text += f'[env.test.backup.bolt]\nuri = "bolt://127.0.0.1:{free_port()}"\ncheckpoint_before_stop = true\n'
    install.config.write_text(text)
    result = cli(install, "backup", "--json")
    assert result.code == EXIT_OK, result.err
    assert json.loads(result.out)["checkpoint_seconds"] is None
    assert "no pre-stop checkpoint" in result.err


def test_a_bolt_user_without_password_is_a_config_error(install: FakeInstall, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEO4J_PASSWORD", raising=False)
    text = (
        install.config.read_text()
        + '[env.test.backup.bolt]\nuri = "bolt://127.0.0.1:7687"\nuser = "neo4j"\ncheckpoint_before_stop = true\n'
    )
    install.config.write_text(text)
    result = cli(install, "backup")
    assert result.code == 2, (result.out, result.err)
    assert "NEO4J_PASSWORD" in result.err
    assert install.both_running()
    assert not any(install.destination.glob("2*")), "nothing backed up"


# ----------------------------------------------------------------------------------------------- advice


def _shutdown_log(closed_after: float, ended_after: float, checkpoint_ms: int = 28) -> str:
    """A debug.log in Neo4j 5.26's format: a start, then one shutdown."""

    def at(seconds: float) -> str:
        whole, fraction = divmod(round(seconds * 1000), 1000)
        return f"2026-12-04 10:00:{10 + whole:02d}.{fraction:03d}+0000 INFO "

    return "\n".join(
        [
            (
                f"{at(-9)} [o.n.k.i.t.l.c.CheckPointerImpl] [neo4j/44c53f32] Checkpoint triggered by "
                '"Database init completed." @ txId: 3, append index: 3 checkpoint completed in 16ms.'
            ),
            f"{at(0)} [o.n.g.f.DatabaseManagementServiceFactory] Shutdown started",
            (
                f"{at(0.1)} [o.n.k.i.t.l.c.CheckPointerImpl] [neo4j/44c53f32] Checkpoint triggered by "
                f'"Database shutdown" @ txId: 7, append index: 7 checkpoint completed in {checkpoint_ms}ms. '
                "Checkpoint flushed 83 pages (1% of total available pages), in 60 IOs."
            ),
            (
                f"{at(closed_after - 0.05)} [o.n.d.d.DatabaseLifecycles] Stopped 'DatabaseId{{44c53f32[neo4j]}}' "
                "successfully."
            ),
            (
                f"{at(closed_after - 0.02)} [o.n.k.i.t.l.c.CheckPointerImpl] [system/00000000] Checkpoint triggered by "
                '"Database shutdown" @ txId: 41, append index: 41 checkpoint completed in 12ms.'
            ),
            f"{at(closed_after)} [o.n.d.d.DatabaseLifecycles] Stopped 'DatabaseId{{00000000[system]}}' successfully.",
            f"{at(closed_after + 0.01)} [o.n.b.BoltServer] Shutting down Bolt server",
            f"{at(ended_after)} [o.n.b.BoltServer] Bolt server has been shut down",
        ]
    )


def test_last_shutdown_reads_checkpoint_and_idle_time() -> None:
    record = neo4j_advice.last_shutdown(_shutdown_log(closed_after=0.21, ended_after=10.26))
    assert record is not None
    assert record.checkpoint_seconds == pytest.approx(0.040)
    assert record.seconds == pytest.approx(10.26)
    assert record.idle_seconds == pytest.approx(10.05)
    assert neo4j_advice.last_shutdown("2026-12-04 10:00:00.000+0000 INFO  Started.\n") is None
    restarted = _shutdown_log(closed_after=0.21, ended_after=10.26) + (
        "\n2026-12-04 10:00:40.000+0000 INFO  [o.n.g.f.m.GlobalModule] Logging config in use: default\n"
        "2026-12-04 10:00:45.000+0000 INFO  [o.n.b.BoltServer] Bolt enabled on localhost:7687.\n"
    )
    again = neo4j_advice.last_shutdown(restarted)
    assert again is not None and again.seconds == pytest.approx(10.26), "the next start is not part of the stop"


def test_advice_names_the_missing_settings_only_when_the_stop_idles() -> None:
    slow = neo4j_advice.last_shutdown(_shutdown_log(closed_after=0.21, ended_after=10.26))
    quick = neo4j_advice.last_shutdown(_shutdown_log(closed_after=0.21, ended_after=0.25))
    stock_conf = "# stock\nserver.memory.pagecache.size=64m\n"
    advice = neo4j_advice.shutdown_advice(stock_conf, slow, stop_seconds=10.4)
    assert advice is not None
    for key, value in neo4j_advice.QUICK_SHUTDOWN_SETTINGS.items():
        assert f"{key}={value}" in advice
    assert "save about 10.1s" in advice
    assert neo4j_advice.shutdown_advice(stock_conf, quick, stop_seconds=0.4) is None
    tuned = stock_conf + "".join(f"{k} = {v}\n" for k, v in neo4j_advice.QUICK_SHUTDOWN_SETTINGS.items())
    assert neo4j_advice.missing_settings(tuned) == {}
    assert neo4j_advice.shutdown_advice(tuned, slow, stop_seconds=10.4) is None
    half = stock_conf + "internal.dbms.bolt.netty_server_shutdown_quiet_period=0\n"
    assert list(neo4j_advice.missing_settings(half)) == ["internal.dbms.bolt.netty_server_shutdown_timeout"]


def test_backup_summary_carries_the_advice(install: FakeInstall, tmp_path: Path) -> None:
    home = tmp_path / "neo4j-home"
    (home / "conf").mkdir(parents=True)
    logs = tmp_path / "neo4j-logs"
    logs.mkdir()
    conf_text = f"server.directories.logs={logs}\n"
    (home / "conf" / "neo4j.conf").write_text(conf_text)
    (logs / "debug.log").write_text(_shutdown_log(closed_after=0.2, ended_after=10.3) + "\n")
    install.write_config(neo4j_conf=str(home / "conf" / "neo4j.conf"))
    # Neo4j's stop idles, as the log says: the stop command takes 2.5 s more than the fake's checkpoint.
    slow_stop = json.dumps("sleep 2.5 && " + install.neo4j.stop_command)
    text = install.config.read_text().replace(f"stop = {json.dumps(install.neo4j.stop_command)}", f"stop = {slow_stop}")
    assert slow_stop in text
    install.config.write_text(text)
    result = cli(install, "backup")
    assert result.code == EXIT_OK, result.err
    advice = [line for line in result.out.splitlines() if line.startswith("advice: ")]
    assert len(advice) == 1, result.out
    assert "internal.dbms.bolt.netty_server_shutdown_quiet_period=0" in advice[0]
    assert (home / "conf" / "neo4j.conf").read_text() == conf_text, "appsync never edits neo4j.conf"


def test_logs_dir_defaults_to_the_home_next_to_conf(tmp_path: Path) -> None:
    conf = tmp_path / "home" / "conf" / "neo4j.conf"
    assert neo4j_advice.logs_dir(conf, "") == (tmp_path / "home" / "logs").resolve()
    assert neo4j_advice.logs_dir(conf, "server.directories.logs=/var/log/neo4j") == Path("/var/log/neo4j")
