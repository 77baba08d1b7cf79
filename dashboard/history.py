"""Page parts of the outcome ledger: the window picker of the over-time chart and the history warning badge."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import figures
from core.figures import WindowFigures, counted
from dashboard import history_views, start_views
from dashboard.shown_cluster import ShownCluster, metrics_endpoint
from dashboard.text import md

WINDOW_KEY = "history-window"


def pick_window() -> str:
    """The window picker (1 h … 30 d): the window of the headline figures and of the chart over time."""
    return st.segmented_control("Window", list(history_views.WINDOWS), default=history_views.DEFAULT_WINDOW,
                                key=WINDOW_KEY, label_visibility="collapsed") or history_views.DEFAULT_WINDOW


def no_history_reason(cluster: ShownCluster) -> str:
    """Why a page goes without the history file: it is not kept, or a signed-in person may see only part of it."""
    shown = getattr(cluster, "visibility", None)
    if getattr(cluster, "person", None) is not None and shown is not None and shown.namespaces is not None:
        return history_views.WITHHELD
    return history_views.NOT_KEPT


def readable_ledger(cluster: ShownCluster):
    """The shown cluster's ledger when history is kept and can be read, else None."""
    ledger = cluster.live.ledger if cluster.live is not None else None
    return ledger if ledger is not None and ledger.readable else None


def window_figures(cluster: ShownCluster, frames, window: str) -> WindowFigures:
    """The headline figures of the window (`core.figures`): from the ledger's pods when history is kept, else from
    the pods alive now; the ledger is queried again only when it stored a batch or the window's bounds moved."""
    ledger = readable_ledger(cluster)
    now = frames.now.timestamp()
    bounds = figures.window_bounds(window, now)
    if ledger is None:
        starts = frames.starts
        return frames.drawn_from(("figures", window), (starts,), lambda: figures.window_figures(
            start_views.figure_rows(starts), window, now, from_history=False), inputs=bounds)
    name = cluster.live.cluster
    return frames.kept(f"figures {window}", (ledger, ledger.generation, name, bounds), lambda: figures.window_figures(
        ledger.window_rows(name, *bounds), window, now, from_history=True))


def outcomes_over_time(cluster: ShownCluster, frames, window: str) -> tuple[pd.DataFrame, str]:
    """Pods per outcome over the window, and a caption saying where they come from.

    From the ledger, so the points survive a restart and deleted pods still count; without one (history off or
    unreadable), from what this process saw since it started.
    """
    live = cluster.live
    ledger = readable_ledger(cluster)
    if ledger is None:
        key = ("history", window, "memory")
        history = frames.snapshot.history  # the same tuple while no pod was added or decided anew
        data = frames.memo(key, lambda: frames.kept(
            f"history-memory {window}", (history, window, history_views.window_bounds(window, frames.now)),
            lambda: history_views.outcomes_over_time(
                ((p.at.timestamp(), p.outcome, 1) for p in history if getattr(p, "kind", "pod") == "pod"), window,
                frames.now)))
        return data, f"Pods seen since the dashboard started ({no_history_reason(cluster)})."
    key = ("history", window, ledger.generation)
    data = frames.memo(key, lambda: history_views.outcomes_over_time(
        history_views.ledger_counts(ledger, live.cluster, window, frames.now), window, frames.now))
    source = "From the history file: pods deleted since still count, and the points survive a restart."
    return data, source


def badges(cluster: ShownCluster) -> None:
    """A warning badge when history is behind, cannot be saved (or only read), or /metrics could not start."""
    ledger = cluster.live.ledger if cluster.live is not None else None
    writer = cluster.live.writer if cluster.live is not None else None
    behind = writer.behind if writer is not None else 0
    if ledger is not None and (ledger.problem or behind):
        label = history_label(ledger.read_only, behind)
        why = [part for part in (ledger.problem, writer.overflow if writer is not None else None) if part]
        help_text = "; ".join(why) or f"{behind:,} changes are being written to {ledger.path}"
        st.badge(label, icon=":material/history_toggle_off:", color="orange", help=md(help_text))
    if cluster.live is not None:
        endpoint = metrics_endpoint()
        if endpoint.problem:
            st.badge("Metrics off", icon=":material/monitoring:", color="orange", help=md(endpoint.problem))


def history_label(read_only: bool, behind: int) -> str:
    """The history badge's words: changes waiting first (they are what is missing from the file)."""
    if behind:
        return f"History behind by {counted(behind, 'change')}"
    return "History read-only" if read_only else "History not saved"
