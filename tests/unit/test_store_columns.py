"""The store holds pods packed (issue 24): its records give what the pages read, as the store of whole pod dicts did.

Each scenario is built in-process (no server): the sim's demo and scale clusters run on an event loop until their pods
started, and their objects go into a ClusterStore as the reflectors put them (decoded afresh, filtered and slimmed).
Every record is compared with what the earlier store kept and computed, each from the slim pod and its events alone:
the pod dict without its start fields, its template, decision, ECI's outcome, start and pulls.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest

from core.matching import decide
from core.outcomes import actual_outcome, event_pod_key, is_eci_event, unseen_cache
from core.owners import workload_name
from core.starts import PULL_REASON, pod_start, pull_from_event, without_start_fields
from core.workloads import pod_template
from dashboard import start_views, views
from kube.slim import ABSENT, Shared, pack_pod, slim_object, unpack_pod
from kube.store import ClusterStore, object_key
from kube.watch import keep_object
from sim.apiserver.resources import DEPLOYMENTS, EVENTS, IMAGECACHES, PODS
from sim.scenarios import build_scenario
from sim.simulation import build_simulation
from tests.unit.test_sim_server_parts import run_in_fresh_loop

SCALE_PODS, SCALE_CACHES = 400, 40  # ten pods a spec, as at 50,000 pods and 5,000 caches
RESOURCES = {"imagecaches": IMAGECACHES, "deployments": DEPLOYMENTS, "events": EVENTS, "pods": PODS}


def started(objects: dict[str, list[dict]], scenario: str) -> bool:
    """The scale cluster's pods all running with their three pulls; some of the demo's running with theirs."""
    running = sum(1 for pod in objects["pods"] if (pod.get("status") or {}).get("phase") == "Running")
    pulls = sum(1 for event in objects["events"] if event.get("reason") == PULL_REASON)
    if scenario == "scale":
        return running == SCALE_PODS and pulls == 3 * SCALE_PODS
    return running >= 10 and pulls > 0


def cluster_objects(scenario: str) -> dict[str, list[dict]]:
    """The scenario's objects of the store's four kinds, once its pods started (polled on the sim's own loop)."""
    async def run() -> dict[str, list[dict]]:
        sim = build_simulation(history=1_000_000, speed=1000.0 if scenario == "scale" else 100.0)
        build_scenario(scenario, sim, SCALE_PODS, SCALE_CACHES, 1).populate()
        deadline = time.monotonic() + 60
        while True:
            objects = {kind: [orjson.loads(orjson.dumps(o)) for o in sim.store.objects(resource.key)]
                       for kind, resource in RESOURCES.items()}
            if started(objects, scenario):
                return objects
            assert time.monotonic() < deadline, f"the {scenario} scenario's pods did not start within 60 s"
            await asyncio.sleep(0.05)  # the loop runs the sim's controllers meanwhile

    return run_in_fresh_loop(run())


def listed(objects: dict[str, list[dict]], kind: str) -> list[dict]:
    """A kind's objects as a reflector's list gives them to the store: filtered and slimmed."""
    return [slim_object(kind, o) for o in objects[kind] if keep_object(kind, o)]


def stored(objects: dict[str, list[dict]], order: tuple[str, ...]) -> ClusterStore:
    """A store given each kind's list in this order; ("paged",): the caches, then pods and events page by page from
    two threads taking turns (`ClusterStore.replace_pages`, as the dashboard's reflectors list them side by side)."""
    store = ClusterStore()
    if order != ("paged",):
        for kind in order:
            store.replace(kind, listed(objects, kind), "1")
        return store
    store.replace_pages("imagecaches", [(listed(objects, "imagecaches"), "1")])
    pods, events = listed(objects, "pods"), listed(objects, "events")
    turns = Turns("pods", "events")
    events_thread = threading.Thread(target=store.replace_pages, args=(
        "events", turns.pages("events", [events[i:i + 101] for i in range(0, len(events), 101)])))
    events_thread.start()
    store.replace_pages("pods", turns.pages("pods", [pods[i:i + 37] for i in range(0, len(pods), 37)]))
    events_thread.join(timeout=60)
    assert not events_thread.is_alive() and dict(store.snapshot().synced)["events"]
    return store


class Turns:
    """Two lists' pages handed out in turns: a page is asked for once the other list's last page was stored."""

    def __init__(self, first: str, second: str) -> None:
        self.kinds = (first, second)
        self.turn = first
        self.done: set[str] = set()
        self.baton = threading.Condition()

    def pages(self, kind: str, pages: list[list[dict]]) -> Iterator[tuple[list[dict], str]]:
        other = self.kinds[1 - self.kinds.index(kind)]
        for page in pages:
            with self.baton:
                assert self.baton.wait_for(lambda: self.turn == kind or other in self.done, timeout=30)
            yield page, "1"
            self._hand_over(other)  # asked for the next page: this one is stored
        with self.baton:
            self.done.add(kind)
        self._hand_over(other)

    def _hand_over(self, other: str) -> None:
        with self.baton:
            self.turn = other
            self.baton.notify_all()


@pytest.fixture(scope="module", params=["demo", "scale"])
def scenario(request) -> tuple[str, dict[str, list[dict]]]:
    return request.param, cluster_objects(request.param)


def expected_records(objects: dict[str, list[dict]], snapshot) -> dict[str, dict]:
    """Per pod key, what the store of whole slim pod dicts kept, each computed from the pod and its events alone."""
    events = listed(objects, "events")
    expected = {}
    now = datetime.now(UTC)
    for pod in listed(objects, "pods"):
        key = object_key(pod)
        uid = pod["metadata"].get("uid")
        mine = [e for e in events if event_pod_key(e) == key]
        template = pod_template(pod)
        at = template.decided_at(now)
        actual = actual_outcome(pod, [e for e in mine if is_eci_event(e)])
        pulls = [pull_from_event(e) for e in mine if e.get("reason") == PULL_REASON
                 and not (uid and (e.get("involvedObject") or {}).get("uid") not in (None, "", uid))]
        expected[key] = {
            "obj": without_start_fields(pod),
            "template": template,
            "decision": decide(template, snapshot.index_at(at), at=at),
            "actual": actual,
            "reported": actual.events if actual is not None else None,
            "start": pod_start(pod, [p for p in pulls if p is not None]),
            "unseen_cache": unseen_cache(actual, snapshot.cache_history.knows),
        }
    return expected


@pytest.mark.parametrize("order", [("imagecaches", "deployments", "events", "pods"),
                                   ("pods", "imagecaches", "deployments", "events"), ("paged",)],
                         ids=["events-first", "pods-first", "paged"])
def test_the_packed_store_returns_the_records_the_dict_store_did(scenario, order):
    name, objects = scenario
    snapshot = stored(objects, order).snapshot()
    expected = expected_records(objects, snapshot)
    assert len(expected) >= (SCALE_PODS if name == "scale" else 100)
    assert set(snapshot.pods) == set(expected)
    for key, record in snapshot.pods.items():
        want = expected[key]
        obj = record.obj
        got = {"obj": obj, "template": record.template, "decision": record.decision, "actual": record.actual,
               "reported": record.actual.events if record.actual is not None else None, "start": record.start,
               "unseen_cache": record.unseen_cache}
        assert got == want, key
        assert (record.metadata, record.uid, record.phase, record.workload) == (
            obj["metadata"], obj["metadata"].get("uid"), (obj.get("status") or {}).get("phase") or "",
            workload_name(obj["metadata"])), key
    if name == "scale":
        reported = [r.actual.outcome if r.actual is not None else None for r in snapshot.pods.values()]
        assert (reported.count("hit"), reported.count(None)) == (SCALE_PODS * 19 // 20, SCALE_PODS // 20)  # 1 in 20 off
        assert all(len(r.start.pulls) == 3 for r in snapshot.pods.values())
    else:
        outcomes = {r.decision.outcome for r in snapshot.pods.values()}
        assert {"hit", "miss"} <= outcomes and any(r.start.pulls for r in snapshot.pods.values())


def test_the_pages_rows_read_from_the_packed_pods_as_from_their_dicts(scenario):
    _, objects = scenario
    snapshot = stored(objects, ("imagecaches", "deployments", "events", "pods")).snapshot()
    rows = views.pod_rows(snapshot.pods)
    starts = views.pod_rows(snapshot.pods, row=start_views.start_row)
    phase, owner = views.POD_COLUMNS.index("Phase"), views.POD_COLUMNS.index("Owner")
    for key, record in snapshot.pods.items():
        obj = record.obj
        row = rows[key][1]
        if row is None:
            assert record.decision.outcome == "not-eci"
            continue
        assert (row[phase], row[owner]) == ((obj.get("status") or {}).get("phase") or "", views.owner_of(obj))
        assert starts[key][1][2] == start_views.workload_of(obj)


def test_a_workloads_pods_hold_one_spec_and_one_set_of_labels():
    objects = cluster_objects("scale")
    snapshot = stored(objects, ("imagecaches", "events", "pods")).snapshot()
    records = list(snapshot.pods.values())
    specs = {orjson.dumps(r.template.spec) for r in records}
    assert len(specs) == SCALE_CACHES
    assert len({id(r.template.spec) for r in records}) == SCALE_CACHES  # one object per distinct spec
    assert len({id(r.template.labels) for r in records}) == SCALE_CACHES
    for record in records:
        obj = record.obj
        assert obj["spec"] is record.template.spec and obj["metadata"]["labels"] is record.template.labels
        assert obj["metadata"]["annotations"] is record.template.annotations


def test_a_pod_of_another_shape_is_kept_as_its_dict():
    shared = Shared()
    odd = {"kind": "Pod", "metadata": {"name": "p", "extra": 1}, "status": {"phase": "Running", "conditions": []}}
    assert pack_pod(odd, shared) == {"kind": "Pod", "metadata": {"name": "p", "extra": 1}, "status": {"phase": "Running"}}
    plain = {"metadata": {"name": "p", "labels": {1: "not a string key"}}, "spec": {}}
    packed = pack_pod(plain, shared)
    assert packed[0] is ABSENT and unpack_pod(packed) == plain


def test_a_shared_table_starts_afresh_past_its_limit():
    shared = Shared(limit=2)
    first = shared.one({"a": "1"})
    assert shared.one({"a": "1"}) is first and shared.one(["x"]) == ["x"]
    assert len(shared) == 2
    shared.one({"b": "2"})
    assert len(shared) == 1 and shared.one({"a": "1"}) is not first
