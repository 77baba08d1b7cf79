"""Cache radar (/radar): caches that expire soon, failed, unused and auto-created ones, and what each costs;
deep link ?days=<window>&search=<name>."""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from core.figures import counted
from dashboard import cache_views, history, radar_views, selection, shell, views
from dashboard.frames import frames_of
from dashboard.safe import friendly
from dashboard.text import NO_VALUE, inert_frame, md

WINDOW_KEY = "radar-window"
SEARCH_KEY = "radar-search"
WHEN = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm [UTC]", timezone="UTC", width=100)
# widths that add up to the page's column at 1024 px (about 660 px), stretched in proportion when wider; rows of
# 88 px wrap a cell to four lines (Streamlit's grid wraps only rows taller than 64 px), as the verdict table does
ROW_HEIGHT = 88
CACHE_LINK = st.column_config.LinkColumn("Cache", display_text=cache_views.CACHE_LINK_TEXT, pinned=True, width=160,
                                         help="Opens the cache on the Image caches page")
WORKLOADS = st.column_config.TextColumn(width=150)
SOON = st.column_config.TextColumn(width=140)
PHASE = st.column_config.TextColumn(width=70)
NUMBER = st.column_config.NumberColumn(width=60)


@friendly
def render() -> None:
    """The radar page."""
    cluster = shell.require_cluster()
    st.title("Cache radar")
    with st.container(horizontal=True, vertical_alignment="bottom"):
        days = st.number_input("Window (days)", min_value=1, max_value=radar_views.MAX_WINDOW_DAYS,
                               value=radar_views.window_days(st.query_params.get("days")), step=1, key=WINDOW_KEY,
                               width=160, on_change=selection.mirror_in_url, args=(WINDOW_KEY, "days"),
                               help="Caches expiring within this many days; use, time saved and cost over as many "
                                    "days back")
        text = st.text_input("Search", value=st.query_params.get("search", ""), placeholder="cache name",
                             key=SEARCH_KEY, width=320, on_change=selection.mirror_in_url, args=(SEARCH_KEY, "search"))
    live(cluster, int(days), text or "")


@st.fragment(run_every=shell.REFRESH_SECONDS)
@friendly
def live(cluster: shell.ShownCluster, days: int, text: str) -> None:
    """The radar's sections, redrawn as the cluster changes."""
    snapshot = cluster.store.snapshot()
    shell.cluster_badges(cluster, snapshot)
    frames = frames_of(snapshot, cluster.keeper)
    price = radar_views.price_setting(os.environ)
    ledger = cluster.live.ledger if cluster.live is not None else None
    readable = ledger is not None and ledger.readable

    def built() -> radar_views.Radar:
        use = ledger.cache_use(cluster.live.cluster, radar_views.window_start(frames.now, days)) if readable else None
        return radar_views.radar(snapshot.caches, snapshot.pods, use, frames.now, days, price.per_gib_month,
                                 history.no_history_reason(cluster))

    # once per store version (every session shares it): a pass over every live pod and one ledger query
    seen = frames.memo(("radar", days, price, readable), built)
    shown = radar_views.matching(seen, text)
    for note in seen.notes:
        st.caption(note)
    if price.problem:
        st.warning(md(price.problem), icon=":material/payments:")
    summary(seen, price)
    section("Expiring", f"within {counted(days, 'day')}; once a cache is gone, the next pods of the workloads that "
            "hit it miss, and those that pin it fail", shown.expiring, "No cache expires within the window.",
            {"Expires in": SOON, "Hit by": WORKLOADS, "Pinned by": WORKLOADS, "Workloads": st.column_config.NumberColumn(
                width=70, help="Live workloads whose pods hit or pin the cache")}, hidden=("Expires",))
    section("Failed", "ECI removes a failed cache 24 h after it failed", shown.failed, "No failed cache.",
            {"Phase": PHASE, "Failed": WHEN, "Removed in": SOON, "Used by": WORKLOADS}, hidden=("Removed",))
    section("Unused", f"no live pod hits them, and none hit in {counted(days, 'day')}", shown.unused,
            "Every cache is hit.", {"Phase": PHASE, "Size (GiB)": NUMBER, "Created": WHEN}, row_height=None)
    section("Auto-created", "by ECI for a pod that missed, with that pod's workload while it lives",
            shown.auto_created, "No auto-created cache.",
            {"Created": st.column_config.DatetimeColumn(format="MMM D, HH:mm", timezone="UTC", width=90,
                                                   help="In UTC"),
             "Hit by": st.column_config.TextColumn(width=130), "Phase": PHASE, "Size (GiB)": NUMBER, "Pods hit": NUMBER,
             "Caused by": st.column_config.TextColumn(
                width=100, help="The workload of the pod whose miss made ECI create it (auto-create-for-<its ECI "
                                "instance>)")}, hidden=("Size (GiB)",))  # ECI's size for it, on the cache's page
    cost(shown, price)


