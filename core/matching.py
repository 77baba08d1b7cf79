"""Decide which ImageCache ECI gives a pod, and explain every cache's verdict (docs/eci-model.md section 3)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from core.caches import AUTO_CREATED_PREFIX, READY, CacheView
from core.findings import Finding, info, warning
from core.findings import error as error_finding
from core.images import compare_images
from core.policy import AUTO_IMC, INSTANCE_ID, MatchPolicy
from core.timeutil import format_time, micros
from core.workloads import PodTemplate

OUTCOMES = ("hit", "miss", "fail", "off", "not-eci")
VERDICTS = ("chosen", "outranked", "rejected")
NEW_CACHE_ID = "imc-<new>"
# ECI's image-cache events: reason -> (event type, message, the outcome the event reports)
_EVENTS = {
    "SuccessfulHitImageCache": (
        "Normal",
        "[eci.imagecache]Successfully hit image cache {id}, eci will be scheduled with this image cache.",
        "hit",
    ),
    "ImageCacheMissed": ("Warning", "[eci.imagecache]Missed image cache.", "miss"),
    "ImageCacheAutoCreated": ("Normal", "[eci.imagecache]Image cache {id} is auto created", "miss"),
    "ImageCacheNotFound": ("Warning", "The specified image cache {id} does not exist.", "fail"),
    "ImageCacheNotComplete": ("Normal", "The production for specified image cache {id} is not yet complete.", "fail"),
}
ECI_EVENT_REASONS = tuple(_EVENTS)
EVENT_OUTCOMES = {reason: outcome for reason, (_, _, outcome) in _EVENTS.items()}


@dataclass(frozen=True)
class EciEvent:
    """An event ECI writes on the pod, with its reason, type and message text."""

    reason: str
    type: str
    message: str


@lru_cache(maxsize=16384)
def eci_event(reason: str, cache_id: str | None = None) -> EciEvent:
    """ECI's event of this reason about this cache, worded as ECI words it."""
    event_type, text, _ = _EVENTS[reason]
    return EciEvent(reason, event_type, text.format(id=cache_id or NEW_CACHE_ID))


_MISSED = (eci_event("ImageCacheMissed"), eci_event("ImageCacheAutoCreated"))  # a miss's events, in ECI's order


@dataclass(frozen=True, slots=True)
class Decision:
    """What ECI does with the pod: the outcome, the cache, the events it writes."""

    outcome: str
    cache: CacheView | None
    events: tuple[EciEvent, ...]
    auto_create: bool
    images: tuple[str, ...]
    policy: MatchPolicy
    findings: tuple[Finding, ...]
    pinned_name: str | None = None

    @property
    def pinned_id(self) -> str | None:
        """The cache ID the pod pins, if it pins one."""
        return self.policy.pin_id

    @property
    def auto_cache_size_gib(self) -> int:
        """The size of a cache ECI auto-creates for this pod."""
        return self.policy.auto_cache_size_gib

    @property
    def cache_ref(self) -> dict[str, str | None] | None:
        """{"name", "id"} of the chosen cache; for a failed pin, the pinned id."""
        if self.cache is not None:
            return self.cache.to_ref()
        if self.outcome == "fail":
            return {"name": self.pinned_name, "id": self.pinned_id}
        return None


@dataclass(frozen=True)
class CacheVerdict:
    """One cache's part in the decision: chosen, outranked or rejected, and why."""

    name: str
    id: str | None
    verdict: str
    exact: int
    partial: int
    reasons: tuple[str, ...]

    def to_dict(self) -> dict:
        """The verdict as plain JSON."""
        # vars: the fields in order, without asdict's recursive copy (10,000 verdicts per 10k-pod report)
        return {**vars(self), "reasons": list(self.reasons)}


