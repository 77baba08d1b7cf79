"""View models of the outcome ledger: pods per outcome over a chosen window, from the per-minute counts (pure)."""

from __future__ import annotations

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


def outcomes_over_time(minutes: Iterable[tuple[int, str, int]], window: str, now: datetime) -> pd.DataFrame:
    """Pods created per outcome per bucket (columns Time, Outcome, Pods) from (minute, outcome, pods) counts."""
    start, end, bucket = window_bounds(window, now)
    rows = [(minute, outcome, pods) for minute, outcome, pods in minutes if outcome in OUTCOMES and pods > 0]
    frame = pd.DataFrame(rows, columns=["Minute", "Outcome", "Pods"])
    frame["Time"] = pd.to_datetime(frame["Minute"].astype("int64") * 60, unit="s", utc=True)
    frame = frame[(frame["Time"] >= start) & (frame["Time"] < end)]
    frame["Time"] = frame["Time"].dt.floor(bucket)
    counted = frame.groupby(["Time", "Outcome"], as_index=False)["Pods"].sum()
    counted = counted.sort_values(["Time", "Outcome"]).reset_index(drop=True)[COLUMNS]
    counted["Pods"] = counted["Pods"].astype("int64")
    counted.attrs.update(bucket_seconds=int(bucket.removesuffix("s")), start=start, end=end)
    return counted


def ledger_minutes(ledger, cluster: str, window: str, now: datetime) -> list[tuple[int, str, int]]:
    """The ledger's per-minute counts of a window (an empty list when the ledger cannot be read)."""
    start, end, _ = window_bounds(window, now)
    return ledger.outcome_minutes(cluster, start.timestamp(), end.timestamp())
