"""`appsync schedule print`: the units pass `systemd-analyze verify`, the crontab matches them, bad input is refused."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest

from structr_appsync.config import load_config
from structr_appsync.errors import EXIT_OK, EXIT_USAGE
from structr_appsync.ops import calendar, schedule
from tests.helpers import run_cli

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def _needs_systemd_analyze() -> str:
    if SYSTEMD_ANALYZE is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing; .ci/run installs it from Debian's systemd package")
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    return SYSTEMD_ANALYZE


def assert_systemd_accepts(on_calendar: str) -> None:
    if SYSTEMD_ANALYZE:
        checked = subprocess.run(
            [SYSTEMD_ANALYZE, "calendar", on_calendar], capture_output=True, text=True, timeout=60, check=False
        )
        assert checked.returncode == 0, checked.stderr


def write_config(root: Path, *, backup: bool = True, password_file: str | None = None) -> Path:
    lines = ['default_env = "prod"', "[env.prod]", 'url = "http://127.0.0.1:8082"']
    if password_file:
        lines.append(f'password_file = "{password_file}"')
    if backup:
        lines += [
            "[env.prod.backup]",
            f'destination = "{root / "backups"}"',
            f'neo4j_data = "{root / "neo4j"}"',
            f'structr_dir = "{root / "structr"}"',
        ]
    path = root / "appsync.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
        elif line and not line.startswith("#"):
            key, _, value = line.partition("=")
            current.setdefault(key, []).append(value)
    return sections


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = _needs_systemd_analyze()
    config = write_config(tmp_path)
    units = tmp_path / "units"
    units.mkdir()
    result = run_cli("-c", str(config), "schedule", "print", "--output-dir", str(units), "--backup-at", "Sun 03:15")
    assert result.code == EXIT_OK, result.err
    files = sorted(units.iterdir())
    assert [path.name for path in files] == [
        "appsync-prod-backup-recover.service",
        "appsync-prod-backup.service",
        "appsync-prod-backup.timer",
        "appsync-prod-export.service",
        "appsync-prod-export.timer",
    ]
    verified = subprocess.run(
        [analyze, "verify", "--man=no", *map(str, files)], capture_output=True, text=True, timeout=120, check=False
    )
    # verify exits 0 on some problems and only warns (unknown keys): its output must be empty too
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr.strip() == "" and verified.stdout.strip() == ""


def test_a_broken_unit_is_caught_by_the_same_verification(tmp_path: Path) -> None:
    """The check above can fail: the same call rejects a unit with a bad calendar expression."""
    analyze = _needs_systemd_analyze()
    config = write_config(tmp_path)
    units = tmp_path / "units"
    units.mkdir()
    assert run_cli("-c", str(config), "schedule", "print", "--output-dir", str(units)).code == EXIT_OK
    timer = units / "appsync-prod-backup.timer"
    timer.write_text(timer.read_text().replace("OnCalendar=*-*-* 03:15:00", "OnCalendar=Sux 03:15"))
    command = [analyze, "verify", "--man=no", *map(str, units.iterdir())]
    verified = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert verified.returncode != 0 or verified.stderr.strip()


def test_backup_units_recover_on_failure_and_run_as_the_repository_owner(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    plan = schedule.plan_schedule(load_config(config), None, backup_at="Mon..Fri 22:30", export_every="15min")
    units = {unit.name: parse_unit(unit.text) for unit in schedule.systemd_units(plan)}
    owner = pwd.getpwuid(tmp_path.stat().st_uid).pw_name
    backup = units["appsync-prod-backup.service"]
    recovery_name = backup["Unit"]["OnFailure"][0]
    recovery = units[recovery_name]
    assert recovery["Service"]["ExecStart"][0].endswith(f"-c {config} backup recover --env prod")
    for unit in (backup, recovery, units["appsync-prod-export.service"]):
        assert unit["Service"]["User"] == [owner]
        assert unit["Service"]["Type"] == ["oneshot"]
        assert unit["Service"]["StandardInput"] == ["null"]
        executable = unit["Service"]["ExecStart"][0].split()[0]
        assert Path(executable).is_absolute() and os.access(executable, os.X_OK)
    assert backup["Service"]["ExecStart"][0].endswith("backup --env prod")
    assert "ExecStartPost" not in backup["Service"]  # no command is run that does not exist
    for name in ("appsync-prod-backup.timer", "appsync-prod-export.timer"):
        timer = units[name]["Timer"]
        assert timer["Persistent"] == ["true"]
        assert timer["RandomizedDelaySec"] == ["15min"]
        assert timer["Unit"][0] in units
    assert units["appsync-prod-backup.timer"]["Timer"]["OnCalendar"] == ["Mon..Fri *-*-* 22:30:00"]
    assert units["appsync-prod-export.timer"]["Timer"]["OnCalendar"] == ["*-*-* *:00/15:00"]
    # the password of scheduled exports comes from a 0600 environment file, never from the unit itself
    assert units["appsync-prod-export.service"]["Service"]["EnvironmentFile"] == ["-/etc/appsync/prod.env"]
    assert "EnvironmentFile" not in backup["Service"]


def test_password_file_needs_no_environment_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, password_file=str(tmp_path / "pw"))
    plan = schedule.plan_schedule(load_config(config), None)
    export = next(unit for unit in schedule.systemd_units(plan) if unit.name == "appsync-prod-export.service")
    assert "EnvironmentFile" not in export.text


def test_crontab_lines_match_the_timers(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = run_cli("-c", str(config), "schedule", "print", "--cron", "--backup-at", "Sun *-*-* 03:15")
    assert result.code == EXIT_OK, result.err
    jobs = [line for line in result.out.splitlines() if line and not line.startswith("#")]
    assert len(jobs) == 2
    backup, export = jobs
    assert backup.startswith("15 3 * * 0 ")
    assert "backup --env prod" in backup and backup.endswith(f"-c {config} backup recover --env prod")
    assert "runbook" not in backup
    assert export.startswith("0 * * * * ") and export.endswith("export --env prod")


def test_without_a_backup_table_only_the_export_is_scheduled(tmp_path: Path) -> None:
    config = write_config(tmp_path, backup=False)
    plan = schedule.plan_schedule(load_config(config), None)
    assert [job.key for job in plan.jobs] == ["export"]
    result = run_cli("-c", str(config), "schedule", "print", "--no-export")
    assert result.code == EXIT_USAGE
    assert "nothing to schedule" in result.err


def test_a_drill_gets_its_own_weekly_timer(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    drill = schedule.DrillSchedule(calendar.time_of_day("Sun 05:30"), ("backup", "drill", "--env", "prod"))
    plan = schedule.plan_schedule(load_config(config), None, drill=drill)
    units = {unit.name: parse_unit(unit.text) for unit in schedule.systemd_units(plan)}
    assert units["appsync-prod-drill.timer"]["Timer"]["OnCalendar"] == ["Sun *-*-* 05:30:00"]
    assert units["appsync-prod-drill.service"]["Service"]["ExecStart"][0].endswith("backup drill --env prod")
    cron = schedule.crontab_lines(plan)
    assert any(line.startswith("30 5 * * 0 ") and "backup drill --env prod" in line for line in cron)


@pytest.mark.parametrize(
    ("text", "on_calendar", "cron"),
    [
        ("03:15", "*-*-* 03:15:00", "15 3 * * *"),
        ("*-*-* 03:15", "*-*-* 03:15:00", "15 3 * * *"),
        ("Sun *-*-* 03:15", "Sun *-*-* 03:15:00", "15 3 * * 0"),
        ("mon..fri 22:30:00", "Mon..Fri *-*-* 22:30:00", "30 22 * * 1-5"),
        ("Sat..Sun 01:00", "Sat..Sun *-*-* 01:00:00", "0 1 * * 6-7"),
        ("Mon,Thu 04:05", "Mon,Thu *-*-* 04:05:00", "5 4 * * 1,4"),
    ],
)
def test_times_of_day(text: str, on_calendar: str, cron: str) -> None:
    when = calendar.time_of_day(text)
    assert (when.on_calendar, when.cron) == (on_calendar, cron)
    assert_systemd_accepts(when.on_calendar)


@pytest.mark.parametrize(
    ("text", "on_calendar", "cron"),
    [
        ("15min", "*-*-* *:00/15:00", "*/15 * * * *"),
        ("1h", "*-*-* *:00:00", "0 * * * *"),
        ("120m", "*-*-* 00/2:00:00", "0 */2 * * *"),
        ("6h", "*-*-* 00/6:00:00", "0 */6 * * *"),
        ("1d", "*-*-* 00:00:00", "0 0 * * *"),
    ],
)
def test_intervals(text: str, on_calendar: str, cron: str) -> None:
    when = calendar.interval(text)
    assert (when.on_calendar, when.cron) == (on_calendar, cron)
    assert_systemd_accepts(when.on_calendar)


@pytest.mark.parametrize(
    ("option", "value"),
    [("--backup-at", "25:00"), ("--backup-at", "Fri..Mon 03:00"), ("--backup-at", "daily"), ("--export-every", "7min"),
     ("--export-every", "5h"), ("--export-every", "0h")],
)
def test_unusable_schedules_are_usage_errors(tmp_path: Path, option: str, value: str) -> None:
    config = write_config(tmp_path)
    result = run_cli("-c", str(config), "schedule", "print", option, value)
    assert result.code == EXIT_USAGE
    assert result.err.startswith("appsync: error: cannot use") or "weekday" in result.err
    assert "hint:" in result.err or "weekday" in result.err
