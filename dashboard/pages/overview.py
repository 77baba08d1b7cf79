"""Overview (/): the cluster at a glance, live."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from core.caches import MAX_IMAGES
from core.figures import WindowFigures, counted, source_words
from dashboard import chart_slot, charts, explanation, history, nav, shell, start_panels, suggest, views
from dashboard.frames import Frames, frames_of
from dashboard.safe import friendly
from dashboard.start_panels import SAVED_HELP
from dashboard.text import NO_VALUE, code, md

OVER_TIME = "Hits, misses and failures over time"
TILES_PER_ROW = 4  # two deliberate rows, now and the window, as columns: nothing wraps alone at 1440 or 1024 px


@friendly
def render() -> None:
    """The overview page."""
    cluster = shell.require_cluster()
    st.title("Image caches at a glance")
    live(cluster)


@st.fragment(run_every=shell.REFRESH_SECONDS)
@friendly
def live(cluster: shell.ShownCluster) -> None:
    """Everything that moves, redrawn every few seconds from frames and figures built once per store version."""
    snapshot = cluster.store.snapshot()
    frames = frames_of(snapshot, cluster.keeper)
    later = chart_slot.first_sight("overview")
    shell.cluster_badges(cluster, snapshot)
    window = history.pick_window()
    figures = history.window_figures(cluster, frames, window)
    metrics(frames, figures)
    start_panels.overview(frames, figures, later)
    if frames.pods.empty and frames.caches_table.empty:
        if all(snapshot.synced.values()):
            st.info("No ECI pods and no image caches in this cluster yet. Pods appear here as they are created.",
                    icon=":material/hourglass_empty:")
            with st.container(horizontal=True):
                st.page_link(nav.page("preview"), label="Preview a manifest", icon=":material/preview:")
                st.page_link(nav.page("create"), label="Create a cache", icon=":material/add_box:")
        else:
            st.info("Reading the cluster…", icon=":material/sync:")
        return
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.subheader(OVER_TIME)
        # what is drawn is kept per window
        over_time, source = history.outcomes_over_time(cluster, frames, window)
        chart(frames, OVER_TIME, over_time, charts.outcomes_over_time, "No ECI pods created in this window.",
              kept_as=(OVER_TIME, window), heading=False, later=later)
        rates = frames.drawn_from(("hit-rate", window), (over_time,), lambda: views.hit_rate_over_time(over_time))
        if not rates.empty:
            figure = frames.drawn_from(("hit-rate-chart", window), (rates,),
                                       lambda: frames.figure(charts.hit_rate_over_time, rates))
            chart_slot.chart(figure, "chart-hit-rate", later)
        st.caption(f"{source} {views.history_note(frames.pods_gone)}")
    with right:
        chart(frames, "Decisions by namespace", frames.by_namespace, charts.decisions_by_namespace,
              "No ECI pods yet.", later=later)
    minute = frames.now.replace(second=0, microsecond=0)
    chart(frames, "Cache timeline", frames.timeline, charts.cache_timeline,
          "No image cache was alive in the last 24 h: create one, or let ECI auto-create one on a miss.", minute,
          later=later)
    if not frames.timeline.empty:
        shown = frames.drawn_from("timeline caches", (frames.timeline,), lambda: frames.timeline["Cache"].nunique())
        total = len(frames.caches_table)
        newest = f"The {shown} newest of {total} caches. " if shown < total else ""
        st.caption(f"{newest}The last 24 h and the next: building → Ready → expiry; orange: expires within 24 h; "
                   "the dotted line is now. Bars that reach the right edge expire later, or never.")
    st.subheader("Images no Ready cache holds")
    uncached(frames, later)
    latest(frames)


def chart(frames: Frames, title: str, data: pd.DataFrame, build: Callable[..., Any], empty: str, *args: Hashable,
          kept_as: Hashable = None, heading: bool = True, later: bool = False) -> None:
    """A titled chart `build(data, *args)` (kept under `kept_as`, the title by default, while it draws the very same
    table and equal arguments, else found by the table's content), or a sentence saying why there is nothing; `later`:
    its box (`chart_slot.chart`)."""
    if heading:
        st.subheader(title)
    if data.empty:
        st.caption(empty)
    else:
        drawn = frames.drawn_from(title if kept_as is None else kept_as, (data,),
                                  lambda: frames.figure(build, data, *args), inputs=args)
        chart_slot.chart(drawn, f"chart-{title}", later)


def metrics(frames: Frames, figures: WindowFigures) -> None:
    """The headline numbers: a row of what exists now, a row of what happened in the window."""
    head = frames.headline
    pods, caches = nav.page("pods"), nav.page("caches")
    st.caption("**Now**, in the cluster")
    now_row = st.columns(TILES_PER_ROW, gap="small")
    with now_row[0]:
        tile("ECI pods", f"{head.eci_pods:,}", "Pods labelled for ECI (or on a virtual-kubelet node) that exist now.",
             link=(pods, {}))
    with now_row[1]:
        # the total under the value: "1,000/1,000" does not fit a tile's large digits, nor "Ready of 1,000 caches"
        # its label
        tile("Ready caches", f"{head.ready_caches:,}", "ImageCaches in phase Ready: ECI can use them for new pods.",
             of=f"of {head.caches:,}", link=(caches, {"phase": "Ready"}))
    with now_row[2]:
        tile("Failed caches", f"{head.failed_caches:,}", "ImageCaches in phase Failed or UpdateFailed: ECI uses "
             "none of them and removes each 24 h after it failed.", link=(caches, {"phase": "Failed"}))
    with now_row[3]:
        tile("Disagreements", f"{head.disagreements:,}",
             "ECI pods that exist now where ECI reported something other than imc's prediction.",
             link=(pods, {"disagree": "1"}))
    st.caption(f"**Last {figures.window}**: {source_words(figures)}")
    window_row = st.columns(TILES_PER_ROW, gap="small")
    rate = f"{figures.hit_rate:.0%}" if figures.hit_rate is not None else NO_VALUE
    with window_row[0]:
        tile("Pods decided", f"{figures.pods:,}", f"ECI pods created in the last {figures.window}: "
             f"{outcome_counts(figures)} (ECI's word when it reported, else imc's prediction).",
             of=f"{figures.misses:,} missed")
    with window_row[1]:
        tile("Cache hit rate", rate, "Hits among the pods of the window that asked ECI for a cache (hit, miss or "
             "fail); pods with matching off are left out.", of=f"of {counted(figures.tried, 'pod')}")
    with window_row[2]:
        tile("Failed pods", f"{figures.fails:,}", "ECI pods of the window that ECI refused: pinned to a cache that "
             "was missing or not Ready when the pod was created. They never start.", of="refused by ECI")
    with window_row[3]:
        tile("Pull time saved", saved_value(figures), SAVED_HELP, of=f"over {counted(figures.saved_pods, 'hit')}")
    reported = frames.kept("reported", frames.pods_versions("Actual"),
                           lambda: int((frames.pods["Actual"] != views.NO_REPORT).sum()))
    with st.container():  # always one element here, so the charts below keep their place
        if reported and not head.disagreements:
            st.success(f"imc's prediction matched ECI for all {reported:,} pods ECI reported on.",
                       icon=":material/thumb_up:")
        else:
            st.empty()


def outcome_counts(figures: WindowFigures) -> str:
    """'80 hit · 4 miss · 1 fail · 2 off': the pods decided, per outcome."""
    return " · ".join(f"{count:,} {name}" for name, count in (
        ("hit", figures.hits), ("miss", figures.misses), ("fail", figures.fails), ("off", figures.off)))


def saved_value(figures: WindowFigures) -> str:
    """The pull time saved as a tile shows it, or the sign of no value when no hit's saving is known ("over 0 hits"
    under it says why; a word in the tile's large digits was cut at 1024 px)."""
    return start_panels.short_duration(figures.saved_seconds) if figures.saved_pods else NO_VALUE


def tile(label: str, value: str, help_text: str, of: str | None = None,
         link: tuple[st.Page, dict[str, str]] | None = None) -> None:
    """A headline number (and what it is `of`, in grey under it), with a link to the page listing exactly what it
    counts (the Pods or Image caches page filtered by the link's query) when the tile counts what exists now."""
    with st.container(border=True, gap=None, height="stretch"):  # one height in a row
        st.metric(label, value, help=help_text, delta=of, delta_color="off", delta_arrow="off")
        if link is not None:
            page, query = link
            st.page_link(page, label="List them", query_params=query or None, icon=":material/arrow_forward:")


def latest(frames: Frames) -> None:
    """The newest ECI pods, each a link to its explanation."""
    rows = frames.kept("latest", frames.pods_versions(*LATEST_COLUMNS), lambda: latest_rows(frames.pods))
    if not rows:
        return
    st.subheader("Latest ECI pods")
    pods = nav.page("pods")
    for row in rows:
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            explanation.outcome_badge(row.decision, detail=row.detail)
            st.page_link(pods, label=row.label, query_params={"pod": row.key},
                         icon=":material/manage_search:")
            st.caption(row.caption)


@dataclass(frozen=True)
class LatestRow:
    """One of the latest pods as the Overview lists it: its outcome badge, a link to it, what ECI said."""

    decision: str
    detail: str
    label: str
    key: str
    caption: str


LATEST_COLUMNS = ("Created", "key", "Namespace", "Pod", "Decision", "Predicted", "Cache", "Actual", "Agrees")


def latest_rows(pods: pd.DataFrame) -> list[LatestRow]:
    """The newest ECI pods (`views.latest_pods`), their text made once: all it reads is `LATEST_COLUMNS`."""
    rows = []
    for row in views.latest_pods(pods).itertuples(index=False):
        where = f"cache {md(row.Cache)}" if row.Cache else ""
        rows.append(LatestRow(
            row.Decision, row.Predicted.partition(" · ")[2], md(f"{row.Namespace}/{row.Pod}"), row.key,
            " · ".join(part for part in (where, eci_word(row.Decision, row.Actual, row.Agrees)) if part),
        ))
    return rows


def eci_word(decision: str, actual: str, agrees: bool) -> str:
    """What ECI said about a pod, next to the prediction, in a few words."""
    if actual == views.NO_REPORT:
        return "matching off, nothing to report" if decision == "off" else "ECI has not reported yet"
    return "ECI agrees" if agrees else f"ECI disagrees: {md(actual)}"


def uncached(frames: Frames, later: bool = False) -> None:
    """The most-pulled uncached images (the chart's box, with `later`) and the "suggest a cache" action."""
    if frames.uncached.empty:
        st.success("Every image of every ECI pod is in a Ready cache.", icon=":material/verified:")
        return
    figure = frames.drawn_from("uncached chart", (frames.uncached,),
                               lambda: frames.figure(charts.uncached_images, frames.uncached))
    chart_slot.chart(figure, "chart-uncached", later)
    suggestion = frames.suggestion
    shown = list(frames.uncached["Image"])
    reasons = frames.drawn_from("unsuggested", (frames.uncached,), lambda: suggest.unsuggested(
        frames.snapshot.pods, shown, suggestion.images), inputs=(suggestion.images,))
    if reasons:
        lines = "\n".join(f"- {code(image)}: {md(why)}" for image, why in reasons.items())
        st.markdown(f"No cache is suggested for {'this image' if len(reasons) == 1 else 'these images'}:\n{lines}")
        offered = list(reasons)[:MAX_IMAGES]
        st.page_link(nav.page("create"), label=f"Create a cache with {'it' if len(offered) == 1 else 'them'}",
                     icon=":material/add_box:", query_params={"images": ",".join(offered)},
                     help="Opens the create form filled with these images, to review before anything is created")
    if not suggestion.images:
        if not reasons:
            st.caption("Every pod that missed has a Ready cache for its images by now, so there is nothing to "
                       "suggest.")
        return
    st.caption(
        f"A cache of {len(suggestion.images)} image{'' if len(suggestion.images) == 1 else 's'} would serve {suggestion.pods_covered:,} of the "
        f"{suggestion.pods_missed:,} pods that missed and still have no Ready cache for their images."
    )
    # A link, not a button that switches pages: a switch made from a rerun this fragment started could race the
    # fragment's own timer and leave the app blank (seen under load); a link navigates as the sidebar does.
    st.page_link(nav.page("create"), label="Suggest a cache", icon=":material/auto_awesome:",
                 query_params={"images": ",".join(suggestion.images), "name": f"suggested-{frames.now:%Y%m%d-%H%M}"},
                 help="Opens the create form filled with these images, to review before anything is created")
