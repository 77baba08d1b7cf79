"""RFC 3339 timestamps as Kubernetes writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

from core.errors import ImcError
from core.findings import brief

# RFC 3339 with nanoseconds and an offset is 35 characters
MAX_TIME_CHARS = 64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def parse_time(value: object) -> datetime | None:
    """An aware UTC datetime from an RFC 3339 string; None for empty; ImcError when malformed or out of range."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        raise ImcError(f"not a timestamp: {brief(value)}")
    return _parse_text(value)


@lru_cache(maxsize=65536)  # a cluster's objects share many timestamps (a list of 10k pods and 40k events)
def _parse_text(value: str) -> datetime:
    if len(value) > MAX_TIME_CHARS:
        raise ImcError(f"not an RFC 3339 timestamp: {brief(value)} is too long")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # e.g. month 13, or year 1 with an offset east of UTC
        raise ImcError(f"not an RFC 3339 timestamp: {brief(value)}") from None


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a Z, to the second, as Kubernetes prints it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_day(moment: datetime) -> str:
    """The date alone, for reasons such as 'expired 2026-11-27'."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def micros(moment: datetime) -> int:
    """An aware instant as whole microseconds since 1970: exact and ordered as the instants are, where a float
    timestamp rounds (to ~30 µs in year 9000)."""
    return (moment - _EPOCH) // _MICROSECOND
