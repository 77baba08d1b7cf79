"""ECI's outcome read back from the very events the engine predicts: one reason table serves both."""

from __future__ import annotations

import pytest

from core.matching import ECI_EVENT_REASONS
from core.outcomes import ECI_REASONS, actual_outcome, event_pod_key, prediction_disagrees
from tests.fixtures.engine.builders import AUTO, PIN, imagecache, pod, run_engine

READY = imagecache("ready", ["nginx:1.25"], cid="imc-2zeready0000000001")
CREATING = imagecache("creating", ["nginx:1.25"], cid="imc-2zecreating000001", phase="Creating")


def as_kubernetes_events(decision, name: str = "web") -> list[dict]:
    """The decision's events as ECI would write them on the pod, one second apart."""
    return [
        {
            "metadata": {"name": f"{name}.{n}", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": name, "namespace": "default"},
            "reason": e.reason,
            "type": e.type,
            "message": e.message,
            "lastTimestamp": f"2026-11-28T08:00:0{n}Z",
        }
        for n, e in enumerate(decision.events)
    ]


@pytest.mark.parametrize(
    ("annotations", "caches", "outcome", "cache_id"),
    [
        ({}, [READY], "hit", "imc-2zeready0000000001"),
        ({}, [], "miss", None),  # the engine cannot know the new ID
        ({PIN: "imc-2zenothere0000001"}, [READY], "fail", "imc-2zenothere0000001"),
        ({PIN: "imc-2zecreating000001"}, [CREATING], "fail", "imc-2zecreating000001"),
    ],
    ids=["hit", "miss", "not-found", "not-complete"],
)
def test_the_engines_events_read_back_as_its_outcome(annotations, caches, outcome, cache_id):
    obj = pod(["nginx:1.25"], annotations=annotations)
    [(decision, _)] = run_engine(obj, caches)
    actual = actual_outcome(obj, as_kubernetes_events(decision))
    assert (decision.outcome, actual.outcome, actual.cache_id) == (outcome, outcome, cache_id)
    assert not prediction_disagrees(decision, actual)


def test_an_off_pod_writes_no_event_and_reads_back_as_nothing():
    obj = pod(["nginx:1.25"], annotations={AUTO: "false"})
    [(decision, _)] = run_engine(obj, [READY])
    assert decision.outcome == "off"
    assert actual_outcome(obj, as_kubernetes_events(decision)) is None


def test_one_reason_table():
    assert ECI_REASONS == set(ECI_EVENT_REASONS)


def test_event_pod_key_names_the_pod_or_nothing():
    assert event_pod_key({"involvedObject": {"kind": "Pod", "name": "web"}}) == "default/web"
    assert event_pod_key({"regarding": {"kind": "Pod", "name": "web", "namespace": "shop"}}) == "shop/web"
    assert event_pod_key({"involvedObject": {"kind": "Deployment", "name": "web"}}) is None
