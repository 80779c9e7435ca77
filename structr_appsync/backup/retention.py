"""Which generations to keep: a pure function with restic's `forget` semantics.

Generations are walked newest first. ``keep_last`` keeps the N newest. Each bucket rule (hourly, daily, weekly,
monthly, yearly) keeps the newest generation of each of the last N buckets *that hold a generation* (empty days do
not count), exactly like restic. Like restic (0.14 and later), a bucket rule that still has counts left when it
reaches the oldest generation keeps that one too, so a young series keeps its longest history. The rules combine as a
union; reasons say which rules keep a generation. Buckets are computed in UTC. A policy with every count at zero keeps
everything (restic refuses such a policy; we fail safe).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from structr_appsync.config import RetentionPolicy


@dataclass(frozen=True)
class Archive:
    """A generation as retention sees it."""

    id: str
    time: datetime


@dataclass(frozen=True)
class Decision:
    """Keep or prune one archive, and why."""

    archive: Archive
    keep: bool
    reasons: tuple[str, ...] = field(default=())


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso_week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


_BUCKETS: tuple[tuple[str, str, Callable[[datetime], str]], ...] = (
    ("keep_hourly", "hourly", lambda moment: moment.strftime("%Y-%m-%d %H")),
    ("keep_daily", "daily", lambda moment: moment.strftime("%Y-%m-%d")),
    ("keep_weekly", "weekly", _iso_week),
    ("keep_monthly", "monthly", lambda moment: moment.strftime("%Y-%m")),
    ("keep_yearly", "yearly", lambda moment: moment.strftime("%Y")),
)


def select_archives(archives: Sequence[Archive], policy: RetentionPolicy) -> list[Decision]:
    """Decide for every archive whether it is kept; the result is ordered newest first."""
    ordered = sorted(archives, key=lambda archive: (_utc(archive.time), archive.id), reverse=True)
    if all(getattr(policy, name) == 0 for name in ("keep_last", *(rule[0] for rule in _BUCKETS))):
        return [Decision(archive, True, ("no retention rules set",)) for archive in ordered]
    remaining = {name: getattr(policy, name) for name, _, _ in _BUCKETS}
    last_bucket: dict[str, str | None] = {name: None for name, _, _ in _BUCKETS}
    decisions: list[Decision] = []
    oldest = len(ordered) - 1
    for index, archive in enumerate(ordered):
        reasons: list[str] = []
        if index < policy.keep_last:
            reasons.append("last")
        moment = _utc(archive.time)
        for name, label, bucket_of in _BUCKETS:
            if remaining[name] <= 0:
                continue
            bucket = bucket_of(moment)
            if bucket != last_bucket[name]:
                last_bucket[name] = bucket
                remaining[name] -= 1
                reasons.append(f"{label} {bucket}")
            elif index == oldest:
                # restic: a rule with counts left also keeps the oldest snapshot (its bucket's newest is kept too).
                remaining[name] -= 1
                reasons.append(f"{label} {bucket} (oldest)")
        decisions.append(Decision(archive, bool(reasons), tuple(reasons)))
    return decisions
