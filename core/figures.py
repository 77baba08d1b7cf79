"""The headline figures of a time window (hit rate, start times, pull time saved, pods decided), over plain rows.

One rule for the Overview, `imc report` and /metrics: each hands `window_figures` the rows of its source (the
ledger's pods when history is kept, else the pods alive now), and the window's bounds come from `window_bounds`, so
the same window and the same rows give the same numbers wherever they are shown.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from core.starts import percentile

WINDOWS = {"1 h": 3600, "24 h": 86400, "7 d": 7 * 86400, "30 d": 30 * 86400}  # name -> seconds
DEFAULT_WINDOW = "24 h"
BUCKETS = 40  # the over-time chart's bars per window
# round bucket widths in seconds: a window's end falls on one, so its bounds move only when a bucket starts
NICE_BUCKET_SECONDS = (1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400, 604800)
TRIED = ("hit", "miss", "fail")  # outcomes of pods that asked ECI for a cache


class FigureRow(NamedTuple):
    """One ECI pod as the figures read it: when it was created, what happened, its start and its estimated saving."""

    created: float | None  # epoch seconds
    outcome: str  # ECI's word when it reported, else the prediction
    start_seconds: float | None  # None until it started
    saving_seconds: float | None  # a started hit: estimated pull time saved, before flooring (negative: paid more)


@dataclass(frozen=True, slots=True)
class Spread:
    """The median and p90 of some start times, and how many there were."""

    median: float | None
    p90: float | None
    count: int


@dataclass(frozen=True, slots=True)
class WindowFigures:
    """The figures of the pods created in [start, end): counts per outcome, start spreads and the time saved."""

    window: str
    start: float
    end: float
    from_history: bool  # the ledger's pods (deleted ones too), else the pods alive now
    hits: int
    misses: int
    fails: int
    off: int
    hit_start: Spread
    miss_start: Spread
    saved_seconds: float  # never below 0: a hit that paid more than the estimate saved 0
    saved_pods: int  # started hits whose saving is known
    paid_more: int  # of those, hits that paid more pulling than the estimate (counted as 0)
    unknown_saving: int  # started hits whose images were never seen pulled

    @property
    def pods(self) -> int:
        """Pods decided in the window."""
        return self.hits + self.misses + self.fails + self.off

    @property
    def tried(self) -> int:
        """Pods that asked for a cache (hit, miss or fail)."""
        return self.hits + self.misses + self.fails

    @property
    def hit_rate(self) -> float | None:
        """Hits among the pods that asked for a cache; None when none did."""
        return self.hits / self.tried if self.tried else None


def window_named(text: str) -> str:
    """The window a command line names ('24h' or '24 h'); ValueError for any other."""
    for name in WINDOWS:
        if text.replace(" ", "") == name.replace(" ", ""):
            return name
    raise ValueError(f"unknown window {text!r}: one of {', '.join(WINDOWS)}")


def bucket_seconds(window: str) -> int:
    """The over-time chart's bucket of a window: the smallest round width of at least a minute and 1/BUCKETS of it."""
    width = max(WINDOWS[window] / BUCKETS, 60)
    return next((b for b in NICE_BUCKET_SECONDS if b >= width), NICE_BUCKET_SECONDS[-1])


def window_bounds(window: str, now: float) -> tuple[float, float]:
    """[start, end) of a window in epoch seconds: the end on the bucket boundary after `now`, so the bounds, and the
    figures of a quiet cluster, stay the same however often they are read within a bucket."""
    bucket = bucket_seconds(window)
    end = (math.floor(now / bucket) + 1) * bucket
    return float(end - WINDOWS[window]), float(end)


def floored(saving: float | None) -> float | None:
    """A saving as shown: never below 0 (a hit that paid more pulling than the estimate saved nothing)."""
    return None if saving is None else max(0.0, saving)


def saving_words(saving: float | None) -> str:
    """One hit's saving as the pod's detail says it: a hit that paid more than the estimate saved 0, and why."""
    if saving is None:
        return "not known (a miss of its images was never observed, or it is not a started hit)"
    if saving < 0:
        return (f"0 s: it paid {-saving:,.1f} s more pulling than the same images take on misses here (the median "
                "observed pull), so the cache saved it nothing")
    return f"{saving:,.1f} s (the median observed pull of its images on misses, less what it paid)"


def spread(values: list[float]) -> Spread:
    """The median and p90 of values (linear interpolation, `core.starts.percentile`)."""
    return Spread(percentile(values, 0.5), percentile(values, 0.9), len(values))


def window_figures(rows: Iterable[FigureRow | tuple], window: str, now: float, from_history: bool) -> WindowFigures:
    """The figures of the rows created within the window that ends after `now`; rows without a creation time, or
    outside the window, are left out."""
    start, end = window_bounds(window, now)
    counts = dict.fromkeys(("hit", "miss", "fail", "off"), 0)
    hit_starts: list[float] = []
    miss_starts: list[float] = []
    saved, saved_pods, paid_more, unknown = 0.0, 0, 0, 0
    for created, outcome, start_seconds, saving in rows:
        if created is None or not start <= created < end or outcome not in counts:
            continue
        counts[outcome] += 1
        if start_seconds is None:
            continue
        if outcome == "miss":  # misses only: pods with matching off pull too, but never asked for a cache
            miss_starts.append(start_seconds)
        elif outcome == "hit":
            hit_starts.append(start_seconds)
            if saving is None:
                unknown += 1
            else:
                saved_pods += 1
                paid_more += saving < 0
                saved += floored(saving)
    return WindowFigures(
        window=window, start=start, end=end, from_history=from_history,
        hits=counts["hit"], misses=counts["miss"], fails=counts["fail"], off=counts["off"],
        hit_start=spread(hit_starts), miss_start=spread(miss_starts),
        saved_seconds=saved, saved_pods=saved_pods, paid_more=paid_more, unknown_saving=unknown,
    )


def counted(count: int, noun: str) -> str:
    """'1 hit', '12 misses' (plural by the English rule for the nouns the figures use)."""
    plural = noun + ("es" if noun.endswith(("s", "sh", "ch")) else "s")
    return f"{count:,} {noun if count == 1 else plural}"


def sample(kind: str, spread_of: Spread, noun: str) -> str:
    """What a start figure rests on: 'median of 12 misses' (kind 'median' or 'p90')."""
    return f"{kind} of {counted(spread_of.count, noun)}"


def source_words(figures: WindowFigures) -> str:
    """Where the figures come from, in a few words."""
    if figures.from_history:
        return f"pods created in the last {figures.window}, from the history file"
    return f"pods created in the last {figures.window} that exist now (history is off)"


def figures_dict(figures: WindowFigures) -> dict:
    """The figures as plain JSON (`imc report --format json`'s "figures")."""
    return {
        "window": figures.window, "start": figures.start, "end": figures.end, "from_history": figures.from_history,
        "pods": figures.pods, "hits": figures.hits, "misses": figures.misses, "fails": figures.fails,
        "off": figures.off, "hit_rate": figures.hit_rate,
        "hit_start": {"median": figures.hit_start.median, "p90": figures.hit_start.p90,
                      "count": figures.hit_start.count},
        "miss_start": {"median": figures.miss_start.median, "p90": figures.miss_start.p90,
                       "count": figures.miss_start.count},
        "saved_seconds": figures.saved_seconds, "saved_pods": figures.saved_pods, "paid_more": figures.paid_more,
        "unknown_saving": figures.unknown_saving,
    }
