"""The impact of a change to the set of caches: every live workload's next pod re-decided against the changed set.

A workload is decided once, by the template of its newest pod (the one its controller creates next), not pod by pod.
The decision is the engine's (`core.matching.decide`); only caches in `Ready` are usable (docs/eci-model.md 1), so a
cache being updated serves no pod until the update is done: `Impact.while_updating` says what happens meanwhile.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.caches import READY, CacheView, cache_from_object
from core.errors import ImcError
from core.images import parse_image
from core.matching import CacheIndex, Decision, decide
from core.owners import top_owner
from core.workloads import PodTemplate

CHANGE_KINDS = ("delete", "update", "expire", "add")
# what a change does to one workload's next pod, worst first
IMPACT_KINDS = ("pin-fails", "hit-to-miss", "moved", "perfect-match-lost", "now-hits", "other")
IMPACT_LABELS = {
    "pin-fails": "pinned → fail",
    "hit-to-miss": "hit → miss",
    "moved": "hit on another cache",
    "perfect-match-lost": "perfect match lost",
    "now-hits": "now hits",
    "other": "other change",
}
UPDATING = "Updating"
UPDATABLE_PHASES = (READY, "UpdateFailed")  # ECI accepts UpdateImageCache only in these (docs/eci-model.md 6.6)


class ChangeError(ImcError):
    """A proposed change that cannot be applied to the caches: names the cache or the field."""

    def __init__(self, message: str, change: CacheChange | None = None):
        super().__init__(message)
        self.change = change


@dataclass(frozen=True)
class CacheChange:
    """One proposed change to the set of caches: delete, update images, let expire, or add a cache."""

    kind: str
    name: str
    images: tuple[str, ...] = ()  # "update": the cache's new spec.images
    cache: Mapping | None = None  # "add": the proposed ImageCache object


@dataclass(frozen=True)
class Workload:
    """A live workload as the impact reads it: its top owner, namespace, next pod's template and live pods (0: none
    live, or unknown)."""

    workload: str
    namespace: str
    template: PodTemplate
    pods: int = 1


@dataclass(frozen=True)
class WorkloadImpact:
    """What a change does to one workload's next pod: the decision before and after, and how it differs."""

    workload: str
    namespace: str
    before: Decision
    after: Decision
    kind: str
    pods: int

    @property
    def label(self) -> str:
        """The kind of change in words."""
        return IMPACT_LABELS[self.kind]

    def describe(self) -> str:
        """One line: before → after, naming caches and what ECI would do."""
        return f"{_said(self.before)} → {_said(self.after)}"

    def to_dict(self) -> dict:
        """The workload's impact as plain JSON."""
        return {
            "workload": self.workload,
            "namespace": self.namespace,
            "kind": self.kind,
            "pods": self.pods,
            "before": _decision_dict(self.before),
            "after": _decision_dict(self.after),
            "change": self.describe(),
        }


@dataclass(frozen=True)
class Impact:
    """Every workload whose next pod changes, worst first, with counts by kind."""

    changes: tuple[CacheChange, ...]
    workloads: tuple[WorkloadImpact, ...]
    # an update's meanwhile: the changed workloads while the updated caches are Updating (not usable)
    while_updating: tuple[WorkloadImpact, ...] = field(default=())
    decided: int = 0  # workloads re-decided

    @property
    def counts(self) -> dict[str, int]:
        """Workloads per kind of change (kinds with none left out), worst first."""
        return _counted(self.workloads, lambda item: 1)

    @property
    def pod_counts(self) -> dict[str, int]:
        """Live pods of the changed workloads per kind of change."""
        return _counted(self.workloads, lambda item: item.pods)

    @property
    def breaks_pins(self) -> bool:
        """Some pinned workload's next pod would fail (ImageCacheNotFound)."""
        return any(item.kind == "pin-fails" for item in (*self.workloads, *self.while_updating))

    @property
    def summary(self) -> str:
        """The counts in one line."""
        decided = f"{self.decided} workload{'' if self.decided == 1 else 's'}"
        if not self.workloads and not self.while_updating:
            return f"no change for any of {decided}"
        parts = [f"{count} {IMPACT_LABELS[kind]}" for kind, count in self.counts.items()]
        if self.while_updating:
            parts.append(f"{len(self.while_updating)} changed while Updating")
        return f"{', '.join(parts)} (of {decided})"


    def to_dict(self) -> dict:
        """The impact as plain JSON (`imc explain --format json`'s "impact")."""
        return {
            "changes": [{"kind": change.kind, "name": change.name} for change in self.changes],
            "summary": self.summary,
            "breaks_pins": self.breaks_pins,
            "counts": self.counts,
            "pod_counts": self.pod_counts,
            "workloads": [item.to_dict() for item in self.workloads],
            "while_updating": [item.to_dict() for item in self.while_updating],
        }


def _decision_dict(decision: Decision) -> dict:
    """A decision in the impact's JSON: outcome, cache, events, auto-create."""
    return {
        "decision": decision.outcome,
        "cache": decision.cache_ref,
        "events": [event.reason for event in decision.events],
        "auto_create": decision.auto_create,
        "images_pulled": _lacking(decision) if decision.outcome == "hit" else None,
    }


