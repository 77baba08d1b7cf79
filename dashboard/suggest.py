"""What to cache next, for the dashboard: its pod records adapted to the engine's coverage (`core/coverage.py`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from typing import Any

import pandas as pd

from core.coverage import PodNeed, uncovered_images


def missed_needs(pods: Mapping[str, Any], held: Collection[str] = frozenset()) -> list[PodNeed]:
    """The image needs of ECI pods that missed (by ECI's word when known) and still lack a Ready cache."""
    grouped: Counter[tuple[frozenset[str], int]] = Counter()
    for record in pods.values():
        decision = record.decision
        outcome = record.actual.outcome if record.actual is not None else decision.outcome
        if outcome != "miss" or not decision.images:
            continue
        images = frozenset(decision.images)
        if images.issubset(held):
            continue  # a Ready cache (often the one ECI auto-created) holds them all now
        grouped[(images, decision.policy.requirement(len(images)))] += 1
    return [PodNeed(images, required, count) for (images, required), count in grouped.items()]


def uncached_images(pods: Mapping[str, Any], held: Collection[str], top: int = 15) -> pd.DataFrame:
    """The images of ECI pods that no Ready cache holds, by how many pods use them."""
    demand = uncovered_images(((record.template, record.decision) for record in pods.values()), held)
    return pd.DataFrame([(item.image, item.pods) for item in demand[:top]], columns=["Image", "Pods"])


UNSUGGESTED_BECAUSE = {  # why a pod's image that no Ready cache holds is not in the suggested cache, by its outcome
    "fail": "failed: pinned to a cache that was missing or not Ready, so ECI auto-creates nothing for them",
    "off": "have matching off: they pull whatever caches there are",
    "hit": "hit a cache that lacks it, and pull it",
    "miss": "missed; the suggested cache (at most 20 images) serves more pods with others",
    "served": "missed; the suggested cache serves them through their other images",
}


def unsuggested(pods: Mapping[str, Any], images: Collection[str], suggested: Collection[str]) -> dict[str, str]:
    """For each image of `images` not in the `suggested` cache: why, from what its ECI pods did (ECI's word when it
    reported, else the prediction), e.g. "1 pod failed: pinned to a cache …"."""
    chosen = set(suggested)
    wanted = set(images) - chosen
    outcomes: dict[str, Counter[str]] = {image: Counter() for image in wanted}
    for record in pods.values():
        decision = record.decision
        if decision.outcome == "not-eci":
            continue
        outcome = record.actual.outcome if record.actual is not None else decision.outcome
        if outcome == "miss" and len(chosen.intersection(decision.images)) >= \
                decision.policy.requirement(len(decision.images)):
            outcome = "served"
        for image in wanted.intersection(decision.images):
            outcomes[image][outcome] += 1
    reasons = {}
    for image in images:
        if image in wanted:
            parts = [f"{count:,} pod{'' if count == 1 else 's'} {UNSUGGESTED_BECAUSE.get(outcome, outcome)}"
                     for outcome, count in outcomes[image].most_common()]
            reasons[image] = "; ".join(parts) or "no ECI pod uses it now"
    return reasons
