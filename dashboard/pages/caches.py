"""Image caches (/caches): every ImageCache, its pods and images; deep link ?cache=<name>."""

from __future__ import annotations

from urllib.parse import quote

import pandas as pd
import streamlit as st

from dashboard import (
    cache_actions,
    cache_views,
    edits,
    invalid_views,
    nav,
    selection,
    shell,
    start_panels,
    together,
    views,
)
from dashboard.safe import friendly
from dashboard.text import NO_VALUE, code, inert_frame, md, visible

TABLE_KEY = "caches-table"
# ECI's own caches say so in their name (auto-create-for-eci-...), and the detail below says it in words
# what matters first, so at 1024 px Name, Phase, Expires and Pods hit are in view without scrolling sideways
DISPLAYED = ["Shown name", "Phase", "Expires in", "Pods hit", "Progress", "Images", "Size (GiB)", "Age", "Cache ID"]


@friendly
def render() -> None:
    """The caches page."""
    cluster = shell.require_cluster()
    shown = together.watched(cluster)
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.title("Image caches")
        st.page_link(nav.page("create"), label="Create a cache", icon=":material/add_box:")
    if shown.several:
        first, left, right = st.columns([1.5, 2.7, 2.3], vertical_alignment="bottom")  # the three pills at 1024 px
        in_clusters = together.cluster_filter(shown, first)
    else:
        (left, right), in_clusters = st.columns([2, 3], vertical_alignment="bottom"), ()
    phase_groups = tuple(cache_views.PHASE_GROUPS)
    groups = left.pills("Phase", phase_groups, selection_mode="multi", key="caches-phase",
                        default=selection.from_url("phase", phase_groups), on_change=selection.mirror_in_url,
                        args=("caches-phase", "phase"),
                        help="Ready: ECI can use it; Building: Pending, Preparing, Creating or Updating; Failed: "
                             "Failed or UpdateFailed (ECI removes it 24 h after the failure)")
    text = right.text_input("Search", placeholder="name, cache ID or image", key="caches-search")
    phases = tuple(phase for group in groups or () for phase in cache_views.PHASE_GROUPS[group])
    live(shown, phases, text or "", in_clusters)


@st.fragment(run_every=shell.REFRESH_SECONDS)
@friendly
def live(watched: together.Watched, phases: tuple[str, ...], text: str, in_clusters: tuple[str, ...] = ()) -> None:
    """The live caches table, the selected cache, and the coverage view."""
    cluster = watched.session
    snapshot = cluster.store.snapshot()
    shell.cluster_badges(cluster, snapshot)
    invalid_views.show_invalid(snapshot.invalid, "imagecaches", "ImageCaches")
    every = watched.frames(snapshot)
    frames = every[cluster.context]
    table = (together.combined("caches", {context: found.caches for context, found in every.items()}, "Name")
             if watched.several else frames.caches)
    if cluster.visibility is not None and not cluster.visibility.caches:
        st.info(f"Kubernetes does not let {code(cluster.person.user if cluster.person else 'you')} list ImageCaches "
                f"in context {code(cluster.context)}, so none are shown.", icon=":material/visibility_off:")
        return
    if table.empty:
        st.info(f"No image caches in {'these clusters' if watched.several else 'this cluster'} yet. Create one, or "
                "let ECI auto-create one when a pod misses.", icon=":material/inventory_2:")
        return
    shown = cache_views.by_urgency(cache_views.filter_caches(together.in_clusters(table, in_clusters)
                                                             if watched.several else table, phases, text), frames.now)
    name = selection.selected(TABLE_KEY, "cache")  # mapped through the rows the user clicked on
    if watched.several:
        name = together.linked_row(watched, name)
        together.follow("cache", name)
    where = f" in {len(watched.clusters)} clusters" if watched.several else ""
    st.caption(f"{len(shown):,} of {len(table):,} caches{where} · {int((table['Phase'] == 'Ready').sum()):,} Ready")
    if shown.empty:
        st.info("No cache matches these filters.", icon=":material/filter_alt_off:")
    else:
        caches_table(shown)
    selection.remember_rows(TABLE_KEY, list(shown[together.ROW if watched.several else "Name"]))
    own, name = selected_cluster(watched, name)
    own_frames = every[own.context]
    start_panels.caches(own_frames)
    tabs = st.tabs(["Selected cache", "Coverage: images × caches"])
    with tabs[0]:
        if name:
            details(own_frames.snapshot, own_frames, name, own.context if watched.several else None)
            cache_actions.section(own, own_frames.snapshot, own_frames, name)
        else:
            st.caption("Select a row to see the cache's images, events and the pods that hit it.")
    with tabs[1]:
        if watched.several:
            st.caption(f"In context {code(own.context)}, the selected cache's cluster (else the one the sidebar picks).")
        coverage(own_frames.coverage)


