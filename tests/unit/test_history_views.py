"""The Overview's over-time chart from the ledger's per-minute counts, in each window."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dashboard.history_views import WINDOWS, outcomes_over_time, window_bounds

NOW = datetime(2026, 11, 28, 12, 7, 30, tzinfo=UTC)
MINUTE = int(NOW.timestamp() // 60)


@pytest.mark.parametrize("window", list(WINDOWS))
def test_every_window_ends_on_a_bucket_and_spans_its_length(window):
    start, end, bucket = window_bounds(window, NOW)
    assert end - start == WINDOWS[window]
    assert end > NOW and end.timestamp() % int(bucket.removesuffix("s")) == 0
    assert 60 <= int(bucket.removesuffix("s")) <= WINDOWS[window].total_seconds() / 20


def test_minutes_are_summed_into_buckets_and_old_ones_left_out():
    minutes = [(m * 60, outcome, pods) for m, outcome, pods in [
        (MINUTE, "hit", 3), (MINUTE - 1, "hit", 2), (MINUTE - 2, "miss", 1),
        (MINUTE - 2 * 24 * 60, "hit", 50),  # two days ago: only in the 7 d and 30 d windows
        (MINUTE, "not-eci", 9), (MINUTE, "fail", 0)]]
    hour = outcomes_over_time(minutes, "1 h", NOW)
    assert hour["Pods"].sum() == 6 and set(hour["Outcome"]) == {"hit", "miss"}
    assert hour.attrs["bucket_seconds"] == 120
    week = outcomes_over_time(minutes, "7 d", NOW)
    assert week["Pods"].sum() == 56
    assert list(week.columns) == ["Time", "Outcome", "Pods"]
    assert all(moment.timestamp() % week.attrs["bucket_seconds"] == 0 for moment in week["Time"])
    assert str(week["Time"].dt.tz) == "UTC"


def test_no_minutes_is_an_empty_frame_with_the_columns():
    empty = outcomes_over_time([], "30 d", NOW)
    assert empty.empty and list(empty.columns) == ["Time", "Outcome", "Pods"]
