"""The one timestamp format: read the seed's form and RFC 3339; store and show UTC, seed form."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

# The seed's form, always UTC with microseconds: 2022-04-29 07:01:45.808944
STORED_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
# VoIPbin's older "unset" sentinel: no time at all.
UNSET_SENTINEL_YEAR = 9999

_TIMESTAMP = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[ Tt](?P<time>\d{2}:\d{2}:\d{2})"
    r"(?:\.(?P<frac>\d{1,9}))?\s*(?P<zone>[Zz]|[+-]\d{2}:?\d{2}|UTC)?$"
)


class BadTimestamp(ValueError):
    """A value that is neither the seed's timestamp form nor RFC 3339."""


_STORED = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}")
# VoIPbin's own form, UTC with a trimmed fraction (2026-08-18T09:00:01.34393Z): read by slicing,
# without a timezone conversion or strftime (five of them in every call event)
_RFC3339_UTC = re.compile(r"[1-9]\d{3}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.(\d{1,9}))?Z", re.ASCII)


def parse_tm(value: object) -> str | None:
    """Return `value` as a stored timestamp, or None for null, "" and the unset sentinel."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadTimestamp(f"a timestamp must be a string, not {type(value).__name__}")
    return _parse_text(value)


# The same times come again and again: each event of a call carries its tm_create,
# tm_ringing and tm_progressing, and a hangup's tm_update is its tm_hangup.
@lru_cache(maxsize=4096)
def _parse_text(value: str) -> str | None:
    if value[10:11] == " " and _STORED.fullmatch(value) and not value.startswith("9999"):
        try:
            datetime.fromisoformat(value)  # already in the stored form: only check the date
            return value
        except ValueError:
            pass
    elif value[10:11] == "T" and (utc := _RFC3339_UTC.fullmatch(value)):
        stored = f"{value[:10]} {value[11:19]}.{(utc[1] or '')[:6].ljust(6, '0')}"
        try:
            moment = datetime.fromisoformat(stored)  # checks the date, as the long way does
        except ValueError:
            pass  # the long way says why
        else:
            return None if moment.year >= UNSET_SENTINEL_YEAR else stored
    match = _TIMESTAMP.match(value.strip())
    if match is None:
        raise BadTimestamp(
            f"{value[:60]!r} is not a timestamp like 2022-04-29 07:01:45.808944 "
            "or 2022-04-29T07:01:45.808944Z"
        )
    frac = (match["frac"] or "0")[:6].ljust(6, "0")  # nanoseconds are cut to microseconds
    zone = match["zone"] or "Z"
    if zone in ("Z", "z", "UTC"):
        zone = "+00:00"
    elif ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    try:
        moment = datetime.fromisoformat(f"{match['date']}T{match['time']}.{frac}{zone}")
    except ValueError as error:
        raise BadTimestamp(f"{value[:60]!r} is not a real date and time ({error})") from None
    if moment.year >= UNSET_SENTINEL_YEAR:
        return None
    return format_tm(moment)


def format_tm(moment: datetime) -> str:
    """Format a datetime (naive means UTC) in the stored form."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    if moment.year >= 1000:  # isoformat is strftime's STORED_FORMAT here, several times faster
        return moment.isoformat(sep=" ", timespec="microseconds")
    return moment.strftime(STORED_FORMAT)


def to_datetime(stored: str) -> datetime:
    """A stored timestamp back as an aware UTC datetime."""
    return datetime.fromisoformat(stored).replace(tzinfo=UTC)


def utc_now() -> datetime:
    """Now, for what the screen works out from the clock (a call's age, stale calls); tests
    that draw the screen hold it still."""
    return datetime.now(UTC)


def now_tm() -> str:
    """The current time in the stored form."""
    return format_tm(datetime.now(UTC))


def add_ms(stored: str, milliseconds: int) -> str:
    """A stored timestamp plus a number of milliseconds."""
    return format_tm(to_datetime(stored) + timedelta(milliseconds=milliseconds))


def clock(stored: str) -> str:
    """The time of day of a stored timestamp, to the second (10:02:12), for one-line summaries."""
    return stored[11:19]
