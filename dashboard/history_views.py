"""View models of the outcome ledger: pods per outcome over a chosen window, from the per-minute counts (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

import pandas as pd

from dashboard.views import OUTCOMES, nice_bucket

WINDOWS = {"1 h": timedelta(hours=1), "24 h": timedelta(days=1), "7 d": timedelta(days=7), "30 d": timedelta(days=30)}
DEFAULT_WINDOW = "24 h"
BUCKETS = 40
COLUMNS = ["Time", "Outcome", "Pods"]


def window_bounds(window: str, now: datetime, buckets: int = BUCKETS) -> tuple[pd.Timestamp, pd.Timestamp, str]:
    """(start, end, bucket) of a window: round buckets of at least a minute, the end on a bucket boundary.

    A round end means the figure changes only when a bucket fills or a new one starts, not on every redraw.
    """
    span = pd.Timedelta(WINDOWS[window])
    bucket = nice_bucket(max(WINDOWS[window] / buckets, timedelta(minutes=1)))
    end = pd.Timestamp(now).floor(bucket) + pd.Timedelta(bucket)
    return end - span, end, bucket


def outcomes_over_time(counts: Iterable[tuple[float, str, int]], window: str, now: datetime) -> pd.DataFrame:
    """Pods created per outcome per bucket (columns Time, Outcome, Pods) from (epoch seconds, outcome, pods) counts.

    Summed in plain Python: the input is at most one row per minute and outcome, the output a few hundred rows.
    """
    start, end, bucket = window_bounds(window, now)
    width = int(bucket.removesuffix("s"))
    low, high = start.timestamp(), end.timestamp()
    sums: Counter[tuple[int, str]] = Counter()
    for seconds, outcome, pods in counts:
        if outcome in OUTCOMES and pods > 0 and low <= seconds < high:
            sums[(int(seconds // width) * width, outcome)] += pods
    keys = sorted(sums)
    counted = pd.DataFrame({
        "Time": pd.to_datetime([moment for moment, _ in keys], unit="s", utc=True),
        "Outcome": pd.Series([outcome for _, outcome in keys], dtype=object),
        "Pods": pd.Series([sums[key] for key in keys], dtype="int64"),
    }, columns=COLUMNS)
    counted.attrs.update(bucket_seconds=width, start=start, end=end)
    return counted


def ledger_counts(ledger, cluster: str, window: str, now: datetime) -> list[tuple[int, str, int]]:
    """The ledger's counts of a window per bucket as (epoch seconds, outcome, pods); empty when it cannot be read."""
    start, end, bucket = window_bounds(window, now)
    return ledger.outcome_buckets(cluster, start.timestamp(), end.timestamp(), int(bucket.removesuffix("s")))
