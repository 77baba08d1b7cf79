"""ClusterStore: incremental decisions, actual outcomes, disagreement, history, snapshots."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.outcomes import ActualOutcome, actual_outcome, prediction_disagrees
from core.policy import MATCHED_CACHE
from kube.store import ClusterStore
from tests.fixtures.engine.builders import PIN, imagecache, pod

POD_TIME = "2026-11-28T08:00:00Z"
BEFORE = "2026-11-01T00:00:00Z"
AFTER = "2026-11-28T09:00:00Z"


def eci_pod(name: str, images: list[str], created: str = POD_TIME, **kwargs) -> dict:
    """An ECI pod with a creationTimestamp and a resourceVersion."""
    obj = pod(images, name=name, **kwargs)
    obj["metadata"]["creationTimestamp"] = created
    obj["metadata"]["uid"] = f"uid-{name}"
    return obj


def event(pod_name: str, reason: str, message: str = "", name: str | None = None, at: str = POD_TIME) -> dict:
    """An ECI event about a pod in namespace default."""
    return {
        "kind": "Event",
        "metadata": {"name": name or f"{pod_name}.{reason}", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": pod_name, "namespace": "default", "uid": f"uid-{pod_name}"},
        "reason": reason,
        "message": message,
        "lastTimestamp": at,
        "source": {"component": "EciService"},
    }


def early_store(**options) -> ClusterStore:
    """A store whose clock stands before the pods' creation: every cache change it sees happened before them."""
    return ClusterStore(clock=lambda: datetime(2026, 11, 1, tzinfo=UTC), **options)


def outcomes(store: ClusterStore) -> dict[str, tuple]:
    """Per pod: outcome, chosen cache name, actual outcome, disagreement."""
    return {
        key: (
            r.decision.outcome,
            r.decision.cache.name if r.decision.cache else None,
            r.actual,
            r.disagrees,
        )
        for key, r in store.snapshot().pods.items()
    }


def test_pod_is_decided_at_its_creation_time():
    store = ClusterStore()
    store.replace("pods", [eci_pod("web", ["nginx:1.25"])], "1")
    store.replace("imagecaches", [imagecache("late", ["nginx:1.25"], created=AFTER)], "1")
    assert outcomes(store)["default/web"][:2] == ("miss", None)
    store.apply("imagecaches", "ADDED", imagecache("early", ["nginx:1.25"], created=BEFORE))
    assert outcomes(store)["default/web"][:2] == ("hit", "early")


def test_cache_event_redecides_only_the_pods_it_can_affect():
    store = ClusterStore()
    store.replace("pods", [eci_pod("web", ["nginx:1.25"]), eci_pod("db", ["redis:7"])], "1")
    store.replace("imagecaches", [], "1")
    before = store.snapshot()
    store.apply("imagecaches", "ADDED", imagecache("ic", ["nginx:1.25"]))
    after = store.snapshot()
    assert after.pods["default/web"].decision.outcome == "hit"
    assert after.pods["default/web"] is not before.pods["default/web"]
    assert after.pods["default/db"] is before.pods["default/db"]  # untouched, not re-decided


def test_same_repository_other_tag_counts_as_affected():
    store = ClusterStore()
    store.replace("pods", [eci_pod("web", ["nginx:1.25", "busybox:1"])], "1")
    store.apply("imagecaches", "ADDED", imagecache("one", ["busybox:1"]))
    first = store.snapshot().pods["default/web"]
    store.apply("imagecaches", "ADDED", imagecache("two", ["busybox:1", "nginx:1.24"]))
    second = store.snapshot().pods["default/web"]
    assert second is not first
    assert second.decision.cache.name == "two"  # ranks higher by the partial nginx match


def test_pinned_pod_follows_its_cache_phase_and_deletion():
    store = early_store()
    pinned = eci_pod("pinned", ["nginx:1.25"], annotations={PIN: "imc-x"})
    store.replace("pods", [pinned], "1")
    assert outcomes(store)["default/pinned"][0] == "fail"
    store.apply("imagecaches", "ADDED", imagecache("x", ["redis:7"], cid="imc-x", phase="Creating"))
    assert store.snapshot().pods["default/pinned"].decision.events[0].reason == "ImageCacheNotComplete"
    store.apply("imagecaches", "MODIFIED", imagecache("x", ["redis:7"], cid="imc-x", phase="Ready"))
    assert outcomes(store)["default/pinned"][:2] == ("hit", "x")
    store.apply("imagecaches", "DELETED", imagecache("x", ["redis:7"], cid="imc-x"))
    assert outcomes(store)["default/pinned"][0] == "fail"


