"""The impact of a change to the caches on every workload's next pod (issue 22), decided by the engine."""

from __future__ import annotations

import pytest

from core.caches import cache_from_object
from core.impact import CacheChange, ChangeError, extended_expiry, impact_of, live_workloads
from core.workloads import pod_template
from tests.fixtures.engine.builders import AT, PIN, imagecache, pod, when
from tests.fixtures.engine.builders import workload as workload_object

NOW = when(AT)


def owned(images, name: str, deployment: str, annotations: dict | None = None, created: str | None = None) -> dict:
    """A pod of a Deployment's ReplicaSet, as the Deployment controller names and labels it."""
    obj = pod(images, name=name, annotations=annotations)
    obj["metadata"]["ownerReferences"] = [
        {"kind": "ReplicaSet", "name": f"{deployment}-5d8f", "controller": True, "apiVersion": "apps/v1", "uid": "u"}
    ]
    obj["metadata"]["labels"]["pod-template-hash"] = "5d8f"
    if created:
        obj["metadata"]["creationTimestamp"] = created
    return obj


def workloads_of(*pods: dict):
    return live_workloads((obj["metadata"], pod_template(obj)) for obj in pods)


def caches_of(*objects: dict):
    return [cache_from_object(obj) for obj in objects]


def test_deleting_the_only_cache_a_workload_hits_is_a_miss_with_auto_create() -> None:
    web = workloads_of(owned(["nginx:1.25"], "web-a", "web"), owned(["nginx:1.25"], "web-b", "web"))
    impact = impact_of(web, caches_of(imagecache("base", ["nginx:1.25"])), CacheChange("delete", "base"), NOW)
    [item] = impact.workloads
    assert (item.workload, item.kind, item.pods) == ("Deployment/web", "hit-to-miss", 2)
    assert item.before.cache.name == "base"
    assert item.after.outcome == "miss" and item.after.auto_create
    assert "auto-creates a 30 GiB cache" in item.describe()
    assert impact.counts == {"hit-to-miss": 1} and impact.pod_counts == {"hit-to-miss": 2}
    assert not impact.breaks_pins


def test_deleting_a_pinned_cache_fails_the_pod() -> None:
    pinned = workloads_of(owned(["nginx:1.25"], "api-a", "api", annotations={PIN: "imc-base"}))
    impact = impact_of(pinned, caches_of(imagecache("base", ["nginx:1.25"])), CacheChange("delete", "base"), NOW)
    [item] = impact.workloads
    assert item.kind == "pin-fails"
    assert [event.reason for event in item.after.events] == ["ImageCacheNotFound"]
    assert impact.breaks_pins


def test_deleting_one_of_two_candidates_chooses_the_other() -> None:
    web = workloads_of(owned(["nginx:1.25", "redis:7.2"], "web-a", "web"))
    caches = caches_of(imagecache("both", ["nginx:1.25", "redis:7.2"]), imagecache("nginx", ["nginx:1.25"]))
    impact = impact_of(web, caches, CacheChange("delete", "both"), NOW)
    [item] = impact.workloads
    assert item.kind == "moved"
    assert (item.before.cache.name, item.after.cache.name) == ("both", "nginx")


def test_an_update_that_drops_an_image_loses_the_perfect_match() -> None:
    web = workloads_of(owned(["nginx:1.25", "redis:7.2"], "web-a", "web"))
    caches = caches_of(imagecache("both", ["nginx:1.25", "redis:7.2"]))
    impact = impact_of(web, caches, CacheChange("update", "both", images=("nginx:1.25", "busybox:1.36")), NOW)
    [item] = impact.workloads
    assert item.kind == "perfect-match-lost"
    assert item.after.cache.name == "both" and "1 images pulled" in item.describe()
    # while it is Updating the cache is not usable: the workload misses meanwhile
    [meanwhile] = impact.while_updating
    assert meanwhile.kind == "hit-to-miss"


def test_letting_a_pinned_cache_expire_fails_the_pin() -> None:
    pinned = workloads_of(owned(["nginx:1.25"], "api-a", "api", annotations={PIN: "imc-base"}))
    impact = impact_of(pinned, caches_of(imagecache("base", ["nginx:1.25"])), CacheChange("expire", "base"), NOW)
    assert [item.kind for item in impact.workloads] == ["pin-fails"]


def test_adding_a_proposed_cache_turns_a_miss_into_a_hit() -> None:
    web = workloads_of(owned(["nginx:1.25"], "web-a", "web"))
    proposed = {"metadata": {"name": "new"}, "spec": {"images": ["nginx:1.25"]}}
    impact = impact_of(web, [], CacheChange("add", "new", cache=proposed), NOW)
    [item] = impact.workloads
    assert item.kind == "now-hits" and item.after.cache.name == "new"


