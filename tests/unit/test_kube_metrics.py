"""Prometheus metrics: families read from a real store and ledger at scrape time; settings; a taken port."""

from __future__ import annotations

import logging
import socket
import sqlite3

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dashboard import views
from kube.exporter import ExporterError, exporter_settings
from kube.ledger import Ledger, LedgerWriter
from kube.live import Live
from kube.metrics import (
    LABEL_CUT_MARKER,
    MAX_LABEL_CHARS,
    LedgerFigures,
    MetricsSettings,
    families,
    metrics_settings,
    registry_for,
    serve_metrics,
)
from kube.store import LIVENESS, ClusterStore
from kube.watch import ClusterWatcher
from tests.fixtures.engine.builders import imagecache
from tests.unit.test_kube_ledger import eci_pod, missed

OLD = "2026-11-01T00:00:00Z"


def live_cluster(tmp_path) -> Live:
    """A store with hits, a miss, a failure and a disagreement, its ledger written once; reflectors not started."""
    store = ClusterStore()
    store.replace("imagecaches", [imagecache("web-cache", ["nginx:1.25"], created=OLD),
                                  imagecache("broken", ["busybox:1"], created=OLD, phase="Failed")], "1")
    store.replace("events", [missed("web-2")], "1")
    store.replace("pods", [eci_pod("web-1", ["nginx:1.25"], owner="web"), eci_pod("web-2", ["nginx:1.25"], owner="web"),
                           eci_pod("db-1", ["redis:7"]),
                           eci_pod("pinned", ["nginx:1.25"], annotations={"k8s.aliyun.com/eci-imc-id": "imc-gone"})],
                  "1")
    ledger = Ledger(tmp_path / "h.db")
    LedgerWriter(store, ledger, "prod").flush()
    return Live("prod", store, ClusterWatcher(None, store), ledger, None)


def scrape(lives) -> dict[str, list]:
    """Samples by metric family name, as Prometheus would parse them."""
    text = generate_latest(registry_for(lambda: lives)).decode()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def total(samples, **labels) -> float:
    return sum(s.value for s in samples if all(s.labels.get(k) == v for k, v in labels.items()))


def test_pods_and_the_hit_rate_match_the_dashboard(tmp_path):
    live = live_cluster(tmp_path)
    families = scrape([live])
    pods = families["imc_pods"]
    frame = views.pods_frame(live.store.snapshot().pods)
    assert total(pods) == len(frame) == 4
    head = views.headline(frame, frame.iloc[0:0].assign(Phase=[]))
    rate = total(pods, outcome="hit") / sum(total(pods, outcome=o) for o in ("hit", "miss", "fail"))
    assert rate == head.hit_rate == 0.25
    assert total(families["imc_prediction_disagreements"], namespace="default") == 1


def test_decisions_come_from_the_ledger_and_outlive_the_store(tmp_path):
    live = live_cluster(tmp_path)
    decisions = scrape([live])["imc_pod_decisions"]
    assert total(decisions, workload="Deployment/web") == 2
    assert all(s.name == "imc_pod_decisions_total" for s in decisions if not s.name.endswith("_created"))
    live.store.replace("pods", [], "2")  # every pod deleted: the gauge drops, the counter stays
    LedgerWriter(live.store, live.ledger, "prod").flush()
    families = scrape([live])
    assert total(families.get("imc_pods", [])) == 0
    assert total(families["imc_pod_decisions"]) == 4


def test_caches_watch_and_no_pod_label(tmp_path):
    live = live_cluster(tmp_path)
    families = scrape([live])
    info = {s.labels["name"]: s.labels["phase"] for s in families["imc_imagecache_info"]}
    assert info == {"web-cache": "Ready", "broken": "Failed"}
    assert total(families["imc_imagecache_size_bytes"], name="web-cache") > 0
    assert total(families["imc_imagecache_pods"], name="web-cache") == 1  # web-2 missed by ECI's word
    assert {s.labels["resource"] for s in families["imc_watch_up"]} == {"pods", "imagecaches", "deployments",
                                                                         "events"}
    assert not [s for samples in families.values() for s in samples if "pod" in s.labels or "uid" in s.labels]


def test_watch_up_follows_the_snapshot_down_when_a_watch_or_the_api_server_is(tmp_path):
    live = live_cluster(tmp_path)
    up = {s.labels["resource"]: s.value for s in scrape([live])["imc_watch_up"]}
    assert up == {"pods": 1, "imagecaches": 1, "events": 1, "deployments": 0}  # deployments never listed
    live.store.set_error("pods", "pods: connection refused")
    assert live.store.snapshot().down_since.keys() == {"pods"}
    assert total(scrape([live])["imc_watch_up"], resource="pods") == 0
    assert total(scrape([live])["imc_watch_up"], resource="imagecaches") == 1
    live.store.set_error("pods", None)
    live.store.set_error(LIVENESS, "the API server does not answer")  # every watch is stale with it
    assert total(scrape([live])["imc_watch_up"]) == 0
    live.store.set_error(LIVENESS, None)
    assert total(scrape([live])["imc_watch_up"]) == 3