@dataclass(frozen=True)
class Explanation:
    """A decision with every cache's verdict, chosen first."""

    template: PodTemplate
    decision: Decision
    candidates: tuple[CacheVerdict, ...] = field(default=())

    def to_dict(self) -> dict:
        """One result of `imc explain --format json`."""
        decision = self.decision
        return {
            "workload": self.template.workload,
            "eci": self.template.eci,
            "decision": decision.outcome,
            "cache": decision.cache_ref,
            "events": [event.reason for event in decision.events],
            "event_messages": [event.message for event in decision.events],
            "auto_create": decision.auto_create,
            "auto_cache_size_gib": decision.auto_cache_size_gib if decision.auto_create else None,
            "images": list(decision.images),
            "policy": decision.policy.to_dict(),
            "candidates": [verdict.to_dict() for verdict in self.candidates],
            "findings": [finding.to_dict() for finding in decision.findings],
        }


class CacheIndex:
    """Caches indexed by normalised image and by repository family, so a pod meets only its own caches."""

    def __init__(self, caches: Iterable[CacheView]):
        self.caches: tuple[CacheView, ...] = tuple(caches)
        self.by_id: dict[str, CacheView] = {}
        self.by_name: dict[str, CacheView] = {}
        self._with_id: dict[str, list[int]] = defaultdict(list)
        self._position = {id(cache): position for position, cache in enumerate(self.caches)}
        self._exact: dict[str, list[int]] = defaultdict(list)
        self._family: dict[str, list[int]] = defaultdict(list)
        # how many caches have images that are not among their image_refs' (none, made by cache_from_object)
        self._loose = sum(not cache.images_are_refs for cache in self.caches)
        # per position, what deciding reads of the cache whatever the pod: _ranked's window, size and rank parts
        self._ranked: list[tuple[int, int, int, float, str] | None] = [_ranked(cache) for cache in self.caches]
        # match_counts per pod images (normalised: they name the refs), for the pods of a workload; cleared by replace
        self._counts: dict[tuple[str, ...], dict[int, tuple[int, int]]] = {}
        for position, cache in enumerate(self.caches):
            self.by_name[cache.name] = cache
            if cache.id:
                self.by_id.setdefault(cache.id, cache)
                self._with_id[cache.id].append(position)
            for image in cache.images:
                self._exact[image].append(position)
            for family in cache.families:
                self._family[family].append(position)

    def __len__(self) -> int:
        return len(self.caches)

    def replace(self, old: CacheView, new: CacheView) -> None:
        """Put `new` in `old`'s place, in place: cheaper than a rebuild when one cache of many changes."""
        position = self._position.pop(id(old))
        self._counts.clear()
        for image in old.images:
            self._exact[image].remove(position)
        for family in old.families:
            self._family[family].remove(position)
        for image in new.images:
            self._exact[image].append(position)
        for family in new.families:
            self._family[family].append(position)
        self._loose += (not new.images_are_refs) - (not old.images_are_refs)
        self._ranked[position] = _ranked(new)
        if old.id:
            self._with_id[old.id].remove(position)
        if new.id:
            self._with_id[new.id].append(position)
        self.caches = (*self.caches[:position], new, *self.caches[position + 1 :])
        self._position[id(new)] = position
        if self.by_name.get(old.name) is old:
            del self.by_name[old.name]
        self.by_name[new.name] = new
        for cache_id in {old.id, new.id} - {None}:  # the first cache by position holds an ID, as in a rebuild
            holder = next((c for c in self.caches if c.id == cache_id), None)
            if holder is None:
                self.by_id.pop(cache_id, None)
            else:
                self.by_id[cache_id] = holder

    def position(self, cache: CacheView) -> int:
        """The cache's position in this index."""
        return self._position[id(cache)]

    def exact_counts(self, template: PodTemplate) -> dict[int, int]:
        """Per cache position: how many of the pod's images it holds exactly (caches with none left out)."""
        counts: dict[int, int] = {}
        exact = self._exact
        for image in template.images:
            for position in exact.get(image, ()):
                counts[position] = counts.get(position, 0) + 1
        return counts

    def partial_count(self, template: PodTemplate, position: int) -> int:
        """How many of the pod's images this cache holds only as another tag or ACR endpoint."""
        return _partial(self.caches[position], _image_pairs(template))

    def best_candidate(
        self, template: PodTemplate, needed: int, storage: float, at: datetime
    ) -> tuple[CacheView | None, tuple | None, list[tuple[int, int]]]:
        """The best candidate holding at least `needed` of the pod's images exactly at `at`, its _rank_key, and the
        (position, exact images) of the Ready caches that fit but were usable only from `at` on, as ranked so far."""
        ranked, pairs = self._ranked, None
        best, best_key, best_exact, late = None, None, needed, []
        moment = None
        for position, exact in self.exact_counts(template).items():
            if exact < best_exact:
                continue
            entry = ranked[position]
            if entry is None or entry[2] > storage:
                continue
            if moment is None:
                moment = micros(at)
            usable_from, expires, size, newest, name = entry
            if usable_from >= moment:
                late.append((position, exact))
                continue
            if expires < moment:
                continue
            if pairs is None:
                pairs = self._variant_pairs(template)
            key = (-exact, -_partial(self.caches[position], pairs) if pairs else 0, abs(storage - size), newest, name)
            if best_key is None or key < best_key:
                best, best_key, best_exact = position, key, exact
        return (None if best is None else self.caches[best]), best_key, late

    def _variant_pairs(self, template: PodTemplate) -> list[tuple[str, str]]:
        """The pod's (image, family) pairs that some cache of the family lacks the image of: the rest count no partial.

        A cache holding the image is of its family, so the family's caches all hold it when they are as many as the
        caches holding it; unless some cache has an image that is not one of its refs': then every pair counts."""
        exact, family = self._exact, self._family
        pairs = [(ref.normalised, ref.family_key) for ref in template.image_refs]
        if self._loose:
            return pairs
        return [(image, key) for image, key in pairs if len(exact.get(image, ())) < len(family.get(key, ()))]

    def positions_with_id(self, cache_id: str | None) -> tuple[int, ...]:
        """The positions of the caches holding this ID (normally one)."""
        return tuple(self._with_id.get(cache_id, ())) if cache_id else ()

    def match_counts(self, template: PodTemplate) -> dict[int, tuple[int, int]]:
        """Per cache position sharing anything with the pod: (exact images, partially matched images)."""
        counts = self._counts.get(template.images)
        if counts is None:
            positions = {position for ref in template.image_refs for position in self._family.get(ref.family_key, ())}
            exact, pairs = self.exact_counts(template), _image_pairs(template)
            counts = {position: (exact.get(position, 0), _partial(self.caches[position], pairs))
                      for position in positions}
            if len(self._counts) >= 4096:
                self._counts.clear()
            self._counts[template.images] = counts
        return dict(counts)


