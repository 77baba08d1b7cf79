"""The start view models: hit against miss, per workload and cache, one pod's timeline."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.figures import saving_words, window_figures
from core.images import normalise_image
from core.policy import IMC_ID
from core.timeutil import parse_time
from dashboard import start_views
from kube import report
from kube.store import ClusterStore
from tests.fixtures.engine.builders import imagecache
from tests.unit.test_kube_store import POD_TIME, eci_pod, event, pulled

IMAGE = "nginx:1.25"
CREATED_AT = parse_time(POD_TIME).timestamp()


def started(obj: dict, second: int) -> dict:
    name = obj["spec"]["containers"][0]["name"]
    obj["status"] = {
        "phase": "Running",
        "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-28T08:00:00Z"}],
        "containerStatuses": [{"name": name, "state": {"running": {"startedAt": f"2026-11-28T08:00:{second:02d}Z"}}}],
    }
    return obj


def owned(obj: dict, deployment: str) -> dict:
    obj["metadata"]["labels"]["pod-template-hash"] = "5f7c9"
    obj["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": f"{deployment}-5f7c9", "controller": True}]
    return obj


def store() -> ClusterStore:
    """Two misses of `web` (pulls of 20 s and 30 s), two hits of `api` (image present), one `api` pod starting."""
    store = ClusterStore()
    store.replace("imagecaches", [imagecache("web-cache", [IMAGE])], "1")
    pods = [
        owned(started(eci_pod("miss1", [IMAGE]), 22), "web"),
        owned(started(eci_pod("miss2", [IMAGE]), 33), "web"),
        owned(started(eci_pod("hit1", [IMAGE]), 3), "api"),
        owned(started(eci_pod("hit2", [IMAGE]), 4), "api"),
        owned(eci_pod("new", [IMAGE]), "api"),
    ]
    store.replace("pods", pods, "1")
    events = [event(name, "ImageCacheMissed") for name in ("miss1", "miss2")]
    events += [event(name, "SuccessfulHitImageCache", "hit image cache imc-web-cache") for name in ("hit1", "hit2")]
    events += [
        pulled(
            "miss1", f'Successfully pulled image "{IMAGE}" in 20s (20s including waiting)', at="2026-11-28T08:00:21Z"
        ),
        pulled(
            "miss2", f'Successfully pulled image "{IMAGE}" in 30s (30s including waiting)', at="2026-11-28T08:00:32Z"
        ),
        pulled("hit1", f'Container image "{IMAGE}" already present on machine', at="2026-11-28T08:00:02Z"),
        pulled("hit2", f'Container image "{IMAGE}" already present on machine', at="2026-11-28T08:00:03Z"),
    ]
    store.replace("events", events, "1")
    return store


def live_figures(frame: pd.DataFrame, window: str = "1 h"):
    """The windowed figures of a starts frame, read just after the store's pods were created."""
    return window_figures(start_views.figure_rows(frame), window, CREATED_AT + 60, from_history=False)


def test_figures_agree_with_imc_report():
    snapshot = store().snapshot()
    frame = start_views.starts_frame(snapshot.pods)
    figures = live_figures(frame)
    items = report.results(snapshot)
    assert (figures.hit_start.median, figures.miss_start.median) == (3.5, 27.5)
    assert figures.miss_start.p90 == pytest.approx(31.9)
    assert figures.saved_seconds == sum(i["saved_seconds"] or 0 for i in items) == 50.0
    assert (figures.saved_pods, figures.unknown_saving, start_views.observed_pulls(frame)) == (2, 0, 2)
    assert start_views.still_starting(frame) == 1


def test_distribution_per_workload_and_per_cache():
    snapshot = store().snapshot()
    frame = start_views.starts_frame(snapshot.pods)
    data = start_views.start_distribution(frame)
    assert sorted(data.itertuples(index=False, name=None)) == [
        ("hit", 3.0),
        ("hit", 4.0),
        ("miss", 22.0),
        ("miss", 33.0),
    ]
    figure = start_views.start_chart(data)
    assert [trace.name for trace in figure.data] == ["Hit (2)", "Miss (2)"]
    table = start_views.by_workload(frame).set_index("Workload")
    assert table.loc["default/api", "Pods"] == 3 and table.loc["default/api", "Hit %"] == 100.0
    assert table.loc["default/api", "Saved (s)"] == 50.0 and math.isnan(table.loc["default/web", "Saved (s)"])
    assert table.loc["default/web", "Median start (s)"] == 27.5
    caches = start_views.by_cache(frame, snapshot.caches)
    assert caches.to_dict("records") == [
        {
            "Cache": "web-cache",
            "Cache ID": "imc-web-cache",
            "Pods served": 3,
            "Median start (s)": 3.5,
            "Saved (s)": 50.0,
            "Saved from": 2,
        }
    ]


def test_a_pods_timeline():
    snapshot = store().snapshot()
    steps = start_views.start_timeline(snapshot.pods["default/miss1"].start)
    assert [(s.seconds, s.kind) for s in steps] == [
        (0.0, "created"),
        (0.0, "scheduled"),
        (21.0, "pulled"),
        (22.0, "started"),
    ]
    assert steps[2].label == f"pulled {normalise_image(IMAGE)} in 20.0 s" and steps[2].duration == 20.0
    waiting = start_views.start_timeline(snapshot.pods["default/new"].start)
    assert [s.kind for s in waiting] == ["created"]
    assert len(start_views.timeline_chart(steps).data) == 5  # four points and the pull's bar


