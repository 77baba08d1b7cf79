"""Plain sentences about a decision: a hit's coverage, the closest cache of a miss and what ECI did about it, what a
failed pin saw; and the cache worth creating after a miss."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from core.caches import MAX_SIZE_GIB, MIN_SIZE_GIB, CacheView
from core.images import parse_image
from core.matching import CacheIndex, Decision, blockers, decide, own_auto_cache_name
from core.timeutil import format_time
from core.workloads import PodTemplate

LABELS = {"hit": "Hit", "miss": "Miss", "fail": "Fail", "off": "Off", "not-eci": "Not ECI"}


def cached_images(decision: Decision) -> tuple[int, int]:
    """(images the chosen cache holds, images of the pod); (0, n) when no cache was chosen."""
    cache = decision.cache
    held = sum(1 for image in decision.images if image in cache.image_set) if cache is not None else 0
    return held, len(decision.images)


def coverage_text(held: int, total: int) -> str:
    """"1 of 2 images cached"."""
    return f"{held} of {total} image{'' if total == 1 else 's'} cached"


def outcome_label(decision: Decision) -> str:
    """The outcome in a word; a hit with its coverage: "Hit · 0 of 2 images cached"."""
    label = LABELS.get(decision.outcome, decision.outcome)
    if decision.outcome == "hit":
        return f"{label} · {coverage_text(*cached_images(decision))}"
    return label


def hit_text(decision: Decision) -> str:
    """What a hit gives the pod: which cache, which images are on disk and which are pulled."""
    cache = decision.cache
    assert cache is not None, "a hit has a cache"
    pinned = ", pinned" if decision.policy.mode == "pin" else ""
    used = f"ECI uses cache {cache.name} ({cache.id or 'no ID yet'}{pinned})"
    missing = [parse_image(image).familiar for image in decision.images if image not in cache.image_set]
    held, total = len(decision.images) - len(missing), len(decision.images)
    if not missing:
        return f"{used}: all of the pod's {total} images are already on disk." if total > 1 else (
            f"{used}: the pod's image is already on disk.")
    pulled = f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} pulled from the registry"
    if held == 0:
        return f"{used}, but it holds none of the pod's {total} images: {pulled}."
    return f"{used}: {held} of {total} images are on disk; {pulled}."


@dataclass(frozen=True)
class ClosestCache:
    """The cache that came nearest to serving a pod that missed, and what kept it from serving."""

    name: str
    exact: int
    total: int
    missing: tuple[str, ...]  # the pod's images it does not hold exactly
    needed: int  # exact images the pod's policy asks for
    blockers: tuple[str, ...]  # reasons beyond images: not Ready, too big, created later

    def text(self) -> str:
        """"closest: nginx-base, 1 of 2 exact; missing busybox:1.30"."""
        parts = [f"closest: {self.name}, {self.exact} of {self.total} exact"]
        if self.exact < self.needed and self.needed > 1:
            parts[0] += f" (the pod needs {self.needed})"
        if self.missing:
            parts.append(f"missing {', '.join(self.missing)}")
        parts.extend(self.blockers)
        return "; ".join(parts)


def closest_cache(template: PodTemplate, index: CacheIndex, at: datetime) -> ClosestCache | None:
    """Of the caches that existed at the pod's creation `at`, the one holding the most of its images exactly (usable
    ones first), or None if none holds any. The pod's own auto-created cache came after it, because of its miss."""
    policy = template.policy
    own = own_auto_cache_name(template)
    best: tuple | None = None
    for position, exact in index.exact_counts(template).items():
        cache = index.caches[position]
        if not cache.existed_at(at) or cache.name == own:
            continue
        blocked = blockers(cache, policy, at)
        key = (-exact, len(blocked), -index.partial_count(template, position), cache.name)
        if best is None or key < best[0]:
            best = (key, cache, exact, blocked)
    if best is None:
        return None
    _, cache, exact, blocked = best
    missing = tuple(ref.familiar for ref in template.image_refs if ref.normalised not in cache.image_set)
    total = len(template.images)
    return ClosestCache(cache.name, exact, total, missing, policy.requirement(total), tuple(blocked))


def images_to_cache(template: PodTemplate, closest: ClosestCache | None) -> tuple[str, ...]:
    """The images a new cache should hold so the pod hits: the closest cache's missing ones if they suffice."""
    every = tuple(ref.familiar for ref in template.image_refs)
    if closest is None or not closest.missing:
        return every
    return closest.missing if len(closest.missing) >= template.policy.requirement(len(every)) else every


def miss_text(decision: Decision, closest: ClosestCache | None, response: str | None = None) -> str:
    """Why no cache qualified, naming the closest cache and what it lacks, and what ECI does instead: with
    `response` (`auto_response`), what ECI did about this miss."""
    if response:
        why = (f"No cache qualified when the pod was created ({closest.text()})" if closest
               else "No cache held any of the pod's images when it was created")
        return f"{why}: the pod pulled its images. {response}"
    size = f" of {decision.auto_cache_size_gib} GiB" if decision.auto_create else ""
    why = f"No cache qualifies ({closest.text()})" if closest else "No cache holds any of the pod's images"
    return f"{why}: the pod pulls its images and ECI auto-creates a cache{size} for them."


def own_auto_cache(template: PodTemplate, index: CacheIndex) -> CacheView | None:
    """The cache ECI auto-created because this pod missed (auto-create-for-<its instance ID>), if the index has it."""
    name = own_auto_cache_name(template)
    return next((cache for cache in index.caches if cache.name == name), None) if name else None