def _partial(cache: CacheView, pairs: list[tuple[str, str]]) -> int:
    """How many of a pod's images, as (normalised, family) pairs, the cache holds only as another tag or endpoint."""
    images, families, count = cache.image_set, cache.families, 0
    for image, family in pairs:
        if family in families and image not in images:
            count += 1
    return count


def _ranked(cache: CacheView) -> tuple[int, int, int, float, str] | None:
    """A cache as deciding reads it, whatever the pod: None when not Ready (never a candidate), else its usable window
    (whole microseconds: after the first, up to and including the second), size, -created and name."""
    if cache.phase != READY:
        return None
    usable_from, expires = cache.usable_window
    return usable_from, expires, cache.size_gib, -cache.created_seconds, cache.name


def _image_pairs(template: PodTemplate) -> list[tuple[str, str]]:
    """Each of the pod's images as (normalised, family), as _partial reads them."""
    return [(ref.normalised, ref.family_key) for ref in template.image_refs]


def _rank_key(cache: CacheView, exact: int, partial: int, storage: float) -> tuple:
    """Best first: more exact, more partial, size closest to storage, newest, then name."""
    return (-exact, -partial, abs(storage - cache.size_gib), -cache.created_seconds, cache.name)


def _is_candidate(cache: CacheView, storage: float, at: datetime) -> bool:
    """Usable at `at` and fits the storage: the checks of _rejection without the words, for the hot path."""
    return (
        cache.phase == "Ready"
        and (cache.usable_from is None or cache.usable_from < at)
        and (cache.expires is None or cache.expires >= at)
        and cache.size_gib <= storage
    )


