"""The cache suggestion's cheap tie-break chooses exactly what the per-image key tuple in max() chose."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from bench.workload import image_pool, make_caches, make_pods
from dashboard import suggest
from dashboard.cache_views import ready_images
from dashboard.suggest import CacheSuggestion, PodNeed
from kube.store import ClusterStore

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def reference_suggestion(needs: list[PodNeed], limit: int = 20) -> CacheSuggestion:
    """The same greedy rounds, choosing as before: max() over every image with a (score, reversed text) key."""
    chosen: list[str] = []
    candidates = [need for need in needs if need.required <= limit]
    while len(chosen) < limit and candidates:
        score: Counter[str] = Counter()
        for need in candidates:
            lacking = need.images.difference(chosen)
            for image in lacking:
                score[image] += need.pods / (need.required - len(need.images) + len(lacking))
        if not score:
            break
        chosen.append(max(score, key=lambda image: (score[image], tuple(-ord(char) for char in image))))
        candidates = [need for need in candidates
                      if 0 < need.required - len(need.images.intersection(chosen)) <= limit - len(chosen)]
    served = [need.pods for need in needs if len(need.images.intersection(chosen)) >= need.required]
    return CacheSuggestion(tuple(chosen), sum(served), sum(need.pods for need in needs))


@pytest.mark.parametrize("seed", [1, 2, 3, 11])
def test_suggestion_is_the_same_on_seeded_workloads(seed):
    rng = random.Random(seed)
    pool = image_pool(400, rng)
    store = ClusterStore(clock=lambda: NOW)
    store.replace("imagecaches", make_caches(100, pool, rng), "1")
    store.replace("pods", make_pods(2000, pool, rng), "1")
    snapshot = store.snapshot()
    needs = suggest.missed_needs(snapshot.pods, ready_images(snapshot.caches, NOW))
    assert needs
    for limit in (3, 20):
        assert suggest.suggest_cache(needs, limit) == reference_suggestion(needs, limit)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_suggestion_is_the_same_when_many_images_tie(seed):
    # Few images, one pod per need, all images required: most rounds have many images on the same score.
    rng = random.Random(seed)
    pool = image_pool(30, rng)
    needs = [PodNeed(frozenset(rng.sample(pool, rng.randint(1, 3))), rng.randint(1, 3), 1) for _ in range(300)]
    needs = [PodNeed(need.images, min(need.required, len(need.images)), need.pods) for need in needs]
    for limit in (1, 5, 20):
        assert suggest.suggest_cache(needs, limit) == reference_suggestion(needs, limit)


def test_a_tie_between_an_image_and_its_prefix_goes_to_the_longer_as_before():
    needs = [PodNeed(frozenset({"docker.io/library/nginx:1.2"}), 1, 2),
             PodNeed(frozenset({"docker.io/library/nginx:1.25"}), 1, 2),
             PodNeed(frozenset({"docker.io/library/redis:7"}), 1, 2)]
    chosen = suggest.suggest_cache(needs, limit=2)
    assert chosen == reference_suggestion(needs, limit=2)
    assert chosen.images == ("docker.io/library/nginx:1.25", "docker.io/library/nginx:1.2")
