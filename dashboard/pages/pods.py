"""Pods (/pods): every ECI pod, filterable; select one (or deep-link ?pod=ns/name) to see why."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from core.matching import explain
from dashboard import (
    cache_views,
    explanation,
    history_views,
    invalid_views,
    selection,
    shell,
    start_panels,
    together,
    views,
)
from dashboard.frames import Frames, frames_of
from dashboard.safe import friendly
from dashboard.text import NO_VALUE, code, inert_frame, md

TABLE_KEY = "pods-table"
# only these columns go to the browser: the others (images, cache ID, creation) would be sent on every rerun unseen
# what matters first: at 1024 px Pod, Predicted, ECI and Cache are in view without scrolling sideways
TABLE_COLUMNS = ["key", "Predicted", "Actual", "Cache", "ECI agrees", "Start (s)", "Pull (s)", "Owner", "Phase"]
DECISIONS = ("hit", "miss", "fail", "off")
# rows sent to the browser: at 50,000 pods sending every matching row made the page's first load take 12.4 s (issue
# 24); past this the table shows the first rows in the chosen order, says so, and the CSV still has every row
MAX_ROWS = 2_000


@friendly
def render() -> None:
    """The pods page."""
    cluster = shell.require_cluster()
    shown = together.watched(cluster)
    st.title("Pods")
    chosen, order, in_clusters = filters(shown)
    live(shown, chosen, order, in_clusters)


def pods_of(shown: together.Watched, frames: dict[str, Frames]) -> pd.DataFrame:
    """The pods table: the session's cluster's, or every watched cluster's one after the other with a Cluster
    column."""
    if not shown.several:
        return frames[shown.session.context].pods
    return together.combined("pods", {context: found.pods for context, found in frames.items()}, "key")


def filters(shown: together.Watched) -> tuple[views.PodFilter, str, tuple[str, ...]]:
    """The filter and order widgets (outside the live fragment, so typing is never interrupted), kept in the URL."""
    cluster = shown.session
    if shown.several:
        pods = pods_of(shown, shown.frames(cluster.store.snapshot()))
        in_namespaces, in_caches = together.COMBINED.kept("pods-filter-options", (), lambda: options(pods), (pods,))
        first, *top = st.columns([2, 2.4, 2, 2.6], vertical_alignment="bottom")  # "All namespaces" whole at 1024 px
        in_clusters = together.cluster_filter(shown, first)
    else:
        frames = frames_of(cluster.store.snapshot(), cluster.keeper)
        in_namespaces, in_caches = frames.memo("pods-filter-options", lambda: options(frames.pods))
        top, in_clusters = st.columns([2, 2, 3], vertical_alignment="bottom"), ()
    namespaces = top[0].multiselect("Namespace", in_namespaces, placeholder="All namespaces", key="ns",
                                    bind="query-params")
    caches = top[1].multiselect("Cache", in_caches, placeholder="Any cache", key="in_cache", bind="query-params")
    text = top[2].text_input("Search", placeholder="pod, namespace, owner, cache or image", key="q",
                             bind="query-params")
    # gap "medium": at 1024 px the pills, the toggle and the order fit on one line
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium"):
        decisions = st.pills("Predicted", DECISIONS, selection_mode="multi", key="pods-decision",
                             default=selection.from_url("decision", DECISIONS), on_change=selection.mirror_in_url,
                             args=("pods-decision", "decision"), wrap=True,
                             format_func=lambda d: explanation.OUTCOME_BADGES[d][0],
                             help="What imc predicts ECI does with the pod: hit a cache, miss (pull, and ECI "
                                  "auto-creates a cache), fail (pinned cache missing or not Ready), or off")
        disagreements = st.toggle("Only disagreements", key="pods-disagree", value=st.query_params.get("disagree") == "1",
                                  on_change=selection.mirror_in_url, args=("pods-disagree", "disagree", "1"),
                                  help="Only pods where ECI reported something other than imc's prediction")
        order = st.selectbox("Order", list(views.POD_ORDERS), format_func=lambda o: views.POD_ORDERS[o].label,
                             key="order", bind="query-params", width=200,
                             help=f"Made on the server: when more than {MAX_ROWS:,} pods match, the table shows the "
                                  "first of them in this order (a column header sorts only the rows shown); the CSV "
                                  "has every matching pod in this order")
    chosen = views.PodFilter(tuple(namespaces), tuple(decisions or ()), tuple(caches), disagreements, text or "")
    return chosen, order, in_clusters


def options(pods: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The Namespace and Cache filters' options."""
    return sorted(pods["Namespace"].unique()), sorted(c for c in pods["Cache"].unique() if c)