def blockers(cache: CacheView, policy: MatchPolicy, at: datetime) -> list[str]:
    """Why this cache cannot serve the pod whatever images it holds: created later, not usable, too big."""
    reasons = []
    if not cache.existed_at(at):
        reasons.append(f"created after the pod ({format_time(cache.created)})")
    unusable = cache.unusable_reason(at)
    if unusable:
        reasons.append(unusable)
    if cache.size_gib > policy.storage_gib:
        reasons.append(f"{cache.size_gib} GiB does not fit the {policy.storage_gib:g} GiB temporary storage")
    return reasons


def _rejection(cache: CacheView, exact: int, image_count: int, policy: MatchPolicy, at: datetime) -> list[str]:
    """Every reason this cache is not a candidate for automatic matching; empty when it is one."""
    reasons = blockers(cache, policy, at)
    needed = policy.requirement(image_count)
    if exact < needed:
        if policy.perfect_match:
            reasons.append(f"{exact} of {image_count} images, perfect match needs {image_count}")
        elif policy.match_count is not None:
            reasons.append(f"{exact} of {image_count} images, match count request needs {needed}")
        else:
            reasons.append(f"holds none of the pod's {image_count} images exactly")
    return reasons


def _pulled_finding(template: PodTemplate, cache: CacheView, pinned: bool = False) -> list[Finding]:
    """Images the chosen cache lacks are pulled from the registry; a pin to a cache with none of them is a mistake."""
    missing = [ref.familiar for ref in template.image_refs if ref.normalised not in cache.image_set]
    if not missing:
        return []
    if pinned and len(missing) == len(template.image_refs):
        return [
            warning(
                "pin-holds-none",
                f"the pin to {cache.label} buys nothing: it holds none of the pod's images, so "
                f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} pulled, and the pin makes ECI ignore "
                "the automatic annotations that could find a cache holding them",
            )
        ]
    return [
        info(
            "images-pulled",
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not in {cache.name} and will be pulled",
        )
    ]


def _second_after(at: datetime) -> datetime:
    """The start of the second after `at`'s own."""
    try:
        return at.replace(microsecond=0) + timedelta(seconds=1)
    except OverflowError:  # the last second of year 9999
        return at.replace(microsecond=999999)


def own_auto_cache_name(template: PodTemplate) -> str | None:
    """The name of the cache ECI auto-creates when this pod misses: auto-create-for-<its ECI instance ID>
    (docs/eci-model.md 3.5, 4.2); None before ECI wrote the instance ID."""
    instance = template.annotations.get(INSTANCE_ID)
    return AUTO_CREATED_PREFIX + instance if isinstance(instance, str) and instance else None


def _same_second(template: PodTemplate, cache: CacheView, at: datetime) -> Finding | None:
    """A warning when the cache was created or became Ready in `at`'s own second, neither before nor after it.

    Timestamps have one-second precision: from the outside the pod and the cache cannot be ordered, and
    ECI, deciding on its live state, may have seen the cache. The pod's own auto-created cache comes after.
    """
    after = _second_after(at)
    if cache.name == own_auto_cache_name(template):
        return None
    for moment, what in ((cache.ready_since, "became Ready"), (cache.created, "was created")):
        if moment is not None and at <= moment < after:
            return warning(
                "same-second",
                f"{cache.label} {what} in the pod's own second ({format_time(moment)}): ECI may have used it; "
                "the prediction cannot order the two and counts it as after the pod",
            )
    return None


