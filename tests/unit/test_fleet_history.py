"""Two clusters watched by one process: one history file and one /metrics keep their rows and series apart."""

from __future__ import annotations

from kube.ledger import Ledger, LedgerWriter
from kube.live import Live
from kube.metrics import ImcCollector
from kube.store import ClusterStore
from kube.watch import ClusterWatcher
from tests.fixtures.engine.builders import imagecache
from tests.unit.test_kube_ledger import eci_pod
from tests.unit.test_kube_metrics import scrape
from tests.unit.test_metrics_series import Clock, samples


def fleet_store(pods: list[dict]) -> ClusterStore:
    store = ClusterStore()
    store.replace("imagecaches", [imagecache("web-cache", ["nginx:1.25"])], "1")
    store.replace("events", [], "1")
    store.replace("pods", pods, "1")
    return store


def two_clusters(tmp_path) -> tuple[Ledger, list[Live]]:
    """`sim` and `sim-beijing`, both with a pod default/web-1 (the same namespace, name and uid), one more pod in
    `sim`; written by two writers into one history file."""
    ledger = Ledger(tmp_path / "h.db")
    stores = {"sim": fleet_store([eci_pod("web-1", ["nginx:1.25"], owner="web"),
                                  eci_pod("db-1", ["redis:7"])]),
              "sim-beijing": fleet_store([eci_pod("web-1", ["redis:7"], owner="web")])}
    lives = []
    for cluster, store in stores.items():
        LedgerWriter(store, ledger, cluster).flush()
        lives.append(Live(cluster, store, ClusterWatcher(None, store), ledger, None))
    return ledger, lives


def test_two_clusters_in_one_history_file_keep_their_own_rows(tmp_path):
    ledger, _ = two_clusters(tmp_path)
    assert [row[2:4] for row in ledger.pods("sim")] == [("default", "db-1"), ("default", "web-1")]
    assert [row[2:4] for row in ledger.pods("sim-beijing")] == [("default", "web-1")]
    assert ledger.pod("sim", "default", "web-1").row.outcome == "hit"
    assert ledger.pod("sim-beijing", "default", "web-1").row.outcome == "miss"
    totals = sorted(ledger.decision_totals())
    assert {row[0] for row in totals} == {"sim", "sim-beijing"}
    assert sum(row[4] for row in totals if row[0] == "sim") == 2
    assert [(row[2], row[3], row[4]) for row in totals if row[0] == "sim-beijing"] == [("Deployment/web", "miss", 1)]
    ledger.close()


def test_one_collector_over_two_clusters_gives_each_its_own_cluster_label(tmp_path):
    ledger, lives = two_clusters(tmp_path)
    families = scrape(lives)
    pods = {s.labels["cluster"]: 0 for s in families["imc_pods"]}
    for sample in families["imc_pods"]:
        pods[sample.labels["cluster"]] += sample.value
    assert pods == {"sim": 2, "sim-beijing": 1}
    decisions = samples(ImcCollector(lambda: lives, new_series_seconds=0, clock=Clock()), "imc_pod_decisions_total")
    counted = {key: value for key, value in decisions.items() if value}
    assert counted[("sim-beijing", "default", "Deployment/web", "miss")] == 1
    assert ("sim-beijing", "default", "Deployment/web", "hit") not in counted
    assert sum(value for key, value in counted.items() if key[0] == "sim") == 2  # one shared file counted once
    windows = {s.labels["cluster"] for s in families["imc_window_pods"]}
    assert windows == {"sim", "sim-beijing"}
    ledger.close()
