"""Counters Prometheus can read: every outcome of a known workload from 0, a new series at 0 before its first count,
and the pull time saved, estimated once per started hit."""

from __future__ import annotations

import sqlite3

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dashboard import start_views
from kube.ledger import Ledger, LedgerWriter
from kube.live import Live
from kube.metrics import OUTCOMES, ImcCollector, metrics_settings
from kube.store import ClusterStore
from kube.watch import ClusterWatcher
from tests.fixtures.engine.builders import imagecache
from tests.unit.test_kube_metrics import live_cluster, scrape
from tests.unit.test_kube_store import eci_pod, event, pulled
from tests.unit.test_start_views import IMAGE, owned, started
from tests.unit.test_start_views import store as starts_store


class Clock:
    """A settable monotonic clock for the collector."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def samples(collector: ImcCollector, name: str) -> dict[tuple, float]:
    """One scrape's samples of a counter, by their label values."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {tuple(s.labels[k] for k in ("cluster", "namespace", "workload", "outcome")): s.value for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == name}


def decisions_of(families: dict, **labels) -> dict[str, float]:
    """imc_pod_decisions_total by outcome, for the samples with these labels."""
    return {s.labels["outcome"]: s.value for s in families["imc_pod_decisions"]
            if s.name == "imc_pod_decisions_total" and all(s.labels[k] == v for k, v in labels.items())}


def eci_deployment(name: str) -> dict:
    """A Deployment of ECI pods."""
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "batch"},
            "spec": {"template": {"metadata": {"labels": {"alibabacloud.com/eci": "true"}},
                                  "spec": {"containers": [{"name": "c", "image": IMAGE}]}}}}


def test_every_outcome_of_every_known_workload_is_exposed_from_0(tmp_path):
    live = live_cluster(tmp_path)
    plain = eci_deployment("plain")
    plain["spec"]["template"]["metadata"]["labels"] = {}
    live.store.replace("deployments", [eci_deployment("nightly-load"), plain], "1")
    families = scrape([live])
    assert decisions_of(families, workload="Deployment/web") == {"hit": 1, "miss": 1, "fail": 0, "off": 0}
    assert decisions_of(families, workload="") == {"hit": 0, "miss": 1, "fail": 1, "off": 0}
    # an ECI Deployment before its first pod: every outcome at 0; a Deployment of non-ECI pods has none
    assert decisions_of(families, namespace="batch", workload="Deployment/nightly-load") == dict.fromkeys(OUTCOMES, 0)
    assert decisions_of(families, workload="Deployment/plain") == {}
    saved = {s.labels["workload"]: s.value for s in families["imc_time_saved_seconds"] if s.name.endswith("_total")}
    assert saved == {"Deployment/web": 0, "": 0, "Deployment/nightly-load": 0}


def test_a_series_that_appears_later_shows_0_until_every_scraper_sampled_it(tmp_path):
    live = live_cluster(tmp_path)
    clock = Clock()
    collector = ImcCollector(lambda: [live], new_series_seconds=60, clock=clock)
    first = samples(collector, "imc_pod_decisions_total")
    assert first[("prod", "default", "Deployment/web", "hit")] == 1  # known before this process: as it is
    added = live_cluster(tmp_path / "more").store.snapshot().pods["default/web-1"].obj
    added["metadata"].update(name="api-1", uid="uid-api-1", ownerReferences=[
        {"kind": "ReplicaSet", "name": "api-5d8f9", "controller": True}])
    live.store.apply("pods", "ADDED", added)
    LedgerWriter(live.store, live.ledger, "prod").flush()
    new = ("prod", "default", "Deployment/api", "hit")
    clock.now += 1
    assert samples(collector, "imc_pod_decisions_total")[new] == 0  # the first sample of the series is 0 ...
    clock.now += 59.9
    assert samples(collector, "imc_pod_decisions_total")[new] == 0
    clock.now += 0.1
    assert samples(collector, "imc_pod_decisions_total")[new] == 1  # ... then its count, so increase() sees it
    assert samples(collector, "imc_pod_decisions_total")[("prod", "default", "Deployment/web", "hit")] == 1