def _unready_then(cache: CacheView, at: datetime) -> str:
    """How a pinned cache that ECI could not use stood at the pod's creation `at`, not as it is now."""
    if cache.phase == "Ready" and cache.ready_since is not None:
        return f"was not Ready yet when the pod was created (Ready since {format_time(cache.ready_since)})"
    now = f"; it is {cache.phase} now" if cache.phase else ""
    return f"was not Ready when the pod was created{now}"


def _late(cache: CacheView, at: datetime) -> bool:
    """Ready now, but created or Ready at or after `at`: the cheap test before _same_second."""
    return cache.phase == "Ready" and cache.usable_from is not None and cache.usable_from >= at


def decide(template: PodTemplate, index: CacheIndex, at: datetime) -> Decision:
    """What ECI does with this pod when it is created at `at`, given these caches."""
    policy = template.policy
    findings = tuple(template.findings) + tuple(policy.findings)
    if template.eci and policy.mode != "pin" and policy.mode != "off":  # automatic matching: the hot path
        storage = policy.storage_gib
        best, best_key, late = index.best_candidate(template, policy.requirement(len(template.images)), storage, at)
        unordered = tuple(_unordered_rivals(template, index, late, best_key, storage, at)) if late else ()
        if best is None:
            return Decision("miss", None, _MISSED, True, template.images, policy, findings + unordered)
        extra = (*_pulled_finding(template, best), *unordered)
        hit = (eci_event("SuccessfulHitImageCache", best.id),)
        return Decision("hit", best, hit, False, template.images, policy, findings + extra)

    def result(outcome: str, cache=None, events=(), auto=False, extra=(), pinned_name=None) -> Decision:
        return Decision(
            outcome, cache, tuple(events), auto, template.images, policy, findings + tuple(extra), pinned_name
        )

    if not template.eci:
        return result("not-eci")
    if policy.mode == "off":
        return result("off")
    cache = index.by_id.get(policy.pin_id)
    unordered = [_same_second(template, cache, at)] if cache is not None and _late(cache, at) else []
    unordered = [finding for finding in unordered if finding is not None]
    if cache is None or cache.is_expired(at) or not cache.existed_at(at):
        return result(
            "fail",
            events=[eci_event("ImageCacheNotFound", policy.pin_id)],
            extra=[
                error_finding("pin-not-found", f"no ImageCache has ID {policy.pin_id}: pod creation fails"),
                *unordered,
            ],
        )
    if not cache.is_usable(at):
        return result(
            "fail",
            events=[eci_event("ImageCacheNotComplete", policy.pin_id)],
            pinned_name=cache.name,
            extra=[
                error_finding("pin-not-ready", f"{cache.name} {_unready_then(cache, at)}: pod creation fails"),
                *unordered,
            ],
        )
    return result(
        "hit",
        cache,
        [eci_event("SuccessfulHitImageCache", cache.id)],
        extra=_pulled_finding(template, cache, pinned=True),
    )


def _unordered_rivals(
    template: PodTemplate,
    index: CacheIndex,
    late: list[tuple[int, int]],
    best_key: tuple | None,
    storage: float,
    at: datetime,
) -> list[Finding]:
    """Same-second warnings for the late caches (position, exact images) that would have won before the pod."""
    findings = []
    after = _second_after(at)
    for position, exact in late:
        cache = index.caches[position]
        if not _is_candidate(cache, storage, after):
            continue
        key = _rank_key(cache, exact, index.partial_count(template, position), storage)
        finding = _same_second(template, cache, at) if best_key is None or key < best_key else None
        if finding is not None:
            findings.append(finding)
    return findings


def _match_details(template: PodTemplate, cache: CacheView) -> list[str]:
    """Plain words for the pod's images this cache holds only partly."""
    details = []
    for ref in template.image_refs:
        kinds = {}
        for cached in cache.image_refs:
            kind = compare_images(ref, cached)
            if kind:
                kinds.setdefault(kind, cached)
        if "exact" in kinds:
            continue
        if "tag" in kinds:
            details.append(f"{ref.familiar}: same repository, {kinds['tag'].version} instead of {ref.version}")
        elif "endpoint" in kinds:
            other = kinds["endpoint"]
            if other.version == ref.version:
                details.append(f"{ref.familiar}: written as {other.normalised} it would match")
            else:
                details.append(f"{ref.familiar}: same repository at {other.registry}, {other.version}")
    return details


