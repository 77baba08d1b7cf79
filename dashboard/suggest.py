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
