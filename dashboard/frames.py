"""The view models of one store snapshot, built once per store version and shared by all sessions.

`FrameKeeper` is the one owner of what the dashboard keeps between store versions; the view-model and chart
modules are stateless functions.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import pandas as pd

from core.coverage import CacheSuggestion, held_images, suggest_cache
from core.malloc import release_free_memory
from core.matching import CacheIndex
from dashboard import cache_views, start_views, suggest, views
from dashboard.frozen_figure import FrozenFigure

# Only the latest snapshot's Frames: each holds ~10 MiB of Arrow tables at 10k pods (keeping six cost ~50 MiB of
# RSS, bench/README.md); a session still drawing an older one holds it until its run ends.
KEEP = 1
KEEP_FIGURES = 32  # figures kept across store versions, keyed by the content of the table they draw
MAX_AGE = timedelta(seconds=30)  # ages and "now" lines are redrawn at least this often in a quiet cluster


def content_key(frame: pd.DataFrame) -> tuple[Hashable, ...]:
    """What a figure drawn from this small table depends on: columns, dtypes, values (in order) and attrs."""
    rows = pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes()
    return (
        tuple(frame.columns),
        tuple(str(dtype) for dtype in frame.dtypes),
        hashlib.blake2b(rows, digest_size=16).digest(),
        tuple(sorted((str(name), repr(value)) for name, value in frame.attrs.items())),
    )


class FrameKeeper:
    """What the dashboard keeps between store versions, shared by all sessions, and nothing else keeps:

    the Frames of the latest snapshots; the last pods and starts tables, each with the snapshot's pods it was made
    of (a later snapshot's changed pods are those whose PodRecord is another object: only their rows are made again,
    now and as they were, and written where they differ; the same table while no row changed where it shows; a pods
    column keeps its version while no row changed in it, the starts table its estimates and savings while no missed
    pod's pulls moved them); each cache's row of the caches table; tables kept while their inputs are equal (the
    caches table, what is drawn from some pods columns) or drawn from the very same tables; and figures by the
    content of the table they draw, frozen (the scale cluster moves ~100 store versions a second while most summary
    tables stay the same, a figure takes tens of milliseconds to draw and ~5 to send). Tables and figures handed out
    are shared: callers must not change them.
    """

    def __init__(self, keep: int = KEEP, keep_figures: int = KEEP_FIGURES) -> None:
        self.keep = keep
        self.keep_figures = keep_figures
        self._lock = threading.Lock()
        self._recent: list[Frames] = []  # oldest first
        self._rows: dict[str, dict[str, tuple[Any, tuple | None]]] = {}  # table -> key -> (record, row)
        self._pods_table: views.PodsTable | None = None
        self._stamps = itertools.count()  # a new pods table's stamp: the version of the columns it changed
        self._starts_table: start_views.StartsTable | None = None
        self._kept: dict[Hashable, tuple[tuple, tuple, Any]] = {}  # name -> (its tables, its inputs, what was built)
        self._figures: OrderedDict[tuple[Hashable, ...], Any] = OrderedDict()

    def __len__(self) -> int:
        """How many snapshots' Frames are kept."""
        return len(self._recent)

    def frames_of(self, snapshot: Any) -> Frames:
        """The Frames of a snapshot; the store hands out the same snapshot object while nothing changed."""
        with self._lock:
            found = next((frames for frames in self._recent if frames.snapshot is snapshot), None)
            if found is not None:
                self._recent.remove(found)
                if views.now_utc() - found.now < MAX_AGE:
                    self._recent.append(found)
                    return found
            made = Frames(snapshot, keeper=self)
            dropped = self._recent[: max(0, len(self._recent) + 1 - self.keep)]
            self._recent = [*self._recent, made][-self.keep:]
        if dropped:
            del dropped
            release_free_memory()  # the dropped tables' buffers are big frees glibc would otherwise keep resident
        return made

    def pods_table(self, pods: Any) -> views.PodsTable:
        """`views.pods_frame` of a snapshot's pods with its column versions: when only some pods changed since the
        last one, the last table with their rows rewritten (the same table if none changed where it shows)."""
        with self._lock:
            last = self._pods_table
            stamp = next(self._stamps)
        table = (views.patched_pods(last, pods, stamp) or views.regrown_pods(last, pods, stamp)
                 if last is not None else None)
        if table is None:
            table = views.built_pods(pods, stamp)
        with self._lock:
            self._pods_table = table
        return table

    def pods_frame(self, pods: Any) -> pd.DataFrame:
        """`views.pods_frame`, as `pods_table` makes it."""
        return self.pods_table(pods).frame

    def starts_frame(self, pods: Any) -> pd.DataFrame:
        """`start_views.starts_frame` of a snapshot's pods: when only some pods changed since the last one, the last
        table with their rows rewritten (the same table if none changed where it shows)."""
        with self._lock:
            last = self._starts_table
        table = (start_views.patched_starts(last, pods) or start_views.regrown_starts(last, pods)
                 if last is not None else None)
        if table is None:
            table = start_views.built_starts(pods)
        with self._lock:
            self._starts_table = table
        return table.frame

    def rows(self, table: str, pods: Any, row: Callable[[str, Any], tuple | None] | None) -> dict[str, Any]:
        """`views.pod_rows(objects, row=row)` of one table (the caches'), reusing its rows of the objects that did not
        change."""
        with self._lock:
            previous = self._rows.get(table)
        rows = views.pod_rows(pods, previous, row)
        with self._lock:
            self._rows[table] = rows  # a concurrent build may win instead: rows are checked by identity, so either is right
        return rows

    def kept(self, name: Hashable, inputs: tuple, build: Callable[[], Any], tables: tuple = ()) -> Any:
        """`build()`, reused from the last call of this name while it reads the very same `tables` and equal `inputs`
        (a snapshot's caches are equal, say, while no cache changed: a mapping of the same objects compares in
        microseconds). Tables are compared by identity (they have no truth value): the keeper hands out the same pods
        and starts table while no row of it changed, and what is drawn from them is kept the same way."""
        with self._lock:
            last = self._kept.get(name)
        if last is not None and _same_objects(last[0], tables) and last[1] == inputs:
            return last[2]
        built = build()
        with self._lock:
            self._kept[name] = (tables, inputs, built)
        return built

    def figure(self, build: Callable[..., FrozenFigure], frame: pd.DataFrame, *args: Hashable) -> FrozenFigure:
        """`build(frame, *args)`, built and frozen once per content of the table (and the other arguments)."""
        key = (build.__module__, build.__qualname__, content_key(frame), args)
        with self._lock:
            found = self._figures.get(key)
            if found is not None:
                self._figures.move_to_end(key)
                return found
        figure = build(frame, *args).freeze()
        with self._lock:
            self._figures[key] = figure
            while len(self._figures) > self.keep_figures:
                self._figures.popitem(last=False)
        return figure

    def forget(self) -> None:
        """Drop everything kept (benchmarks time a build from nothing with it)."""
        with self._lock:
            self._recent, self._rows, self._pods_table, self._starts_table = [], {}, None, None
            self._kept = {}
            self._figures.clear()


def _same_objects(these: tuple, those: tuple) -> bool:
    return len(these) == len(those) and all(a is b for a, b in zip(these, those, strict=True))


@dataclass
class Frames:
    """Tables and aggregates of one snapshot; each is computed on first use."""

    snapshot: Any
    now: datetime = field(default_factory=views.now_utc)
    keeper: FrameKeeper | None = field(default=None, repr=False)  # None: nothing kept beyond this snapshot
    _memo: dict[Hashable, Any] = field(default_factory=dict, repr=False)

    def memo(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """Build something (a figure, say) once for this snapshot."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    def kept(self, name: str, inputs: tuple, build: Callable[[], Any]) -> Any:
        """`build()`, kept by the keeper across versions while `inputs` (all it reads) are equal."""
        return build() if self.keeper is None else self.keeper.kept(name, inputs, build)

    def drawn_from(self, name: Hashable, tables: tuple, build: Callable[[], Any], inputs: tuple = ()) -> Any:
        """`build()`, kept by the keeper across versions while it reads the very same `tables` and equal `inputs`."""
        return build() if self.keeper is None else self.keeper.kept(name, inputs, build, tables)

    def figure(self, build: Callable[..., FrozenFigure], frame: pd.DataFrame, *args: Hashable) -> FrozenFigure:
        """`build(frame, *args)`, kept (frozen) by the keeper across versions while the table's content is the same."""
        return build(frame, *args) if self.keeper is None else self.keeper.figure(build, frame, *args)

    @cached_property
    def pods(self) -> pd.DataFrame:
        """Every ECI pod, one row each."""
        return self.pods_table.frame

    @cached_property
    def pods_table(self) -> views.PodsTable:
        """`pods` with its column versions."""
        if self.keeper is None:
            return views.built_pods(self.snapshot.pods, 0)
        return self.keeper.pods_table(self.snapshot.pods)

    def pods_versions(self, *columns: str) -> tuple[int, ...]:
        """The versions of these columns of `pods`: what is drawn from them alone is kept while they are the same."""
        versions = self.pods_table.versions
        return tuple(versions[column] for column in columns)

    @cached_property
    def starts(self) -> pd.DataFrame:
        """Every ECI pod's start, pulls and saving, one row each."""
        if self.keeper is None:
            return start_views.starts_frame(self.snapshot.pods)
        return self.keeper.starts_frame(self.snapshot.pods)

    @cached_property
    def caches(self) -> pd.DataFrame:
        """Every ImageCache, one row each, aged as of now."""
        return cache_views.with_ages(self.caches_table, self.now)

    @cached_property
    def caches_table(self) -> pd.DataFrame:
        """`caches` but their ages: kept while the caches and the pods that hit them are the same."""
        caches = self.snapshot.caches  # a mapping of the same CacheViews while no cache changed
        if self.keeper is None:
            return cache_views.caches_table(caches, cache_views.cache_hits(self.pods))
        hits = self.kept("cache hits", self.pods_versions("Cache ID"), lambda: cache_views.cache_hits(self.pods))
        return self.kept("caches", (caches, hits), lambda: cache_views.caches_table(
            caches, hits, self.keeper.rows("caches", caches, cache_views.cache_row)))

    @cached_property
    def headline(self) -> views.Headline:
        """The overview's numbers."""
        return self.drawn_from("headline", (self.caches_table,), lambda: views.headline(self.pods, self.caches_table),
                               inputs=self.pods_versions(*views.HEADLINE_COLUMNS))

    @cached_property
    def outcomes_over_time(self) -> pd.DataFrame:
        """Pods per outcome per time bucket."""
        return views.outcomes_over_time(self.snapshot.history, self.now)

    @cached_property
    def pods_gone(self) -> int:
        """Pods the charts over time count that no longer exist."""
        history = self.snapshot.history  # the same tuple while no pod was added or decided anew
        seen = self.kept("history-keys", (history,), lambda: views.history_keys(history))
        # the pods table's keys keep their version only while the pods (ECI or not) are the same
        return self.drawn_from("pods gone", (seen,), lambda: views.pods_gone(history, self.snapshot.pods, seen),
                               inputs=self.pods_versions("key"))

    @cached_property
    def by_namespace(self) -> pd.DataFrame:
        """Pods per namespace and decision."""
        return self.kept("by namespace", self.pods_versions("Namespace", "Decision"),
                         lambda: views.decisions_by_namespace(self.pods))

    @cached_property
    def timeline(self) -> pd.DataFrame:
        """Cache lifetimes for the Gantt chart (drawn to the minute: kept while the caches and the minute are)."""
        if self.keeper is None:
            return cache_views.cache_timeline(self.snapshot.caches, self.now)
        minute = self.now.replace(second=0, microsecond=0)
        return self.keeper.kept("timeline", (self.snapshot.caches, minute),
                                lambda: cache_views.cache_timeline(self.snapshot.caches, self.now))

    @cached_property
    def uncached(self) -> pd.DataFrame:
        """Images no Ready cache holds, by pods using them (kept while the held images and the ECI pods' decisions
        and images, all that is counted, are the same)."""
        return self.kept("uncached", (*self.pods_versions("key", "Decision", "Images"), self.held),
                         lambda: suggest.uncached_images(self.snapshot.pods, self.held))

    @cached_property
    def held(self) -> set[str]:
        """Every image some Ready cache holds."""
        return held_images(self.snapshot.caches.values(), self.now)

    @cached_property
    def suggestion(self) -> CacheSuggestion:
        """At most 20 images covering the most missed pods."""
        return suggest_cache(suggest.missed_needs(self.snapshot.pods, self.held))

    @cached_property
    def coverage(self) -> pd.DataFrame:
        """Images × caches."""
        return cache_views.coverage_matrix(self.snapshot.caches, self.snapshot.pods)

    @cached_property
    def index(self) -> CacheIndex:
        """The engine's index of the live caches."""
        return CacheIndex(list(self.snapshot.caches.values()))


KEEPER = FrameKeeper()


def frames_of(snapshot: Any, keeper: FrameKeeper | None = None) -> Frames:
    """The Frames of a snapshot, from its cluster's keeper (each watched cluster has its own), else the process's."""
    return (keeper or KEEPER).frames_of(snapshot)