def selected_cluster(watched: together.Watched, name: str | None) -> tuple[shell.ShownCluster, str | None]:
    """The selected cache's own cluster (the session's when none is selected, or its cluster is not watched) and its
    name."""
    if not name or not watched.several:
        return watched.session, name
    key, context = together.split(name)
    return watched.by_context(context) or watched.session, key


def caches_table(shown: pd.DataFrame) -> None:
    """The caches table with single-row selection."""
    several = together.CLUSTER in shown.columns
    st.dataframe(
        inert_frame(shown.assign(**{"Shown name": shown["Name"].map(cache_views.shown_name)})), key=TABLE_KEY,
        on_select="rerun", selection_mode="single-row", hide_index=True, placeholder=NO_VALUE, width="stretch",
        height=min(38 + 35 * max(len(shown), 1), 420),
        column_order=[together.CLUSTER, *DISPLAYED] if several else DISPLAYED,
        # the widths add up to the table at 1440 px, and an auto-created cache's whole name fits; with several
        # clusters the Cluster column comes first and the Cache ID gives it its width
        column_config={
            **(together.first_column() if several else {}),
            # in view when the grid scrolls sideways; ECI's auto-created caches by the instance they were made for
            "Shown name": st.column_config.TextColumn("Name", width=236, pinned=True,
                                                      help="auto · eci-…: created by ECI for a pod that missed "
                                                           "(auto-create-for-eci-…)"),
            "Phase": st.column_config.TextColumn(width=58),
            "Expires in": st.column_config.TextColumn(
                "Expires", width=250, help="When ECI deletes the cache, relative and in UTC. ⚠: pods use it and it "
                "expires within 24 h (listed first). A failed cache is removed 24 h after it failed."),
            "Pods hit": st.column_config.NumberColumn(width=56, help="ECI pods that hit this cache"),
            "Progress": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.0f%%", width=88),
            "Images": st.column_config.NumberColumn(width=54),
            "Size (GiB)": st.column_config.NumberColumn(width=70),
            "Age": st.column_config.TextColumn(width=44),
            "Cache ID": st.column_config.TextColumn(width=200 - (together.CLUSTER_WIDTH if several else 0)),
        },
    )


