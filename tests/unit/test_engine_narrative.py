"""The engine's sentences: a hit with its coverage, a miss's closest cache, a failed pin at the pod's creation."""

from __future__ import annotations

from core.caches import cache_from_object
from core.matching import CacheIndex, decide
from core.narrative import CacheProposal, cache_to_create, closest_cache, decision_text, images_to_cache, outcome_label
from core.policy import INSTANCE_ID
from core.workloads import templates_from
from tests.fixtures.engine.builders import AT, COUNT, OLD, PERFECT, PIN, imagecache, pod, when


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


def auto_created_miss(phase: str):
    """A pod asking for a perfect match that missed at AT (08:00) beside an older cache holding one of its images, and its own auto-created
    cache (created at AT, in `phase` since 08:03) that holds both: the caches now, and those of the pod's creation."""
    template = templates_from(pod(["nginx:1.25", "busybox:1.30"], annotations={INSTANCE_ID: "eci-2ze1", PERFECT: "true"}))[0]
    older = imagecache("nginx-base", ["nginx:1.25"], created=OLD)
    own = imagecache("auto-create-for-eci-2ze1", ["nginx:1.25", "busybox:1.30"], phase=phase, created=AT, size=30)
    own["status"]["lastUpdatedTime"] = "2026-11-28T08:03:00Z"
    then = CacheIndex([cache_from_object(older)])
    now = CacheIndex([cache_from_object(older), cache_from_object(own)])
    decision = decide(template, CacheIndex([cache_from_object(obj) for obj in (older, own)]), when(AT))
    return template, decision, then, now


def test_a_miss_names_its_own_ready_auto_created_cache_as_ecis_response_never_as_the_closest():
    template, decision, then, now = auto_created_miss("Ready")
    later = when("2026-11-28T09:00:00Z")
    assert decision.outcome == "miss"  # its own cache came in the pod's second, after it
    # even given the caches now, the closest is one that existed at the pod's creation
    assert closest_cache(template, now, when(AT)).name == "nginx-base"
    text = decision_text(template, decision, then, when(AT), now=later, now_index=now)
    assert text == ("No cache qualified when the pod was created (closest: nginx-base, 1 of 2 exact (the pod "
                    "needs 2); missing busybox:1.30): the pod pulled its images. ECI auto-created auto-create-for-eci-2ze1; Ready since "
                    "08:03:00 UTC: new pods of this workload will hit it.")
    closest = closest_cache(template, then, when(AT))
    assert cache_to_create(template, decision, closest, now, later) is None  # a usable cache holds the images


def test_a_miss_whose_auto_created_cache_is_still_creating_is_offered_a_cache_of_the_size_eci_chooses():
    template, decision, then, now = auto_created_miss("Creating")
    later = when("2026-11-28T09:00:00Z")
    text = decision_text(template, decision, then, when(AT), now=later, now_index=now)
    assert text.endswith("ECI is auto-creating auto-create-for-eci-2ze1 (Creating): new pods of this workload will "
                         "hit it once it is Ready.")
    closest = closest_cache(template, then, when(AT))
    # perfect match: the missing busybox alone would not serve the pod, so the proposal holds both images
    proposal = cache_to_create(template, decision, closest, now, later)
    assert proposal == CacheProposal(("nginx:1.25", "busybox:1.30"), 30)
    # twice the images' size when ECI's choice is less (docs/eci-model.md 6.2)
    assert cache_to_create(template, decision, closest, now, later, image_bytes=20 * 2**30).size_gib == 40
