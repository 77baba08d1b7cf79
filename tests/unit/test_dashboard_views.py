"""Dashboard view models: tables, aggregates, the cache suggestion and the edits, without Streamlit."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pandas as pd

from bench.workload import image_pool, make_caches, make_pods
from core import coverage
from core.caches import cache_from_object
from core.coverage import PodNeed, held_images, suggest_cache
from core.policy import AUTO_IMC, IMC_ID, MATCH_COUNT, PERFECT_MATCH
from core.timeutil import format_time, parse_time
from dashboard import cache_views, edits, suggest, views
from dashboard.views import PodFilter
from kube.store import ClusterStore
from tests.fixtures.engine.builders import imagecache, pod, workload

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
CREATED = "2026-11-28T08:00:00Z"


def eci_pod(name: str, images: list[str], namespace: str = "shop", created: str = CREATED, **kwargs) -> dict:
    """An ECI pod as the API shows it."""
    obj = pod(images, name=name, namespace=namespace, **kwargs)
    obj["metadata"].update(creationTimestamp=created, uid=f"uid-{namespace}-{name}", resourceVersion="1")
    return obj


def hit_event(namespace: str, name: str, cache_id: str, at: str = CREATED) -> dict:
    """ECI's hit event about a pod."""
    return {
        "kind": "Event",
        "metadata": {"name": f"{name}.hit", "namespace": namespace},
        "involvedObject": {"kind": "Pod", "name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}"},
        "reason": "SuccessfulHitImageCache",
        "message": f"[eci.imagecache]Successfully hit image cache {cache_id}, eci will be scheduled with this image cache.",
        "lastTimestamp": at,
    }