def details(snapshot, frames, name: str, context: str | None = None) -> None:
    """One cache: phase, images, pods that hit it (in `context` when several clusters are shown), events, YAML."""
    obj = snapshot.cache_objects.get(name)
    if obj is None:
        st.warning(f"There is no ImageCache {code(name)} (deleted, or a mistyped link).", icon=":material/search_off:")
        return
    row = frames.caches[frames.caches["Name"] == name].iloc[0]
    status, spec = (obj.get(part) if isinstance(obj.get(part), dict) else {} for part in ("status", "spec"))
    st.subheader(md(name))
    problem = snapshot.invalid.get(f"imagecaches/{name}")
    if problem:
        st.text(f"⚠ {visible(problem)}")
    with st.container(horizontal=True, gap="medium"):
        st.metric("Phase", md(row["Phase"]), border=True)
        st.metric("Progress", f"{row['Progress']:.0f}%" if pd.notna(row["Progress"]) else "–", border=True)
        st.metric("Size", f"{row['Size (GiB)']} GiB", border=True)
        st.metric("Pods hit", f"{row['Pods hit']:,}", border=True)
        failed = row["Phase"] in cache_views.PHASE_GROUPS["Failed"]
        ends = row["Expires"].to_pydatetime() if pd.notna(row["Expires"]) else None
        st.metric("Removed" if failed else "Expires", cache_views.relative_time(ends, frames.now).split(" (")[0]
                  if ends else "never", border=True,
                  help=(f"{ends:%Y-%m-%d %H:%M} UTC. " if ends else "") + ("ECI removes a failed cache 24 h after it "
                                                                            "failed." if failed else ""))
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown(f"**Cache ID** {code(row['Cache ID'] or 'not assigned yet')} · "
                    f"{'auto-created by ECI' if row['Auto-created'] else 'created by a user'}")
        st.markdown("**Images**")
        images = spec.get("images") if isinstance(spec.get("images"), list) else []
        st.markdown("\n".join(f"- {code(image)}" for image in images))
    with right:
        events = status.get("events") if isinstance(status.get("events"), list) else []
        events = [event for event in events if isinstance(event, dict)]
        st.markdown(f"**Events** ({len(events)})")
        if events:  # a list, not a table: a message is whole, not cut at a column's edge
            st.markdown("\n".join(f"- {event_line(event)}" for event in events[-50:]))
        else:
            st.caption("No events reported yet.")
        with st.expander("YAML"):
            st.code(edits.as_yaml(obj), language="yaml")
    hitting = frames.pods[frames.pods["Cache ID"] == row["Cache ID"]] if row["Cache ID"] else frames.pods[:0]
    # below both columns, at the page's width: in half of it a pod's name pushed Actual and Created out at 1024 px
    st.markdown(f"**Pods that hit it** ({len(hitting):,})")
    if hitting.empty:
        st.caption("No ECI pod has hit this cache.")
    else:
        shown = inert_frame(hitting[["key", "Actual", "Created"]].head(200))
        prefix = "/pods?pod=" if context is None else f"/pods?context={quote(context, safe='')}&pod="
        st.dataframe(shown.assign(key=views.links(prefix, shown["key"])), hide_index=True, placeholder=NO_VALUE,
                     width="stretch", key="cache-pods",
                     column_config={"key": st.column_config.LinkColumn("Pod", display_text=r"[?&]pod=(.+)$",
                                                                       help="Opens the pod's explanation"),
                                    "Created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss [UTC]",
                                                                              timezone="UTC")})


def event_line(event: dict) -> str:
    """One event of a cache's status as markdown: **reason** (type, timestamp): message, each part as the cluster wrote it."""
    said = {part: visible(str(event.get(part) or "")) for part in ("reason", "type", "timestamp", "message")}
    when = ", ".join(md(said[part]) for part in ("type", "timestamp") if said[part])
    return f"**{md(said['reason'] or 'event')}**{f' ({when})' if when else ''}: {md(said['message'])}"


def coverage(matrix: pd.DataFrame) -> None:
    """Which cache holds which image (the most used images first)."""
    if matrix.empty or matrix.shape[1] <= 1:
        st.caption("No images to compare yet.")
        return
    caches = [column for column in matrix.columns if column != "Pods using it"]
    labels = {name: visible(label) for name, label in cache_views.short_cache_names(caches).items()}
    marks = matrix[caches].map(lambda held: "✓" if held else "").rename(columns=labels)
    marks.insert(0, "Pods using it", matrix["Pods using it"])
    marks.insert(0, "Image", [views.short_image(image, 60) for image in matrix.index])
    st.dataframe(
        inert_frame(marks), width="stretch", key="coverage", height=min(38 + 35 * len(marks), 560), hide_index=True, placeholder=NO_VALUE,
        column_config={"Image": st.column_config.TextColumn(width="large", pinned=True),
                       **{label: st.column_config.TextColumn(label, help=md(name))
                          for name, label in labels.items()}},
    )
    st.caption("✓ marks an exact match; images are normalised (docker.io/library/nginx:1.25 is nginx:1.25). "
               "Hover a column title for the cache's full name.")
