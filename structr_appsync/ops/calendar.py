"""The two schedule expressions appsync accepts, each translated into a systemd OnCalendar= and a crontab field set.

Only forms that both systemd and cron can express are accepted, so `--cron` and the timers never disagree:

- a time of day, optionally with weekdays: ``03:15``, ``*-*-* 03:15``, ``Sun *-*-* 03:15``, ``Mon..Fri 22:30``,
  ``Mon,Thu 04:00``;
- an interval that divides an hour or a day: ``15min``, ``30m``, ``1h``, ``6h``, ``1d``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from structr_appsync.errors import UsageError

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_CRON_DAY = {name: str((index + 1) % 7) for index, name in enumerate(_DAYS)}  # cron: Sun = 0
_TIME = re.compile(r"^(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>00))?$")
_INTERVAL = re.compile(r"^(?P<count>\d+)\s*(?P<unit>m|min|minutes?|h|hours?|d|days?)$")


@dataclass(frozen=True)
class When:
    """One schedule: ``on_calendar`` for a systemd timer, ``cron`` the five crontab time fields."""

    on_calendar: str
    cron: str
    text: str  # what the user wrote, for messages


def _weekdays(spec: str) -> tuple[str, str]:
    """``Mon..Fri`` / ``Mon,Thu`` / ``Sun`` as (systemd text, cron field)."""
    systemd_parts: list[str] = []
    cron_parts: list[str] = []
    for part in spec.split(","):
        names = part.split("..")
        if len(names) > 2 or not all(name.capitalize() in _DAYS for name in names):
            raise UsageError(f"unknown weekday {part!r}: use Mon, Tue, Wed, Thu, Fri, Sat, Sun, ranges like Mon..Fri")
        first, last = names[0].capitalize(), names[-1].capitalize()
        if len(names) == 2:
            if _DAYS.index(first) > _DAYS.index(last):
                raise UsageError(f"weekday range {part!r} runs backwards: write it from Mon towards Sun")
            systemd_parts.append(f"{first}..{last}")
            cron_parts.append(f"{_CRON_DAY[first]}-{_CRON_DAY[last]}" if last != "Sun" else f"{_CRON_DAY[first]}-7")
        else:
            systemd_parts.append(first)
            cron_parts.append(_CRON_DAY[first])
    return ",".join(systemd_parts), ",".join(cron_parts)


def time_of_day(text: str) -> When:
    """Parse ``[WEEKDAYS] [*-*-*] HH:MM[:00]``.

    Raises:
        UsageError: for anything else (the message shows the accepted forms).
    """
    words = text.split()
    problem = UsageError(
        f"cannot use {text!r} as a time of day",
        hint='write e.g. "03:15", "*-*-* 03:15", "Sun *-*-* 03:15" or "Mon..Fri 22:30" (the same works with --cron)',
    )
    if not words or len(words) > 3:
        raise problem
    match = _TIME.match(words[-1])
    if not match:
        raise problem
    hour, minute = int(match["hour"]), int(match["minute"])
    if hour > 23 or minute > 59:
        raise problem
    middle = words[:-1]
    if middle and middle[-1] == "*-*-*":
        middle = middle[:-1]
    if len(middle) > 1:
        raise problem
    days_systemd, days_cron = _weekdays(middle[0]) if middle else ("", "*")
    prefix = f"{days_systemd} " if days_systemd else ""
    return When(
        on_calendar=f"{prefix}*-*-* {hour:02d}:{minute:02d}:00",
        cron=f"{minute} {hour} * * {days_cron}",
        text=text,
    )


def interval(text: str) -> When:
    """Parse ``Nmin`` (N divides 60), ``Nh`` (N divides 24) or ``1d``.

    Raises:
        UsageError: for intervals cron and a calendar timer cannot both express.
    """
    match = _INTERVAL.match(text.strip().lower())
    hint = "use minutes that divide an hour (5min, 15min, 30min), hours that divide a day (1h, 2h, 6h), or 1d"
    if not match or int(match["count"]) == 0:
        raise UsageError(f"cannot use {text!r} as an interval", hint=hint)
    count, unit = int(match["count"]), match["unit"][0]
    if unit == "m" and count < 60 and 60 % count == 0:
        if count == 1:
            return When("*-*-* *:*:00", "* * * * *", text)
        return When(f"*-*-* *:00/{count}:00", f"*/{count} * * * *", text)
    if unit == "m" and count % 60 == 0:
        count, unit = count // 60, "h"
    if unit == "h" and count < 24 and 24 % count == 0:
        if count == 1:
            return When("*-*-* *:00:00", "0 * * * *", text)
        return When(f"*-*-* 00/{count}:00:00", f"0 */{count} * * *", text)
    if (unit == "h" and count == 24) or (unit == "d" and count == 1):
        return When("*-*-* 00:00:00", "0 0 * * *", text)
    raise UsageError(f"cannot use {text!r} as an interval", hint=hint)
