"""The Fleet page: every watched cluster side by side, one row each (issue 25)."""

from __future__ import annotations

import os
import time

import streamlit as st

from dashboard import cache_views, fleet_views, history, nav, shell, views
from dashboard import shown_cluster as clusters
from dashboard.frames import frames_of
from dashboard.safe import friendly
from dashboard.shown_cluster import ClusterProblem, ShownCluster
from dashboard.text import NO_VALUE, code, md
from kube import prometheus


@friendly
def render() -> None:
    """The fleet page."""
    st.title("Fleet")
    offered = clusters.choices()
    wanted = clusters.fleet_contexts(os.environ.get(clusters.FLEET_VARIABLE), offered.names)
    if not wanted and offered.demo:
        wanted = clusters.DEMO_FLEET  # the built-in demo shows its two clusters side by side
    for context in wanted:
        if context not in clusters.opened():
            clusters.open_cluster(context, offered.demo)  # once per process: each its own watcher and store
    live(wanted)


@st.fragment(run_every=shell.REFRESH_SECONDS)
@friendly
def live(wanted: tuple[str, ...]) -> None:
    """The table, redrawn every few seconds from each cluster's own frames."""
    opened = clusters.opened() or {clusters.chosen_context(clusters.choices()): clusters.current()}
    order = fleet_views.ordered(wanted, list(opened))
    window = history.pick_window()
    rows = [row_of(context, opened.get(context), window) for context in order]
    # Prometheus's figures are whole clusters': not for a signed-in person, who sees only their namespaces
    url = None if clusters.signed_in() is not None else prometheus.prometheus_url()
    reading = read_prometheus(url, window) if url else prometheus.FleetReading()
    rows += fleet_views.prometheus_rows(reading.clusters, watched_names(opened), time.time())
    explain(wanted, rows, window, opened)
    if url and reading.problem:
        st.warning(f"Prometheus at {code(prometheus.shown_url(url))} ({prometheus.PROMETHEUS_VARIABLE}) cannot be read: "
                   f"{md(reading.problem)}. The clusters watched here are live below; the others come back when it "
                   "answers.", icon=":material/cloud_off:")
    table = fleet_views.fleet_frame(rows, window)
    config = {name: st.column_config.Column(help=about, pinned=name == "Context")
              for name, about in fleet_views.columns(window).items()}
    st.dataframe(table, hide_index=True, column_config=config, placeholder=NO_VALUE, key="fleet-table")
    problems = [row for row in rows if row.problem]
    for row in problems:
        st.warning(f"{code(row.context)}: {md(row.problem or '')}", icon=":material/cloud_off:")
    with st.container(horizontal=True):
        for row in rows:
            if not row.problem and not row.remote:
                st.page_link(nav.page("overview"), label=f"Open {row.context}", icon=":material/dashboard:",
                             query_params={clusters.CONTEXT_PARAM: row.context})
        if problems and st.button("Try again", icon=":material/refresh:", key="fleet-retry"):
            demo = clusters.choices().demo
            for row in problems:
                clusters.open_cluster.clear(row.context, demo)
            st.rerun()


@st.cache_data(ttl=shell.REFRESH_SECONDS, show_spinner=False)
def read_prometheus(url: str, window: str) -> prometheus.FleetReading:
    """The fleet's figures from Prometheus, read at most once per refresh for every browser."""
    return prometheus.read_fleet(url, window)


def watched_names(opened: dict[str, ShownCluster | ClusterProblem]) -> set[str]:
    """The clusters this process watches itself, by context and by `cluster` label (IMC_CLUSTER renames one)."""
    names = set()
    for context, found in opened.items():
        if isinstance(found, ShownCluster):
            names.add(context)
            if found.live is not None:
                names.add(found.live.cluster)
    return names


def row_of(context: str, found: ShownCluster | ClusterProblem | None, window: str) -> fleet_views.FleetRow:
    """One cluster's row: its Overview figures, or why it cannot be read."""
    if isinstance(found, ClusterProblem):
        return fleet_views.problem_row(context, found.message)
    if found is None:
        return fleet_views.problem_row(context, "not opened yet")
    snapshot = found.store.snapshot()
    frames = frames_of(snapshot, found.keeper)
    figures = history.window_figures(found, frames, window)
    table, minute = frames.caches_table, frames.now.replace(second=0, microsecond=0)
    expiring = frames.drawn_from("expiring soon", (table,), lambda: int(cache_views.expiring_soon(table, minute).sum()),
                                 inputs=(minute,))
    stale = shell.staleness(snapshot.down_since, views.now_utc())
    watch = fleet_views.watch_words(all(snapshot.synced.values()), stale[0] if stale else None)
    return fleet_views.cluster_row(context, found.server, frames.headline, figures, expiring, watch)


def explain(wanted: tuple[str, ...], rows: list[fleet_views.FleetRow], window: str,
            opened: dict[str, ShownCluster | ClusterProblem]) -> None:
    """What the rows are, over which window, and how to watch more clusters."""
    source = next((found for found in opened.values() if isinstance(found, ShownCluster)), None)
    words = "pods created then that exist now (history is off)"
    if source is not None and history.readable_ledger(source) is not None:
        words = "pods created then, from the history file"
    count = f"{len(rows)} cluster{'s' if len(rows) != 1 else ''}"
    remote = sum(row.remote for row in rows)
    via = f" ({remote} read from Prometheus: their imc's history)" if remote else ""
    st.caption(f"**{count}**{via}, one row each. ECI pods, caches and disagreements: **now**. Hit rate and starts: "
               f"**the last {window}**, {words}.")
    if not wanted:
        st.info(f"These are the clusters this dashboard has opened ({count}). To watch several side by side from the "
                f"start, run it with `{clusters.FLEET_VARIABLE}=east,west` (context names) or "
                f"`{clusters.FLEET_VARIABLE}=all` (every context of the kubeconfig); the sidebar's picker opens one "
                "more at a time.", icon=":material/hub:")
