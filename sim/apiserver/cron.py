"""CronJob schedules as Kubernetes parses them (robfig/cron's ParseStandard): five fields or a descriptor."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
DAYS = {name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# (minimum, maximum, names) of minute, hour, day of month, month, day of week
FIELDS = ((0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, MONTHS), (0, 6, DAYS))
DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
SEARCH_YEARS = 5  # as robfig/cron, a schedule that matches nothing within five years has no next time


class ScheduleError(ValueError):
    """A schedule Kubernetes would not accept, worded as robfig/cron words it."""


@dataclass(frozen=True)
class Field:
    """The values one field allows, and whether it was `*` (which changes how the two day fields combine)."""

    values: frozenset[int]
    star: bool


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: five fields, or a constant delay (`@every`)."""

    fields: tuple[Field, ...] = ()
    every_seconds: int = 0

    def next_after(self, moment: datetime) -> datetime | None:
        """The first activation strictly after `moment` (in `moment`'s time zone), or None within five years."""
        if self.every_seconds:
            return moment.replace(microsecond=0) + timedelta(seconds=self.every_seconds)
        minute, hour, day, month, weekday = self.fields
        zone = moment.tzinfo
        at = moment.replace(tzinfo=None, second=0, microsecond=0) + timedelta(minutes=1)
        limit = at.replace(year=at.year + SEARCH_YEARS)
        while at < limit:
            if at.month not in month.values:
                at = (at.replace(day=1) + timedelta(days=32)).replace(day=1, hour=0, minute=0)
            elif not self._day_matches(at, day, weekday):
                at = (at + timedelta(days=1)).replace(hour=0, minute=0)
            elif at.hour not in hour.values:
                at = (at + timedelta(hours=1)).replace(minute=0)
            elif at.minute not in minute.values:
                at += timedelta(minutes=1)
            else:
                return at.replace(tzinfo=zone)
        return None

    @staticmethod
    def _day_matches(at: datetime, day: Field, weekday: Field) -> bool:
        """Both day fields must match when either is `*`; otherwise either one does (cron's rule)."""
        in_month = at.day in day.values
        in_week = (at.weekday() + 1) % 7 in weekday.values
        return in_month and in_week if day.star or weekday.star else in_month or in_week

    def times_between(self, start: datetime, end: datetime, limit: int = 100) -> list[datetime]:
        """Activations in (start, end], at most `limit` of them (the most recent ones are what matters)."""
        found: list[datetime] = []
        at = self.next_after(start)
        while at is not None and at <= end:
            found.append(at)
            if len(found) > limit:
                found.pop(0)
            at = self.next_after(at)
        return found


def _number(text: str, names: dict[str, int]) -> int:
    """A field value: a number or a name (`jan`, `mon`)."""
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise ScheduleError(f"failed to parse int from {text}: strconv.Atoi: parsing {text!r}: invalid syntax"
                            .replace("'", '"'))
    return int(text)


def _range(expression: str, low: int, high: int, names: dict[str, int]) -> tuple[set[int], bool]:
    """The values of one comma-separated part: `*`, `a`, `a-b`, with an optional `/step`."""
    range_and_step = expression.split("/")
    if len(range_and_step) > 2:
        raise ScheduleError(f"too many slashes: {expression}")
    bounds = range_and_step[0].split("-")
    if len(bounds) > 2:
        raise ScheduleError(f"too many hyphens: {expression}")
    star = bounds[0] in ("*", "?")
    if star:
        start, end = low, high
    else:
        start = _number(bounds[0], names)
        end = _number(bounds[1], names) if len(bounds) == 2 else start
    step = 1
    if len(range_and_step) == 2:
        step = _number(range_and_step[1], {})
        if len(bounds) == 1 and not star:  # `N/step` means `N-max/step`
            end = high
        if step > 1:
            star = False
    if start < low:
        raise ScheduleError(f"beginning of range ({start}) below minimum ({low}): {expression}")
    if end > high:
        raise ScheduleError(f"end of range ({end}) above maximum ({high}): {expression}")
    if start > end:
        raise ScheduleError(f"beginning of range ({start}) beyond end of range ({end}): {expression}")
    if step == 0:
        raise ScheduleError(f"step of range should be a positive number: {expression}")
    return set(range(start, end + 1, step)), star


def _field(text: str, low: int, high: int, names: dict[str, int]) -> Field:
    """One of the five fields: comma-separated ranges."""
    values: set[int] = set()
    star = False
    for part in text.split(","):
        part_values, part_star = _range(part, low, high, names)
        values |= part_values
        star = star or part_star
    return Field(frozenset(values), star)


def parse_duration(text: str) -> float:
    """Seconds of a Go duration (`90s`, `1h30m`, `1.5h`)."""
    rest = text[1:] if text[:1] in "+-" else text
    if rest == "0":
        return 0.0
    parts = _DURATION_PART.findall(rest)
    if not rest or "".join(number + unit for number, unit in parts) != rest:
        raise ScheduleError(f"failed to parse duration @every {text}: time: invalid duration \"{text}\"")
    seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    return -seconds if text.startswith("-") else seconds


def parse_schedule(text: str) -> Schedule:
    """A schedule as `cron.ParseStandard` reads it; ScheduleError with its message when it is not one."""
    spec = text.strip()
    if not spec:
        raise ScheduleError("empty spec string")
    if spec.startswith("@"):
        if spec.startswith("@every "):
            seconds = parse_duration(spec[len("@every "):].strip())
            # robfig/cron rounds the delay to whole seconds, at least one
            return Schedule(every_seconds=max(1, int(seconds)))
        if spec not in DESCRIPTORS:
            raise ScheduleError(f"unrecognized descriptor: {spec}")
        spec = DESCRIPTORS[spec]
    parts = spec.split()
    if len(parts) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(parts)}: [{' '.join(parts)}]")
    return Schedule(tuple(_field(part, *bounds) for part, bounds in zip(parts, FIELDS, strict=True)))


def schedule_problem(schedule: object) -> str | None:
    """Why Kubernetes' validation refuses a CronJob's schedule, or None."""
    if not isinstance(schedule, str) or not schedule:
        return "Required value"
    if "TZ" in schedule:
        return f'Invalid value: "{schedule}": cannot use TZ or CRON_TZ in schedule, use timeZone field instead'
    try:
        parse_schedule(schedule)
    except ScheduleError as error:
        return f'Invalid value: "{schedule}": {error}'
    return None


# A time zone name's components, as kube-apiserver's validateTimeZone reads IANA's naming rules
# (pkg/apis/batch/validation): letters, digits, '.', '-', '_' and '+', 1 to 14 of them.
TIME_ZONE_PART = re.compile(r"[A-Za-z.\-_0-9+]{1,14}")


def time_zone_problem(name: str) -> str | None:
    """Why a CronJob's `timeZone` is refused, worded as kube-apiserver's validateTimeZone does; None when it loads."""
    if not name:
        return "timeZone must be nil or non-empty string"
    if any(part in (".", "..") or part.startswith("-") or not TIME_ZONE_PART.fullmatch(part)
           for part in name.split("/")):
        return f"unknown time zone {name}"
    if name.lower() == "local":
        return "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown time zone {name}"
    return None


def zone_of(name: object) -> ZoneInfo | None:
    """The zone a CronJob's `timeZone` names (UTC when unset), or None for one kube-apiserver refuses."""
    if name is None:
        return ZoneInfo("UTC")
    if not isinstance(name, str) or time_zone_problem(name) is not None:
        return None
    return ZoneInfo(name)
