"""Pods (/pods): every ECI pod, filterable; select one (or deep-link ?pod=ns/name) to see why."""

from __future__ import annotations

import streamlit as st

from core.matching import explain
from dashboard import explanation, invalid_views, selection, shell, start_panels, views
from dashboard.frames import frames_of
from dashboard.safe import friendly
from dashboard.text import code, inert_frame, md

TABLE_KEY = "pods-table"
DECISIONS = ("hit", "miss", "fail", "off")


@friendly
def render() -> None:
    """The pods page."""
    cluster = shell.require_cluster()
    st.title("Pods")
    chosen = filters(cluster)
    live(cluster, chosen)


def filters(cluster: shell.ShownCluster) -> views.PodFilter:
    """The filter widgets (outside the live fragment, so typing is never interrupted)."""
    frame = frames_of(cluster.store.snapshot()).pods
    top = st.columns([2, 2, 2, 3], vertical_alignment="bottom")
    namespaces = top[0].multiselect("Namespace", sorted(frame["Namespace"].unique()), placeholder="All namespaces")
    caches = top[1].multiselect("Cache", sorted(c for c in frame["Cache"].unique() if c), placeholder="Any cache")
    decisions = top[2].pills("Decision", DECISIONS, selection_mode="multi",
                             format_func=lambda d: explanation.OUTCOME_BADGES[d][0])
    text = top[3].text_input("Search", placeholder="pod, namespace, cache or image", key="pods-search")
    disagreements = st.toggle("Only pods where ECI disagrees with the prediction", key="pods-disagree",
                              value=st.query_params.get("disagree") == "1")
    return views.PodFilter(tuple(namespaces), tuple(decisions or ()), tuple(caches), disagreements, text or "")


@st.fragment(run_every=shell.REFRESH_SECONDS)
@friendly
def live(cluster: shell.ShownCluster, chosen: views.PodFilter) -> None:
    """The live table and the selected pod's explanation."""
    snapshot = cluster.store.snapshot()
    shell.cluster_badges(cluster, snapshot)
    invalid_views.show_invalid(snapshot.invalid, "pods", "pods")
    frame = frames_of(snapshot).pods
    shown = views.filter_pods(frame, chosen)
    selected_key = selection.selected(TABLE_KEY, "pod")
    if frame.empty:
        st.info("No ECI pods yet. Pods labelled `alibabacloud.com/eci: \"true\"` (or scheduled on a "
                "virtual-kubelet node) appear here as soon as they are created.", icon=":material/hourglass_empty:")
    elif shown.empty:
        st.caption(f"0 of {len(frame):,} ECI pods")
        st.info("No pod matches these filters.", icon=":material/filter_alt_off:")
    else:
        st.caption(f"{len(shown):,} of {len(frame):,} ECI pods")
        table(shown)
        st.download_button(
            "Download CSV", lambda: shown.drop(columns="key").to_csv(index=False), file_name="imc-pods.csv",
            mime="text/csv", icon=":material/download:", on_click="ignore",
        )
    selection.remember_rows(TABLE_KEY, list(shown["key"]))
    if selected_key:
        details(cluster, snapshot, selected_key)
    elif not frame.empty:
        st.caption("Select a row to see why ECI does what it does with that pod.")


def table(shown) -> None:
    """The pods table with single-row selection."""
    st.dataframe(
        inert_frame(shown), key=TABLE_KEY, on_select="rerun", selection_mode="single-row", hide_index=True, width="stretch",
        height=min(38 + 35 * max(len(shown), 1), 420),
        column_order=["Namespace", "Pod", "Decision", "Actual", "Agrees", "Start (s)", "Pull (s)", "Cache", "Cache ID",
                      "Images", "Created"],
        column_config={
            "Start (s)": st.column_config.NumberColumn(format="%.1f", help="Creation to the last container's start"),
            "Pull (s)": st.column_config.NumberColumn(format="%.1f", help="Time spent pulling from registries"),
            "Agrees": st.column_config.CheckboxColumn("ECI agrees", help="ECI reported what the engine predicted"),
            "Created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "Images": st.column_config.TextColumn(width="large"),
        },
    )


def details(cluster: shell.ShownCluster, snapshot, key: str) -> None:
    """The explanation of one pod."""
    record = snapshot.pods.get(key)
    st.divider()
    if record is None:
        st.warning(f"There is no pod {code(key)} in the cluster (deleted, or a mistyped link).", icon=":material/search_off:")
        return
    st.subheader(md(f"{record.namespace}/{record.name}"))
    start_panels.pod_timeline(record)
    result = explain(record.template, frames_of(snapshot).index, record.template.decided_at(views.now_utc()))
    explanation.render(result, actual=record.actual, disagrees=record.disagrees, key="pod-explain")
