"""Plain sentences about a decision: a hit's coverage, the closest cache of a miss, what a failed pin saw."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.caches import CacheView
from core.images import parse_image
from core.matching import CacheIndex, Decision, blockers
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
    """The cache holding the most of the pod's images exactly (usable ones first), or None if none holds any."""
    policy = template.policy
    best: tuple | None = None
    for position, exact in index.exact_counts(template).items():
        cache = index.caches[position]
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


def miss_text(decision: Decision, closest: ClosestCache | None) -> str:
    """Why no cache qualified, naming the closest cache and what it lacks, and what ECI does instead."""
    size = f" of {decision.auto_cache_size_gib} GiB" if decision.auto_create else ""
    why = f"No cache qualifies ({closest.text()})" if closest else "No cache holds any of the pod's images"
    return f"{why}: the pod pulls its images and ECI auto-creates a cache{size} for them."


def failure_text(decision: Decision, index: CacheIndex, created: datetime, now: datetime) -> str:
    """What ECI saw of the pinned cache when the pod was created, what a new pod would get, and what to do."""
    pin = decision.pinned_id
    cache = index.by_id.get(pin) if pin else None
    if cache is None:
        return (f"No ImageCache has ID {pin}, so pod creation fails. Pin the ID of a Ready cache "
                "(see Image caches), or remove the pin to let ECI match automatically.")
    then = _state_then(cache, created)
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
                  now: datetime | None = None) -> str:
    """The decision in a sentence or two: `at` is when ECI decided (the pod's creation), `now` is today."""
    now = now or at
    if decision.outcome == "hit":
        return hit_text(decision)
    if decision.outcome == "miss":
        return miss_text(decision, closest_cache(template, index, at))
    if decision.outcome == "fail":
        return failure_text(decision, index, at, now)
    if decision.outcome == "off":
        return "Automatic matching is off and nothing is pinned: the pod pulls its images."
    return "Not an ECI pod: image caches do not apply."