def test_replace_drops_objects_gone_during_a_gap():
    store = early_store()
    store.replace("pods", [eci_pod("a", ["nginx:1.25"]), eci_pod("b", ["nginx:1.25"])], "1")
    store.replace("imagecaches", [imagecache("ic", ["nginx:1.25"]), imagecache("other", ["redis:7"])], "1")
    store.replace("deployments", [{"metadata": {"name": "d", "namespace": "shop"}}], "1")
    assert outcomes(store)["default/a"][:2] == ("hit", "ic")
    store.replace("pods", [eci_pod("b", ["nginx:1.25"])], "2")
    store.replace("imagecaches", [imagecache("other", ["redis:7"])], "2")
    store.replace("deployments", [], "2")
    snap = store.snapshot()
    assert set(snap.pods) == {"default/b"}
    assert set(snap.caches) == set(snap.cache_objects) == {"other"}
    assert dict(snap.deployments) == {}
    assert snap.pods["default/b"].decision.outcome == "miss"
    assert store.resource_version("pods") == "2"
    assert dict(snap.synced) == {"pods": True, "imagecaches": True, "deployments": True, "events": False}


def test_status_only_update_keeps_the_decision():
    store = ClusterStore()
    obj = eci_pod("web", ["nginx:1.25"])
    store.replace("pods", [obj], "1")
    first = store.snapshot().pods["default/web"]
    running = {**obj, "status": {"phase": "Running"}}
    store.apply("pods", "MODIFIED", running)
    second = store.snapshot().pods["default/web"]
    assert second.obj == running  # the pod is held packed: an equal dict, made on demand
    assert second.decision is first.decision


def test_actual_outcome_from_annotation_and_events():
    web = eci_pod("web", ["nginx:1.25"])
    assert actual_outcome(web, []) is None
    annotated = eci_pod("web", ["nginx:1.25"], annotations={MATCHED_CACHE: "imc-a"})
    assert actual_outcome(annotated, []) == ActualOutcome("hit", "imc-a", ())
    hit = event("web", "SuccessfulHitImageCache", "[eci.imagecache]Successfully hit image cache imc-b, eci will")
    assert actual_outcome(web, [hit]) == ActualOutcome("hit", "imc-b", ("SuccessfulHitImageCache",))
    missed = event("web", "ImageCacheMissed", "[eci.imagecache]Missed image cache.", at="2026-11-28T08:00:01Z")
    auto = event("web", "ImageCacheAutoCreated", "Image cache imc-new is auto created", at="2026-11-28T08:00:02Z")
    assert actual_outcome(web, [auto, missed]) == ActualOutcome(
        "miss", "imc-new", ("ImageCacheMissed", "ImageCacheAutoCreated")
    )
    same_second = [auto, {**missed, "lastTimestamp": auto["lastTimestamp"], "metadata": {"name": "z"}}]
    assert actual_outcome(web, same_second).cache_id == "imc-new"
    gone = event("web", "ImageCacheNotFound", "The specified image cache imc-zz does not exist.")
    assert actual_outcome(web, [gone]) == ActualOutcome("fail", "imc-zz", ("ImageCacheNotFound",))
    other_pod = {**gone, "involvedObject": {**gone["involvedObject"], "uid": "uid-of-an-older-pod"}}
    assert actual_outcome(web, [other_pod]) is None


def test_disagreement_is_flagged_against_the_prediction():
    store = ClusterStore()
    store.replace("imagecaches", [imagecache("ic", ["nginx:1.25"]), imagecache("other", ["busybox:1"])], "1")
    store.replace("pods", [eci_pod("web", ["nginx:1.25"]), eci_pod("db", ["redis:7"])], "1")
    # events may arrive before or after their pod
    store.replace("events", [event("web", "ImageCacheMissed"), event("db", "ImageCacheMissed")], "1")
    result = outcomes(store)
    assert result["default/web"][3] is True  # predicted hit, ECI missed
    assert result["default/db"][3] is False
    store.apply("events", "DELETED", event("web", "ImageCacheMissed"))
    store.apply("events", "ADDED", event("web", "SuccessfulHitImageCache", "hit image cache imc-other, eci"))
    assert outcomes(store)["default/web"][2:] == (
        ActualOutcome("hit", "imc-other", ("SuccessfulHitImageCache",)),
        True,  # ECI used another cache than predicted
    )
    store.apply("events", "MODIFIED", event("web", "SuccessfulHitImageCache", "hit image cache imc-ic, eci"))
    assert outcomes(store)["default/web"][3] is False


