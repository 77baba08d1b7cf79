"""Every page reads right the first time (issue 21): times relative with their zone, a deleted pod's ledger row."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pandas as pd

from dashboard.cache_views import CACHE_LINK_TEXT, by_urgency, relative_time
from dashboard.history_views import ledger_pod_facts
from dashboard.shell import demo_kubeconfig_line, server_text
from dashboard.shown_cluster import ShownCluster
from dashboard.views import owner_names, pod_facts
from kube.ledger_rows import PodRow, StoredPod
from kube.store import ClusterStore
from sim.launch import SimProcess

NOW = datetime(2026, 12, 5, 23, 10, tzinfo=UTC)


def test_a_time_reads_relative_first_then_absolute_with_its_zone():
    assert relative_time(NOW + timedelta(minutes=40), NOW) == "in 40 min (2026-12-05 23:50 UTC)"
    assert relative_time(NOW - timedelta(hours=3, minutes=5), NOW) == "3 h 05 min ago (2026-12-05 20:05 UTC)"
    assert relative_time(NOW + timedelta(days=6, hours=1), NOW) == "in 6 d (2026-12-12 00:10 UTC)"
    other_zone = (NOW + timedelta(seconds=30)).astimezone(datetime.now().astimezone().tzinfo)
    assert relative_time(other_zone, NOW) == "in 30 s (2026-12-05 23:10 UTC)"


def test_a_deleted_pods_row_says_when_it_went_what_eci_did_and_its_times():
    created, deleted = (NOW - timedelta(minutes=30)).timestamp(), (NOW - timedelta(minutes=5)).timestamp()
    row = StoredPod(PodRow("prod", "uid-1", "shop", "web-1", "Deployment/web", created, "hit", "miss", "miss",
                           "web-cache", "imc-web", 1, 12.5, 9.25, 3.0), deleted)
    facts = dict(ledger_pod_facts(row, NOW))
    assert facts["Deleted"] == "5 min ago (2026-12-05 23:05 UTC)"
    assert facts["What ECI did"] == "miss (not what imc predicted)"
    assert facts["Cache"] == "web-cache (imc-web)"
    assert (facts["Start"], facts["Pull"]) == ("12.5 s", "9.2 s")
    unreported = StoredPod(PodRow("prod", "uid-2", "shop", "web-2", "", created, "fail", None, "fail", None, None, 0,
                                  None, None), None)
    facts = dict(ledger_pod_facts(unreported, NOW))
    assert facts["What ECI did"] == "nothing reported" and facts["Start"].startswith("not known")
    assert facts["Deleted"].startswith("not seen deleted") and facts["Workload"] == "none (a bare pod)"


def test_an_auto_created_caches_shown_name_differs_between_two_caches_within_what_fits():
    names = ["auto-create-for-eci-2zeabcdefghijklmnopq", "auto-create-for-eci-2zezyxwvutsrqponmlk"]
    shown = [re.search(CACHE_LINK_TEXT, f"/caches?cache={name}").group(1) for name in names]
    assert shown[0][:16] != shown[1][:16]  # the pods table's Cache column shows about 16 characters
    assert re.search(CACHE_LINK_TEXT, "/caches?cache=postgres-16").group(1) == "postgres-16"


def test_caches_in_use_that_expire_soon_come_first_and_a_failed_cache_says_when_it_is_removed():
    table = pd.DataFrame({
        "Name": ["alpha", "legacy", "redis-7", "unused", "zeta"],
        "Phase": ["Ready", "Failed", "Ready", "Ready", "Ready"],
        "Expires": pd.to_datetime([NOW + timedelta(days=20), NOW + timedelta(hours=23), NOW + timedelta(minutes=40),
                                   NOW + timedelta(minutes=10), NOW + timedelta(hours=5)], utc=True),
        "Pods hit": [4, 0, 2, 0, 1],
    })
    ordered = by_urgency(table, NOW)
    assert list(ordered["Name"]) == ["redis-7", "zeta", "alpha", "legacy", "unused"]
    words = dict(zip(ordered["Name"], ordered["Expires in"], strict=True))
    assert words["redis-7"] == "⚠ in 40 min (2026-12-05 23:50 UTC)"
    assert words["legacy"] == "removed in 23 h (2026-12-06 22:10 UTC)"
    assert words["unused"] == "in 10 min (2026-12-05 23:20 UTC)"  # soon, but no pod uses it: not flagged


def test_the_server_badge_is_not_a_link_and_the_demo_gives_its_kubeconfig_line():
    assert server_text("https://127.0.0.1:41523") == "127.0.0.1:41523"
    demo = ShownCluster(store=ClusterStore(), context="sim", server="https://127.0.0.1:41523", source="demo",
                        is_demo=True, sim=SimProcess("/home/me/.cache/imc/dashboard-demo/kube config", "", None, ""))
    assert demo_kubeconfig_line(demo) == "export KUBECONFIG='/home/me/.cache/imc/dashboard-demo/kube config'"
    demo.sim = None  # the user's own cluster, even the sim's: not this dashboard's demo
    assert demo_kubeconfig_line(demo) is None


def test_a_cache_event_is_one_whole_line_with_its_reason_type_and_time():
    from dashboard.pages.caches import event_line

    message = "Failed to pull image registry.example.invalid/team/legacy:1.0: registry cannot be resolved " * 3
    line = event_line({"type": "Warning", "reason": "PullImageFailed", "message": message,
                       "timestamp": "2026-12-05T23:10:00Z"})
    assert line.startswith("**PullImageFailed** (Warning, `2026-12-05T23:10:00Z`): Failed to pull image")
    assert line.count("legacy:1.0") == 3  # whole, not cut at a column's edge
    assert "\u202e" not in event_line({"reason": "x\u202e", "message": "m"})  # control characters shown, not obeyed


def test_the_pods_table_names_the_owner_alone_and_the_detail_gives_its_kind_and_the_phase():
    owners = pd.Series(["CronJob/etl-hourly", "Deployment/web", ""])
    assert owner_names(owners).tolist() == ["etl-hourly", "web", ""]
    pod = {"metadata": {"name": "etl-hourly-29941751-l69g9", "namespace": "data", "ownerReferences": [
        {"kind": "Job", "name": "etl-hourly-29941751", "controller": True}], "labels": {
        "job-name": "etl-hourly-29941751"}}, "status": {"phase": "Succeeded"}}
    assert pod_facts(pod) == "Owner CronJob/etl-hourly · Phase Succeeded"
    assert pod_facts({"metadata": {"name": "bare"}, "status": {}}) == ""