@st.fragment(run_every=shell.REFRESH_SECONDS)
@friendly
def live(watched: together.Watched, chosen: views.PodFilter, order: str, in_clusters: tuple[str, ...] = ()) -> None:
    """The live table and the selected pod's explanation."""
    cluster = watched.session
    snapshot = cluster.store.snapshot()
    shell.cluster_badges(cluster, snapshot)
    invalid_views.show_invalid(snapshot.invalid, "pods", "pods")
    every = watched.frames(snapshot)
    frames = every[cluster.context]
    frame = pods_of(watched, every)
    # the whole table (no filter), as most reruns draw it, is made once per store version (of each cluster) and order
    if chosen != views.PodFilter() or in_clusters:
        shown = shown_rows(together.in_clusters(frame, in_clusters) if watched.several else frame, chosen, order)
    elif watched.several:
        shown = together.COMBINED.kept(("pods-shown", order, MAX_ROWS), (), lambda: shown_rows(frame, chosen, order),
                                       (frame,))
    else:
        shown = frames.memo(("pods-shown", order, MAX_ROWS), lambda: shown_rows(frame, chosen, order))
    selected_key = selection.selected(TABLE_KEY, "pod")
    if watched.several:
        selected_key = together.linked_row(watched, selected_key)
        together.follow("pod", selected_key)
    shown = with_selected(shown, selected_key)
    if frame.empty:
        st.info("No ECI pods yet. Pods labelled `alibabacloud.com/eci: \"true\"` (or scheduled on a "
                "virtual-kubelet node) appear here as soon as they are created.", icon=":material/hourglass_empty:")
    elif shown.matching.empty:
        st.caption(f"0 of {together.counted(len(frame), watched)}")
        st.info("No pod matches these filters.", icon=":material/filter_alt_off:")
    else:
        st.caption(caption(shown, len(frame), order, len(watched.clusters)))
        table(shown.drawn, shown.keys, selected_key)
        st.download_button(
            "Download CSV", lambda: views.spreadsheet_csv(shown.all_rows().drop(columns=["key", together.ROW],
                                                                                 errors="ignore")),
            file_name="imc-pods.csv", mime="text/csv", icon=":material/download:", on_click="ignore",
        )
    selection.remember_rows(TABLE_KEY, shown.keys)
    if selected_key and watched.several:
        key, context = together.split(selected_key)
        own = watched.by_context(context)
        if own is None:
            st.divider()
            st.warning(f"Context {code(context)} is not among the clusters watched here.", icon=":material/search_off:")
        else:
            details(own, every[context].snapshot, key)
    elif selected_key:
        details(cluster, snapshot, selected_key)
    elif not frame.empty:
        st.caption("Select a row to see why ECI does what it does with that pod.")


@dataclass(frozen=True)
class Shown:
    """The pods matching the filter and what of them goes to the browser: at most MAX_ROWS in the chosen order, and
    the selected pod when it matches but comes later."""

    matching: pd.DataFrame  # every matching row, in the table's namespace/name order
    positions: np.ndarray  # their rows in the chosen order
    first: int  # how many of them, in that order, are drawn (MAX_ROWS at most)
    drawn: pd.DataFrame  # the rows sent, as the table draws them
    keys: list[str]  # their pod keys, in order

    def all_rows(self) -> pd.DataFrame:
        """Every matching row in the chosen order: the CSV."""
        return self.matching.take(self.positions)