def summary(seen: radar_views.Radar, price: radar_views.Price) -> None:
    """The counts of each section and the total cost."""
    with st.container(horizontal=True, gap="small"):
        st.metric("Expiring", f"{len(seen.expiring):,}", border=True)
        st.metric("Failed", f"{len(seen.failed):,}", border=True)
        st.metric("Unused", f"{len(seen.unused):,}", border=True)
        st.metric("Auto-created", f"{len(seen.auto_created):,}", border=True)
        st.metric(f"GiB-days ({seen.window_days} d)", f"{seen.total_gib_days:,.0f}", border=True,
                  help="Each cache's size for as long as it existed in the window (ECI bills a cache as a snapshot)")
        if seen.total_money is not None:
            st.metric("Est. cost", f"{seen.total_money:,.2f}", border=True,
                      help=f"An estimate at your price of {price.per_gib_month:g} per GiB-month "
                           f"({radar_views.PRICE_VARIABLE}), a month counted as {radar_views.DAYS_A_MONTH} days")


def section(title: str, about: str, frame: pd.DataFrame, empty: str, columns: dict, hidden: tuple[str, ...] = (),
            row_height: int | None = ROW_HEIGHT) -> None:
    """One radar section: a title with its count, what it lists, and its table linking each cache to its page."""
    st.subheader(f"{md(title)} · {len(frame):,}")
    st.caption(md(about[:1].upper() + about[1:]) + ".")
    if frame.empty:
        st.caption(empty)
        return
    st.dataframe(inert_frame(frame.assign(Cache=views.links("/caches?cache=", frame["Cache"]))), hide_index=True,
                 width="stretch", placeholder=NO_VALUE, height=min(38 + (row_height or 35) * len(frame), 480),
                 row_height=row_height,
                 column_order=[column for column in frame.columns if column not in hidden],
                 column_config={"Cache": CACHE_LINK, **columns})


def cost(seen: radar_views.Radar, price: radar_views.Price) -> None:
    """Cost against time saved, the cache that costs most and saves least first."""
    st.subheader("Cost against time saved")
    st.caption(f"Over the last {counted(seen.window_days, 'day')}: the cache that costs most and saves least first.")
    if price.per_gib_month is None:
        st.caption(f"Set {radar_views.PRICE_VARIABLE} (your price per GiB-month) to see an estimated cost.")
    else:
        st.caption(f"Estimated cost at your price of {price.per_gib_month:g} per GiB-month; ECI's bill may differ.")
    frame = seen.cost if price.per_gib_month is not None else seen.cost.drop(columns="Estimated cost")
    section_table = frame.assign(Cache=views.links("/caches?cache=", frame["Cache"]))
    st.dataframe(inert_frame(section_table), hide_index=True, width="stretch", placeholder=NO_VALUE,
                 height=min(38 + 35 * max(len(frame), 1), 420),
                 column_config={"Cache": CACHE_LINK, "Size (GiB)": NUMBER, "GiB-days": NUMBER,
                                "Time saved (h)": st.column_config.NumberColumn(width=90),
                                "Hits in window": st.column_config.NumberColumn(width=90),
                                "Estimated cost": st.column_config.NumberColumn("Estimated cost", format="%.2f",
                                                                                help="An estimate at your price",
                                                                                width=90),
                                "Saved s per GiB-day": st.column_config.NumberColumn(format="%.1f", width=110)})
