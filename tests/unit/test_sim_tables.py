"""Table rendering and the store's watch semantics of the sim (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sim.apiserver.protobuf import ProtobufError, decode
from sim.apiserver.selectors import Selector, selector_from_query
from sim.apiserver.store import Store, Watcher
from sim.apiserver.tables import human_duration, pod_status_text, render_table

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("seconds", "text"), [
    (-5, "<invalid>"), (5, "5s"), (119, "119s"), (200, "3m20s"), (600, "10m"), (3 * 3600 + 60, "3h1m"),
    (10 * 3600, "10h"), (3 * 86400 + 3600, "3d1h"), (30 * 86400, "30d"), (3 * 365 * 86400, "3y"),
])
def test_human_duration_matches_kubectl(seconds, text):
    assert human_duration(seconds) == text


def pod(name: str, phase: str, ready: bool, waiting: str = "") -> dict:
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    return {
        "metadata": {"name": name, "creationTimestamp": "2026-11-28T11:59:00Z"},
        "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
        "status": {"phase": phase, "containerStatuses": [
            {"name": "a", "ready": ready, "restartCount": 1, "state": state},
            {"name": "b", "ready": ready, "restartCount": 2, "state": state}]},
    }


def test_pod_table_has_kubectls_columns():
    table = render_table("pods", [pod("web", "Running", True), pod("new", "Pending", False, "ContainerCreating")],
                         "42", now=NOW)
    assert table["kind"] == "Table" and table["metadata"]["resourceVersion"] == "42"
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0] == [
        "Name", "Ready", "Status", "Restarts", "Age"]
    assert table["rows"][0]["cells"][:5] == ["web", "2/2", "Running", 3, "60s"]
    assert table["rows"][1]["cells"][:3] == ["new", "0/2", "ContainerCreating"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert "object" not in render_table("pods", [pod("x", "Running", True)], include_object="None")["rows"][0]


def test_imagecache_and_deployment_tables():
    cache = {"metadata": {"name": "c", "creationTimestamp": "2026-11-28T10:00:00Z"},
             "status": {"imageCacheId": "imc-1", "phase": "Ready", "progress": "100%"}}
    assert render_table("imagecaches.eci.alibabacloud.com", [cache], now=NOW)["rows"][0]["cells"] == [
        "c", "120m", "imc-1", "Ready", "100%"]
    deployment = {"metadata": {"name": "d", "creationTimestamp": "2026-11-28T11:59:30Z"},
                  "spec": {"replicas": 3}, "status": {"readyReplicas": 2, "updatedReplicas": 3,
                                                       "availableReplicas": 2}}
    table = render_table("deployments.apps", [deployment], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"][:5]] == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    assert table["rows"][0]["cells"][:5] == ["d", "2/3", 3, 2, "30s"]


def test_terminating_pods():
    terminating = pod("gone", "Running", True)
    terminating["metadata"]["deletionTimestamp"] = "2026-11-28T12:00:00Z"
    assert pod_status_text(terminating) == "Terminating"


def test_store_history_resume_and_selection():
    store = Store(history_size=3)
    watcher = Watcher("pods", "ns", selector_from_query("team=a", None, "pods"))
    store.subscribe(watcher)
    first = store.put("pods", {"metadata": {"name": "p", "namespace": "ns", "labels": {"team": "a"}}})
    moved = first.copy()
    moved["metadata"]["labels"]["team"] = "b"
    store.put("pods", moved)
    store.put("pods", {"metadata": {"name": "q", "namespace": "other", "labels": {"team": "a"}}})
    events = [(kind, entry) for _, kind, entry in watcher.pending]
    assert [(kind, entry.obj["metadata"]["name"]) for kind, entry in events] == [("ADDED", "p"), ("DELETED", "p")]
    assert store.can_resume(first.rv - 1)
    store.remove("pods", "other", "q")
    assert not store.can_resume(first.rv - 1) and store.can_resume(first.rv)
    assert [c.type for c in store.changes_since("pods", first.rv)] == ["MODIFIED", "ADDED", "DELETED"]
    assert [e.obj["metadata"]["name"] for e in store.entries("pods", "ns")] == ["p"]


def test_the_history_is_bounded_by_bytes_and_a_watcher_it_left_behind_expires():
    store = Store(history_size=100, history_bytes=10_000)
    behind, keeping_up = Watcher("pods", None, Selector()), Watcher("pods", None, Selector())
    store.subscribe(behind)
    store.subscribe(keeping_up)
    first = store.put("pods", {"metadata": {"name": "p", "namespace": "ns"}, "data": "x" * 2000})
    for turn in range(5):
        keeping_up.take(10, 1_000_000)
        store.put("pods", {**first.copy(), "data": str(turn) * 2000})
    assert store.held_bytes <= 10_000 and len(store.history) < 6
    assert not store.can_resume(first.rv)
    assert first.rv < behind.expired_at <= store.evicted_rv + 1 and not behind.pending
    assert not keeping_up.expired_at and len(keeping_up.pending) == 1
    store.unsubscribe(keeping_up)
    assert not keeping_up.pending and keeping_up.ended


def test_protobuf_access_review():
    def field(number: int, payload: bytes) -> bytes:
        return bytes([number << 3 | 2, len(payload)]) + payload

    attributes = field(1, b"ns") + field(2, b"create") + field(5, b"pods")
    review = field(2, field(1, attributes))
    type_meta = field(1, b"authorization.k8s.io/v1") + field(2, b"SelfSubjectAccessReview")
    body = b"k8s\x00" + field(1, type_meta) + field(2, review)
    decoded = decode(body)
    assert decoded["kind"] == "SelfSubjectAccessReview"
    assert decoded["spec"]["resourceAttributes"]["verb"] == "create"
    assert decoded["spec"]["resourceAttributes"]["resource"] == "pods"
    with pytest.raises(ProtobufError):
        decode(b"k8s\x00" + field(1, field(2, b"Pod")))
    with pytest.raises(ProtobufError):
        decode(b"{}")