def test_off_pod_agrees_with_a_plain_miss_only():
    store = ClusterStore()
    store.replace("pods", [eci_pod("off", ["nginx:1.25"], annotations={"k8s.aliyun.com/eci-auto-imc": "false"})], "1")
    decision = store.snapshot().pods["default/off"].decision
    assert decision.outcome == "off"
    assert not prediction_disagrees(decision, ActualOutcome("miss", None, ("ImageCacheMissed",)))
    assert prediction_disagrees(decision, ActualOutcome("miss", "imc-n", ("ImageCacheAutoCreated",)))
    assert prediction_disagrees(decision, ActualOutcome("hit", "imc-a", ()))


def test_events_of_other_reasons_or_objects_are_ignored():
    store = ClusterStore()
    store.replace("pods", [eci_pod("web", ["nginx:1.25"])], "1")
    pulled = event("web", "Pulled")
    about_node = {**event("web", "ImageCacheMissed"), "involvedObject": {"kind": "Node", "name": "n1"}}
    store.replace("events", [pulled, about_node], "1")
    assert store.snapshot().pods["default/web"].actual is None


def test_history_is_bounded_and_records_cache_phases():
    clock = iter(datetime(2026, 11, 28, 9, minute, tzinfo=UTC) for minute in range(60))
    store = ClusterStore(history_limit=4, clock=lambda: next(clock))
    store.replace("pods", [eci_pod(f"p{i}", ["nginx:1.25"]) for i in range(6)], "1")
    snap = store.snapshot()
    assert len(snap.history) == 4
    assert [p.key for p in snap.history] == ["default/p2", "default/p3", "default/p4", "default/p5"]
    assert all(p.outcome == "miss" and p.kind == "pod" for p in snap.history)
    assert snap.history[0].at == datetime(2026, 11, 28, 8, 0, tzinfo=UTC)  # a new pod counts at its creation
    store.apply("imagecaches", "ADDED", imagecache("ic", ["busybox:1"], phase="Creating"))
    store.apply("imagecaches", "MODIFIED", imagecache("ic", ["busybox:1"], phase="Ready"))
    store.apply("imagecaches", "MODIFIED", imagecache("ic", ["busybox:1"], phase="Ready"))  # no change
    phases = [(p.key, p.outcome, p.kind) for p in store.snapshot().history if p.kind == "imagecache"]
    assert phases == [("ic", "Creating", "imagecache"), ("ic", "Ready", "imagecache")]


def test_snapshots_are_immutable_cheap_and_copy_on_write():
    store = ClusterStore()
    store.replace("pods", [eci_pod("a", ["nginx:1.25"])], "1")
    first = store.snapshot()
    assert store.snapshot() is first  # nothing changed: the same object
    with pytest.raises(TypeError):
        first.pods["default/x"] = None  # type: ignore[index]
    version = store.version
    store.apply("pods", "ADDED", eci_pod("b", ["nginx:1.25"]))
    assert store.version > version
    assert set(first.pods) == {"default/a"}  # the old snapshot did not change
    assert set(store.snapshot().pods) == {"default/a", "default/b"}


def test_errors_are_set_and_cleared_per_kind():
    store = ClusterStore()
    store.set_error("pods", "pods: cannot reach https://x")
    version = store.version
    store.set_error("pods", "pods: cannot reach https://x")
    assert store.version == version  # the same message again is no change
    assert store.snapshot().errors == ("pods: cannot reach https://x",)
    store.set_error("pods", None)
    assert store.snapshot().errors == ()


def test_unknown_kind_and_event_type_are_refused():
    store = ClusterStore()
    with pytest.raises(ValueError):
        store.replace("nodes", [], "1")
    with pytest.raises(ValueError):
        store.apply("pods", "BOOKMARK", {})


IMAGES = ["nginx:1.25", "nginx:1.24", "redis:7", "busybox:1"]
PODS = st.builds(
    lambda name, images, pinned: eci_pod(name, images, annotations={PIN: "imc-c1"} if pinned else None),
    st.sampled_from(["p1", "p2", "p3"]),
    st.lists(st.sampled_from([*IMAGES, "alpine:3"]), min_size=1, max_size=2, unique=True),
    st.booleans(),
)
CACHES = st.builds(
    lambda name, images, phase, created: imagecache(name, images, phase=phase, created=created),
    st.sampled_from(["c1", "c2", "c3"]),
    st.lists(st.sampled_from(IMAGES), min_size=1, max_size=3, unique=True),
    st.sampled_from(["Ready", "Creating"]),
    st.sampled_from([BEFORE, AFTER]),
)
EVENTS = st.builds(
    lambda pod_name, reason: event(pod_name, reason, "image cache imc-c2 x", name=f"{pod_name}.e"),
    st.sampled_from(["p1", "p2", "p3"]),
    st.sampled_from(["SuccessfulHitImageCache", "ImageCacheMissed", "ImageCacheNotFound"]),
)
OPS = st.one_of(
    st.tuples(st.just("pods"), st.sampled_from(["ADDED", "MODIFIED", "DELETED"]), PODS),
    st.tuples(st.just("imagecaches"), st.sampled_from(["ADDED", "MODIFIED", "DELETED"]), CACHES),
    st.tuples(st.just("events"), st.sampled_from(["ADDED", "DELETED"]), EVENTS),
)