def test_a_workload_is_decided_once_by_its_newest_pod() -> None:
    old = owned(["nginx:1.24"], "web-old", "web", created="2026-11-27T00:00:00Z")
    new = owned(["nginx:1.25"], "web-new", "web", created="2026-11-27T12:00:00Z")
    [workload] = workloads_of(old, new)
    assert workload.pods == 2 and workload.template.images == ("docker.io/library/nginx:1.25",)


def test_a_deployment_with_no_live_pod_is_decided_by_its_own_template() -> None:
    scaled_down = pod_template(workload_object("Deployment", ["nginx:1.25"], name="api", namespace="default"))
    running = pod_template(workload_object("Deployment", ["nginx:1.24"], name="web", namespace="default"))
    web_pod = owned(["nginx:1.25"], "web-a", "web")
    workloads = live_workloads([(web_pod["metadata"], pod_template(web_pod))], [scaled_down, running])
    by_name = {item.workload: item for item in workloads}
    assert sorted(by_name) == ["Deployment/api", "Deployment/web"]
    assert by_name["Deployment/api"].pods == 0 and by_name["Deployment/api"].template is scaled_down
    # a Deployment with live pods keeps its newest pod's template, counted once
    assert by_name["Deployment/web"].pods == 1 and by_name["Deployment/web"].template.name == "web-a"
    impact = impact_of(workloads, caches_of(imagecache("base", ["nginx:1.25"])), CacheChange("delete", "base"), NOW)
    assert [(item.workload, item.kind, item.pods) for item in impact.workloads] == [
        ("Deployment/web", "hit-to-miss", 1), ("Deployment/api", "hit-to-miss", 0)]


def test_an_extension_counts_the_new_retention_from_the_same_start() -> None:
    expires = when(AT)
    assert extended_expiry(expires, 7, 30) == when("2026-12-21T08:00:00Z")
    assert extended_expiry(expires, 7, 7) is None and extended_expiry(expires, 7, 3) is None
    assert extended_expiry(expires, None, 30) is None and extended_expiry(expires, 7, None) is None


def test_unaffected_workloads_are_not_listed() -> None:
    other = workloads_of(owned(["redis:7.2"], "db-a", "db"))
    caches = caches_of(imagecache("base", ["nginx:1.25"]), imagecache("redis", ["redis:7.2"]))
    impact = impact_of(other, caches, CacheChange("delete", "base"), NOW)
    assert impact.workloads == () and impact.summary == "no change for any of 1 workload"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (CacheChange("delete", "nope"), "no cache named nope"),
        (CacheChange("update", "base", images=("Bad Image",)), "update of base"),
        (CacheChange("add", "base", cache={"metadata": {"name": "base"}, "spec": {"images": ["a:1"]}}), "exists"),
        (CacheChange("rename", "base"), "unknown change"),
        (CacheChange("update", "building", images=("nginx:1.26",)), "building is Creating: ECI updates a cache only"),
    ],
)
def test_an_impossible_change_is_a_clear_error(change: CacheChange, words: str) -> None:
    caches = caches_of(imagecache("base", ["nginx:1.25"]), imagecache("building", ["nginx:1.25"], phase="Creating"))
    with pytest.raises(ChangeError, match=words):
        impact_of([], caches, change, NOW)


def test_only_workloads_the_change_can_touch_are_decided_again_and_none_is_missed() -> None:
    """The impact equals deciding every workload before and after, for deletes, updates and adds of random caches."""
    import random

    from bench.workload import image_pool, make_caches, make_pods, owned_pods
    from core.impact import changed_caches, impact_kind
    from core.matching import CacheIndex, decide

    rng = random.Random(22)
    pool = image_pool(60, rng)
    caches = caches_of(*make_caches(40, pool, rng))
    pods = owned_pods(make_pods(300, pool, rng), 60)
    workloads = live_workloads((pod["metadata"], pod_template(pod)) for pod in pods)
    index = CacheIndex(caches)
    missing = next(w for w in workloads if decide(w.template, index, NOW).outcome == "miss")
    proposed = {"metadata": {"name": "proposed"}, "spec": {"images": list(missing.template.images)}}
    changes = [CacheChange("delete", cache.name) for cache in caches[:20]]
    changes += [CacheChange("update", cache.name, images=tuple(rng.sample(pool, 4))) for cache in caches[20:30]
                if cache.phase == "Ready"]
    changes += [CacheChange("expire", caches[30].name), CacheChange("add", "proposed", cache=proposed)]
    seen = set()
    for change in changes:
        before, after = CacheIndex(caches), CacheIndex(changed_caches(caches, [change], NOW))
        expected = {}
        for workload in workloads:
            kind = impact_kind(decide(workload.template, before, NOW), decide(workload.template, after, NOW))
            if kind is not None:
                expected[workload.workload] = kind
        found = {item.workload: item.kind for item in impact_of(workloads, caches, change, NOW).workloads}
        assert found == expected, change
        seen.update(found.values())
    assert {"hit-to-miss", "moved", "now-hits"} <= seen  # the random caches exercise the kinds