def _counted(items: Iterable[WorkloadImpact], weight) -> dict[str, int]:
    counts = {kind: 0 for kind in IMPACT_KINDS}
    for item in items:
        counts[item.kind] += weight(item)
    return {kind: count for kind, count in counts.items() if count}


def _said(decision: Decision) -> str:
    """A decision in a few words: hit on NAME, miss (auto-creates a N GiB cache), fail (ImageCacheNotFound)."""
    if decision.outcome == "hit" and decision.cache is not None:
        lacking = _lacking(decision)
        return f"hit on {decision.cache.name}" + (f" ({lacking} images pulled)" if lacking else "")
    if decision.outcome == "miss":
        if not decision.auto_create:
            return "miss"
        count = len(decision.images)
        return f"miss (ECI auto-creates a {decision.auto_cache_size_gib} GiB cache of its {count} image" + (
            ")" if count == 1 else "s)")
    if decision.outcome == "fail":
        reason = decision.events[0].reason if decision.events else "fails"
        return f"fail ({reason}, pin {decision.pinned_id})"
    return decision.outcome


def _lacking(decision: Decision) -> int:
    """How many of the pod's images the chosen cache does not hold exactly."""
    if decision.cache is None:
        return len(decision.images)
    return sum(1 for image in decision.images if image not in decision.cache.image_set)


def impact_kind(before: Decision, after: Decision) -> str | None:
    """How the next pod's decision changed, as one of IMPACT_KINDS; None when it did not."""
    before_name = before.cache.name if before.cache else None
    after_name = after.cache.name if after.cache else None
    if (before.outcome, before_name, _lacking(before)) == (after.outcome, after_name, _lacking(after)):
        return None
    if after.outcome == "fail" and before.outcome != "fail" and before.policy.mode == "pin":
        return "pin-fails"
    if before.outcome == "hit" and after.outcome == "miss":
        return "hit-to-miss"
    if before.outcome == "hit" and after.outcome == "hit":
        if before_name != after_name:
            return "moved"
        return "perfect-match-lost" if _lacking(before) == 0 else "other"
    if after.outcome == "hit":
        return "now-hits"
    return "other"


def _expired(cache: CacheView, at: datetime) -> CacheView:
    """The cache as it is once past its retention."""
    return dataclasses.replace(cache, expires=at - timedelta(seconds=1))


def _updated(cache: CacheView, images: Sequence[str], phase: str) -> CacheView:
    """The cache holding `images` in `phase` (Updating while the update runs, Ready when it is done)."""
    if cache.phase not in UPDATABLE_PHASES:
        raise ChangeError(f"{cache.name} is {cache.phase or 'not yet in a phase'}: ECI updates a cache only when it "
                          f"is {' or '.join(UPDATABLE_PHASES)}")
    refs = {}
    for image in images:
        try:
            ref = parse_image(image)
        except ImcError as exc:
            raise ChangeError(f"update of {cache.name}: {exc}") from None
        refs.setdefault(ref.normalised, ref)
    if not refs:
        raise ChangeError(f"update of {cache.name}: at least one image is needed")
    return dataclasses.replace(cache, images=tuple(refs), image_refs=tuple(refs.values()), phase=phase)


def _proposed(obj: Mapping) -> CacheView:
    """A proposed ImageCache as if it existed and were Ready: usable by every next pod."""
    cache = cache_from_object(obj)
    if not cache.name:
        raise ChangeError("a proposed cache needs metadata.name")
    if not cache.images:
        raise ChangeError(f"proposed cache {cache.name}: no valid image in spec.images")
    return dataclasses.replace(cache, phase=READY, created=None, ready_since=None, expires=None)


def changed_caches(
    caches: Sequence[CacheView], changes: Sequence[CacheChange], at: datetime, settled: bool = True
) -> list[CacheView]:
    """The caches after the changes; `settled` False: an update still running (its cache Updating)."""
    by_name = {cache.name: cache for cache in caches}
    result = list(caches)
    for change in changes:
        try:
            result = _applied(result, by_name, change, at, settled)
        except ChangeError as exc:
            raise ChangeError(str(exc), change) from None
    return result


def _applied(
    result: list[CacheView], by_name: dict[str, CacheView], change: CacheChange, at: datetime, settled: bool
) -> list[CacheView]:
    """The caches with one change made; `by_name` follows."""
    if change.kind not in CHANGE_KINDS:
        raise ChangeError(f"unknown change {change.kind!r} (choose from {', '.join(CHANGE_KINDS)})")
    if change.kind == "add":
        added = _proposed(change.cache or {})
        if added.name in by_name:
            raise ChangeError(f"a cache named {added.name} exists already")
        by_name[added.name] = added
        return [*result, added]
    old = by_name.get(change.name)
    if old is None:
        raise ChangeError(f"no cache named {change.name}")
    if change.kind == "delete":
        del by_name[change.name]
        return [cache for cache in result if cache is not old]
    new = _expired(old, at) if change.kind == "expire" else _updated(old, change.images, READY if settled else UPDATING)
    by_name[change.name] = new
    return [new if cache is old else cache for cache in result]


