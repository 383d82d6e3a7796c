"""The clock, and the one grammar for the times people type (`--now`, `--since`, `--until`,
`audit at TIME`, `rollback --to TIME`).

TIME: RFC 3339 (`2026-11-20T12:00:00Z`, `2026-11-20T13:00:00+01:00`); a date or a date and
time, read as UTC (`2026-11-20`, `2026-11-20 14:05`, `2026-11-20 14:05:30`, `2026-11-20T14:05`);
`now`; `yesterday` (24 hours ago), `tomorrow` (24 hours ahead); `N second(s)|minute(s)|hour(s)|
day(s)|week(s) ago` and `in N ...` (a check `--now 'in 30 days'` shows which waivers will have
expired). Unlike git, times without a zone are UTC, so an answer never depends on the machine
asking.

Records carry times as RFC 3339 UTC with whole seconds (`utc`), the only form `epoch` reads.
"""

from __future__ import annotations

import datetime as dt
import re

from engine.errors import GovopsError

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$")
_AGO = re.compile(r"^(\d+)\s+(second|minute|hour|day|week)s?\s+ago$")
_AHEAD = re.compile(r"^in\s+(\d+)\s+(second|minute|hour|day|week)s?$")
TIME_FORMS = ("an RFC 3339 time (2026-11-20T12:00:00Z), a date (2026-11-20, 2026-11-20 14:05, "
              "UTC), 'now', 'yesterday', 'tomorrow', 'N days ago' or 'in N days'")


class TimeError(GovopsError):
    """A TIME that is none of the forms above (exit 2)."""


def utc(moment: dt.datetime) -> str:
    """RFC 3339 in UTC with whole seconds: how every record writes a time."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_now() -> str:
    return utc(dt.datetime.now(dt.UTC))


def instant(moment: str) -> dt.datetime:
    """An RFC 3339 time as a record writes it (`...Z` or an offset), as an aware datetime."""
    return dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))


def seconds(moment: dt.datetime) -> int:
    """Whole seconds since the epoch (floored, as records keep whole seconds)."""
    return int(moment.timestamp() // 1)


def epoch(moment: str) -> int:
    """Whole seconds since the epoch of an RFC 3339 time as a record writes it."""
    return seconds(instant(moment))


def parse_time(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """TIME as an aware UTC datetime; `now` anchors the relative forms (default: the clock)."""
    value = text.strip()
    lowered = value.lower()
    current = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    try:
        if lowered == "now":
            return current
        if lowered in ("yesterday", "tomorrow"):
            return current + dt.timedelta(days=-1 if lowered == "yesterday" else 1)
        if match := _AGO.match(lowered) or _AHEAD.match(lowered):
            span = dt.timedelta(**{match.group(2) + "s": int(match.group(1))})
            return current - span if match.re is _AGO else current + span
        if _RFC3339.match(value):
            return dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00")
                                             ).astimezone(dt.UTC)
        if _LOCAL.match(value):
            return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    except (ValueError, OverflowError):
        pass
    raise TimeError(f"TIME {text!r} is not {TIME_FORMS}")


def parse_now(text: str) -> str:
    """`--now TIME` (the time an evaluation is as of) in the form records carry."""
    try:
        return utc(parse_time(text))
    except TimeError:
        raise TimeError(f"--now {text!r} is not {TIME_FORMS}") from None
