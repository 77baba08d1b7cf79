"""Coverage: which images no Ready cache holds, and a cache that would turn the most misses into hits
(docs/eci-model.md 6.5)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from core.caches import MAX_IMAGES, CacheView
from core.matching import Decision
from core.workloads import PodTemplate


@dataclass(frozen=True)
class ImageDemand:
    """An image the pods use and no usable cache holds, with how many ECI pods use it."""

    image: str
    pods: int
    missed_pods: int


@dataclass(frozen=True)
class PodNeed:
    """Missed pods sharing one image set and one requirement (how many of the images a cache must hold)."""

    images: frozenset[str]
    required: int
    pods: int = 1


@dataclass(frozen=True)
class CacheSuggestion:
    """Images for a new cache, and how many of the missed pods it would turn into hits."""

    images: tuple[str, ...]
    pods_covered: int
    pods_missed: int


def held_images(caches: Iterable[CacheView], at: datetime) -> set[str]:
    """Every normalised image some usable (Ready, unexpired) cache holds at `at`."""
    return {image for cache in caches if cache.is_usable(at) for image in cache.images}


def uncovered_images(pairs: Iterable[tuple[PodTemplate, Decision]], held: Collection[str]) -> list[ImageDemand]:
    """Images of ECI pods that no usable cache holds (`held_images`), most-used first."""
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


def missed_needs(pairs: Iterable[tuple[PodTemplate, Decision]]) -> list[PodNeed]:
    """The needs of the pods the engine predicts to miss, grouped by image set and requirement."""
    grouped: Counter[tuple[frozenset[str], int]] = Counter()
    for template, decision in pairs:
        if decision.outcome == "miss" and template.images:
            grouped[(frozenset(template.images), decision.policy.requirement(len(template.images)))] += 1
    return [PodNeed(images, required, pods) for (images, required), pods in grouped.items()]


def suggest_cache(needs: Iterable[PodNeed], max_images: int = MAX_IMAGES) -> CacheSuggestion:
    """Greedily pick at most `max_images` images that let the most missed pods meet their requirement."""
    groups: Counter[tuple[frozenset[str], int]] = Counter()
    popularity: Counter[str] = Counter()
    missed = 0
    for need in needs:
        missed += need.pods
        if need.required > len(need.images):
            continue  # unsatisfiable: no cache can help these pods
        groups[(need.images, need.required)] += need.pods
        for image in need.images:
            popularity[image] += need.pods
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