def starts_live(tmp_path) -> Live:
    """The starts store (misses pulled 20 s and 30 s; two hits with the image present), its ledger written."""
    store = starts_store()
    ledger = Ledger(tmp_path / "h.db")
    live = Live("prod", store, ClusterWatcher(None, store), ledger, None)
    assert LedgerWriter(store, ledger, "prod").flush()
    return live


def test_time_saved_is_estimated_once_per_started_hit_as_the_dashboard_does(tmp_path):
    live = starts_live(tmp_path)
    rows = {row[3]: row for row in live.ledger.pods("prod")}
    saved = {name: row[14] for name, row in rows.items()}
    assert saved == {"hit1": 25.0, "hit2": 25.0, "miss1": None, "miss2": None, "new": None}
    frame = start_views.starts_frame(live.store.snapshot().pods).set_index("key")
    assert frame["Saved (s)"].sum() == 50.0  # the dashboard's estimate of the same snapshot
    families = scrape([live])
    counted = {s.labels["workload"]: s.value for s in families["imc_time_saved_seconds"] if s.name.endswith("_total")}
    assert counted == {"Deployment/api": 50.0, "Deployment/web": 0.0}
    # later misses move the estimate: a saving already counted stays as estimated when the pod started
    slow = started(start_views_pod("miss3"), 59)
    live.store.apply("pods", "ADDED", slow)
    live.store.apply("events", "ADDED", event("miss3", "ImageCacheMissed"))
    live.store.apply("events", "ADDED", pulled("miss3", f'Successfully pulled image "{IMAGE}" in 58s'))
    live.store.apply("pods", "ADDED", started(start_views_pod("hit3"), 45))  # paid more than the estimate of 30
    live.store.apply("events", "ADDED", event("hit3", "SuccessfulHitImageCache", "hit image cache imc-web-cache"))
    live.store.apply("events", "ADDED", pulled("hit3", f'Successfully pulled image "{IMAGE}" in 44s'))
    assert LedgerWriter(live.store, live.ledger, "prod").flush()
    rows = {row[3]: row for row in live.ledger.pods("prod")}
    assert (rows["hit1"][14], rows["hit3"][14]) == (25.0, 0.0)  # never negative
    counted = {s.labels["workload"]: s.value for s in scrape([live])["imc_time_saved_seconds"]
               if s.name.endswith("_total")}
    assert counted["Deployment/api"] == 50.0


def start_views_pod(name: str) -> dict:
    """A pod of Deployment `api` like the starts store's."""
    return owned(eci_pod(name, [IMAGE]), "api")