def auto_response(template: PodTemplate, index: CacheIndex, now: datetime) -> str | None:
    """What ECI did about the pod's miss, from its own auto-created cache as it is `now` in `index` (the caches
    now): "ECI auto-created auto-create-for-eci-…; Ready since 16:26:05 UTC: new pods of this workload will hit it."
    None when there is no such cache."""
    cache = own_auto_cache(template, index)
    if cache is None:
        return None
    if cache.is_usable(now):
        served = decide(template, index, now).cache
        future = ("new pods of this workload will hit it" if served is not None and served.name == cache.name
                  else f"new pods of this workload will hit {served.name}" if served is not None
                  else "new pods of this workload still miss")
        return f"ECI auto-created {cache.name}; Ready since {_clock(cache.usable_from, now)}: {future}."
    if cache.phase in ("Failed", "UpdateFailed"):
        return f"ECI auto-created {cache.name}, but it is {cache.phase}: new pods of this workload will miss too."
    if cache.phase == "Ready":  # expired
        return f"ECI auto-created {cache.name}; it is {cache.unusable_reason(now)}: new pods of this workload miss."
    return (f"ECI is auto-creating {cache.name} ({cache.phase or 'no phase yet'}): new pods of this workload will "
            "hit it once it is Ready.")


@dataclass(frozen=True)
class CacheProposal:
    """A cache worth creating after a miss: its images (as the pod names them) and its size."""

    images: tuple[str, ...]
    size_gib: int


def cache_to_create(template: PodTemplate, decision: Decision, closest: ClosestCache | None, index: CacheIndex,
                    now: datetime, image_bytes: int | None = None) -> CacheProposal | None:
    """The cache to create for a missed pod, or None when a usable cache in `index` (the caches now) already holds
    every image it would hold. Its size is what ECI gives a cache it auto-creates for the pod (docs/eci-model.md
    3.5), or twice the images' size when that is more (6.2), within the CRD's bounds."""
    images = images_to_cache(template, closest)
    if not images:
        return None
    wanted = {ref.normalised for ref in template.image_refs if ref.familiar in images}
    if any(cache.is_usable(now) and wanted <= cache.image_set for cache in index.caches):
        return None
    size = decision.auto_cache_size_gib
    if image_bytes:
        size = max(size, math.ceil(2 * image_bytes / 2**30))
    return CacheProposal(images, min(max(size, MIN_SIZE_GIB), MAX_SIZE_GIB))


def failure_text(decision: Decision, index: CacheIndex, created: datetime, now: datetime,
                 now_index: CacheIndex | None = None) -> str:
    """What ECI saw of the pinned cache when the pod was created (in `index`), what a new pod would get (from
    `now_index`, the caches now, by default `index`), and what to do."""
    pin = decision.pinned_id
    cache = (now_index or index).by_id.get(pin) if pin else None
    if cache is None:
        return (f"No ImageCache has ID {pin}, so pod creation fails. Pin the ID of a Ready cache "
                "(see Image caches), or remove the pin to let ECI match automatically.")
    then = _state_then(index.by_id.get(pin) or cache, created)
    if cache.is_usable(now) and cache.existed_at(now):
        return (f"{cache.name} {then} when the pod was created ({_clock(created, now)}); Ready since "
                f"{_clock(cache.ready_since or cache.created or now, now)}. A new pod would hit: delete this pod "
                "(or restart its workload) to create it again.")
    if cache.is_expired(now):
        return (f"{cache.name} ({pin}) expired {_clock(cache.expires, now)}, so every pod pinned to it fails. "
                "Pin another Ready cache, or create a new one with these images.")
    state = f"{cache.phase}, not Ready" if cache.phase else "not Ready"
    return (f"{cache.name} {then} when the pod was created ({_clock(created, now)}) and is still {state}: "
            f"pods pinned to it fail until it is Ready. Wait for it, or pin another Ready cache.")


def _state_then(cache: CacheView, at: datetime) -> str:
    """The pinned cache's state at the pod's creation, as far as its timestamps tell."""
    if not cache.existed_at(at):
        return f"did not exist yet (created {format_time(cache.created)})"
    if cache.is_expired(at):
        return "had expired"
    if cache.phase == "Ready":
        return "was not Ready yet"
    return f"was {cache.phase or 'not Ready'}"


def _clock(moment: datetime | None, now: datetime) -> str:
    """A time of day in UTC when it is today, else the full timestamp (RFC 3339, Z)."""
    if moment is None:
        return "unknown"
    return moment.strftime("%H:%M:%S UTC") if moment.date() == now.date() else format_time(moment)


def decision_text(template: PodTemplate, decision: Decision, index: CacheIndex, at: datetime,
                  now: datetime | None = None, now_index: CacheIndex | None = None) -> str:
    """The decision in a sentence or two: `at` is when ECI decided (the pod's creation) on the caches of `index`,
    `now` is today and `now_index` the caches today (by default `index`)."""
    now = now or at
    if decision.outcome == "hit":
        return hit_text(decision)
    if decision.outcome == "miss":
        response = auto_response(template, now_index or index, now)
        return miss_text(decision, closest_cache(template, index, at), response)
    if decision.outcome == "fail":
        return failure_text(decision, index, at, now, now_index)
    if decision.outcome == "off":
        return "Automatic matching is off and nothing is pinned: the pod pulls its images."
    return "Not an ECI pod: image caches do not apply."
