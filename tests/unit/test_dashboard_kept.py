"""What the dashboard keeps across store versions (tables with rows rewritten, what is drawn from their columns, the
caches table) is what it builds afresh from the same snapshot, through every kind of change."""

from __future__ import annotations

import copy
from datetime import timedelta

import pandas as pd
import pytest

from dashboard import cache_views, start_views, views
from dashboard.frames import FrameKeeper, Frames
from dashboard.pages import overview
from kube.store import ClusterStore
from tests.fixtures.engine.builders import imagecache
from tests.unit.test_dashboard_views import NOW, demo_store, workload_store
from tests.unit.test_kube_store import eci_pod, event, pulled
from tests.unit.test_start_views import owned

WEB, SIDE, BATCH = "nginx:1.25", "redis:7", "acme/batch:1.0"
COUNT = views.SMALL_TABLE + 120  # rows are written into the last table only from this size on
# per store (by id), each pod as the API server holds it: the store keeps it without the fields its start is read
# from, and a watch's MODIFIED event carries the whole pod
SERVED: dict[int, dict[str, dict]] = {}


def starts_store(count: int = COUNT) -> ClusterStore:
    """`count` ECI pods of three workloads: hits on web-cache that found an image present, misses that pulled the
    same images (12 to 43 s), misses of an image no cache holds, and hits still starting."""
    store = ClusterStore(clock=lambda: NOW)
    store.replace("imagecaches", [imagecache("web-cache", [WEB, SIDE])], "1")
    pods, events = [], []
    for number in range(count):
        name, kind = f"p{number:05d}", number % 4
        if kind == 0:
            pods.append(owned(started(eci_pod(name, [WEB, SIDE]), 2 + number % 5), "api"))
            events.append(event(name, "SuccessfulHitImageCache", "hit image cache imc-web-cache"))
            events.append(pulled(name, f'Container image "{WEB}" already present on machine'))
        elif kind == 1:
            pods.append(owned(started(eci_pod(name, [WEB, SIDE]), 20 + number % 30), "web"))
            events.append(event(name, "ImageCacheMissed"))
            events.append(pulled(name, f'Successfully pulled image "{WEB}" in {10 + number % 30}s'))
            side = pulled(name, f'Successfully pulled image "{SIDE}" in {2 + number % 3}s')
            side["metadata"]["name"] += "-side"
            events.append(side)
        elif kind == 2:
            pods.append(owned(started(eci_pod(name, [BATCH]), 40 + number % 19), "batch"))
            events.append(pulled(name, f'Successfully pulled image "{BATCH}" in {30 + number % 9}s'))
        else:
            pods.append(owned(eci_pod(name, [WEB, SIDE]), "api"))
    store.replace("pods", pods, "1")
    SERVED[id(store)] = {f"default/{pod['metadata']['name']}": pod for pod in pods}
    store.replace("events", events, "1")
    store.replace("deployments", [], "1")
    return store


def started(obj: dict, second: int) -> dict:
    """The pod scheduled at 08:00:00 and every container of it running from 08:00:`second`."""
    obj["status"] = {
        "phase": "Running",
        "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-28T08:00:00Z"}],
        "containerStatuses": [{"name": container["name"], "state": {"running": {
            "startedAt": f"2026-11-28T08:00:{second:02d}Z"}}} for container in obj["spec"]["containers"]],
    }
    return obj


def reference_caches_frame(frames: Frames) -> pd.DataFrame:
    """The caches table as it was built before: every row's age made by `format_age` as the row was made."""
    hits = cache_views.cache_hits(frames.pods)
    rows = [(*row[:8], cache_views.format_age(frames.now - row[7]) if row[7] else "", row[8],
             int(hits.get(row[1], 0)) if row[1] else 0, row[9])
            for row in (cache_views.cache_row(name, view) for name, view in sorted(frames.snapshot.caches.items()))]
    frame = pd.DataFrame(rows, columns=cache_views.CACHE_COLUMNS)
    for column in ("Created", "Expires"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def assert_same(kept: Frames, fresh: Frames) -> None:
    """Every view model the Overview reads is the same, kept or built afresh."""
    for name in ("pods", "starts", "caches", "by_namespace", "uncached", "timeline"):
        pd.testing.assert_frame_equal(getattr(kept, name), getattr(fresh, name), check_exact=True, obj=name)
        assert getattr(kept, name).attrs == getattr(fresh, name).attrs, name
    pd.testing.assert_frame_equal(kept.caches, reference_caches_frame(fresh), check_exact=True)
    assert kept.headline == fresh.headline
    assert kept.pods_gone == fresh.pods_gone


def frames_after(keeper: FrameKeeper, store: ClusterStore, seconds: int = 0) -> tuple[Frames, Frames]:
    """The latest snapshot's Frames with the keeper and without, at the same moment."""
    now = NOW + timedelta(seconds=seconds)
    return Frames(store.snapshot(), now=now, keeper=keeper), Frames(store.snapshot(), now=now)


def modified(store: ClusterStore, key: str, change) -> None:
    """Apply a MODIFIED event of one pod, the object the server holds changed by `change`."""
    obj = copy.deepcopy(SERVED[id(store)][key])
    change(obj)
    SERVED[id(store)][key] = obj
    store.apply("pods", "MODIFIED", obj)


def start_at(second: int):
    """A change: the pod's containers started at another second."""
    return lambda obj: started(obj, second)


def crashing(obj: dict) -> None:
    """A change: the pod's first container waits, crashing."""
    obj["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": "x"}}