def judged(store: ClusterStore) -> dict[str, tuple]:
    """Per pod: outcome, chosen cache name, actual outcome, and ECI's rule of disagreement, without what the store
    remembers of deleted caches' IDs (a fresh list never saw them)."""
    return {key: (*values[:3], prediction_disagrees(record.decision, record.actual))
            for (key, values), record in zip(outcomes(store).items(), store.snapshot().pods.values(), strict=True)}


@settings(max_examples=300, deadline=None)
@given(st.lists(OPS, max_size=25))
def test_incremental_store_equals_a_fresh_list_of_the_final_state(ops):
    """Cache changes seen before the pods' creation leave them decided as a fresh list of the final state."""
    live = early_store()
    for kind in ("pods", "imagecaches", "events"):
        live.replace(kind, [], "0")
    state: dict[str, dict[str, dict]] = {"pods": {}, "imagecaches": {}, "events": {}}
    for kind, event_type, obj in ops:
        live.apply(kind, event_type, obj)
        key = obj["metadata"]["name"]
        if event_type == "DELETED":
            state[kind].pop(key, None)
        else:
            state[kind][key] = obj
    fresh = early_store()
    for kind, objects in state.items():
        fresh.replace(kind, list(objects.values()), "1")
    assert judged(live) == judged(fresh)
    assert dict(live.snapshot().caches) == dict(fresh.snapshot().caches)


def test_concurrent_writers_and_readers():
    store = ClusterStore()
    store.replace("imagecaches", [imagecache("ic", ["nginx:1.25"])], "1")
    seen_errors = []

    def writer(prefix: str) -> None:
        for i in range(200):
            store.apply("pods", "ADDED", eci_pod(f"{prefix}{i}", ["nginx:1.25"]))

    def reader() -> None:
        for _ in range(200):
            snap = store.snapshot()
            if any(r.decision.outcome != "hit" for r in snap.pods.values()):
                seen_errors.append(snap.version)

    threads = [threading.Thread(target=writer, args=(p,)) for p in "ab"] + [threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.snapshot().pods) == 400
    assert seen_errors == []


def test_cache_that_became_ready_after_the_pod_does_not_count():
    store = ClusterStore()
    building_then_ready = imagecache("ic", ["nginx:1.25"], created=BEFORE)
    building_then_ready["status"]["lastUpdatedTime"] = AFTER  # Ready since after the pod's creation
    store.replace("imagecaches", [building_then_ready], "1")
    store.replace("pods", [eci_pod("web", ["nginx:1.25"])], "1")
    assert store.snapshot().pods["default/web"].decision.outcome == "miss"


def test_cache_progress_alone_keeps_every_decision_and_the_new_status_is_shown():
    store = early_store()
    building = imagecache("ic", ["nginx:1.25"], phase="Creating", created=BEFORE)
    store.replace("imagecaches", [building], "1")
    store.replace("pods", [eci_pod("web", ["nginx:1.25"])], "1")
    first = store.snapshot().pods["default/web"].decision
    moved = {**building, "status": {**building["status"], "progress": "80%"}}
    store.apply("imagecaches", "MODIFIED", moved)
    snap = store.snapshot()
    assert snap.pods["default/web"].decision is first
    assert snap.caches["ic"].progress == "80%"
    ready = {**building, "status": {**building["status"], "phase": "Ready", "progress": "100%"}}
    store.apply("imagecaches", "MODIFIED", ready)
    assert store.snapshot().pods["default/web"].decision.outcome == "hit"