def test_labels_from_a_cluster_are_not_markup():
    steps = [start_views.TimelineStep(1.0, 'pulled <a href="x">y</a>', "pulled")]
    chart = start_views.timeline_chart(steps)
    assert chart.data[0].text == ('pulled &lt;a href="x"&gt;y&lt;/a&gt;',)
    assert chart.layout.yaxis.ticktext == ('pulled &lt;a href="x"&gt;y&lt;/a&gt;',)


@pytest.mark.parametrize(
    ("metadata", "workload"),
    [
        ({"namespace": "n", "name": "p"}, "n/p"),
        ({"namespace": "n", "name": "p", "ownerReferences": [{"kind": "Job", "name": "nightly"}]}, "n/nightly"),
        ({"namespace": "n", "ownerReferences": "x", "labels": None}, "n/"),
        (
            {
                "namespace": "n",
                "labels": {"pod-template-hash": "ab"},
                "ownerReferences": [{"kind": "ReplicaSet", "name": "web-ab", "controller": True}],
            },
            "n/web",
        ),
    ],
)
def test_workload_of_a_pod(metadata, workload):
    assert start_views.workload_of({"metadata": metadata}) == workload


def test_a_large_outcome_is_drawn_from_its_quartiles_and_outliers():
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.normal(10.0, 1.0, 4_990), [40.0, 45.0, 50.0, 0.0, 60.0, 70.0, 80.0, 90.0, 95.0, 99.0]])
    box = start_views.box_summary(values)
    assert (box.q1, box.median, box.q3) == tuple(np.percentile(values, [25, 50, 75]))
    reach = 1.5 * (box.q3 - box.q1)
    assert box.lower_fence >= box.q1 - reach and box.upper_fence <= box.q3 + reach
    assert {40.0, 99.0, 0.0} <= set(box.outliers) and len(box.outliers) < 100
    data = pd.DataFrame({"Outcome": ["miss"] * len(values) + ["hit"] * 3, "Start (s)": [*values, 2.0, 3.0, 4.0]})
    figure = start_views.start_chart(data)
    assert [(trace.type, trace.name) for trace in figure.data] == [
        ("box", "Hit (3)"),
        ("box", "Miss (5,000)"),
        ("scatter", "Miss (5,000)"),
    ]
    assert figure.data[1].x is None and figure.data[1].median == (box.median,)
    assert list(figure.data[2].x) == list(box.outliers)


def test_outliers_beyond_the_point_limit_are_spread_evenly_with_both_extremes():
    values = np.concatenate([np.full(20_000, 5.0), np.arange(1.0, 5_001.0) + 100.0])
    box = start_views.box_summary(values)
    assert len(box.outliers) == start_views.ALL_POINTS
    assert box.outliers[0] == 101.0 and box.outliers[-1] == 5_100.0


def test_miss_figures_leave_out_pods_with_matching_off_as_the_chart_does():
    frame = start_views.starts_frame(store().snapshot().pods)
    miss = frame[frame["Outcome"] == "miss"].iloc[[0]].assign(Outcome="off", **{"Start (s)": 1.0})
    with_off = pd.concat([frame, miss], ignore_index=True)
    figures = live_figures(with_off)
    assert (figures.miss_start.median, figures.miss_start.count, figures.off) == (27.5, 2, 1)
    assert set(start_views.start_distribution(with_off)["Outcome"]) >= {"miss", "off"}


def test_a_pod_eci_refused_is_not_counted_as_still_starting():
    cluster = store()
    refused = eci_pod("refused", [IMAGE], annotations={IMC_ID: "imc-gone"})  # pinned to no cache: ECI refuses it
    cluster.apply("pods", "ADDED", owned(refused, "api"))
    frame = start_views.starts_frame(cluster.snapshot().pods)
    assert frame.loc[frame["key"].str.endswith("/refused"), "Outcome"].tolist() == ["fail"]
    assert start_views.still_starting(frame) == 1  # only "new", on its way


def test_a_hit_that_paid_more_than_the_estimate_saved_nothing_and_its_detail_says_why():
    cluster = store()
    cluster.apply("pods", "ADDED", owned(started(eci_pod("slow-hit", [IMAGE]), 45), "cart"))
    for item in (event("slow-hit", "SuccessfulHitImageCache", "hit image cache imc-web-cache"),
                 pulled("slow-hit", f'Successfully pulled image "{IMAGE}" in 40s (40s including waiting)',
                        at="2026-11-28T08:00:44Z")):  # a manifest check that took longer than the misses' pulls
        cluster.apply("events", "ADDED", item)
    frame = start_views.starts_frame(cluster.snapshot().pods)
    key = frame.loc[frame["key"].str.endswith("/slow-hit"), "key"].item()
    assert start_views.saving_of_pod(frame, key) == -15.0  # the misses' median pull, 25 s, less the 40 s it paid
    assert saving_words(-15.0).startswith("0 s: it paid 15.0 s more pulling than the same images take on misses")
    tables = (frame, start_views.by_workload(frame), start_views.by_cache(frame, cluster.snapshot().caches))
    for table in tables:
        assert (table["Saved (s)"].dropna() >= 0).all()
    by_workload = start_views.by_workload(frame).set_index("Workload")["Saved (s)"]
    assert (by_workload["default/cart"], by_workload["default/api"]) == (0.0, 50.0)
    figures = live_figures(frame)
    assert (figures.saved_seconds, figures.saved_pods, figures.paid_more) == (50.0, 3, 1)
    assert items_saved(cluster) == {"slow-hit": 0.0, "hit1": 25.0, "hit2": 25.0}


def items_saved(cluster: ClusterStore) -> dict:
    """`imc report`'s saved_seconds per hit pod."""
    return {i["name"]: i["saved_seconds"] for i in report.results(cluster.snapshot()) if i["saved_seconds"] is not None}
