"""Coverage: which images no Ready cache holds, and a cache that would turn the most misses into hits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from core.caches import MAX_IMAGES
from core.matching import CacheIndex, Decision
from core.workloads import PodTemplate


@dataclass(frozen=True)
class ImageDemand:
    """An image the pods use and no usable cache holds, with how many ECI pods use it."""

    image: str
    pods: int
    missed_pods: int


@dataclass(frozen=True)
class CacheSuggestion:
    """Images for a new cache, and how many of the missed pods it would turn into hits."""

    images: tuple[str, ...]
    pods_covered: int
    pods_missed: int


def uncovered_images(
    pairs: Iterable[tuple[PodTemplate, Decision]], index: CacheIndex, at: datetime
) -> list[ImageDemand]:
    """Images of ECI pods that no usable cache holds, most-used first."""
    held = {image for cache in index.caches if cache.is_usable(at) for image in cache.images}
    pods: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    for template, decision in pairs:
        if not template.eci:
            continue
        for image in template.images:
            if image not in held:
                pods[image] += 1
                if decision.outcome == "miss":
                    missed[image] += 1
    return [
        ImageDemand(image, count, missed[image])
        for image, count in sorted(pods.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def suggest_cache(pairs: Iterable[tuple[PodTemplate, Decision]], max_images: int = MAX_IMAGES) -> CacheSuggestion:
    """Greedily pick at most `max_images` images that let the most missed pods meet their requirement."""
    groups: Counter[tuple[frozenset[str], int]] = Counter()
    popularity: Counter[str] = Counter()
    missed = 0
    for template, decision in pairs:
        if decision.outcome != "miss" or not template.images:
            continue
        missed += 1
        need = min(decision.policy.requirement(len(template.images)), len(template.images))
        if decision.policy.match_count and decision.policy.match_count > len(template.images):
            continue  # unsatisfiable: no cache can help this pod
        groups[(frozenset(template.images), need)] += 1
        popularity.update(template.images)
    chosen: list[str] = []
    covered = 0
    open_groups = dict(groups)
    while open_groups and len(chosen) < max_images:
        picked = _next_images(open_groups, chosen, popularity, max_images - len(chosen))
        if not picked:
            break
        chosen.extend(picked)
        for key in [key for key in open_groups if key[1] <= len(key[0].intersection(chosen))]:
            covered += open_groups.pop(key)
    return CacheSuggestion(tuple(chosen), covered, missed)


def _next_images(
    open_groups: dict[tuple[frozenset[str], int], int], chosen: list[str], popularity: Counter, budget: int
) -> list[str]:
    """The next images to add: one image finishing the most pods, or a group's missing images, by pods per image."""
    single_gain: Counter[str] = Counter()
    best_group: tuple[float, list[str]] | None = None
    for (images, need), weight in open_groups.items():
        missing = images.difference(chosen)
        cost = need - (len(images) - len(missing))
        if cost == 1:
            single_gain.update(dict.fromkeys(missing, weight))
        elif cost <= budget:
            ratio = weight / cost
            if best_group is None or ratio > best_group[0]:
                best_group = (ratio, sorted(missing, key=lambda image: (-popularity[image], image))[:cost])
    best_single = max(single_gain.items(), key=lambda kv: (kv[1], popularity[kv[0]], kv[0]), default=None)
    if best_single and (best_group is None or best_single[1] >= best_group[0]):
        return [best_single[0]]
    return best_group[1] if best_group else []