def demo_store(created: str = CREATED) -> ClusterStore:
    """A small cluster: two Ready caches, one building, hits, misses, a failed pin, a Deployment; its pods created at
    `created`."""
    store = ClusterStore(clock=lambda: NOW)
    store.replace("imagecaches", [
        imagecache("web-cache", ["nginx:1.25", "redis:7"]),
        imagecache("api-cache", ["acme/api:2.0"], size=30),
        imagecache("building", ["acme/batch:1.0"], phase="Creating",
                   created=format_time(parse_time(created) + timedelta(minutes=30))),  # after the pods
    ], "1")
    store.replace("pods", [
        eci_pod("web-1", ["nginx:1.25"], created=created),
        eci_pod("web-2", ["nginx:1.25", "busybox:1.36"], created=created),
        eci_pod("api-1", ["acme/api:2.0"], namespace="backend", created=created),
        eci_pod("batch-1", ["acme/batch:1.0", "busybox:1.36"], namespace="jobs", created=created),
        eci_pod("batch-2", ["acme/batch:1.0", "busybox:1.36"], namespace="jobs", created=created),
        eci_pod("worker-1", ["acme/worker:3"], namespace="jobs", annotations={PERFECT_MATCH: "true"}, created=created),
        eci_pod("pinned-1", ["nginx:1.25"], annotations={IMC_ID: "imc-gone"}, created=created),
        eci_pod("plain", ["nginx:1.25"], labels={}, created=created),
    ], "1")
    store.replace("events", [hit_event("shop", "web-1", "imc-web-cache", created)], "1")
    store.replace("deployments", [
        {**workload("Deployment", ["nginx:1.25"], name="web", namespace="shop"),
         "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "7"}},
    ], "1")
    return store


def workload_store(pods: int) -> ClusterStore:
    """A store of bench/workload.py's seeded pods and 50 caches."""
    rng = random.Random(7)
    pool = image_pool(200, rng)
    store = ClusterStore(clock=lambda: NOW)
    store.replace("imagecaches", make_caches(50, pool, rng), "1")
    store.replace("pods", make_pods(pods, pool, rng), "1")
    return store


def test_pods_frame_lists_eci_pods_sorted_with_decisions():
    frame = views.pods_frame(demo_store().snapshot().pods)
    assert list(frame["key"]) == sorted(frame["key"], key=lambda k: tuple(k.split("/")))
    assert "shop/plain" not in set(frame["key"])
    row = frame.set_index("key").loc["shop/web-1"]
    assert (row["Decision"], row["Actual"], row["Cache"], row["Cache ID"]) == ("hit", "hit", "web-cache",
                                                                              "imc-web-cache")
    assert frame.set_index("key").loc["shop/pinned-1", "Decision"] == "fail"
    assert frame.set_index("key").loc["jobs/batch-1", "Decision"] == "miss"


def test_pods_frame_shows_coverage_owner_phase_and_a_dash_where_eci_said_nothing():
    store = demo_store()
    owned = eci_pod("web-7d9f-x2", ["nginx:1.25", "busybox:1.36"], labels={"alibabacloud.com/eci": "true",
                                                                            "pod-template-hash": "7d9f"})
    owned["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "web-7d9f", "controller": True}]
    owned["status"] = {"phase": "Running"}
    store.apply("pods", "ADDED", owned)
    frame = views.pods_frame(store.snapshot().pods).set_index("key")
    row = frame.loc["shop/web-7d9f-x2"]
    assert (row["Predicted"], row["Owner"], row["Phase"], row["ECI agrees"]) == (
        "Hit · 1 of 2 images cached", "Deployment/web", "Running", "–")
    assert frame.loc["shop/web-1", "ECI agrees"] == "✓"
    assert frame.loc["shop/pinned-1", "Predicted"] == "Fail"
    assert views.owner_of({"metadata": {"ownerReferences": [{"kind": "Job", "name": "nightly"}]}}) == "Job/nightly"


def test_filter_pods_combines_every_part():
    frame = views.pods_frame(demo_store().snapshot().pods)
    assert set(views.filter_pods(frame, PodFilter(namespaces=("jobs",)))["Pod"]) == {"batch-1", "batch-2", "worker-1"}
    assert set(views.filter_pods(frame, PodFilter(decisions=("fail",)))["Pod"]) == {"pinned-1"}
    assert set(views.filter_pods(frame, PodFilter(text="BUSYBOX"))["Pod"]) == {"web-2", "batch-1", "batch-2"}
    assert set(views.filter_pods(frame, PodFilter(caches=("api-cache",)))["Pod"]) == {"api-1"}
    assert views.filter_pods(frame, PodFilter(disagreements_only=True)).empty


def test_headline_counts_and_hit_rate():
    snapshot = demo_store().snapshot()
    pods = views.pods_frame(snapshot.pods)
    head = views.headline(pods, cache_views.caches_frame(snapshot.caches, pods, NOW))
    assert (head.eci_pods, head.hits, head.misses, head.fails, head.ready_caches, head.caches) == (7, 3, 3, 1, 2, 3)
    assert head.hit_rate == 3 / 7


def test_caches_frame_counts_pods_that_hit():
    snapshot = demo_store().snapshot()
    frame = cache_views.caches_frame(snapshot.caches, views.pods_frame(snapshot.pods), NOW).set_index("Name")
    assert frame.loc["web-cache", "Pods hit"] == 2
    assert frame.loc["building", "Phase"] == "Creating"
    assert frame.loc["building", "Progress"] == 40.0
    assert frame.loc["building", "Age"] == "30m"


def test_outcomes_over_time_buckets_pod_history():
    snapshot = demo_store().snapshot()
    frame = views.outcomes_over_time(snapshot.history, NOW)
    assert frame.groupby("Outcome")["Pods"].sum().to_dict() == {"hit": 3, "miss": 3, "fail": 1}


def test_decisions_by_namespace_puts_biggest_first():
    frame = views.decisions_by_namespace(views.pods_frame(demo_store().snapshot().pods))
    assert list(dict.fromkeys(frame["Namespace"]))[-1] == "backend"
    assert frame["Pods"].sum() == 7


def test_cache_timeline_has_building_and_ready_bars():
    frame = cache_views.cache_timeline(demo_store().snapshot().caches, NOW)
    stages = frame.groupby("Cache")["Stage"].apply(set).to_dict()
    assert stages["web-cache"] == {"Ready"}  # built weeks ago, before the day shown
    assert stages["building"] == {"Building"}
    assert (frame["End"] >= frame["Start"]).all()


def test_uncached_images_are_weighted_by_pods():
    snapshot = demo_store().snapshot()
    frame = suggest.uncached_images(snapshot.pods, held_images(snapshot.caches.values(), NOW))
    counts = dict(zip(frame["Image"], frame["Pods"], strict=True))
    assert counts["docker.io/library/busybox:1.36"] == 3
    assert counts["docker.io/acme/batch:1.0"] == 2
    assert "docker.io/library/nginx:1.25" not in counts


def test_suggest_cache_covers_most_missed_pods():
    suggestion = suggest_cache(suggest.missed_needs(demo_store().snapshot().pods))
    assert suggestion.pods_missed == 3
    assert suggestion.pods_covered == 3
    assert len(suggestion.images) <= 20


def test_missed_pods_whose_images_are_now_cached_need_nothing():
    snapshot = demo_store().snapshot()
    held = held_images(snapshot.caches.values(), NOW) | {"docker.io/acme/batch:1.0", "docker.io/library/busybox:1.36"}
    needs = suggest.missed_needs(snapshot.pods, held)
    assert [set(need.images) for need in needs] == [{"docker.io/acme/worker:3"}]


def test_the_dashboards_needs_are_the_engines_when_eci_has_not_spoken():
    pods = workload_store(1000).snapshot().pods
    engines = coverage.missed_needs((record.template, record.decision) for record in pods.values())
    assert engines
    assert Counter(suggest.missed_needs(pods)) == Counter(engines)


def test_suggest_cache_respects_the_limit_and_requirements():
    needs = [PodNeed(frozenset({f"i{n}"}), 1, 10 - n) for n in range(10)]
    needs.append(PodNeed(frozenset({"a", "b", "c"}), 3, 100))
    suggestion = suggest_cache(needs, max_images=4)
    assert len(suggestion.images) == 4
    assert {"a", "b", "c"} <= set(suggestion.images)
    assert suggestion.pods_covered == 110
    assert suggest_cache([]).images == ()


def test_suggest_cache_is_fast_for_ten_thousand_pods():
    needs = [PodNeed(frozenset({f"app{n % 300}:1", f"side{n % 7}:2"}), 1 + n % 2, 1) for n in range(10_000)]
    suggestion = suggest_cache(needs)
    assert len(suggestion.images) == 20
    assert suggestion.pods_covered > 0


def test_coverage_matrix_marks_exact_images():
    snapshot = demo_store().snapshot()
    matrix = cache_views.coverage_matrix(snapshot.caches, snapshot.pods)
    assert bool(matrix.loc["docker.io/library/nginx:1.25", "web-cache"])
    assert not bool(matrix.loc["docker.io/library/nginx:1.25", "api-cache"])
    assert matrix["Pods using it"].is_monotonic_decreasing


def test_format_age_and_buckets():
    assert cache_views.format_age(timedelta(seconds=45)) == "45s"
    assert cache_views.format_age(timedelta(minutes=5)) == "5m"
    assert cache_views.format_age(timedelta(hours=5)) == "5h"
    assert cache_views.format_age(timedelta(days=3)) == "3d"
    assert views.nice_bucket(timedelta(seconds=7)) == "10s"
    assert views.short_image("docker.io/library/nginx:1.25") == "nginx:1.25"


def test_policy_modes_set_and_clear_annotations():
    start = {PERFECT_MATCH: "true", MATCH_COUNT: "2", "other": "x"}
    assert edits.merged(start, edits.policy_annotations("automatic")) == {AUTO_IMC: "true", "other": "x"}
    assert edits.merged(start, edits.policy_annotations("match count", 3))[MATCH_COUNT] == "3"
    pinned = edits.merged(start, edits.policy_annotations("pin", pin="imc-1"))
    assert pinned == {IMC_ID: "imc-1", "other": "x"}
    assert edits.mode_of(pinned) == "pin"
    assert edits.mode_of(edits.merged({}, edits.policy_annotations("off"))) == "off"
    assert edits.mode_of(start) == "perfect match"
    assert edits.mode_of({IMC_ID: " ", MATCH_COUNT: "2"}) == "match count"  # a blank pin pins nothing, as ECI reads it


def test_template_diff():
    before = workload("Deployment", ["nginx:1.25"], name="web", namespace="shop")
    before["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Always"
    after = edits.with_template(before, {PERFECT_MATCH: "true"}, if_not_present=True)
    assert after["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    diff = edits.yaml_diff(edits.template_dict(before), edits.template_dict(after))
    assert "+    k8s.aliyun.com/imc-perfect-match: 'true'" in diff
    assert edits.yaml_diff(before, before) == ""
    assert edits.yaml_diff(before, edits.with_template(before, {})) == ""


def test_corrected_moves_workload_level_annotations_into_the_template():
    obj = workload("Deployment", ["nginx:1.25"], own_annotations={PERFECT_MATCH: "true"})
    written = {**edits.workload_level_policy(obj), **edits.template_annotations(obj)}
    fixed = edits.corrected(obj, written)
    assert "annotations" not in fixed["metadata"]
    assert fixed["spec"]["template"]["metadata"]["annotations"] == {PERFECT_MATCH: "true"}
    untouched = workload("Deployment", ["nginx:1.25"], own_annotations={"team": "shop"})
    assert edits.corrected(untouched, edits.template_annotations(untouched)) == untouched
    cron = workload("CronJob", ["nginx:1.25"])
    assert edits.template_annotations(edits.corrected(cron, {AUTO_IMC: "false"})) == {AUTO_IMC: "false"}


def test_cache_form_builds_an_imagecache_and_maps_errors_to_fields():
    form = edits.CacheForm(name="web", images="nginx:1.25\n\n redis:7 ", size_gib=25, retention_days=7,
                           pull_secrets="default:a, kube-system:b", reuse=True)
    obj = form.to_object()
    assert obj["spec"] == {"images": ["nginx:1.25", "redis:7"], "imageCacheSize": 25, "retentionDays": 7,
                           "imagePullSecrets": ["default:a", "kube-system:b"]}
    assert obj["metadata"]["annotations"] == {"k8s.aliyun.com/imc-enable-reuse": "true"}
    assert edits.form_field("spec.images[3]") == "Images"
    assert edits.form_field("spec.imagePullSecrets[0]") == "Image pull secrets"
    assert edits.form_field("metadata.name") == "Name"


def test_frames_for_ten_thousand_pods_build_quickly():
    store = ClusterStore(clock=lambda: NOW)
    store.replace("imagecaches", [imagecache(f"c{n}", [f"app{n}:1"]) for n in range(50)], "1")
    store.replace("pods", [eci_pod(f"p{n}", [f"app{n % 80}:1"], namespace=f"ns{n % 30}") for n in range(10_000)], "1")
    snapshot = store.snapshot()
    pods = views.pods_frame(snapshot.pods)
    assert len(pods) == 10_000
    assert isinstance(views.decisions_by_namespace(pods), pd.DataFrame)
    assert views.outcomes_over_time(snapshot.history, NOW)["Pods"].sum() == 10_000
    assert len(suggest_cache(suggest.missed_needs(snapshot.pods)).images) == 20


def test_filter_caches_by_phase_and_text():
    snapshot = demo_store().snapshot()
    frame = cache_views.caches_frame(snapshot.caches, views.pods_frame(snapshot.pods), NOW)
    assert list(cache_views.filter_caches(frame, ("Creating",))["Name"]) == ["building"]
    assert list(cache_views.filter_caches(frame, text="REDIS")["Name"]) == ["web-cache"]
    assert len(cache_views.filter_caches(frame)) == 3


def test_explanation_sentences():
    from core.outcomes import ActualOutcome
    from dashboard import explanation

    pods = demo_store().snapshot().pods
    assert "ECI uses cache web-cache (imc-web-cache)" in explanation.summary(pods["shop/web-1"].decision)
    assert "auto-creates a cache of 30 GiB" in explanation.summary(pods["jobs/batch-1"].decision)
    assert "no ImageCache has the pinned ID imc-gone" in explanation.summary(pods["shop/pinned-1"].decision)
    assert explanation.actual_summary(None, "off").startswith("ECI writes no image-cache event")
    hit = ActualOutcome("hit", "imc-1", ("SuccessfulHitImageCache",))
    assert explanation.actual_summary(hit) == "ECI hit cache `imc-1`, from SuccessfulHitImageCache."
    frame = explanation.verdicts_frame(explanation_of(pods["shop/web-1"]).candidates)
    assert frame.iloc[0]["Verdict"] == "chosen"


def explanation_of(record):
    """The engine's explanation of a stored pod against the demo store's caches."""
    from core.matching import CacheIndex, explain

    caches = demo_store().snapshot().caches
    return explain(record.template, CacheIndex(list(caches.values())), record.created)


def test_charts_do_not_change_between_redraws_of_an_unchanged_cluster():
    from dashboard import charts

    snapshot = demo_store().snapshot()
    first, later = NOW + timedelta(seconds=1), NOW + timedelta(seconds=20)
    for build in (
        lambda now: charts.outcomes_over_time(views.outcomes_over_time(snapshot.history, now)),
        lambda now: charts.cache_timeline(cache_views.cache_timeline(snapshot.caches, now),
                                          now.replace(second=0, microsecond=0)),
    ):
        assert build(first).to_json() == build(later).to_json()


def test_short_cache_names_are_short_and_unique():
    names = ["auto-create-for-eci-2zehhnqvllzp3y2wjhln", "auto-create-for-eci-2zes1bzk9a9p9eowaf1q",
             "a-very-long-team-cache-name-for-the-shop", "a-very-long-team-cache-name-for-the-shop-2", "web"]
    labels = cache_views.short_cache_names(names)
    assert labels["auto-create-for-eci-2zehhnqvllzp3y2wjhln"] == "auto …3y2wjhln"
    assert labels["web"] == "web"
    assert len(set(labels.values())) == len(names)
    assert all(len(label) <= 24 for label in labels.values())


def test_the_badge_says_since_when_the_data_is_stale():
    from dashboard.shell import staleness

    since = datetime(2026, 12, 1, 6, 0, 5, tzinfo=UTC)
    assert staleness({}, since) is None
    label, why = staleness({"api": since, "pods": since + timedelta(seconds=3)}, since + timedelta(seconds=45))
    assert label == "Not live since 06:00:05 UTC (45 s): data may be stale"
    assert "the API server does not answer" in why
    label, why = staleness({"events": since}, since + timedelta(minutes=10))
    assert "(10 min)" in label and "the watch of events is down" in why


def test_a_links_images_fill_the_create_form_one_per_line_without_duplicates_or_cut_images():
    assert edits.images_from_link(" nginx:1.25,,busybox:1.30,nginx:1.25 ") == "nginx:1.25\nbusybox:1.30"
    assert edits.images_from_link("aaaa,bbbb,cccc", max_chars=9) == "aaaa\nbbbb"
    assert edits.images_from_link("") == ""


def test_hit_rate_per_interval_counts_hits_among_pods_that_tried_a_cache():
    counted = pd.DataFrame({"Time": [NOW, NOW, NOW, NOW + timedelta(minutes=1)],
                            "Outcome": ["hit", "miss", "off", "hit"], "Pods": [3, 1, 5, 2]})
    rates = views.hit_rate_over_time(counted)
    assert rates["Hit rate"].tolist() == [0.75, 1.0]
    assert rates["Pods"].tolist() == [4, 2]


def test_pods_gone_counts_history_of_pods_no_longer_in_the_cluster():
    store = demo_store()
    history = store.snapshot().history
    assert views.pods_gone(history, store.snapshot().pods) == 0
    store.apply("pods", "DELETED", store.snapshot().pods["shop/web-1"].obj)
    snapshot = store.snapshot()
    assert views.pods_gone(snapshot.history, snapshot.pods) == 1


def test_the_cache_timeline_shows_a_day_each_side_and_marks_caches_expiring_within_it():
    caches = {view.name: view for view in (
        cache_from_object(imagecache("soon", ["a:1"], expire="2026-11-29T01:00:00Z")),
        cache_from_object(imagecache("later", ["b:1"], expire="2026-12-30T00:00:00Z")),
        cache_from_object(imagecache("gone", ["c:1"], expire="2026-11-20T00:00:00Z")),
    )}
    frame = cache_views.cache_timeline(caches, NOW)
    assert set(frame["Cache"]) == {"soon", "later"}
    stages = frame.groupby("Cache")["Stage"].apply(set)
    assert "Expires soon" in stages["soon"] and "Expires soon" not in stages["later"]
    assert frame["Start"].min() == pd.Timestamp(NOW - timedelta(hours=24))
    assert (frame.attrs["start"], frame.attrs["end"]) == (pd.Timestamp(NOW - timedelta(hours=24)),
                                                          pd.Timestamp(NOW + timedelta(hours=24)))