def test_an_older_history_file_gains_the_saved_column_and_keeps_its_rows(tmp_path):
    path = tmp_path / "h.db"
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema', '1');
        CREATE TABLE pods (
            cluster TEXT NOT NULL, uid TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
            workload TEXT NOT NULL, created REAL, predicted TEXT NOT NULL, actual TEXT, outcome TEXT NOT NULL,
            cache_name TEXT, cache_id TEXT, disagrees INTEGER NOT NULL, start_seconds REAL, pull_seconds REAL,
            first_seen REAL NOT NULL, updated REAL NOT NULL, deleted REAL, PRIMARY KEY (cluster, uid));
        INSERT INTO pods VALUES ('prod', 'u0', 'default', 'before', '', 0, 'miss', NULL, 'miss', NULL, NULL, 0,
                                 NULL, NULL, 0, 0, NULL);
    """)
    old.close()
    store = starts_store()
    ledger = Ledger(path)
    assert ledger.problem is None and LedgerWriter(store, ledger, "prod").flush()
    rows = {row[3]: row for row in ledger.pods("prod")}
    assert rows["before"][14] is None and rows["hit1"][14] == 25.0
    assert ledger.time_saved() == [("prod", "default", "Deployment/api", 50.0)]


def test_a_bad_new_series_setting_names_its_value():
    assert metrics_settings({}).new_series_seconds == 120
    assert metrics_settings({"IMC_METRICS_NEW_SERIES_SECONDS": "5"}).new_series_seconds == 5
    wrong = metrics_settings({"IMC_METRICS_NEW_SERIES_SECONDS": "soon"})
    assert wrong.port == 0 and "IMC_METRICS_NEW_SERIES_SECONDS='soon'" in wrong.problem


def test_a_hit_started_before_any_pull_of_its_images_saves_nothing_later(tmp_path):
    store = ClusterStore()
    store.replace("imagecaches", [imagecache("web-cache", [IMAGE])], "1")
    store.replace("pods", [started(start_views_pod("hit1"), 3)], "1")
    store.replace("events", [event("hit1", "SuccessfulHitImageCache", "hit image cache imc-web-cache")], "1")
    ledger = Ledger(tmp_path / "h.db")
    writer = LedgerWriter(store, ledger, "prod")
    assert writer.flush()
    store.apply("pods", "ADDED", started(start_views_pod("miss1"), 22))
    store.apply("events", "ADDED", event("miss1", "ImageCacheMissed"))
    store.apply("events", "ADDED", pulled("miss1", f'Successfully pulled image "{IMAGE}" in 20s'))
    changed = started(start_views_pod("hit1"), 3)
    changed["metadata"]["labels"]["seen"] = "again"  # the hit changes once an estimate is known
    store.apply("pods", "MODIFIED", changed)
    assert writer.flush()
    rows = {row[3]: row for row in ledger.pods("prod")}
    assert rows["hit1"][14] is None and rows["hit1"][4] == "Deployment/api"  # not estimated after its start
    assert ledger.time_saved() == []


def test_an_older_files_cronjob_runs_become_their_cronjob_once(tmp_path):
    path = tmp_path / "h.db"
    Ledger(path).close()
    old = sqlite3.connect(path)
    old.execute("DELETE FROM meta WHERE key = 'workload_rule'")  # as a file written before the rule
    old.executemany("INSERT INTO decision_totals VALUES ('prod', 'data', ?, ?, ?)", [
        ("Job/etl-hourly-29941511", "hit", 1),
        ("Job/etl-hourly-29941511", "miss", 1), ("Job/nightly", "hit", 2), ("CronJob/etl-hourly", "hit", 3)])
    old.execute("INSERT INTO pods (cluster, uid, namespace, name, workload, predicted, outcome, disagrees, first_seen, "
                "updated) VALUES ('prod', 'u1', 'data', 'etl-hourly-29941451-abcde', 'Job/etl-hourly-29941451', "
                "'hit', 'hit', 0, 0, 0)")  # counted under its run by the insert trigger
    old.commit()
    old.close()
    for _ in range(2):  # merged once: opening it again changes nothing
        ledger = Ledger(path)
        assert sorted(ledger.decision_totals()) == [("prod", "data", "CronJob/etl-hourly", "hit", 5),
                                                    ("prod", "data", "CronJob/etl-hourly", "miss", 1),
                                                    ("prod", "data", "Job/nightly", "hit", 2)]
        assert [row[4] for row in ledger.pods("prod")] == ["CronJob/etl-hourly"]
        ledger.close()


def test_a_scrape_before_the_cluster_is_watched_does_not_hold_its_past_at_0(tmp_path):
    live = live_cluster(tmp_path)
    lives: list[Live] = []
    collector = ImcCollector(lambda: lives, new_series_seconds=60, clock=Clock())
    assert samples(collector, "imc_pod_decisions_total") == {}  # scraped while the process still connects
    lives.append(live)
    # the ledger's past, exposed by the run before: as it is (0 would read as a counter reset)
    assert samples(collector, "imc_pod_decisions_total")[("prod", "default", "Deployment/web", "hit")] == 1