def test_actual_outcome_quotes_ecis_events_in_order():
    obj = eci_pod("web", ["nginx:1.25"])
    events = [
        event(
            "web",
            "ImageCacheAutoCreated",
            "[eci.imagecache]Image cache imc-9 is auto created",
            name="b",
            at="2026-11-28T08:00:02Z",
        ),
        event("web", "ImageCacheMissed", "[eci.imagecache]Missed image cache.", name="a", at="2026-11-28T08:00:01Z"),
    ]
    actual = actual_outcome(obj, events)
    assert [e.reason for e in actual.events] == ["ImageCacheMissed", "ImageCacheAutoCreated"]
    assert actual.events[1].message.endswith("imc-9 is auto created")
    assert actual.events[0].time == "2026-11-28T08:00:01Z"


def pulled(pod_name: str, message: str, at: str = "2026-11-28T08:00:20Z", uid: str | None = None) -> dict:
    """A kubelet's `Pulled` event about a pod's container."""
    obj = event(pod_name, "Pulled", message, name=f"{pod_name}.{uid or 'own'}", at=at)
    obj["involvedObject"].update(fieldPath="spec.containers{c0}", uid=uid or f"uid-{pod_name}")
    obj["source"] = {"component": "kubelet"}
    return obj


def test_pod_start_from_status_and_pulled_events_outlives_the_events():
    store = ClusterStore()
    obj = eci_pod("p1", ["nginx:1.25"])
    store.apply("pods", "ADDED", obj)
    assert store.snapshot().pods["default/p1"].start.starting
    message = 'Successfully pulled image "nginx:1.25" in 18.5s (18.5s including waiting). Image size: 70984068 bytes.'
    store.apply("events", "ADDED", pulled("p1", message))
    store.apply("events", "ADDED", pulled("p1", 'Successfully pulled image "nginx:1.25" in 9s', uid="uid-former"))
    started = {
        **obj,
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": obj["spec"]["containers"][0]["name"],
                    "state": {"running": {"startedAt": "2026-11-28T08:00:21Z"}},
                }
            ],
        },
    }
    store.apply("pods", "MODIFIED", started)
    start = store.snapshot().pods["default/p1"].start
    assert start.start_seconds == 21.0 and start.pull_seconds == 18.5
    # events expire (an hour by default); the pod's start is still what it was
    store.apply("events", "DELETED", pulled("p1", message))
    assert store.snapshot().pods["default/p1"].start == start
    store.apply("pods", "DELETED", started)
    store.apply("pods", "ADDED", obj)
    assert store.snapshot().pods["default/p1"].start.pulls == ()


def test_a_stored_pod_keeps_its_start_but_not_the_statuses_it_was_read_from():
    store = ClusterStore()
    obj = eci_pod("p1", ["nginx:1.25"])
    obj["status"] = {"phase": "Running", "conditions": [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-28T08:00:01Z"}],
        "containerStatuses": [{"name": obj["spec"]["containers"][0]["name"],
                               "state": {"running": {"startedAt": "2026-11-28T08:00:21Z"}}}]}
    store.replace("pods", [obj], "1")
    record = store.snapshot().pods["default/p1"]
    assert record.obj["status"] == {"phase": "Running"}
    assert "containerStatuses" in obj["status"]  # the listed object is left as it was
    assert (record.start.start_seconds, record.start.scheduled.second) == (21.0, 1)
    message = 'Successfully pulled image "nginx:1.25" in 18.5s (18.5s including waiting)'
    store.replace("events", [pulled("p1", message)], "2")  # the pod is stored again from what the store kept
    start = store.snapshot().pods["default/p1"].start
    assert (start.start_seconds, start.scheduled.second, start.pull_seconds) == (21.0, 1, 18.5)


def test_pulls_of_a_relisted_event_stream_reach_their_pods():
    store = ClusterStore()
    store.replace("pods", [eci_pod("p1", ["nginx:1.25"]), eci_pod("p2", ["nginx:1.25"])], "1")
    store.replace("events", [pulled("p2", 'Container image "nginx:1.25" already present on machine')], "2")
    pods = store.snapshot().pods
    assert pods["default/p1"].start.pulls == ()
    assert [(p.source, p.seconds) for p in pods["default/p2"].start.pulls] == [("present", 0.0)]


def test_a_problem_is_down_since_it_began_and_cleared_when_it_ends():
    moments = iter([datetime(2026, 12, 1, 6, 0, tzinfo=UTC), datetime(2026, 12, 1, 6, 1, tzinfo=UTC)])
    store = ClusterStore(clock=lambda: next(moments))
    store.set_error("api", "the API server does not answer: timed out")
    store.set_error("api", "the API server does not answer: refused")  # still down: since stays
    assert store.snapshot().down_since == {"api": datetime(2026, 12, 1, 6, 0, tzinfo=UTC)}
    store.set_error("api", None)
    assert store.snapshot().down_since == {}
