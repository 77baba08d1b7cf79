"""What to cache next: the images no Ready cache holds, and one cache covering the most missed pods."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from core.caches import MAX_IMAGES


@dataclass(frozen=True)
class PodNeed:
    """Pods sharing one image set and one requirement (how many images a cache must hold)."""

    images: frozenset[str]
    required: int
    pods: int


def missed_needs(pods: Mapping[str, Any], held: set[str] | frozenset[str] = frozenset()) -> list[PodNeed]:
    """The image needs of ECI pods that missed (by ECI's word when known) and still lack a Ready cache."""
    grouped: Counter[tuple[frozenset[str], int]] = Counter()
    for record in pods.values():
        decision = record.decision
        outcome = record.actual.outcome if record.actual is not None else decision.outcome
        if outcome != "miss" or not decision.images:
            continue
        images = frozenset(decision.images)
        if images <= held:
            continue  # a Ready cache (often the one ECI auto-created) holds them all now
        grouped[(images, decision.policy.requirement(len(images)))] += 1
    return [PodNeed(images, required, count) for (images, required), count in grouped.items()]


def uncached_images(pods: Mapping[str, Any], held: set[str], top: int = 15) -> pd.DataFrame:
    """The images of ECI pods that no Ready cache holds, by how many pods use them."""
    counts: Counter[str] = Counter()
    for record in pods.values():
        decision = record.decision
        if decision.outcome in ("not-eci",):
            continue
        counts.update(image for image in decision.images if image not in held)
    rows = counts.most_common(top)
    return pd.DataFrame(rows, columns=["Image", "Pods"])


@dataclass(frozen=True)
class CacheSuggestion:
    """Images for one new cache, and how many missed pods it would serve."""

    images: tuple[str, ...]
    pods_covered: int
    pods_missed: int


def suggest_cache(needs: list[PodNeed], limit: int = MAX_IMAGES) -> CacheSuggestion:
    """Greedily choose at most `limit` images that satisfy the most missed pods."""
    total = sum(need.pods for need in needs)
    chosen: list[str] = []
    chosen_set: set[str] = set()
    open_needs = [need for need in needs if need.required <= limit]
    while len(chosen) < limit and open_needs:
        # Each open need spreads its pods over the images it still lacks: the best image brings pods closest.
        score: Counter[str] = Counter()
        for need in open_needs:
            missing = need.images - chosen_set
            still = need.required - (len(need.images) - len(missing))
            for image in missing:
                score[image] += need.pods / still
        if not score:
            break
        top = max(score.values())
        tied = [image for image, value in score.items() if value == top]
        # The tie-break key is built only for the images sharing the top score (usually one), not for every image.
        best = tied[0] if len(tied) == 1 else max(tied, key=_reverse_key)
        chosen.append(best)
        chosen_set.add(best)
        room = limit - len(chosen)
        open_needs = [need for need in open_needs
                      if 0 < need.required - len(need.images & chosen_set) <= room]
    covered = sum(need.pods for need in needs if len(need.images & chosen_set) >= need.required)
    return CacheSuggestion(tuple(chosen), covered, total)


def _reverse_key(image: str) -> tuple[int, ...]:
    """A tie-break for max(): the alphabetically first image, except that of two images where one is a prefix of
    the other the longer wins (a shorter tuple compares smaller)."""
    return tuple(-ord(char) for char in image)

