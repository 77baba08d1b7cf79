"""Page parts of the outcome ledger: the window picker of the over-time chart and the history warning badge."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import history_views
from dashboard.shown_cluster import ShownCluster, metrics_endpoint
from dashboard.text import counted, md

WINDOW_KEY = "history-window"


def outcomes_over_time(cluster: ShownCluster, frames) -> tuple[pd.DataFrame, str, str]:
    """The window picker, then pods per outcome over that window, a caption saying where they come from, and the
    window.

    From the ledger, so the points survive a restart and deleted pods still count; without one (history off or
    unreadable), from what this process saw since it started.
    """
    window = st.segmented_control("Window", list(history_views.WINDOWS), default=history_views.DEFAULT_WINDOW,
                                  key=WINDOW_KEY, label_visibility="collapsed") or history_views.DEFAULT_WINDOW
    live = cluster.live
    ledger = live.ledger if live is not None else None
    if ledger is None or not ledger.readable:
        key = ("history", window, "memory")
        history = frames.snapshot.history  # the same tuple while no pod was added or decided anew
        data = frames.memo(key, lambda: frames.kept(
            f"history-memory {window}", (history, window, history_views.window_bounds(window, frames.now)),
            lambda: history_views.outcomes_over_time(
                ((p.at.timestamp(), p.outcome, 1) for p in history if getattr(p, "kind", "pod") == "pod"), window,
                frames.now)))
        return data, "Pods seen since the dashboard started (history is not being kept).", window
    key = ("history", window, ledger.generation)
    data = frames.memo(key, lambda: history_views.outcomes_over_time(
        history_views.ledger_counts(ledger, live.cluster, window, frames.now), window, frames.now))
    source = "From the history file: pods deleted since still count, and the points survive a restart."
    return data, source, window


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
