"""Page parts of pod starts: the Overview's speed-up, a pod's start timeline, what each cache saved."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
import streamlit as st

from core.figures import Spread, WindowFigures, counted, saving_words
from dashboard import chart_slot, start_views
from dashboard.cache_views import shown_name
from dashboard.frames import Frames
from dashboard.text import NO_VALUE, inert_frame, md

CACHE_SAVED_COLUMNS = ["Cache", "Saved (s)", "Pods served", "Median start (s)", "Saved from", "Cache ID"]
SAVED_HELP = (
    "For each hit: the median time the same images took to pull on misses in this cluster, less what "
    "the hit paid, never below 0 (a hit that paid more saved nothing). Unknown where no miss of an image was observed."
)


def starts_of(frames: Frames) -> pd.DataFrame:
    """The starts frame of a snapshot, built once per store version."""
    return frames.starts


def seconds(value: float | None) -> str:
    """'12.3 s', or '–' when unknown."""
    return NO_VALUE if value is None or value != value else f"{value:,.1f} s"


def duration(value: float) -> str:
    """Seconds as the largest sensible unit: '42 s', '12.5 min', '3.2 h'."""
    if value < 120:
        return f"{value:,.0f} s"
    if value < 7200:
        return f"{value / 60:,.1f} min"
    return f"{value / 3600:,.1f} h"


def short_duration(value: float) -> str:
    """Seconds in at most six characters, for a tile's large digits: '42 s', '18 min', '5.2 h', '3.1 d'."""
    if value < 120:
        return f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    if value < 172800:
        return f"{value / 3600:.1f} h"
    return f"{value / 86400:,.1f} d"


def estimated_from(count: int) -> str:
    """The caption every saving carries."""
    return f"estimated from {count:,} observed pull{'' if count == 1 else 's'}"


def _start_metrics(columns: list, outcome: str, spread_of: Spread, noun: str, window: str) -> None:
    """The median and p90 start of one outcome's pods of the window, as two tiles saying what they rest on."""
    over = f"{counted(spread_of.count, 'started ' + noun)} created in the last {window}"
    with columns[0]:
        st.metric(f"{outcome} start p50", seconds(spread_of.median), border=True, height="stretch",
                  delta=f"of {counted(spread_of.count, noun)}", delta_color="off", delta_arrow="off",
                  help=f"The median: half of the {over} took at most this long from creation to their last container's start.")
    with columns[1]:
        st.metric(f"{outcome} start p90", seconds(spread_of.p90), border=True, height="stretch",
                  delta=f"of {counted(spread_of.count, noun)}", delta_color="off", delta_arrow="off",
                  help=f"Nine in ten of the {over} took at most this long from creation to their last container's "
                       "start: the slow tail.")


def saved_caption(figures: WindowFigures) -> str:
    """What the pull time saved rests on: the hits counted, those that paid more than the estimate, the unknown."""
    parts = [f"Pull time saved over {counted(figures.saved_pods, 'hit')} of the last {figures.window}, each as "
             "estimated when it started"]
    if figures.paid_more:
        verb = "was" if figures.paid_more == 1 else "were"
        parts.append(f"{counted(figures.paid_more, 'hit')} paid more pulling than the same images take on misses "
                     f"and {verb} counted as saving 0 s")
    if figures.unknown_saving:
        parts.append(f"unknown for {counted(figures.unknown_saving, 'hit')} whose images were never seen pulled")
    return "; ".join(parts) + "."


def overview(frames: Frames, figures: WindowFigures, later: bool = False) -> None:
    """Hit against miss over the window (start times, the time saved); for the pods that exist now, the distribution
    (its box, with `later`: `chart_slot.chart`) and the per-workload table."""
    frame = starts_of(frames)
    if frame.empty and not figures.pods:
        return
    st.subheader("What the caches buy")
    columns = st.columns(4, gap="small")
    _start_metrics(columns[:2], "Hit", figures.hit_start, "hit", figures.window)
    _start_metrics(columns[2:], "Miss", figures.miss_start, "miss", figures.window)
    waiting = start_views.still_starting(frame) if not frame.empty else 0
    verb = "is" if waiting == 1 else "are"
    starting = f" {counted(waiting, 'pod')} {verb} still starting." if waiting else ""
    st.caption(f"{saved_caption(figures)}{starting} Below: the pods that exist now.")
    if frame.empty:
        return
    # one above the other: beside the chart, the table's numbers were cut off at 1024 px
    st.markdown("**Start time by outcome**")
    data = frames.drawn_from("start-distribution", (frame,), lambda: start_views.start_distribution(frame))
    if data.empty:
        st.caption("No pod has started yet.")
    else:
        figure = frames.drawn_from("start-chart", (data,), lambda: frames.figure(start_views.start_chart, data))
        chart_slot.chart(figure, "chart-start-time", later)
    st.markdown("**By workload**")
    table = frames.drawn_from("start-workloads", (frame,), lambda: start_views.by_workload(frame))
    _start_table(frames, table, "start-workloads", {
        "Hit %": st.column_config.NumberColumn(format="%.0f%%"),
        "Median start (s)": st.column_config.NumberColumn(format="%.1f"),
        "Saved (s)": st.column_config.NumberColumn(format="%.0f", help=SAVED_HELP),
    })


