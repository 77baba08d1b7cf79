"""Issue 24: `decide` reads each cache's rank parts and usable window precomputed by `CacheIndex`; it must choose the
cache a plain reading of the rules (docs/eci-model.md 3.3) chooses, also after `CacheIndex.replace`."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta

import pytest

from core.caches import CacheView, cache_from_object
from core.matching import CacheIndex, decide
from core.timeutil import format_time
from core.workloads import PodTemplate, pod_template

BASE = datetime(2026, 11, 28, 8, tzinfo=UTC)
REGISTRIES = ("registry.cn-hangzhou.aliyuncs.com", "registry-vpc.cn-hangzhou.aliyuncs.com", "docker.io", "ghcr.io")
PHASES = ("Ready", "Ready", "Ready", "Creating", "Failed", "Updating", "UpdateFailed", None)
# other tags and ACR endpoints of a few repositories: partial matches to rank by
POOL = [f"{REGISTRIES[n % 4]}/team/app{n % 9}:v{n % 3}" for n in range(40)]


def reference(template: PodTemplate, caches: tuple[CacheView, ...], at: datetime) -> CacheView | None:
    """The automatic choice read straight from the rules, over every cache: usable and fitting, enough exact
    images, then more exact, more partial, size closest to the storage, newest, name."""
    policy = template.policy
    storage, needed = policy.storage_gib, policy.requirement(len(template.images))
    best = None
    for cache in caches:
        usable = (
            cache.phase == "Ready"
            and all(moment < at for moment in (cache.created, cache.ready_since) if moment is not None)
            and (cache.expires is None or cache.expires >= at)
        )
        exact = sum(image in cache.image_set for image in template.images)
        if not usable or cache.size_gib > storage or exact < needed:
            continue
        partial = sum(
            ref.family_key in cache.families and ref.normalised not in cache.image_set for ref in template.image_refs
        )
        created = cache.created.timestamp() if cache.created else float("-inf")
        key = (-exact, -partial, abs(storage - cache.size_gib), -created, cache.name)
        if best is None or key < best[0]:
            best = (key, cache)
    return best[1] if best else None


def cache_object(rng: random.Random, name: str) -> dict:
    """An ImageCache in any phase, created and Ready at whole seconds near BASE, some expiring, some not."""
    created = BASE + timedelta(seconds=rng.randint(-5, 2) * 3600 + rng.choice([0, 0, 1, -1]))
    status: dict = {"imageCacheId": f"imc-{name}", "phase": rng.choice(PHASES)}
    if rng.random() < 0.6:
        status["lastUpdatedTime"] = format_time(created + timedelta(seconds=rng.choice([0, 1, 3600, 7200])))
    if rng.random() < 0.4:
        status["expireDateTime"] = format_time(BASE + timedelta(seconds=rng.randint(-2, 2) * 3600))
    return {
        "metadata": {"name": name, "creationTimestamp": format_time(created) if rng.random() < 0.95 else None},
        "spec": {"images": rng.sample(POOL, rng.randint(1, 6)), "imageCacheSize": rng.choice([20, 25, 30, 40])},
        "status": status,
    }


def pod_object(rng: random.Random, number: int) -> dict:
    """An ECI pod of 1-4 images asking for a match, a perfect match or a count, with or without extra storage."""
    annotations = rng.choice(
        [{}, {}, {"k8s.aliyun.com/imc-perfect-match": "true"}, {"k8s.aliyun.com/imc-match-count-request": "2"}]
    )
    if rng.random() < 0.3:
        annotations["k8s.aliyun.com/eci-extra-ephemeral-storage"] = rng.choice(["5Gi", "10Gi", "50Gi"])
    images = rng.sample(POOL, rng.randint(1, 4))
    return {
        "kind": "Pod",
        "metadata": {
            "name": f"pod-{number}",
            "namespace": "ns",
            "annotations": annotations,
            "labels": {"alibabacloud.com/eci": "true"},
        },
        "spec": {"containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]},
    }


def moments(rng: random.Random, count: int) -> list[datetime]:
    """Instants near BASE, on cache seconds, a second either side, or between them."""
    return [BASE + timedelta(seconds=rng.randint(-6, 3) * 3600 + rng.choice([0, 1, -1, 0.5])) for _ in range(count)]


@pytest.mark.parametrize("seed", range(4))
def test_decide_chooses_what_the_plain_rules_choose(seed: int) -> None:
    rng = random.Random(seed)
    index = CacheIndex(cache_from_object(cache_object(rng, f"cache-{n:03d}")) for n in range(60))
    for number, at in enumerate(moments(rng, 300)):
        template = pod_template(pod_object(rng, number))
        decision = decide(template, index, at)
        assert decision.cache is reference(template, index.caches, at), (template.images, at)
        assert decision.outcome == ("hit" if decision.cache else "miss")


@pytest.mark.parametrize("seed", range(4))
def test_views_whose_images_are_not_their_refs_are_ranked_by_the_rules_too(seed: int) -> None:
    """A view built by hand may hold images its refs do not name (and the reverse): partial matches still count."""
    rng = random.Random(seed)
    views = [cache_from_object(cache_object(rng, f"cache-{n:03d}")) for n in range(40)]
    index = CacheIndex(views)
    for position in rng.sample(range(len(views)), 12):  # images of one cache, refs (so families) of another
        images, refs = rng.choice(views).images, rng.choice(views).image_refs
        odd = dataclasses.replace(views[position], phase="Ready", expires=None, images=images, image_refs=refs)
        index.replace(index.caches[position], odd)
    for number, at in enumerate(moments(rng, 200)):
        template = pod_template(pod_object(rng, number))
        assert decide(template, index, at).cache is reference(template, index.caches, at), (template.images, at)


@pytest.mark.parametrize("seed", range(4))
def test_an_index_changed_in_place_decides_like_a_fresh_one_and_the_rules(seed: int) -> None:
    rng = random.Random(seed)
    objects = [cache_object(rng, f"cache-{n:03d}") for n in range(40)]
    index = CacheIndex(cache_from_object(obj) for obj in objects)
    templates = [pod_template(pod_object(rng, number)) for number in range(60)]
    for _ in range(30):
        position = rng.randrange(len(objects))
        objects[position] = cache_object(rng, objects[position]["metadata"]["name"])  # new phase, times, images
        index.replace(index.caches[position], cache_from_object(objects[position]))
        fresh = CacheIndex(cache_from_object(obj) for obj in objects)
        for template, at in zip(templates, moments(rng, len(templates)), strict=True):
            mine, theirs = decide(template, index, at), decide(template, fresh, at)
            assert repr(mine) == repr(theirs)
            assert mine.cache is None or mine.cache.name == reference(template, fresh.caches, at).name


def test_the_usable_window_is_exact_to_the_microsecond_far_from_1970() -> None:
    """A float timestamp of year 9000 rounds to ~30 µs; the window's bounds are whole microseconds."""
    expires = datetime(9000, 1, 1, tzinfo=UTC) + timedelta(microseconds=1)
    ready = {
        "metadata": {"name": "far", "creationTimestamp": "8999-12-31T00:00:00Z"},
        "spec": {"images": ["nginx:1"]},
        "status": {"imageCacheId": "imc-far", "phase": "Ready", "expireDateTime": "9000-01-01T00:00:00.000001Z"},
    }
    index = CacheIndex([cache_from_object(ready)])
    pod = {
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"alibabacloud.com/eci": "true"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1"}]},
    }
    template = pod_template(pod)
    assert decide(template, index, expires).outcome == "hit"  # expiry is inclusive
    assert decide(template, index, expires + timedelta(microseconds=1)).outcome == "miss"
    created = datetime(8999, 12, 31, tzinfo=UTC)
    assert decide(template, index, created).outcome == "miss"  # usable only after its creation
    assert decide(template, index, created + timedelta(microseconds=1)).outcome == "hit"
