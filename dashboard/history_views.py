"""View models of the outcome ledger: pods per outcome over a chosen window, from the per-minute counts (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from core import figures
from dashboard.cache_views import relative_time
from dashboard.views import OUTCOMES
from kube.ledger_rows import StoredPod

WINDOWS = {name: timedelta(seconds=seconds) for name, seconds in figures.WINDOWS.items()}
DEFAULT_WINDOW = figures.DEFAULT_WINDOW
COLUMNS = ["Time", "Outcome", "Pods"]
# why a page goes without the history file: it is not kept, or it counts more than a signed-in person may see
NOT_KEPT = "history is not being kept"
WITHHELD = "the history file counts namespaces you may not see, so it is not shown to you"


def window_bounds(window: str, now: datetime) -> tuple[pd.Timestamp, pd.Timestamp, str]:
    """(start, end, bucket) of a window (`core.figures.window_bounds`: round buckets of at least a minute, the end on
    a bucket boundary), so the chart counts the very pods the headline figures count.

    A round end means the figure changes only when a bucket fills or a new one starts, not on every redraw.
    """
    start, end = figures.window_bounds(window, now.timestamp())
    return (pd.Timestamp(start, unit="s", tz="UTC"), pd.Timestamp(end, unit="s", tz="UTC"),
            f"{figures.bucket_seconds(window)}s")


def outcomes_over_time(counts: Iterable[tuple[float, str, int]], window: str, now: datetime) -> pd.DataFrame:
    """Pods created per outcome per bucket (columns Time, Outcome, Pods) from (epoch seconds, outcome, pods) counts.

    Summed over arrays: the input is one row per minute and outcome from the ledger, or one per pod seen (10,000s)
    without one; the output a few hundred rows.
    """
    start, end, bucket = window_bounds(window, now)
    width = int(bucket.removesuffix("s"))
    low, high = start.timestamp(), end.timestamp()
    rows = list(zip(*counts, strict=True))
    seconds = np.array(rows[0] if rows else (), dtype="float64")
    outcomes = np.array(rows[1] if rows else (), dtype=object)
    pods = np.array(rows[2] if rows else (), dtype="int64")
    kept = np.isin(outcomes, OUTCOMES) & (pods > 0) & (seconds >= low) & (seconds < high)
    summed = pd.Series(pods[kept]).groupby(
        [np.floor_divide(seconds[kept], width).astype("int64") * width, outcomes[kept]], sort=True).sum()
    counted = pd.DataFrame({
        "Time": pd.to_datetime(summed.index.get_level_values(0).tolist(), unit="s", utc=True),
        "Outcome": pd.Series(summed.index.get_level_values(1).tolist(), dtype=object),
        "Pods": pd.Series(summed.tolist(), dtype="int64"),
    }, columns=COLUMNS)
    counted.attrs.update(bucket_seconds=width, start=start, end=end)
    return counted


def ledger_counts(ledger, cluster: str, window: str, now: datetime) -> list[tuple[int, str, int]]:
    """The ledger's counts of a window per bucket as (epoch seconds, outcome, pods); empty when it cannot be read."""
    start, end, bucket = window_bounds(window, now)
    return ledger.outcome_buckets(cluster, start.timestamp(), end.timestamp(), int(bucket.removesuffix("s")))


def ledger_pod_facts(stored: StoredPod, now: datetime) -> list[tuple[str, str]]:
    """What the ledger kept of a pod (`Ledger.pod`) as (what, value) pairs, for a pod no longer in the cluster."""
    row, deleted = stored

    def moment(seconds: float | None) -> str:
        return relative_time(datetime.fromtimestamp(seconds, UTC), now) if seconds is not None else "not known"

    def took(seconds: float | None) -> str:
        return f"{seconds:,.1f} s" if seconds is not None else "not known (it had not started)"

    said = {None: "nothing reported"}.get(row.actual, row.actual)
    agreed = "" if row.actual is None else (" (not what imc predicted)" if row.disagrees else " (as imc predicted)")
    cache = f"{row.cache_name} ({row.cache_id or 'no ID'})" if row.cache_name else (row.cache_id or "none")
    return [
        ("Deleted", moment(deleted) if deleted is not None else "not seen deleted (imc was not watching then)"),
        ("Created", moment(row.created)),
        ("Workload", row.workload or "none (a bare pod)"),
        ("imc predicted", row.predicted),
        ("What ECI did", f"{said}{agreed}"),
        ("Cache", cache),
        ("Start", took(row.start_seconds)),
        ("Pull", took(row.pull_seconds)),
        *([("Pull time saved", figures.saving_words(
            row.saving_seconds if row.saving_seconds is not None else row.saved_seconds))]
          if row.outcome == "hit" and row.start_seconds is not None else []),
    ]