def pod_timeline(record: Any, frames: Frames | None = None) -> None:
    """One pod's start: created, scheduled, each image pulled or present, started (or why not), and a started hit's
    saving (from the starts table of `frames`)."""
    start = record.start
    steps = start_views.start_timeline(start)
    if not steps:
        return
    st.markdown("**Start**")
    refused = start_views.refusal(record.actual, record.decision) if start.start_seconds is None else None
    if refused:
        st.warning(md(refused), icon=":material/block:")
        return  # its chart would be one dot, "created"
    if start.start_seconds is not None:
        pulled = start.pull_seconds
        pulls = f", {seconds(pulled)} of it pulling images" if pulled else ""
        st.caption(f"Started {seconds(start.start_seconds)} after creation{pulls}.")
        saving = start_views.saving_of_pod(frames.starts, record.key) if frames is not None else None
        if saving is not None:
            st.caption(f"Pull time saved: {md(saving_words(saving))}.")
    elif start.waiting_reason:
        st.text(f"Not started: {start.waiting_reason}")  # the cluster's words, shown as text
        if start.waiting_message:
            st.text(start.waiting_message)
    else:
        st.caption("Still starting.")
    chart_slot.chart(start_views.timeline_chart(steps), "pod-start-timeline")


def caches(frames: Frames) -> None:
    """Per cache: the pods it served, their median start, the pull time it saved."""
    frame = starts_of(frames)
    caches = frames.snapshot.caches
    table = frames.drawn_from("start-caches", (frame,), lambda: shown_names(start_views.by_cache(frame, caches)),
                              inputs=(caches,))
    st.subheader("What each cache saved")
    if table.empty:
        st.caption("No pod has hit a cache yet.")
        return
    st.caption(f"Pull time saved per cache, {estimated_from(start_views.observed_pulls(frame))}. {SAVED_HELP}")
    # what it saved next to the cache's name, so at 1024 px only the cache's ID is behind a sideways scroll
    _start_table(frames, table, "start-caches", {
        "Cache": st.column_config.TextColumn(pinned=True, width=216,  # in view when the grid scrolls sideways
                                             help="auto · eci-…: created by ECI for a pod that missed"),
        "Saved (s)": st.column_config.NumberColumn(format="%.0f", width=80),
        "Pods served": st.column_config.NumberColumn(width=96),
        "Median start (s)": st.column_config.NumberColumn(format="%.1f", width=124),
        "Saved from": st.column_config.NumberColumn(help="observed pulls the estimate rests on", width=92),
    }, order=CACHE_SAVED_COLUMNS)


def shown_names(table: pd.DataFrame) -> pd.DataFrame:
    """A per-cache table with its caches named as the caches table names them (auto · eci-… for ECI's own)."""
    return table.assign(Cache=table["Cache"].map(shown_name))


def _start_table(frames: Frames, table: pd.DataFrame, key: str, column_config: dict,
                 order: list[str] | None = None) -> None:
    """A start table as inert text, up to about eight rows high.

    Handed to Streamlit as the Arrow table it makes of a DataFrame (`pa.Table.from_pandas`), made once per table
    rather than on every rerun: the same bytes reach the browser.
    """
    arrow = frames.drawn_from(f"{key} as arrow", (table,), lambda: pa.Table.from_pandas(inert_frame(table)))
    st.dataframe(
        arrow,
        hide_index=True, placeholder=NO_VALUE,
        width="stretch",
        height=min(38 + 35 * max(len(table), 1), 320),
        key=key,
        column_config=column_config,
        column_order=order,
    )
