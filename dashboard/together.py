"""The Pods and Image caches pages over every watched cluster at once: a Cluster column and filter (issue 25)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

import numpy as np
import pandas as pd
import streamlit as st

from core.caches import AUTO_CREATED_PREFIX
from dashboard import shell, views
from dashboard import shown_cluster as clusters
from dashboard.frames import FrameKeeper, Frames, frames_of
from dashboard.shown_cluster import ShownCluster

CLUSTER = "Cluster"  # the context a row comes from
CLUSTER_WIDTH = 72  # the Cluster column's pixels: narrow, the pages' other columns give it room
ROW = "Row"  # the row's key with its cluster ("ns/name@context"): names and keys have no "@", a context may
FILTER_KEY = "cluster"  # the Cluster filter, kept in the URL as ?cluster=
# a cache link of a combined table carries its context (/caches?context=west&cache=name)
CACHE_LINK_TEXT = r"[?&]cache=(?:" + AUTO_CREATED_PREFIX + r")?(.+)$"
# the concatenations, kept while each cluster's table is the very same (a cluster's keeper hands out the same table
# while no row of it changed); only the last of each page's
COMBINED = FrameKeeper()


@dataclass(frozen=True)
class Watched:
    """The clusters a page shows, in the order they are watched (the same whichever the session looks at, so a table
    does not move under a selection when the session's context follows it), and the session's."""

    clusters: tuple[ShownCluster, ...]
    session: ShownCluster

    @property
    def several(self) -> bool:
        """More than one cluster: the tables get a Cluster column and filter."""
        return len(self.clusters) > 1

    def by_context(self, context: str | None) -> ShownCluster | None:
        """The watched cluster of a context."""
        return next((cluster for cluster in self.clusters if cluster.context == context), None)

    def frames(self, session_snapshot: object) -> dict[str, Frames]:
        """Each cluster's Frames of its latest snapshot (the session's: this one), made by its own keeper."""
        return {cluster.context: frames_of(session_snapshot if cluster is self.session else cluster.store.snapshot(),
                                           cluster.keeper) for cluster in self.clusters}


def watched(cluster: ShownCluster) -> Watched:
    """The clusters shown with the session's (each read once before the page draws)."""
    found = clusters.together(cluster)
    for other in found:
        if other is not cluster:
            shell.wait_for_first_list(other)
    return Watched(tuple(found) if cluster in found else (cluster,), cluster)


def combined(name: str, tables: dict[str, pd.DataFrame], key: str) -> pd.DataFrame:
    """The clusters' tables one after the other with a first Cluster column and each row's ROW key, made once per
    version of each cluster's table."""
    parts = tuple(tables.values())
    return COMBINED.kept((name, tuple(tables)), (), lambda: concatenated(tables, key), parts)


def concatenated(tables: dict[str, pd.DataFrame], key: str) -> pd.DataFrame:
    """`combined` without keeping it."""
    parts = [table.assign(**{ROW: qualified(table[key].astype(str), context)}) for context, table in tables.items()]
    frame = pd.concat(parts, ignore_index=True)
    frame.insert(0, CLUSTER, np.repeat(np.array(list(tables), dtype=object), [len(table) for table in parts]))
    return frame


def qualified(key: str | pd.Series, context: str) -> str | pd.Series:
    """A row's ROW key (or a column of them): its key and its cluster."""
    return key + "@" + context


def split(row: str) -> tuple[str, str]:
    """A ROW key's key and context."""
    key, _, context = row.partition("@")
    return key, context


def in_clusters(frame: pd.DataFrame, chosen: tuple[str, ...]) -> pd.DataFrame:
    """The rows of these clusters (all when none is chosen)."""
    return frame[frame[CLUSTER].isin(chosen)].reset_index(drop=True) if chosen else frame


def cluster_filter(shown: Watched, where=st) -> tuple[str, ...]:
    """The Cluster multiselect (kept in the URL as ?cluster=; none chosen: every cluster)."""
    contexts = [cluster.context for cluster in shown.clusters]
    chosen = where.multiselect("Cluster", contexts, placeholder="All clusters", key=FILTER_KEY, bind="query-params",
                               help="The contexts watched together (IMC_CONTEXTS): every table row says which "
                                    "cluster it is in")
    return tuple(chosen)


def linked_row(shown: Watched, key: str | None) -> str | None:
    """The selected row as a ROW key: a clicked row's already is; a deep link's ?pod=/?cache= is in the cluster of
    ?context= when that is watched, else in the session's."""
    if not key or "@" in key:
        return key
    context = (st.query_params.get(clusters.CONTEXT_PARAM) or "").strip()
    return qualified(key, context if shown.by_context(context) else shown.session.context)


def follow(param: str, row: str | None) -> None:
    """The URL of a selected ROW: ?param=key&context=its cluster; when that is not the session's cluster, the whole
    page runs again, so the sidebar and every other page follow it."""
    if not row:
        return
    key, context = split(row)
    if st.query_params.get(param) != key:
        st.query_params[param] = key
    if (st.query_params.get(clusters.CONTEXT_PARAM) or "") != context:
        st.query_params[clusters.CONTEXT_PARAM] = context
        st.rerun()


def cache_links(frame: pd.DataFrame) -> pd.Series:
    """Each row's cache as a link to it on Image caches, in the row's cluster."""
    prefix = "/caches?context=" + frame[CLUSTER].astype(str).map(lambda context: quote(context, safe="")) + "&cache="
    return views.links(prefix, frame["Cache"])


def counted(total: int, shown: Watched) -> str:
    """"of N ECI pods", and in how many clusters when several."""
    return f"{total:,} ECI pods" + (f" in {len(shown.clusters)} clusters" if shown.several else "")


def first_column(width: int = CLUSTER_WIDTH) -> dict[str, Callable]:
    """The Cluster column's config: first, pinned, narrow."""
    return {CLUSTER: st.column_config.TextColumn(CLUSTER, width=width, pinned=True,
                                                 help="The context of the cluster the row is in")}
