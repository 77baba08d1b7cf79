"""The caches imc has seen, each with its specs over time: what a pod created at T was decided against
(docs/eci-model.md 3.7: ECI decides at the pod's creation, on the caches of that moment)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from core.caches import CacheView
from core.matching import CacheIndex

# ended versions (old specs, deleted caches) kept at most, the longest-ended dropped first: a cluster that
# creates and deletes caches without end must not grow imc's memory without end
MAX_ENDED_VERSIONS = 5_000
_NO_VERSIONS: tuple[CacheVersion, ...] = ()


def match_signature(view: CacheView) -> tuple:
    """What of a cache can change a decision; a change of anything else (progress, events) is no new version."""
    return (view.id, view.phase, view.images, view.size_gib, view.created, view.expires, view.ready_since)


@dataclass(frozen=True)
class CacheVersion:
    """One spec and phase of a cache, from `since` (None: as far back as imc knows) until `until` (None: now)."""

    view: CacheView
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class CacheHistory:
    """Every cache imc has seen (by name): its versions in order, the last one ending at its deletion, if deleted."""

    versions: Mapping[str, tuple[CacheVersion, ...]] = field(default_factory=lambda: MappingProxyType({}))
    # the moments at which some cache changed or went away, sorted: between two of them the caches are the same
    changes: tuple[datetime, ...] = field(init=False, repr=False, compare=False)
    ids: frozenset[str] = field(init=False, repr=False, compare=False)
    _indexes: dict[int, CacheIndex] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        moments = {version.until for kept in self.versions.values() for version in kept if version.until is not None}
        object.__setattr__(self, "changes", tuple(sorted(moments)))
        ids = {version.view.id for kept in self.versions.values() for version in kept if version.view.id}
        object.__setattr__(self, "ids", frozenset(ids))
        object.__setattr__(self, "_indexes", {})

    def current(self, name: str) -> CacheVersion | None:
        """The cache's latest version while it exists, else None."""
        kept = self.versions.get(name, _NO_VERSIONS)
        return kept[-1] if kept and kept[-1].until is None else None

    def seen(self, view: CacheView, at: datetime) -> CacheHistory:
        """The history after the watch showed this view of a cache at `at` (its first one, a change, or the same)."""
        return self.observed([view], {}, at)

    def deleted(self, name: str, at: datetime) -> CacheHistory:
        """The history after the cache went away at `at`; its versions are kept."""
        return self.observed([], {name: at}, at)

    def observed(self, views: Iterable[CacheView], gone: Mapping[str, datetime], at: datetime) -> CacheHistory:
        """The history after the watch showed these views at `at` and these caches gone (each at its moment): one
        new history for a whole list."""
        versions = dict(self.versions)
        views = list(views)
        for view in views:
            versions[view.name] = _after_view(versions.get(view.name, _NO_VERSIONS), view, at)
        for name, moment in gone.items():
            versions[name] = _after_deletion(versions.get(name, _NO_VERSIONS), moment)
        after = CacheHistory(MappingProxyType({name: kept for name, kept in versions.items() if kept}))
        earlier = len(self.changes)
        if after.changes[:earlier] == self.changes and all(self.current(view.name) is not None for view in views):
            # changes at or after the latest one, and no cache new to every epoch: the epochs before it stand
            after._indexes.update((epoch, index) for epoch, index in self._indexes.items() if epoch < earlier)
        return after

    def changed_at(self, name: str) -> datetime | None:
        """Since when the cache's latest change holds (its current version's start, or its deletion): pods created
        before it were decided on what it was before; None when its one known version holds for every pod."""
        kept = self.versions.get(name, _NO_VERSIONS)
        if not kept:
            return None
        return kept[-1].until if kept[-1].until is not None else kept[-1].since

    def pruned(self, needed_since: datetime, max_ended: int = MAX_ENDED_VERSIONS) -> CacheHistory:
        """Without the versions that ended before `needed_since` (no pod that may have used them is still shown),
        and without the longest-ended ones past `max_ended`."""
        ended = sorted(version.until for kept in self.versions.values() for version in kept if version.until)
        over = len(ended) - max_ended
        last_dropped = ended[over - 1] if over > 0 else None
        versions = {}
        for name, kept in self.versions.items():
            left = tuple(version for version in kept if version.until is None or (
                version.until >= needed_since and (last_dropped is None or version.until > last_dropped)))
            if left:
                versions[name] = left
        if sum(map(len, versions.values())) == sum(map(len, self.versions.values())):
            return self
        return CacheHistory(MappingProxyType(versions))

    def epoch(self, at: datetime) -> int:
        """How many changes happened at or before `at`: pods of the same epoch were decided on the same caches."""
        return bisect_right(self.changes, at)

    def caches_as_of(self, at: datetime) -> tuple[CacheView, ...]:
        """The caches (each with the spec and phase it had) that a pod created at `at` was decided against."""
        return caches_as_of(self, at)

    def index_at(self, at: datetime) -> CacheIndex:
        """A CacheIndex of `caches_as_of(at)`, built once per epoch of this history."""
        epoch = self.epoch(at)
        index = self._indexes.get(epoch)
        if index is None:
            index = self._indexes[epoch] = CacheIndex(self.caches_as_of(at))
        return index

    def knows(self, cache_id: str) -> bool:
        """Whether imc has seen a cache with this ID (existing now, or remembered after its deletion)."""
        return cache_id in self.ids