def shown_rows(frame: pd.DataFrame, chosen: views.PodFilter, order: str) -> Shown:
    """The rows matching the filter and the first MAX_ROWS of them in `order`, as the table draws them."""
    matching = frame if chosen == views.PodFilter() else views.filter_pods(frame, chosen)  # all: no copy to keep
    positions = views.pod_order(matching, views.POD_ORDERS[order])
    first = matching.take(positions[:MAX_ROWS])
    return Shown(matching, positions, len(first), drawn_rows(first), first[key_of(first)].tolist())


def key_of(frame: pd.DataFrame) -> str:
    """The column naming a row when selected: its pod, with its cluster when several are shown."""
    return together.ROW if together.ROW in frame.columns else "key"


def with_selected(shown: Shown, key: str | None) -> Shown:
    """`shown`, and the selected pod's row after the first ones when it matches but is not among them, so a deep link
    to it opens it selected."""
    if not key or shown.first == len(shown.matching) or key in shown.keys:
        return shown
    row = shown.matching[shown.matching[key_of(shown.matching)] == key]
    if row.empty:
        return shown
    return Shown(shown.matching, shown.positions, shown.first, pd.concat([shown.drawn, drawn_rows(row)],
                                                                         ignore_index=True), [*shown.keys, key])


def drawn_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows of the pods table as the table draws them: its columns, the cache a link, the owner its name alone."""
    several = together.CLUSTER in rows.columns
    drawn = views.text_columns(rows[[together.CLUSTER, *TABLE_COLUMNS] if several else TABLE_COLUMNS]).assign(
                                       Cache=together.cache_links(rows) if several else
                                       views.links("/caches?cache=", rows["Cache"]),
                                       Owner=views.owner_names(views.as_text(rows["Owner"])),
                                       Actual=rows["Actual"].where(rows["Actual"] != views.NO_REPORT, NO_VALUE))
    return inert_frame(drawn.reset_index(drop=True))


def caption(shown: Shown, total: int, order: str, clusters: int = 1) -> str:
    """How many pods match of how many (in how many clusters); when not all are drawn, which are and what to do to
    see the others."""
    matching = len(shown.matching)
    where = f" in {clusters} clusters" if clusters > 1 else ""
    if shown.first == matching:
        return f"{matching:,} of {total:,} ECI pods{where}"
    also = ", and the selected pod (the last row)" if len(shown.keys) > shown.first else ""
    return (f"{matching:,} of {total:,} ECI pods{where}: showing the first {shown.first:,}, "
            f"{views.POD_ORDERS[order].label.lower()}{also}. Narrow the filters, or download the CSV of all "
            f"{matching:,}.")


def table(drawn: pd.DataFrame, keys: list[str], selected_key: str | None) -> None:
    """The pods table with single-row selection; a pod opened by deep link starts selected."""
    several = together.CLUSTER in drawn.columns
    narrower = together.CLUSTER_WIDTH // 2 if several else 0
    st.dataframe(
        drawn, key=TABLE_KEY, on_select="rerun", selection_mode="single-row", hide_index=True, placeholder=NO_VALUE,
        width="stretch", height=min(38 + 35 * max(len(drawn), 1), 420),
        selection_default=selection.link_default(TABLE_KEY, keys, selected_key),
        # the widths add up to the table's width at 1440 px (980 px beside the sidebar, 36 of them the selection
        # column), so no column hides behind a sideways scroll; at 1024 px Pod, Predicted, ECI, Cache and Agrees are
        # in view. The full text of a cut cell shows on hover; the owner's kind is in the pod's detail and the CSV
        # with several clusters the Cluster column comes first, and Pod and Cache give it their width
        column_order=[together.CLUSTER, *TABLE_COLUMNS] if several else TABLE_COLUMNS,
        column_config={
            **(together.first_column() if several else {}),
            "Start (s)": st.column_config.NumberColumn("Start", format="%.1f s", width=62,
                                                       help="Seconds from creation to the last container's start"),
            "Pull (s)": st.column_config.NumberColumn("Pull", format="%.1f s", width=58,
                                                      help="Seconds spent pulling from registries"),
            # pinned: on a narrow screen the grid scrolls sideways with the pod's name kept in view
            "key": st.column_config.TextColumn("Pod", width=206 - narrower, pinned=True, help="namespace/name; its images are in "
                                               "the explanation below, and Search finds them"),
            "Owner": st.column_config.TextColumn(width=86, help="The workload that created the pod (a Deployment, "
                                                 "CronJob, …: its kind is in the pod's detail and the CSV)"),
            "Phase": st.column_config.TextColumn(width=76,
                                                 help="The pod's phase (Pending, Running, Succeeded, Failed)"),
            "Predicted": st.column_config.TextColumn(
                width=162, help="imc's prediction; a hit says how many of the pod's images the cache holds (the rest are "
                     "pulled)"),
            "Actual": st.column_config.TextColumn("ECI", width=46, help="What ECI reported (event or matched-cache "
                                                              f"annotation); {NO_VALUE}: nothing yet"),
            "ECI agrees": st.column_config.TextColumn(
                "Agrees", width=56, help="✓ ECI reported what imc predicted; ✗ it reported something else; – it reported nothing"),
            "Cache": st.column_config.LinkColumn(
                display_text=together.CACHE_LINK_TEXT if several else cache_views.CACHE_LINK_TEXT, width=190 - narrower,
                help="The cache imc predicts; opens it on Image caches. ECI's auto-created caches "
                     "(auto-create-for-<ECI instance>) show the instance they were created for"),
        },
    )


def gone(cluster: shell.ShownCluster, key: str) -> None:
    """A pod no longer in the cluster: what the ledger kept of it, else that there is none."""
    namespace, _, name = key.partition("/")
    live_cluster = cluster.live
    row = live_cluster.ledger.pod(live_cluster.cluster, namespace, name) if live_cluster and live_cluster.ledger \
        else None
    if row is None:
        st.warning(f"There is no pod {code(key)} in the cluster, nor in imc's history (a mistyped link, or deleted "
                   "before imc saw it).", icon=":material/search_off:")
        return
    st.subheader(md(key))
    st.info("This pod is no longer in the cluster. What imc's history kept of it:", icon=":material/history:")
    facts = pd.DataFrame(history_views.ledger_pod_facts(row, views.now_utc()), columns=["", "Value"])
    st.dataframe(inert_frame(facts), hide_index=True, placeholder=NO_VALUE, key="pod-gone",
                 column_config={"": st.column_config.TextColumn(width="small"),
                                "Value": st.column_config.TextColumn(width="large")})


def details(cluster: shell.ShownCluster, snapshot, key: str) -> None:
    """The explanation of one pod."""
    record = snapshot.pods.get(key)
    st.divider()
    if record is None:
        gone(cluster, key)
        return
    st.subheader(md(f"{record.namespace}/{record.name}"))
    facts = views.pod_facts(record.obj)
    if facts:
        st.caption(md(facts))
    start_panels.pod_timeline(record, frames_of(snapshot, cluster.keeper))
    now = views.now_utc()
    at = record.template.decided_at(now)
    index = snapshot.index_at(at)  # the caches of the pod's creation, which it was decided on
    result = explain(record.template, index, at, decision=record.decision)
    explanation.render(result, actual=record.actual, disagrees=record.disagrees, key="pod-explain", index=index,
                       at=at, now=now, now_index=frames_of(snapshot, cluster.keeper).index, unseen=record.unseen_cache,
                       image_bytes=explanation.pulled_bytes(record.start))
