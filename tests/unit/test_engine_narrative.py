"""The engine's sentences: a hit with its coverage, a miss's closest cache, a failed pin at the pod's creation."""

from __future__ import annotations

from core.caches import cache_from_object
from core.matching import CacheIndex, decide
from core.narrative import closest_cache, decision_text, images_to_cache, outcome_label
from core.workloads import templates_from
from tests.fixtures.engine.builders import AT, COUNT, PERFECT, PIN, imagecache, pod, when


def decided(pod_obj: dict, caches: list[dict], at: str = AT):
    """(template, decision, index) of one pod against these caches at `at`."""
    index = CacheIndex([cache_from_object(obj) for obj in caches])
    template = templates_from(pod_obj)[0]
    return template, decide(template, index, when(at)), index


def test_a_pinned_hit_on_a_cache_without_the_pods_images_says_nothing_is_cached():
    template, decision, index = decided(pod(["nginx:1.25", "busybox:1.30"], annotations={PIN: "imc-java"}),
                                        [imagecache("java", ["openjdk:21"])])
    assert decision.outcome == "hit"
    assert outcome_label(decision) == "Hit · 0 of 2 images cached"
    text = decision_text(template, decision, index, when(AT))
    assert "holds none of the pod's 2 images" in text
    assert "on disk" not in text


def test_a_partial_hit_names_what_is_pulled_and_a_full_hit_says_on_disk():
    caches = [imagecache("web", ["nginx:1.25"])]
    template, decision, index = decided(pod(["nginx:1.25", "busybox:1.30"]), caches)
    assert outcome_label(decision) == "Hit · 1 of 2 images cached"
    assert "1 of 2 images are on disk; busybox:1.30 is pulled" in decision_text(template, decision, index, when(AT))
    template, decision, index = decided(pod(["nginx:1.25"]), caches)
    assert outcome_label(decision) == "Hit · 1 of 1 image cached"
    assert "already on disk" in decision_text(template, decision, index, when(AT))


def test_a_miss_names_the_closest_cache_and_the_images_it_lacks():
    caches = [imagecache("nginx-base", ["nginx:1.25", "redis:7.2"]), imagecache("other", ["python:3.12"])]
    template, decision, index = decided(pod(["nginx:1.25", "busybox:1.30"], annotations={PERFECT: "true"}), caches)
    assert decision.outcome == "miss"
    closest = closest_cache(template, index, when(AT))
    assert (closest.name, closest.exact, closest.missing) == ("nginx-base", 1, ("busybox:1.30",))
    assert closest.text() == "closest: nginx-base, 1 of 2 exact (the pod needs 2); missing busybox:1.30"
    assert "closest: nginx-base" in decision_text(template, decision, index, when(AT))
    # perfect match: a cache of busybox alone would not qualify, so the suggestion holds every image
    assert images_to_cache(template, closest) == ("nginx:1.25", "busybox:1.30")


def test_a_miss_next_to_a_cache_that_is_not_ready_says_so_and_suggests_only_the_missing_images():
    caches = [imagecache("building", ["nginx:1.25"], phase="Creating"), imagecache("ready", ["redis:7.2"])]
    template, decision, index = decided(pod(["nginx:1.25", "busybox:1.30"], annotations={COUNT: "1"}), caches)
    assert decision.outcome == "miss"
    closest = closest_cache(template, index, when(AT))
    assert closest.text() == "closest: building, 1 of 2 exact; missing busybox:1.30; Creating, not Ready"
    assert images_to_cache(template, closest) == ("busybox:1.30",)


def test_a_miss_with_no_cache_sharing_an_image_says_so():
    template, decision, index = decided(pod(["busybox:1.30"]), [imagecache("web", ["nginx:1.25"])])
    assert closest_cache(template, index, when(AT)) is None
    assert decision_text(template, decision, index, when(AT)).startswith("No cache holds any of the pod's images")


def test_a_pin_that_was_creating_at_the_pods_creation_and_is_ready_now_says_a_new_pod_would_hit():
    cache = imagecache("java-services", ["openjdk:21"], created="2026-11-28T07:50:00Z")
    cache["status"]["lastUpdatedTime"] = "2026-11-28T08:05:00Z"  # Ready after the pod's creation at 08:00
    template, decision, index = decided(pod(["openjdk:21"], annotations={PIN: "imc-java-services"}), [cache])
    assert decision.outcome == "fail"
    text = decision_text(template, decision, index, when(AT), now=when("2026-11-28T09:00:00Z"))
    assert text.startswith("java-services was not Ready yet when the pod was created (08:00:00 UTC); Ready since "
                           "08:05:00 UTC.")
    assert "A new pod would hit" in text


def test_a_pin_still_creating_and_a_pin_to_nothing_say_which_and_what_to_do():
    template, decision, index = decided(pod(["openjdk:21"], annotations={PIN: "imc-java"}),
                                        [imagecache("java", ["openjdk:21"], phase="Creating")])
    text = decision_text(template, decision, index, when(AT))
    assert "java was Creating when the pod was created" in text and "still Creating, not Ready" in text
    assert "Wait for it, or pin another Ready cache" in text
    template, decision, index = decided(pod(["openjdk:21"], annotations={PIN: "imc-gone"}), [])
    assert decision_text(template, decision, index, when(AT)).startswith("No ImageCache has ID imc-gone")