def _after_view(kept: tuple[CacheVersion, ...], view: CacheView, at: datetime) -> tuple[CacheVersion, ...]:
    """A cache's versions after the watch showed `view` at `at`."""
    last = kept[-1] if kept and kept[-1].until is None else None
    if last is None:
        return (*kept, CacheVersion(view, since=_end(kept)))
    if match_signature(last.view) == match_signature(view):
        return (*kept[:-1], CacheVersion(view, last.since))
    since = _since(view, last.since, at)
    return (*kept[:-1], CacheVersion(last.view, last.since, since), CacheVersion(view, since))


def _after_deletion(kept: tuple[CacheVersion, ...], at: datetime) -> tuple[CacheVersion, ...]:
    """A cache's versions after it went away at `at` (unchanged when it was gone already)."""
    if not kept or kept[-1].until is not None:
        return kept
    last = kept[-1]
    return (*kept[:-1], CacheVersion(last.view, last.since, max(at, last.since or at)))


def caches_as_of(history: CacheHistory, at: datetime) -> tuple[CacheView, ...]:
    """Each cache not yet deleted at `at`, in the version it had then.

    A cache first seen after `at` is given in its first version: it did not exist then, or imc learnt of it later,
    and the matching rules (creationTimestamp, Ready time, same-second) judge it by its own timestamps.
    """
    views = []
    for kept in history.versions.values():
        version = _version_at(kept, at)
        if version is not None:
            views.append(version.view)
    return tuple(views)


def _version_at(kept: tuple[CacheVersion, ...], at: datetime) -> CacheVersion | None:
    """The version in force at `at`; None once the cache was deleted (or all of its remembered life was later)."""
    chosen = None
    for version in kept:
        if version.since is not None and version.since > at:
            break
        chosen = version
    if chosen is None:  # the cache's whole known life is after `at`: its first version, if not ended by then
        chosen = kept[0]
    return None if chosen.until is not None and chosen.until <= at else chosen


def _end(kept: tuple[CacheVersion, ...]) -> datetime | None:
    """When the earlier life of a re-created name ended (its deletion), else None."""
    return kept[-1].until if kept else None


def _since(view: CacheView, previous: datetime | None, seen_at: datetime) -> datetime:
    """When a new version began: the cache's status.lastUpdatedTime when it lies between the previous version's
    start and the moment the watch showed it (the watch may lag), else that moment."""
    updated = view.updated
    if updated is not None and updated <= seen_at and (previous is None or updated > previous):
        return updated
    return seen_at
