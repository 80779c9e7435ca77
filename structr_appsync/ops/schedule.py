"""`appsync schedule print`: systemd service and timer units (or crontab lines) for one environment.

Units per environment NAME (all `Type=oneshot`, run as the owner of the repository, logging plain lines to the
journal):

- ``appsync-NAME-backup.service`` + ``.timer``: the cold backup; on failure ``appsync-NAME-backup-recover.service``
  runs ``appsync backup recover``;
- ``appsync-NAME-export.service`` + ``.timer``: the periodic export;
- ``appsync-NAME-drill.service`` + ``.timer``: the weekly restore drill, when the configuration enables one
  (see ``drill_schedule``).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from structr_appsync.backup.context import BackupContext, context_for
from structr_appsync.config import BackupConfig, LoadedConfig
from structr_appsync.errors import UsageError
from structr_appsync.ops import calendar
from structr_appsync.ops.invocation import appsync_command, owner_of

DEFAULT_BACKUP_AT = "*-*-* 03:15"
DEFAULT_EXPORT_EVERY = "1h"
DEFAULT_DRILL_AT = "Sun *-*-* 05:30"
RANDOMIZED_DELAY = "15min"
ENV_FILE_DIR = "/etc/appsync"
_UNIT_SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class Unit:
    name: str
    text: str


@dataclass(frozen=True)
class DrillSchedule:
    """A scheduled restore drill: when, and the appsync arguments that run it."""

    when: calendar.When
    arguments: tuple[str, ...]


@dataclass(frozen=True)
class Job:
    """One scheduled appsync run."""

    key: str  # backup, export, drill
    description: str
    when: calendar.When
    arguments: tuple[str, ...]
    after_success: tuple[tuple[str, ...], ...] = ()
    on_failure: tuple[str, ...] | None = None  # appsync arguments of the recovery unit
    needs_password: bool = False


@dataclass(frozen=True)
class SchedulePlan:
    env_name: str
    config_path: Path
    root: Path
    user: str
    jobs: tuple[Job, ...]
    password_env: str | None  # the variable scheduled exports read, when the password does not come from a file


def drill_schedule(env_name: str, backup: BackupConfig) -> DrillSchedule | None:
    """Extension point for restore drills (the check-and-drill work): a weekly drill timer when the config enables one.

    It reads ``[env.NAME.backup.drill]`` with ``enabled = true`` (and an optional ``schedule``) once that table
    exists in `config.py`; until then no configuration enables a drill and no drill units are written.
    """
    drill = getattr(backup, "drill", None)
    if drill is None or not getattr(drill, "enabled", False):
        return None
    at = getattr(drill, "schedule", None) or DEFAULT_DRILL_AT
    return DrillSchedule(calendar.time_of_day(str(at)), ("backup", "drill", "--env", env_name))


def plan_schedule(
    loaded: LoadedConfig,
    requested_env: str | None,
    *,
    backup_at: str = DEFAULT_BACKUP_AT,
    export_every: str | None = DEFAULT_EXPORT_EVERY,
    drill: DrillSchedule | None = None,
) -> SchedulePlan:
    """Decide which jobs run when for one environment.

    Raises:
        UsageError: for an unusable schedule expression or an environment name systemd cannot carry.
        ConfigError: for an unknown environment.
    """
    env_name, env = loaded.environment(requested_env)
    if not _UNIT_SAFE.match(env_name):
        raise UsageError(f"env name {env_name!r} cannot be part of a systemd unit name (use letters, digits, _ . -)")
    jobs: list[Job] = []
    if env.backup is not None:
        context = context_for(env.backup, env_name, loaded.root, loaded.settings.lock_timeout)
        jobs.append(_backup_job(context, calendar.time_of_day(backup_at)))
        chosen_drill = drill or drill_schedule(env_name, env.backup)
        if chosen_drill is not None:
            jobs.append(Job("drill", f"restore drill of env {env_name!r}", chosen_drill.when, chosen_drill.arguments))
    if export_every is not None:
        jobs.append(
            Job(
                "export",
                f"export env {env_name!r} and commit it",
                calendar.interval(export_every),
                ("export", "--env", env_name),
                needs_password=True,
            )
        )
    if not jobs:
        raise UsageError(
            f"nothing to schedule for env {env_name!r}: it has no [env.{env_name}.backup] table and --no-export is set"
        )
    return SchedulePlan(
        env_name=env_name,
        config_path=loaded.path,
        root=loaded.root,
        user=owner_of(loaded.root),
        jobs=tuple(jobs),
        password_env=None if env.password_file else (env.password_env or "APPSYNC_PASSWORD"),
    )


def _backup_job(context: BackupContext, when: calendar.When) -> Job:
    env = context.env_name
    return Job(
        "backup",
        f"cold backup of env {env!r} (Structr and Neo4j)",
        when,
        ("backup", "--env", env),
        after_success=(),  # extension point: e.g. regenerate a runbook once `appsync backup runbook` exists
        on_failure=("backup", "recover", "--env", env),
    )


def unit_name(env_name: str, key: str, suffix: str) -> str:
    return f"appsync-{env_name}-{key}.{suffix}"


def _exec(arguments: Sequence[str]) -> str:
    """A systemd command line: each word double-quoted where needed, `%` and `$` escaped."""
    words = []
    for word in arguments:
        escaped = word.replace("%", "%%").replace("$", "$$")
        if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", escaped):
            words.append(escaped)
        else:
            words.append('"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return " ".join(words)


def _appsync(plan: SchedulePlan, arguments: Sequence[str]) -> list[str]:
    return [*appsync_command(), "-c", str(plan.config_path), *arguments]


def _service(plan: SchedulePlan, job: Job, *, description: str, arguments: Sequence[str]) -> str:
    lines = ["[Unit]", f"Description=appsync: {description}", "Wants=network-online.target"]
    lines.append("After=network-online.target")
    if job.on_failure is not None:
        lines.append(f"OnFailure={unit_name(plan.env_name, job.key + '-recover', 'service')}")
    lines += [
        "",
        "[Service]",
        "Type=oneshot",
        f"User={plan.user}",
        f"WorkingDirectory={_exec([str(plan.root)])}",
        "# plain log lines for the journal: no colours, no progress bars, and never a prompt",
        "Environment=NO_COLOR=1 PYTHONUNBUFFERED=1",
        "StandardInput=null",
        f"SyslogIdentifier=appsync-{plan.env_name}-{job.key}",
    ]
    if job.needs_password and plan.password_env:
        lines.append(f"# {ENV_FILE_DIR}/{plan.env_name}.env (mode 0600) holds {plan.password_env}=...")
        lines.append(f"EnvironmentFile=-{ENV_FILE_DIR}/{plan.env_name}.env")
    lines.append(f"ExecStart={_exec(_appsync(plan, arguments))}")
    lines += [f"ExecStartPost={_exec(_appsync(plan, step))}" for step in job.after_success]
    return "\n".join(lines) + "\n"


def _timer(plan: SchedulePlan, job: Job) -> str:
    lines = [
        "[Unit]",
        f"Description=appsync: schedule of {job.description}",
        "",
        "[Timer]",
        f"OnCalendar={job.when.on_calendar}",
        "Persistent=true",
        f"RandomizedDelaySec={RANDOMIZED_DELAY}",
        f"Unit={unit_name(plan.env_name, job.key, 'service')}",
        "",
        "[Install]",
        "WantedBy=timers.target",
    ]
    return "\n".join(lines) + "\n"


def systemd_units(plan: SchedulePlan) -> list[Unit]:
    """Every unit file of the plan, services before their timers."""
    units: list[Unit] = []
    for job in plan.jobs:
        units.append(
            Unit(
                unit_name(plan.env_name, job.key, "service"),
                _service(plan, job, description=job.description, arguments=job.arguments),
            )
        )
        if job.on_failure is not None:
            recovery = Job(job.key + "-recover", "", job.when, job.on_failure)
            units.append(
                Unit(
                    unit_name(plan.env_name, recovery.key, "service"),
                    _service(
                        plan,
                        recovery,
                        description=f"restart services a failed {job.key} of env {plan.env_name!r} left stopped",
                        arguments=job.on_failure,
                    ),
                )
            )
        units.append(Unit(unit_name(plan.env_name, job.key, "timer"), _timer(plan, job)))
    return units


def _cron_escape(text: str) -> str:
    return text.replace("%", "\\%")


def crontab_lines(plan: SchedulePlan) -> list[str]:
    """The crontab of the repository owner: one line per job; a failed backup is followed by a recovery."""
    lines = [
        f"# appsync schedule for env {plan.env_name!r}; install with `crontab -u {plan.user} -e`",
        "# cron mails what a job prints; appsync prints plain lines and never prompts without a terminal",
    ]
    if any(job.needs_password for job in plan.jobs) and plan.password_env:
        lines.append(f"# exports need {plan.password_env} in this crontab's environment (or password_file)")
    for job in plan.jobs:
        command = _shell(_appsync(plan, job.arguments))
        for step in job.after_success:
            command += " && " + _shell(_appsync(plan, step))
        if job.on_failure is not None:
            command = f"{{ {command}; }} || {_shell(_appsync(plan, job.on_failure))}"
        lines.append(f"{job.when.cron} cd {_shell([str(plan.root)])} && {_cron_escape(command)}")
    return lines


def _shell(words: Sequence[str]) -> str:
    return shlex.join(words)
