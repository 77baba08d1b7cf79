"""Coverage and cache suggestions, checked against the engine's own decisions."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from bench.workload import image_pool, make_caches, make_pods
from core.caches import cache_from_object
from core.coverage import held_images, missed_needs, suggest_cache, uncovered_images
from core.matching import CacheIndex, decide, explain
from core.policy import IMC_ID as PIN
from core.workloads import templates_from
from tests.fixtures.engine.builders import pod as eci_pod

AT = datetime(2026, 11, 28, 12, tzinfo=UTC)


def _pod(name: str, images: list[str], annotations: dict | None = None) -> dict:
    return eci_pod(images, name=name, annotations=annotations, pull_policy=None)


def _cache(name: str, images: list[str], phase: str = "Ready") -> dict:
    return {
        "kind": "ImageCache",
        "metadata": {"name": name, "creationTimestamp": "2026-11-01T00:00:00Z"},
        "spec": {"images": images},
        "status": {"imageCacheId": f"imc-{name}", "phase": phase},
    }


def _pairs(pods: list[dict], index: CacheIndex) -> list:
    templates = [templates_from(pod)[0] for pod in pods]
    return [(template, decide(template, index, AT)) for template in templates]


def test_uncovered_images_counts_pods_per_image_not_held_by_a_ready_cache():
    index = CacheIndex(
        [cache_from_object(_cache("a", ["nginx:1"])), cache_from_object(_cache("b", ["redis:7"], "Creating"))]
    )
    pods = [_pod("p1", ["nginx:1", "redis:7"]), _pod("p2", ["redis:7"]), _pod("p3", ["redis:7", "busybox"])]
    demand = {item.image: item for item in uncovered_images(_pairs(pods, index), held_images(index.caches, AT))}
    assert set(demand) == {"docker.io/library/redis:7", "docker.io/library/busybox:latest"}
    assert demand["docker.io/library/redis:7"].pods == 3
    assert demand["docker.io/library/redis:7"].missed_pods == 2  # p1 hits cache a through nginx
    assert demand["docker.io/library/busybox:latest"].pods == 1


def test_suggestion_respects_perfect_match_and_the_image_budget():
    index = CacheIndex([])
    pods = [_pod(f"web{i}", ["nginx:1", "sidecar:2"], {"k8s.aliyun.com/imc-perfect-match": "true"}) for i in range(3)]
    pods += [_pod("solo", ["lonely:1"])]
    suggestion = suggest_cache(missed_needs(_pairs(pods, index)), max_images=2)
    assert set(suggestion.images) == {"docker.io/library/nginx:1", "docker.io/library/sidecar:2"}
    assert (suggestion.pods_covered, suggestion.pods_missed) == (3, 4)


def test_unsatisfiable_pods_are_not_counted_as_coverable():
    pods = [_pod("p", ["a:1"], {"k8s.aliyun.com/imc-match-count-request": "3"})]
    suggestion = suggest_cache(missed_needs(_pairs(pods, CacheIndex([]))))
    assert suggestion.images == ()
    assert suggestion.pods_covered == 0 and suggestion.pods_missed == 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_suggested_cache_turns_exactly_the_claimed_misses_into_hits(seed):
    rng = random.Random(seed)
    pool = image_pool(120, rng)
    index = CacheIndex(cache_from_object(obj) for obj in make_caches(15, pool, rng))
    pairs = _pairs(make_pods(400, pool, rng), index)
    suggestion = suggest_cache(missed_needs(pairs))
    assert 0 < len(suggestion.images) <= 20
    added = cache_from_object(_cache("suggested", list(suggestion.images)))
    with_suggestion = CacheIndex([*index.caches, added])
    turned = sum(1 for t, d in pairs if d.outcome == "miss" and decide(t, with_suggestion, AT).outcome == "hit")
    assert turned == suggestion.pods_covered > 0


def seeded_index(seed: int, caches: int) -> tuple[random.Random, list[str], list[dict], CacheIndex]:
    """A seeded generator, its image pool, that many cache objects and their index."""
    rng = random.Random(seed)
    pool = image_pool(80, rng)
    objects = make_caches(caches, pool, rng)
    return rng, pool, objects, CacheIndex(cache_from_object(obj) for obj in objects)


@pytest.mark.parametrize("seed", [4, 5])
def test_an_index_updated_in_place_decides_like_a_fresh_one(seed):
    rng, pool, objects, index = seeded_index(seed, 30)
    templates = [templates_from(pod)[0] for pod in make_pods(200, pool, rng)]
    for _ in range(40):
        for template in templates[:20]:  # counts kept for these pods' images must not outlive a change
            index.match_counts(template)
        position = rng.randrange(len(objects))
        changed = {
            **objects[position],
            "spec": {**objects[position]["spec"], "images": rng.sample(pool, 4)},
            "status": {**objects[position]["status"], "phase": rng.choice(["Ready", "Creating"])},
        }
        if rng.random() < 0.2:  # two caches sharing an ID: the first keeps it
            changed["status"]["imageCacheId"] = objects[0]["status"]["imageCacheId"]
        objects[position] = changed
        index.replace(index.caches[position], cache_from_object(changed))
    fresh = CacheIndex(cache_from_object(obj) for obj in objects)
    assert [c.name for c in index.caches] == [c.name for c in fresh.caches]
    assert {k: v.name for k, v in index.by_id.items()} == {k: v.name for k, v in fresh.by_id.items()}
    for template in templates:
        mine, theirs = decide(template, index, AT), decide(template, fresh, AT)
        assert (mine.outcome, mine.cache_ref) == (theirs.outcome, theirs.cache_ref)
        assert index.match_counts(template) == fresh.match_counts(template)
        pin = template.policy.pin_id or objects[0]["status"]["imageCacheId"]
        assert sorted(index.positions_with_id(pin)) == sorted(fresh.positions_with_id(pin))


def test_match_counts_are_the_callers_own():
    rng, pool, _, index = seeded_index(8, 30)
    template = next(t for t in (templates_from(pod)[0] for pod in make_pods(50, pool, rng)) if index.match_counts(t))
    expected = index.match_counts(template)
    index.match_counts(template).clear()  # a caller's change to its copy
    assert index.match_counts(template) == expected


@pytest.mark.parametrize("seed", [6, 7])
def test_related_only_leaves_out_exactly_the_caches_sharing_nothing_and_not_pinned(seed):
    rng, pool, objects, index = seeded_index(seed, 40)
    pods = make_pods(100, pool, rng)
    for pod in pods[:20]:
        pod["metadata"].setdefault("annotations", {})[PIN] = objects[rng.randrange(40)]["status"]["imageCacheId"]
    for template in (templates_from(pod)[0] for pod in pods):
        full = explain(template, index, AT)
        related = explain(template, index, AT, related_only=True)
        assert related.decision == full.decision
        kept = [verdict for verdict in full.candidates
                if verdict.exact or verdict.partial or (verdict.id and verdict.id == template.policy.pin_id)]
        assert related.candidates == tuple(kept)