def relabelled(obj: dict) -> None:
    obj["metadata"]["labels"]["touched"] = "yes"


def test_the_kept_view_models_follow_every_kind_of_change():
    store = starts_store()
    keeper = FrameKeeper()
    changes = [
        ("a label", lambda: modified(store, "default/p00005", relabelled)),
        ("a hit's start", lambda: modified(store, "default/p00004", start_at(9))),
        ("a hit's start and a miss's", lambda: (modified(store, "default/p00008", start_at(7)),
                                                modified(store, "default/p00009", start_at(59)))),
        ("a pod stuck", lambda: modified(store, "default/p00012", crashing)),
        ("a pod starting", lambda: modified(store, "default/p00015", start_at(30))),
        ("ECI's word on a miss", lambda: store.apply("events", "ADDED", event(
            "p00013", "SuccessfulHitImageCache", "hit image cache imc-web-cache", name="p00013.late-hit"))),
        ("a new pull of a miss", lambda: store.apply("events", "ADDED", pulled(
            "p00017", f'Successfully pulled image "{WEB}" in 90s', uid="uid-p00017", at="2026-11-28T08:00:05Z"))),
        ("a pod added", lambda: store.apply("pods", "ADDED", owned(started(eci_pod("late", [BATCH]), 50), "batch"))),
        ("a pod deleted", lambda: store.apply("pods", "DELETED", store.snapshot().pods["default/p00001"].obj)),
        ("a cache deleted", lambda: store.apply("imagecaches", "DELETED",
                                                store.snapshot().cache_objects["web-cache"])),
        ("a cache added", lambda: store.apply("imagecaches", "ADDED", imagecache("batch-cache", [BATCH]))),
    ]
    assert_same(*frames_after(keeper, store))
    for step, (what, change) in enumerate(changes, start=1):
        change()
        kept, fresh = frames_after(keeper, store, seconds=90 * step)  # the caches' ages move too
        try:
            assert_same(kept, fresh)
        except AssertionError as failure:
            raise AssertionError(f"after {what}: {failure}") from failure


def test_a_pod_changed_where_no_table_shows_it_leaves_the_tables_and_what_is_drawn_from_them():
    store = starts_store()
    keeper = FrameKeeper()
    before, _ = frames_after(keeper, store)
    drawn = (before.by_namespace, before.uncached, before.caches_table, before.headline)
    modified(store, "default/p00005", relabelled)
    after, fresh = frames_after(keeper, store, seconds=5)
    assert after.snapshot is not before.snapshot
    assert after.pods is before.pods and after.starts is before.starts
    assert (after.by_namespace, after.uncached, after.caches_table, after.headline) == drawn
    assert after.by_namespace is drawn[0] and after.uncached is drawn[1] and after.caches_table is drawn[2]
    assert_same(after, fresh)


def test_a_start_that_moved_changes_its_columns_only():
    store = starts_store()
    keeper = FrameKeeper()
    before, _ = frames_after(keeper, store)
    modified(store, "default/p00004", start_at(9))
    after, fresh = frames_after(keeper, store)
    assert after.pods is not before.pods and after.starts is not before.starts
    changed = {column for column in views.POD_COLUMNS
               if after.pods_versions(column) != before.pods_versions(column)}
    assert changed == {"Start (s)"}
    assert after.by_namespace is before.by_namespace  # drawn from Namespace and Decision alone
    assert after.starts.set_index("key").loc["default/p00004", "Start (s)"] == 9.0
    assert before.pods.set_index("key").loc["default/p00004", "Start (s)"] != 9.0  # the old table is untouched
    assert_same(after, fresh)


def test_the_old_tables_are_never_written():
    store = starts_store()
    keeper = FrameKeeper()
    first, _ = frames_after(keeper, store)
    pods, starts = first.pods.copy(), first.starts.copy()
    modified(store, "default/p00004", start_at(9))
    modified(store, "default/p00012", crashing)
    frames_after(keeper, store)[0].starts  # noqa: B018 - built, patched from the first
    pd.testing.assert_frame_equal(first.pods, pods, check_exact=True)
    pd.testing.assert_frame_equal(first.starts, starts, check_exact=True)


@pytest.mark.parametrize("store", [demo_store, lambda: workload_store(300), starts_store])
def test_what_is_drawn_from_some_columns_reads_only_those(store):
    frames = Frames(store().snapshot(), now=NOW)
    pods, caches = frames.pods, frames.caches_table
    assert views.headline(pods[list(views.HEADLINE_COLUMNS)], caches) == views.headline(pods, caches)
    pd.testing.assert_frame_equal(views.decisions_by_namespace(pods[["Namespace", "Decision"]]),
                                  views.decisions_by_namespace(pods))
    assert cache_views.cache_hits(pods[["Cache ID"]]) == cache_views.cache_hits(pods)
    assert overview.latest_rows(pods[list(overview.LATEST_COLUMNS)]) == overview.latest_rows(pods)
    assert overview.latest_rows(pods)


