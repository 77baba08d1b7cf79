"""The order the workers take tests in: the longest work first, so that no long test starts last and ends alone.

xdist hands out work units (a test, or a whole `xdist_group`) in collection order as workers free up. Collected
as written, the suite ran its browser tests first (the CPU full) and its waiting integration tests last (the CPU
half idle, tests/README.md); longest-first (LPT) mixes the two and ends on the short unit tests. Durations come from
`tests/durations.json`, written by `pytest --store-durations`; a test missing there counts as DEFAULT_SECONDS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

DURATIONS_FILE = Path(__file__).resolve().parent / "durations.json"
GROUPED = re.compile(r"(.+::.+)@[\w.-]+")
DEFAULT_SECONDS = 1.0  # a test not measured yet: about an integration test's mean

Item = TypeVar("Item")


def longest_first(items: Sequence[Item], unit_of: Mapping[int, Hashable], seconds_of: Mapping[int, float]) -> list[Item]:
    """The items regrouped by work unit, units ordered by their summed seconds, longest first; stable otherwise.

    `unit_of[i]` and `seconds_of[i]` describe `items[i]`; items of one unit keep their order and stay together."""
    members: dict[Hashable, list[int]] = {}
    for index in range(len(items)):
        members.setdefault(unit_of[index], []).append(index)
    cost = {unit: sum(seconds_of[i] for i in indexes) for unit, indexes in members.items()}
    ordered_units = sorted(members, key=lambda unit: -cost[unit])  # sorted() is stable: ties keep collection order
    return [items[i] for unit in ordered_units for i in members[unit]]


def lanes(costs: Mapping[Hashable, float], count: int) -> dict[Hashable, int]:
    """Each key's lane of `count`, the costliest key first into the lane with the least cost so far (LPT); ties go to
    the lower lane and keep the keys' order."""
    load = [0.0] * max(count, 1)
    assigned: dict[Hashable, int] = {}
    for key in sorted(costs, key=lambda key: -costs[key]):
        lane = load.index(min(load))
        assigned[key] = lane
        load[lane] += costs[key]
    return assigned


def read_durations(path: Path = DURATIONS_FILE) -> dict[str, float]:
    """The stored seconds per test id (setup + call + teardown); empty when there is no file or it is unreadable."""
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(key): float(value) for key, value in stored.items()} if isinstance(stored, dict) else {}


def plain_id(nodeid: str) -> str:
    """A test id without the `@group` suffix xdist's loadgroup gives grouped tests (a group is a dotted name)."""
    grouped = GROUPED.fullmatch(nodeid)
    return grouped.group(1) if grouped else nodeid


def write_durations(seconds: Mapping[str, float], path: Path = DURATIONS_FILE) -> None:
    """Store seconds per test id, rounded to 10 ms and sorted by id, so that a diff shows what changed."""
    rounded = {key: round(value, 2) for key, value in sorted(seconds.items())}
    path.write_text(json.dumps(rounded, indent=0, sort_keys=True) + "\n")