def test_exporter_options_override_the_environment_and_port_0_is_refused():
    environ = {"IMC_METRICS_PORT": "ninety", "IMC_METRICS_ADDRESS": "127.0.0.1"}
    assert exporter_settings(9200, None, environ) == MetricsSettings(9200, "127.0.0.1")
    assert exporter_settings(None, "::1", {"IMC_METRICS_PORT": "9300"}) == MetricsSettings(9300, "::1")
    with pytest.raises(ExporterError, match="IMC_METRICS_PORT='ninety' is not a port number"):
        exporter_settings(None, None, environ)  # a bad IMC_METRICS_PORT is refused, by name
    with pytest.raises(ExporterError, match="port 0"):
        exporter_settings(0, None, {})


def test_settings():
    assert metrics_settings({}) == MetricsSettings(9108, "0.0.0.0")
    assert metrics_settings({"IMC_METRICS_PORT": "0", "IMC_METRICS_ADDRESS": "127.0.0.1"}).port == 0
    wrong = metrics_settings({"IMC_METRICS_PORT": "ninety"})
    assert wrong.port == 0 and "IMC_METRICS_PORT" in wrong.problem


def test_a_taken_port_is_one_line_not_a_crash():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        endpoint = serve_metrics(lambda: [], MetricsSettings(port, "127.0.0.1"))
    assert endpoint.server is None and endpoint.url is None
    assert "port is in use" in endpoint.problem and "\n" not in endpoint.problem
    assert serve_metrics(lambda: [], MetricsSettings(0)).problem is None  # off is not a problem


def test_label_values_are_cut_to_a_documented_length():
    long_owner = "Deployment/" + "w" * 200_000  # an owner name nobody checked
    other_owner = "Deployment/" + "w" * 199_999 + "x"  # the same first 283 characters
    normal = "Deployment/" + "n" * 253  # the longest valid name is kept whole
    figures = LedgerFigures(decisions=(("prod", "default", long_owner, "hit", 2),
                                       ("prod", "default", other_owner, "hit", 1),
                                       ("prod", "default", normal, "miss", 5)))
    built = families([], figures)
    assert max(len(v) for f in built for sample in f.samples for v in sample.labels.values()) == MAX_LABEL_CHARS
    decisions = next(f for f in built if f.name == "imc_pod_decisions")
    workloads = {s.labels["workload"]: s.value for s in decisions.samples if s.name.endswith("_total") and s.value}
    assert len(workloads) == 3 and workloads[normal] == 5
    cut = [w for w in workloads if w != normal]
    assert all(len(w) == MAX_LABEL_CHARS and w.startswith("Deployment/www") for w in cut)
    assert all(w[-17] == LABEL_CUT_MARKER for w in cut)
    assert sorted(workloads[w] for w in cut) == [1, 2]  # still two series



@pytest.mark.parametrize("value", ["abc", "-1", "70000", "65536", "9108.0", "²", "1e3"])
def test_a_bad_metrics_port_is_a_warning_naming_the_value(value, caplog):
    settings = metrics_settings({"IMC_METRICS_PORT": value})
    named = f"IMC_METRICS_PORT={value!r} is not a port number"
    assert settings.port == 0 and named in settings.problem and "port 0" not in settings.problem
    with caplog.at_level(logging.WARNING, logger="imc.kube.metrics"):
        endpoint = serve_metrics(lambda: [], settings)  # as the dashboard starts it
    assert endpoint.server is None and named in endpoint.problem and "metrics are off" in endpoint.problem
    assert named in caplog.text
    with pytest.raises(ExporterError) as refused:
        exporter_settings(None, None, {"IMC_METRICS_PORT": value})
    assert named in str(refused.value) and "port 0" not in str(refused.value)


@pytest.mark.parametrize("port", [-1, 70000])
def test_a_bad_exporter_port_option_is_refused_by_value(port):
    with pytest.raises(ExporterError, match=f"--port={port} is not a port number"):
        exporter_settings(port, None, {})


def test_the_changes_waiting_for_a_locked_history_file_are_a_gauge(tmp_path):
    live = live_cluster(tmp_path)
    path = tmp_path / "h.db"
    writer = LedgerWriter(live.store, live.ledger, "prod")
    live.writer = writer
    assert total(scrape([live])["imc_history_pending_changes"], cluster="prod") == 0
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        live.store.apply("pods", "ADDED", eci_pod("late", ["nginx:1.25"]))
        assert writer.flush() is False
        waiting = total(scrape([live])["imc_history_pending_changes"], cluster="prod")
    finally:
        other.execute("COMMIT")
        other.close()
    assert waiting == writer.behind > 0