def test_ages_of_caches_as_kubectl_writes_them():
    store = demo_store()
    for seconds in (0, 59, 60, 7199, 7200, 86400 * 3 + 1):
        frames = Frames(store.snapshot(), now=NOW + timedelta(seconds=seconds))
        pd.testing.assert_frame_equal(frames.caches, reference_caches_frame(frames), check_exact=True)


def test_starts_patched_reuse_the_savings_while_the_estimates_stand():
    store = starts_store()
    keeper = FrameKeeper()
    first = keeper.starts_frame(store.snapshot().pods)
    modified(store, "default/p00004", start_at(9))
    second = keeper.starts_frame(store.snapshot().pods)
    fresh = start_views.starts_frame(store.snapshot().pods)
    pd.testing.assert_frame_equal(second, fresh, check_exact=True)
    assert second.attrs == fresh.attrs == first.attrs
    saved = second.set_index("key")["Saved (s)"]
    assert saved.loc["default/p00004"] == saved.loc["default/p00000"]  # what a hit saves is not its start


def test_rows_are_written_where_the_changed_pods_are_when_the_list_order_is_not_the_tables():
    """Pods listed in an order unlike the pods table's (names descending, namespaces interleaved), every fifth not ECI:
    a pod's row is found by its place among the ECI pods (the tables keep no row or position a pod), so the rows
    written, in both tables, are the changed pods' own."""
    store = ClusterStore(clock=lambda: NOW)
    store.replace("imagecaches", [imagecache("web-cache", [WEB, SIDE])], "1")
    served, count = {}, COUNT * 5 // 4  # as many ECI pods as COUNT
    for number in reversed(range(count)):
        obj = owned(started(eci_pod(f"p{number:05d}", [WEB, SIDE], namespace=f"ns-{number % 7}"), 2 + number % 5),
                    "api")
        if number % 5 == 0:
            obj["metadata"]["labels"].pop("alibabacloud.com/eci")
        served[f"ns-{number % 7}/p{number:05d}"] = obj
    store.replace("pods", list(served.values()), "1")
    store.replace("events", [], "1")
    store.replace("deployments", [], "1")
    keeper = FrameKeeper()
    first, _ = frames_after(keeper, store)
    assert len(first.pods) == len(first.starts) >= views.SMALL_TABLE
    eci = set(first.pods["key"])
    assert first.pods["key"].tolist() != [key for key in store.snapshot().pods if key in eci]
    changed = {"ns-1/p00001", "ns-6/p00006", "ns-3/p00024", f"ns-{(count - 1) % 7}/p{count - 1:05d}"}
    for key in changed:
        obj = copy.deepcopy(served[key])
        started(obj, 40)
        store.apply("pods", "MODIFIED", obj)
    kept, fresh = frames_after(keeper, store)
    assert kept.pods_versions("Start (s)") != first.pods_versions("Start (s)")
    assert kept.pods_versions("Namespace") == first.pods_versions("Namespace")  # written into, not built again
    pd.testing.assert_frame_equal(kept.pods, fresh.pods, check_exact=True)
    pd.testing.assert_frame_equal(kept.starts, fresh.starts, check_exact=True)
    assert set(kept.starts.loc[kept.starts["Start (s)"] == 40.0, "key"]) == changed
    assert set(kept.pods.loc[kept.pods["Start (s)"] == 40.0, "key"]) == changed
    # pods come and go: the rows of the others are taken from the last tables, the new ones placed among them
    store.apply("pods", "ADDED", owned(started(eci_pod("a-first", [WEB, SIDE], namespace="ns-0"), 9), "api"))
    store.apply("pods", "ADDED", owned(started(eci_pod("zz-last", [BATCH], namespace="ns-6"), 11), "batch"))
    store.apply("pods", "DELETED", served["ns-2/p00002"])
    store.apply("pods", "DELETED", served["ns-5/p00005"])  # not ECI
    store.apply("pods", "DELETED", served["ns-6/p00006"])  # changed above
    grown, fresh = frames_after(keeper, store)
    assert {"ns-0/a-first", "ns-6/zz-last"} <= set(grown.pods["key"]) and "ns-2/p00002" not in set(grown.pods["key"])
    pd.testing.assert_frame_equal(grown.pods, fresh.pods, check_exact=True)
    pd.testing.assert_frame_equal(grown.starts, fresh.starts, check_exact=True)
    modified_again = copy.deepcopy(served["ns-3/p00024"])
    started(modified_again, 41)
    store.apply("pods", "MODIFIED", modified_again)  # a row written into the grown tables, found by its place
    again, fresh = frames_after(keeper, store)
    pd.testing.assert_frame_equal(again.pods, fresh.pods, check_exact=True)
    pd.testing.assert_frame_equal(again.starts, fresh.starts, check_exact=True)
