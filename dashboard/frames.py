"""The view models of one store snapshot, built once per store version and shared by all sessions."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import pandas as pd
import pyarrow as pa

from core.coverage import CacheSuggestion, held_images, suggest_cache
from core.matching import CacheIndex
from dashboard import cache_views, suggest, views

# pandas 3 keeps the view models' strings in Arrow arrays, rebuilt on every store version (and Streamlit converts
# the tables to Arrow on every rerun). pyarrow's default pool (mimalloc) keeps the pages it freed; the system
# allocator hands big buffers back at once, ~30-45 MiB less RSS for the 10k-pod dashboard (bench/README.md).
pa.set_memory_pool(pa.system_memory_pool())

KEEP = 6
MAX_AGE = timedelta(seconds=30)  # ages and "now" lines are redrawn at least this often in a quiet cluster


@dataclass
class Frames:
    """Tables and aggregates of one snapshot; each is computed on first use."""

    snapshot: Any
    now: datetime = field(default_factory=views.now_utc)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    def memo(self, key: str, build: Callable[[], Any]) -> Any:
        """Build something (a figure, say) once for this snapshot."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    @cached_property
    def pods(self) -> pd.DataFrame:
        """Every ECI pod, one row each."""
        return views.pods_frame(self.snapshot.pods)

    @cached_property
    def caches(self) -> pd.DataFrame:
        """Every ImageCache, one row each."""
        return cache_views.caches_frame(self.snapshot.caches, self.pods, self.now)

    @cached_property
    def headline(self) -> views.Headline:
        """The overview's numbers."""
        return views.headline(self.pods, self.caches)

    @cached_property
    def outcomes_over_time(self) -> pd.DataFrame:
        """Pods per outcome per time bucket."""
        return views.outcomes_over_time(self.snapshot.history, self.now)

    @cached_property
    def by_namespace(self) -> pd.DataFrame:
        """Pods per namespace and decision."""
        return views.decisions_by_namespace(self.pods)

    @cached_property
    def timeline(self) -> pd.DataFrame:
        """Cache lifetimes for the Gantt chart."""
        return cache_views.cache_timeline(self.snapshot.caches, self.now)

    @cached_property
    def uncached(self) -> pd.DataFrame:
        """Images no Ready cache holds, by pods using them."""
        return suggest.uncached_images(self.snapshot.pods, self.held)

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


_lock = threading.Lock()
_recent: OrderedDict[int, Frames] = OrderedDict()


def frames_of(snapshot: Any) -> Frames:
    """The Frames of a snapshot; the store hands out the same snapshot while nothing changed."""
    with _lock:
        found = _recent.get(id(snapshot))
        if found is not None and found.snapshot is snapshot and views.now_utc() - found.now < MAX_AGE:
            _recent.move_to_end(id(snapshot))
            return found
        made = Frames(snapshot)
        _recent[id(snapshot)] = made
        while len(_recent) > KEEP:
            _recent.popitem(last=False)
        return made