def _touched(
    caches: Sequence[CacheView], changed: Sequence[CacheView], changes: Sequence[CacheChange]
) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """What the change touches: the names of the caches it removes or alters, the IDs of those and of new or altered
    caches, and the image families the new or altered caches hold."""
    names = frozenset(change.name for change in changes if change.kind != "add")
    kept = {id(cache) for cache in caches}
    fresh = [cache for cache in changed if id(cache) not in kept]
    ids = {cache.id for cache in caches if cache.name in names} | {cache.id for cache in fresh}
    families = frozenset(family for cache in fresh for family in cache.families)
    return names, frozenset(ids - {None}), families


def _may_change(template: PodTemplate, before: Decision, touched: tuple[frozenset, frozenset, frozenset]) -> bool:
    """Whether the change can alter this pod's decision; when not, it need not be decided again.

    Caches are ranked by a total order (core.matching._rank_key, the name breaking ties), so removing or altering a
    cache that was not chosen cannot change the choice; only a cache the pod pins, or a new or altered one sharing an
    image repository with it (which might outrank the chosen one), can.
    """
    names, ids, families = touched
    if before.cache is not None and before.cache.name in names:
        return True
    if before.policy.mode == "pin":
        return before.pinned_id in ids
    return any(ref.family_key in families for ref in template.image_refs)


def _compared(
    workloads: Sequence[Workload],
    after: CacheIndex,
    at: datetime,
    first: list[Decision],
    touched: tuple[frozenset, frozenset, frozenset],
) -> tuple[WorkloadImpact, ...]:
    """The workloads whose next pod is decided differently against `after` than before the change."""
    changed = []
    for workload, was in zip(workloads, first, strict=True):
        if not _may_change(workload.template, was, touched):
            continue
        now = decide(workload.template, after, at)
        kind = impact_kind(was, now)
        if kind is not None:
            changed.append(WorkloadImpact(workload.workload, workload.namespace, was, now, kind, workload.pods))
    changed.sort(key=lambda item: (IMPACT_KINDS.index(item.kind), -item.pods, item.namespace, item.workload))
    return tuple(changed)


def impact_of(
    workloads: Sequence[Workload],
    caches: Sequence[CacheView],
    change: CacheChange | Sequence[CacheChange],
    at: datetime,
    index: CacheIndex | None = None,
) -> Impact:
    """What the change does to every workload's next pod created at `at`; raises ChangeError for an impossible one.

    `index`, when given, must be `CacheIndex(caches)` already built (the store's), so it is not built again.
    """
    changes = (change,) if isinstance(change, CacheChange) else tuple(change)
    settled = changed_caches(caches, changes, at)
    touched = _touched(caches, settled, changes)
    before = index if index is not None else CacheIndex(caches)
    first = [decide(workload.template, before, at) for workload in workloads]
    meanwhile: tuple[WorkloadImpact, ...] = ()
    if any(item.kind == "update" for item in changes):
        updating = CacheIndex(changed_caches(caches, changes, at, settled=False))
        meanwhile = _compared(workloads, updating, at, first, touched)
    return Impact(changes, _compared(workloads, CacheIndex(settled), at, first, touched), meanwhile, len(workloads))


def live_workloads(
    pods: Iterable[tuple[Mapping, PodTemplate]], templates: Iterable[PodTemplate] = ()
) -> list[Workload]:
    """Live pods (metadata, template) grouped by top owner, each workload with its newest pod's template; and each of
    `templates` (a Deployment's own pod template) whose workload has no live pod, as a workload of 0 pods.

    The next pod is decided at the instant given to `impact_of`, not at the newest pod's creation. A workload scaled
    to zero still has a next pod: the one its template makes when it scales up.
    """
    newest: dict[tuple[str, str], PodTemplate] = {}
    counts: dict[tuple[str, str], int] = {}
    for metadata, template in pods:
        owner = top_owner(metadata)
        key = (template.namespace, str(owner) if owner is not None else f"Pod/{template.name}")
        counts[key] = counts.get(key, 0) + 1
        kept = newest.get(key)
        if kept is None or _newer(template, kept):
            newest[key] = template
    for template in templates:
        key = (template.namespace, f"{template.kind}/{template.name}")
        if key not in newest:
            newest[key] = template
            counts[key] = 0
    return [Workload(name, namespace, template, counts[namespace, name])
            for (namespace, name), template in newest.items()]


def extended_expiry(expires: datetime, current_days: int | None, days: int | None) -> datetime | None:
    """When a cache expires once its retention grows from `current_days` to `days` (both count from the
    build's start, docs/eci-model.md 6.6); None when unknown or not longer."""
    if current_days is None or days is None or days <= current_days:
        return None
    return expires + timedelta(days=days - current_days)


def _newer(template: PodTemplate, than: PodTemplate) -> bool:
    """Created later (a pod not yet created counts as newest), the name breaking ties."""
    if (template.created is None) != (than.created is None):
        return template.created is None
    if template.created != than.created:
        return template.created > than.created
    return template.name > than.name
