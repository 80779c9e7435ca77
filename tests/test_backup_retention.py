"""Retention: a pure function with restic's `forget` semantics, tested by tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from structr_appsync.backup.retention import Archive, select_archives
from structr_appsync.config import RetentionPolicy

NONE = {"keep_daily": 0, "keep_weekly": 0, "keep_monthly": 0}


def _archives(*stamps: str) -> list[Archive]:
    return [Archive(stamp, datetime.fromisoformat(stamp).replace(tzinfo=UTC)) for stamp in stamps]


def _kept(archives: list[Archive], **policy: int) -> list[str]:
    decisions = select_archives(archives, RetentionPolicy(**{**NONE, **policy}))
    return [decision.archive.id for decision in decisions if decision.keep]


DAYS = _archives(
    "2026-01-01T10:00",
    "2026-01-01T22:00",
    "2026-01-02T09:00",
    "2026-01-04T09:00",
    "2026-01-05T01:00",
    "2026-01-05T23:00",
    "2026-01-12T08:00",
    "2026-02-01T08:00",
    "2026-02-15T08:00",
    "2027-03-01T08:00",
)

CASES = [
    ("keep_last 3", {"keep_last": 3}, ["2027-03-01T08:00", "2026-02-15T08:00", "2026-02-01T08:00"]),
    # Newest of each of the 4 newest days that hold a backup; empty days do not count (restic).
    (
        "keep_daily 4",
        {"keep_daily": 4},
        ["2027-03-01T08:00", "2026-02-15T08:00", "2026-02-01T08:00", "2026-01-12T08:00"],
    ),
    # Newest per ISO week: 2026-01-04 is a Sunday (week 1), 2026-01-05 a Monday (week 2).
    (
        "keep_weekly 5",
        {"keep_weekly": 5},
        ["2027-03-01T08:00", "2026-02-15T08:00", "2026-02-01T08:00", "2026-01-12T08:00", "2026-01-05T23:00"],
    ),
    ("keep_monthly 3", {"keep_monthly": 3}, ["2027-03-01T08:00", "2026-02-15T08:00", "2026-01-12T08:00"]),
    # Only 2 years hold a backup: with counts left, the oldest backup is kept too (restic >= 0.14).
    ("keep_yearly 5", {"keep_yearly": 5}, ["2027-03-01T08:00", "2026-02-15T08:00", "2026-01-01T10:00"]),
    # 8 days hold backups; a 9th count keeps the oldest backup, although its day already has a newer one.
    (
        "keep_daily 9 keeps the oldest too",
        {"keep_daily": 9},
        [a.id for a in reversed(DAYS) if a.id != "2026-01-05T01:00"],
    ),
    # Exactly as many buckets as the rule asks for: the oldest is not kept additionally.
    (
        "keep_monthly 3 exhausts the count",
        {"keep_monthly": 3, "keep_last": 1},
        ["2027-03-01T08:00", "2026-02-15T08:00", "2026-01-12T08:00"],
    ),
    ("keep_hourly 2", {"keep_hourly": 2}, ["2027-03-01T08:00", "2026-02-15T08:00"]),
    # Rules combine as a union.
    (
        "last 1 + monthly 2 + yearly 2",
        {"keep_last": 1, "keep_monthly": 2, "keep_yearly": 2},
        ["2027-03-01T08:00", "2026-02-15T08:00"],
    ),
    (
        "daily 2 + weekly 2 + yearly 2",
        {"keep_daily": 2, "keep_weekly": 2, "keep_yearly": 2},
        ["2027-03-01T08:00", "2026-02-15T08:00"],
    ),
    (
        "keep_daily 8 reaches back into early January",
        {"keep_daily": 8},
        [
            "2027-03-01T08:00",
            "2026-02-15T08:00",
            "2026-02-01T08:00",
            "2026-01-12T08:00",
            "2026-01-05T23:00",
            "2026-01-04T09:00",
            "2026-01-02T09:00",
            "2026-01-01T22:00",
        ],
    ),
    ("more than there are", {"keep_last": 50}, [a.id for a in reversed(DAYS)]),
    ("no rules at all keeps everything", {}, [a.id for a in reversed(DAYS)]),
]


@pytest.mark.parametrize(("policy", "expected"), [(case[1], case[2]) for case in CASES], ids=[c[0] for c in CASES])
def test_retention_table(policy: dict[str, int], expected: list[str]) -> None:
    assert _kept(DAYS, **policy) == expected


def test_reasons_name_the_rules() -> None:
    policy = RetentionPolicy(keep_last=1, keep_daily=1, keep_weekly=0, keep_monthly=0)
    decisions = select_archives(_archives("2026-03-01T10:00", "2026-03-01T09:00"), policy)
    assert decisions[0].reasons[0] == "last"
    assert "daily 2026-03-01" in decisions[0].reasons
    assert not decisions[1].keep
    assert decisions[1].reasons == ()


def test_input_order_does_not_matter_and_times_are_utc() -> None:
    base = datetime(2026, 5, 1, 23, 30, tzinfo=UTC)
    archives = [Archive(f"a{i}", base + timedelta(hours=i)) for i in range(4)]
    # 23:30 UTC on May 1st is May 2nd in UTC+2; buckets must still be UTC days.
    shifted = [Archive(a.id, a.time.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))) for a in archives]
    kept = _kept(list(reversed(shifted)), keep_daily=2)
    assert kept == ["a3", "a0"]


def test_default_policy_keeps_one_per_day() -> None:
    archives = _archives("2026-05-30T01:00", "2026-06-01T01:00", "2026-06-01T02:00", "2026-06-02T01:00")
    decisions = select_archives(archives, RetentionPolicy())
    kept = [d.archive.id for d in decisions if d.keep]
    assert kept == ["2026-06-02T01:00", "2026-06-01T02:00", "2026-05-30T01:00"]


def test_oldest_is_kept_while_a_rule_has_counts_left() -> None:
    archives = _archives("2026-06-01T01:00", "2026-06-01T02:00", "2026-06-01T03:00")
    decisions = select_archives(archives, RetentionPolicy(keep_daily=7, keep_weekly=0, keep_monthly=0))
    assert [(d.archive.id, d.keep) for d in decisions] == [
        ("2026-06-01T03:00", True),
        ("2026-06-01T02:00", False),
        ("2026-06-01T01:00", True),
    ]
    assert decisions[-1].reasons == ("daily 2026-06-01 (oldest)",)