def _outranked_reason(cache: CacheView, key: tuple, chosen: CacheView, chosen_key: tuple, storage: float) -> str:
    """Why the chosen cache ranks above this one, naming the first criterion that differs."""
    if key[0] != chosen_key[0]:
        return f"fewer exact matches than {chosen.name} ({-key[0]} vs {-chosen_key[0]})"
    if key[1] != chosen_key[1]:
        return f"same exact matches as {chosen.name} but fewer same-repository matches ({-key[1]} vs {-chosen_key[1]})"
    if key[2] != chosen_key[2]:
        further = key[2] - chosen_key[2]
        return f"same match degree as {chosen.name} but {further:g} GiB further from the {storage:g} GiB storage"
    if key[3] != chosen_key[3]:
        return f"same match degree and size as {chosen.name} but older than {chosen.name}"
    return f"same match degree, size and age as {chosen.name}, which sorts first by name"


def explain(
    template: PodTemplate,
    index: CacheIndex,
    at: datetime,
    related_only: bool = False,
    decision: Decision | None = None,
) -> Explanation:
    """The decision with a verdict and reasons for every cache; computed for one pod on demand.

    `related_only` leaves out the caches that share no image repository with the pod and are not the one it pins:
    they can never be chosen, and their verdict is always that they hold none of its images. `decision`, when
    given, must be `decide(template, index, at)` already computed (a store's), so it is not decided twice.
    """
    if decision is None:
        decision = decide(template, index, at)
    policy = decision.policy
    counts = index.match_counts(template)
    image_count = len(template.images)
    chosen = decision.cache
    chosen_counts = counts.get(index.position(chosen), (0, 0)) if chosen else (0, 0)
    chosen_key = _rank_key(chosen, *chosen_counts, policy.storage_gib) if chosen else None
    verdicts = []
    if related_only:
        shown = sorted({*counts, *index.positions_with_id(policy.pin_id)})
    else:
        shown = range(len(index.caches))
    for position in shown:
        cache = index.caches[position]
        exact, partial = counts.get(position, (0, 0))
        details = _match_details(template, cache) if partial else []
        degree = f"{exact} of {image_count} images exact" + (f", {partial} same repository" if partial else "")
        if cache is chosen:
            why = f"pinned by {policy.pin_annotation}" if policy.mode == "pin" else "best candidate"
            verdicts.append(
                (0, (), CacheVerdict(cache.name, cache.id, "chosen", exact, partial, (why, degree, *details)))
            )
            continue
        if not template.eci:
            reasons = ["not an ECI pod: image caches do not apply"]
        elif policy.mode == "pin":
            reasons = [f"the pod is pinned to {policy.pin_id}"]
            if cache.id == policy.pin_id:
                reasons = [cache.unusable_reason(at) or "pinned, but not usable at the pod's creation"]
        elif policy.mode == "off":
            reasons = [f'automatic matching is off ({AUTO_IMC}: "false")']
        else:
            reasons = _rejection(cache, exact, image_count, policy, at)
        if reasons or chosen_key is None:
            reasons = reasons or ["no candidate"]
            verdicts.append(
                (
                    2,
                    (-exact, -partial, cache.name),
                    CacheVerdict(cache.name, cache.id, "rejected", exact, partial, (*reasons, degree, *details)),
                )
            )
            continue
        key = _rank_key(cache, exact, partial, policy.storage_gib)
        reason = _outranked_reason(cache, key, chosen, chosen_key, policy.storage_gib)
        verdicts.append(
            (1, key, CacheVerdict(cache.name, cache.id, "outranked", exact, partial, (reason, degree, *details)))
        )
    verdicts.sort(key=lambda item: (item[0], item[1]))
    return Explanation(template, decision, tuple(verdict for _, _, verdict in verdicts))
