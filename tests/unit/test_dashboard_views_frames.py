"""The pods table built from column lists (rows made again only for the pods whose PodRecord changed) and figures kept per table content."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime, timedelta

import pandas as pd

from bench.workload import image_pool, make_caches, make_pods
from core.narrative import outcome_label
from dashboard import cache_views, charts, views
from dashboard.frames import FrameKeeper, Frames, content_key
from kube.store import ClusterStore
from tests.unit.test_dashboard_views import NOW, demo_store, eci_pod, hit_event, workload_store


def reference_pods_frame(pods) -> pd.DataFrame:
    """The table as it was built before: one dict per row, then pandas converts and sorts."""
    rows = []
    for key, record in pods.items():
        decision = record.decision
        if decision.outcome == "not-eci":
            continue
        actual = record.actual
        cache = decision.cache
        rows.append({
            "Namespace": record.namespace, "Pod": record.name, "Decision": decision.outcome,
            "Actual": actual.outcome if actual is not None else views.NO_REPORT, "Agrees": not record.disagrees,
            "Cache": cache.name if cache is not None else "", "Cache ID": views._hit_cache_id(decision, actual),
            "Images": ", ".join(decision.images), "Created": record.created, "key": key,
            "Start (s)": record.start.start_seconds if record.start else None,
            "Pull (s)": record.start.pull_seconds if record.start else None,
            "Predicted": outcome_label(decision), "Phase": (record.obj.get("status") or {}).get("phase") or "",
            "Owner": views.owner_of(record.obj),
            "ECI agrees": views.AGREEMENT[None if actual is None else not record.disagrees],
        })
    frame = pd.DataFrame(rows, columns=views.POD_COLUMNS)
    frame["Created"] = pd.to_datetime(frame["Created"], utc=True)
    frame[["Start (s)", "Pull (s)"]] = frame[["Start (s)", "Pull (s)"]].astype("float64")
    frame[views.CATEGORICAL] = frame[views.CATEGORICAL].astype("category")  # columns of few distinct values
    return frame.sort_values(["Namespace", "Pod"], kind="stable").reset_index(drop=True)


def assert_same_table(pods, keeper: FrameKeeper | None = None) -> None:
    expected = reference_pods_frame(pods)
    keeper = keeper or FrameKeeper()
    for _ in range(2):  # built, then from the rows the keeper kept
        frame = keeper.pods_frame(pods)
        pd.testing.assert_frame_equal(frame, expected, check_exact=True)
        assert list(frame.columns) == views.POD_COLUMNS
        assert frame.dtypes.to_dict() == expected.dtypes.to_dict()


def test_pods_frame_is_the_same_table_as_built_row_by_row():
    assert_same_table(demo_store().snapshot().pods)
    assert_same_table({})


def test_pods_frame_follows_changed_added_and_deleted_pods():
    store = workload_store(600)
    keeper = FrameKeeper()
    assert_same_table(store.snapshot().pods, keeper)
    before = views.pod_rows(store.snapshot().pods)
    store.apply("events", "ADDED", hit_event("ns-1", "pod-00001", "imc-00000001"))
    store.apply("pods", "ADDED", eci_pod("late", ["nginx:1.25"], namespace="ns-0", created="2026-11-28T08:59:59Z"))
    store.apply("pods", "DELETED", store.snapshot().pods["ns-2/pod-00002"].obj)
    pods = store.snapshot().pods
    assert "ns-2/pod-00002" not in pods
    assert_same_table(pods, keeper)
    after = views.pod_rows(pods, before)
    assert after["ns-0/pod-00000"] is before["ns-0/pod-00000"]  # unchanged: its row is reused
    assert after["ns-1/pod-00001"] is not before["ns-1/pod-00001"]
    row = views.pods_frame(pods).set_index("key").loc["ns-1/pod-00001"]
    assert row["Actual"] == "hit"
    assert row["Cache ID"] == "imc-00000001"


def test_a_table_with_some_pods_changed_is_the_last_one_with_their_rows_rewritten():
    store = workload_store(views.SMALL_TABLE + 100)
    keeper = FrameKeeper()
    first = keeper.pods_frame(store.snapshot().pods)
    kept = first.copy()
    store.apply("events", "ADDED", hit_event("ns-1", "pod-00001", "imc-00000001"))
    relabelled = copy.deepcopy(store.snapshot().pods["ns-3/pod-00003"].obj)
    relabelled["metadata"]["ownerReferences"] = [{"kind": "Job", "name": "nightly", "controller": True}]
    store.apply("pods", "MODIFIED", relabelled)
    image_set = copy.deepcopy(store.snapshot().pods["ns-4/pod-00004"].obj)  # kubectl set image: images no pod had
    image_set["spec"]["containers"][0]["image"] = "registry.example/never-seen:1"
    store.apply("pods", "MODIFIED", image_set)
    pods = store.snapshot().pods
    assert_same_table(pods, keeper)
    second = keeper.pods_frame(pods)
    assert second is not first
    assert second.set_index("key").loc["ns-1/pod-00001", "Actual"] == "hit"
    assert second.set_index("key").loc["ns-3/pod-00003", "Owner"] == "Job/nightly"
    assert "registry.example/never-seen:1" in second.set_index("key").loc["ns-4/pod-00004", "Images"]
    assert "registry.example/never-seen:1" not in " ".join(first["Images"].cat.categories)
    pd.testing.assert_frame_equal(first, kept, check_exact=True)  # the previous version's table is untouched
    assert keeper.pods_frame(pods) is second  # nothing changed since: the same table


def test_the_cache_timeline_is_kept_while_the_caches_and_the_minute_are():
    store = demo_store()
    keeper = FrameKeeper()
    first = Frames(store.snapshot(), now=NOW, keeper=keeper).timeline
    store.apply("pods", "ADDED", eci_pod("late", ["nginx:1.25"], created="2026-11-28T08:59:59Z"))
    assert Frames(store.snapshot(), now=NOW + timedelta(seconds=30), keeper=keeper).timeline is first
    later = Frames(store.snapshot(), now=NOW + timedelta(minutes=1), keeper=keeper).timeline
    assert later is not first
    pd.testing.assert_frame_equal(later, cache_views.cache_timeline(store.snapshot().caches, NOW + timedelta(minutes=1)))
    store.apply("imagecaches", "DELETED", store.snapshot().cache_objects["web-cache"])
    gone = Frames(store.snapshot(), now=NOW + timedelta(minutes=1), keeper=keeper).timeline
    assert "web-cache" in set(later["Cache"]) and "web-cache" not in set(gone["Cache"])


def test_pods_gone_follows_the_history_and_the_pods_across_versions():
    store = demo_store()
    keeper = FrameKeeper()
    assert Frames(store.snapshot(), now=NOW, keeper=keeper).pods_gone == 0
    store.apply("pods", "DELETED", store.snapshot().pods["shop/web-1"].obj)  # the history keeps it
    assert Frames(store.snapshot(), now=NOW, keeper=keeper).pods_gone == 1
    store.apply("pods", "ADDED", eci_pod("late", ["nginx:1.25"], created="2026-11-28T08:59:59Z"))
    snapshot = store.snapshot()
    assert Frames(snapshot, now=NOW, keeper=keeper).pods_gone == 1 == views.pods_gone(snapshot.history, snapshot.pods)


def test_pods_frame_keeps_a_pod_without_creation_time_as_not_a_time():
    store = ClusterStore(clock=lambda: NOW)
    obj = eci_pod("no-time", ["nginx:1.25"])
    del obj["metadata"]["creationTimestamp"]
    store.replace("pods", [obj, eci_pod("timed", ["nginx:1.25"])], "1")
    assert_same_table(store.snapshot().pods)
    assert views.pods_frame(store.snapshot().pods)["Created"].isna().tolist() == [True, False]


def test_a_figure_is_built_once_per_content_of_its_table():
    snapshot = demo_store().snapshot()
    table = cache_views.cache_timeline(snapshot.caches, NOW)
    minute = NOW.replace(second=0)
    keeper = FrameKeeper()
    first = keeper.figure(charts.cache_timeline, table, minute)
    assert keeper.figure(charts.cache_timeline, table.copy(), minute) is first  # same values, another DataFrame
    assert first.to_json() == charts.cache_timeline(table, minute).to_json()
    later = keeper.figure(charts.cache_timeline, table, datetime(2026, 11, 28, 9, 5, tzinfo=UTC))
    assert later is not first


def test_a_changed_table_draws_a_new_figure():
    frame = views.decisions_by_namespace(views.pods_frame(demo_store().snapshot().pods))
    keeper = FrameKeeper()
    first = keeper.figure(charts.decisions_by_namespace, frame)
    changed = frame.copy()
    changed.loc[0, "Pods"] += 1
    second = keeper.figure(charts.decisions_by_namespace, changed)
    assert second is not first
    assert second.to_json() == charts.decisions_by_namespace(changed).to_json()
    renamed = frame.rename(columns={"Pods": "Count"})
    assert content_key(renamed) != content_key(frame)


def test_attrs_are_part_of_a_tables_content():
    over_time = views.outcomes_over_time(demo_store().snapshot().history, NOW)
    moved = over_time.copy()
    moved.attrs = {**over_time.attrs, "bucket_seconds": over_time.attrs["bucket_seconds"] * 2}
    assert content_key(moved) != content_key(over_time)


def px_outcomes_over_time(frame: pd.DataFrame):
    """The figure as plotly express drew it before."""
    import plotly.express as px

    figure = px.bar(frame, x="Time", y="Pods", color="Outcome", color_discrete_map=charts.OUTCOME_COLORS,
                    category_orders={"Outcome": list(charts.OUTCOME_COLORS)})
    figure.update_layout(bargap=0.1, xaxis_title=None, yaxis_title="Pods created")
    figure.update_traces(width=0.9 * 1000 * frame.attrs.get("bucket_seconds", 60), offset=0)
    figure.update_yaxes(**charts.count_axis(frame.groupby("Time")["Pods"].sum().max()))  # whole pods (issue 21)
    if "start" in frame.attrs:
        figure.update_xaxes(range=[frame.attrs["start"], frame.attrs["end"]])
    return charts._styled(figure)


def px_decisions_by_namespace(frame: pd.DataFrame):
    """The figure as plotly express drew it before."""
    import plotly.express as px

    order = list(dict.fromkeys(frame["Namespace"]))
    figure = px.bar(frame, y="Namespace", x="Pods", color="Decision", orientation="h",
                    color_discrete_map=charts.OUTCOME_COLORS,
                    category_orders={"Decision": list(charts.OUTCOME_COLORS), "Namespace": order})
    figure.update_layout(yaxis_title=None, xaxis_title="ECI pods")
    figure.update_xaxes(**charts.count_axis(frame.groupby("Namespace")["Pods"].sum().max()))  # whole pods (issue 21)
    return charts._styled(figure, height=max(charts.HEIGHT, 40 + 28 * len(order)))


def as_sent(figure) -> dict:
    """The figure as Streamlit sends it to the browser (st.plotly_chart: plotly.io.to_json), parsed."""
    import plotly.io as pio

    return json.loads(pio.to_json(figure, validate=False))


def test_bars_built_with_graph_objects_are_the_figures_plotly_express_drew():
    rng = random.Random(9)
    pool = image_pool(120, rng)
    store = ClusterStore(clock=lambda: NOW)
    store.replace("imagecaches", make_caches(40, pool, rng), "1")
    pods = make_pods(400, pool, rng)
    for number, obj in enumerate(pods):  # 20 namespaces of different sizes (13 shown, the rest folded)
        obj["metadata"]["namespace"] = f"ns-{int(number ** 0.5) % 20}"
        obj["metadata"]["creationTimestamp"] = f"2026-11-28T0{number % 9}:{number % 60:02d}:00Z"
    store.replace("pods", pods, "1")
    for snapshot in (demo_store().snapshot(), store.snapshot()):
        by_namespace = views.decisions_by_namespace(views.pods_frame(snapshot.pods))
        assert as_sent(charts.decisions_by_namespace(by_namespace)) == as_sent(
            px_decisions_by_namespace(by_namespace))
        for now in (NOW, datetime(2026, 11, 28, 9, 0, 30, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)):
            over_time = views.outcomes_over_time(snapshot.history, now)
            if over_time.empty:
                continue
            assert as_sent(charts.outcomes_over_time(over_time)) == as_sent(
                px_outcomes_over_time(over_time))
    assert len(by_namespace["Namespace"].unique()) == 13


def px_cache_timeline(frame: pd.DataFrame, now: datetime | None):
    """The Gantt chart as plotly express drew it before."""
    import plotly.express as px

    figure = px.timeline(frame, x_start="Start", x_end="End", y="Cache", color="Stage",
                         color_discrete_map=charts.STAGE_COLORS, category_orders={"Stage": list(charts.STAGE_COLORS)})
    figure.update_yaxes(autorange="reversed", title=None)
    figure.update_layout(xaxis_title=None)
    if now is not None:
        figure.add_vline(x=now, line_dash="dot", line_color="#475569")
    if "start" in frame.attrs:
        figure.update_xaxes(range=[frame.attrs["start"], frame.attrs["end"]])
    return charts._styled(figure, height=max(charts.HEIGHT, 60 + 26 * frame["Cache"].nunique()))


def test_the_cache_timeline_built_with_graph_objects_is_the_figure_plotly_express_drew():
    rng = random.Random(12)
    caches = make_caches(60, image_pool(100, rng), rng)  # Ready, Creating and Failed, created over 27 days
    store = ClusterStore(clock=lambda: NOW)
    store.replace("imagecaches", caches, "1")
    for snapshot in (demo_store().snapshot(), store.snapshot()):
        for now in (NOW, datetime(2026, 12, 20, 13, 7, tzinfo=UTC)):
            table = cache_views.cache_timeline(snapshot.caches, now)
            assert set(table["Stage"]) >= {"Building", "Ready"}
            for line in (None, now.replace(second=0)):
                assert as_sent(charts.cache_timeline(table, line)) == as_sent(px_cache_timeline(table, line))


def test_the_view_models_arrow_buffers_come_from_the_system_allocator():
    import pyarrow as pa

    from dashboard.startup import configure_process

    configure_process()
    assert pa.default_memory_pool().backend_name == "system"
    before = pa.system_memory_pool().bytes_allocated()
    frame = views.pods_frame(demo_store().snapshot().pods)  # its string columns are Arrow arrays (pandas 3)
    assert pa.system_memory_pool().bytes_allocated() > before
    assert len(frame) == 7
