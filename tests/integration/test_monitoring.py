"""Metrics with real parts: `imc exporter` watching `imc sim`, scraped by a real Prometheus; promtool; kustomize."""

from __future__ import annotations

import json
import math
import os
import re
import socket
import sqlite3
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from bench.waits import free_port
from core.policy import AUTO_IMC, IMC_ID
from core.workloads import is_eci_pod
from dashboard import views
from kube.store import KINDS, ClusterStore
from tests.integration.conftest import poll, run_kubectl
from tests.integration.test_sim_eci import create_cache, create_pod, unique_image, wait_usable

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
README = REPO / "README.md"
NEW_SERIES_SECONDS = 3


def fetch(url: str) -> bytes:
    """GET a URL (one try)."""
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read()


def answers(url: str) -> bytes | None:
    """The body of a URL, or None while nothing answers."""
    try:
        return fetch(url)
    except OSError:
        return None


@contextmanager
def reserved_port() -> Iterator[int]:
    """A port held for an exporter not started yet: bound (SO_REUSEADDR), never listening, so no other bind or
    connect takes it, while the exporter's server (SO_REUSEADDR too) can listen there."""
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


@contextmanager
def prometheus_before_exporter(directory: Path) -> Iterator[tuple[int, str]]:
    """A real Prometheus scraping a port held for an exporter to come: (the port, Prometheus' base URL). Prometheus
    applies its targets on a 5-s tick (scrape/manager.go, reloader), so its first scrape comes 5-6 s after it starts:
    started before the sim is filled and the exporter started, it has waited them out."""
    with reserved_port() as port, running_prometheus([f"http://127.0.0.1:{port}/metrics"], directory) as url:
        yield port, url


@pytest.fixture(scope="module")
def scraped(tmp_path_factory) -> Iterator[tuple[int, str]]:
    """The module's Prometheus, before its exporter: (the exporter's port, Prometheus' base URL)."""
    with prometheus_before_exporter(tmp_path_factory.mktemp("prometheus")) as both:
        yield both


@pytest.fixture(scope="module")
def cluster(start_sim_factory, scraped):
    """An own sim with a Ready cache, pods that hit it and pods that miss (after the module's Prometheus started:
    `prometheus_before_exporter`)."""
    sim, api, cached = shop_sim(start_sim_factory)
    run_kubectl(sim, "create", "namespace", "data")
    create_pod(api, "data", [unique_image("db")])
    create_pod(api, "data", [cached], eci=False)
    yield sim


def shop_sim(start_sim_factory):
    """An own sim (--speed 20) whose namespace shop has a Ready cache, three pods that hit it and one that misses:
    (sim, its API client, the cached image)."""
    from tests.integration.conftest import new_api_client

    sim = start_sim_factory("empty", ("--speed", "20"))
    api = new_api_client(sim)
    run_kubectl(sim, "create", "namespace", "shop")
    cached = unique_image("web")
    wait_usable(api, create_cache(api, [cached]))
    for _ in range(3):
        create_pod(api, "shop", [cached])
    create_pod(api, "shop", [unique_image("other")])
    return sim, api, cached


@contextmanager
def running_exporter(sim, history: Path, log: Path, extra: dict[str, str] | None = None,
                     port: int | None = None) -> Iterator[str]:
    """`imc exporter` on a sim with a ledger file (and `extra` environment, IMC_CLUSTER say), on `port` (else a free
    one): its /metrics URL once it reports pods."""
    port = port or free_port()
    # a new counter series shows 0 for 3 s: longer than the 1 s scrape interval of the Prometheus below
    environment = {**os.environ, "PYTHONPATH": str(REPO), "IMC_HISTORY_PATH": str(history),
                   "IMC_METRICS_NEW_SERIES_SECONDS": str(NEW_SERIES_SECONDS), **(extra or {})}
    with log.open("w") as handle:
        process = subprocess.Popen([sys.executable, "cli.py", "exporter", "--kubeconfig", str(sim.kubeconfig),
                                    "--context", "sim", "--address", "127.0.0.1", "--port", str(port)],
                                   cwd=REPO, env=environment, stdout=handle, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        poll(lambda: process.poll() is not None or b"imc_pods{" in (answers(url) or b""), 30, "the exporter's pods")
        assert process.poll() is None, log.read_text()
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    """The ledger file of the module's exporter."""
    return tmp_path_factory.mktemp("exporter") / "history.sqlite3"


@pytest.fixture(scope="module")
def exporter(cluster, history, scraped) -> Iterator[str]:
    """`imc exporter` on the sim, where the module's Prometheus scrapes: its /metrics URL."""
    with running_exporter(cluster, history, history.parent / "exporter.log", port=scraped[0]) as url:
        yield url


@pytest.fixture(scope="module")
def prometheus(exporter, scraped) -> str:
    """A real Prometheus scraping the exporter every second: its base URL."""
    return scraped[1]


@contextmanager
def running_prometheus(metrics_urls: list[str], directory: Path) -> Iterator[str]:
    """Debian's Prometheus scraping these /metrics URLs every second: its base URL once ready."""
    targets = [urllib.parse.urlsplit(url).netloc for url in metrics_urls]
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
              "scrape_configs": [{"job_name": "imc", "static_configs": [{"targets": targets}]}]}
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (directory / "prometheus.log").open("w")
    process = subprocess.Popen(["prometheus", f"--config.file={directory / 'prometheus.yml'}",
                                f"--storage.tsdb.path={directory / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        poll(lambda: process.poll() is not None or answers(f"{url}/-/ready") is not None, 30, "Prometheus ready")
        assert process.poll() is None, (directory / "prometheus.log").read_text()[-2000:]
        yield url
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def query(prometheus: str, expression: str) -> float | None:
    """The single value of an instant query, or None while it has none."""
    body = json.loads(fetch(f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': expression})}"))
    assert body["status"] == "success", body
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if len(result) == 1 else None


def kubectl_items(sim, resource: str) -> list[dict]:
    """Every object of a resource, as kubectl lists it."""
    return json.loads(run_kubectl(sim, "get", resource, "-A", "-o", "json").stdout)["items"]


def readme_hit_rate() -> str:
    """The hit-rate expression the README documents."""
    found = re.search(r"```promql\n(.*?)\n```", README.read_text(), re.S)
    assert found, "README.md documents the hit-rate expression in a ```promql block"
    return found.group(1).strip()


def dashboard_hit_rate(sim) -> float | None:
    """The hit rate the Overview shows, from the dashboard's own view models over what kubectl lists."""
    store = ClusterStore()
    for kind, resource in (("imagecaches", "imagecaches"), ("events", "events"), ("pods", "pods")):
        store.replace(kind, kubectl_items(sim, resource), "1")
    frame = views.pods_frame(store.snapshot().pods)
    return views.headline(frame, frame.iloc[0:0].assign(Phase=[])).hit_rate


def test_prometheus_sees_every_eci_pod_and_the_dashboards_hit_rate(cluster, prometheus):
    pods = kubectl_items(cluster, "pods")
    eci = [p for p in pods if is_eci_pod(p["metadata"].get("labels") or {}, p["spec"].get("nodeName"))]
    assert 0 < len(eci) < len(pods)  # a non-ECI pod is there and must not count
    poll(lambda: query(prometheus, "sum(imc_pods)") == len(eci), 30, f"sum(imc_pods) == {len(eci)}")
    expected = dashboard_hit_rate(cluster)
    assert expected is not None and 0 < expected < 1
    poll(lambda: query(prometheus, readme_hit_rate()) == pytest.approx(expected), 30,
         f"the README's hit rate == {expected}")
    # a new counter series is scraped as 0 for its first NEW_SERIES_SECONDS (so that increase() sees it rise), and
    # Prometheus may scrape within them
    poll(lambda: query(prometheus, 'sum(imc_pod_decisions_total{outcome="hit"})'), 30,
         'sum(imc_pod_decisions_total{outcome="hit"}) == 3', until=lambda hits: hits == 3)


def test_the_scrape_passes_promtool_check_metrics(exporter):
    text = fetch(exporter)
    checked = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, timeout=30)
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
    assert b"imc_watch_up{" in text and b"imc_imagecache_info{" in text
    up = re.compile(rb'^imc_watch_up\{cluster="[^"]*",resource="(\w+)"\} 1\.0$', re.M)
    poll(lambda: set(up.findall(fetch(exporter))) == {k.encode() for k in KINDS}, 30, "every watch up")


def test_the_alert_rules_pass_promtool_check_rules(tmp_path):
    rule = yaml.safe_load((DEPLOY / "monitoring" / "prometheusrule.yaml").read_text())
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rule["spec"]))
    checked = subprocess.run(["promtool", "check", "rules", str(tmp_path / "rules.yml")], capture_output=True,
                             text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    alerts = {r["alert"] for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r}
    assert alerts == {"ImcImageCacheBuildFailed", "ImcImageCacheInUseExpiresSoon", "ImcNamespaceHitRateLow",
                      "ImcPodsFailOnPinnedCache", "ImcWatchDown"}


def test_every_rule_passes_its_promtool_unit_test(tmp_path):
    rule = yaml.safe_load((DEPLOY / "monitoring" / "prometheusrule.yaml").read_text())
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rule["spec"]))
    tests = (DEPLOY / "monitoring" / "prometheusrule-test.yaml").read_text()
    (tmp_path / "rules-test.yml").write_text(tests)
    checked = subprocess.run(["promtool", "test", "rules", "rules-test.yml"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    cases = yaml.safe_load(tests)["tests"]
    tested_alerts = {t["alertname"] for case in cases for t in case.get("alert_rule_test", ()) if t["exp_alerts"]}
    tested_records = {t["expr"] for case in cases for t in case.get("promql_expr_test", ())}
    rules = [r for group in rule["spec"]["groups"] for r in group["rules"]]
    assert {r["alert"] for r in rules if "alert" in r} <= tested_alerts  # each alert is seen firing
    assert {r["record"] for r in rules if "record" in r} <= tested_records


def test_kustomize_renders_it_all_and_grafana_asks_only_for_metrics_imc_serves(exporter):
    rendered = subprocess.run(["kubectl", "kustomize", str(DEPLOY)], capture_output=True, text=True, timeout=60)
    assert rendered.returncode == 0, rendered.stderr
    documents = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in documents}
    assert {("Deployment", "imc"), ("Service", "imc"), ("PersistentVolumeClaim", "imc-history"),
            ("ServiceMonitor", "imc"), ("PrometheusRule", "imc"), ("ConfigMap", "imc-grafana-dashboard")} <= kinds
    assert all(d["metadata"].get("namespace") == "imc-system" for d in documents
               if d["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"))
    (config_map,) = [d for d in documents if d["kind"] == "ConfigMap"]
    grafana = json.loads(config_map["data"]["grafana-dashboard.json"])
    asked = {name for panel in grafana["panels"] for target in panel["targets"]
             for name in re.findall(r"\b(imc_[a-z_]+)", target["expr"])}
    served = set(re.findall(rb"^# TYPE (imc_[a-z_]+) (\w+)", fetch(exporter), re.M))
    names = set()
    for name, kind in served:
        names.add(name.decode())
        if kind == b"histogram":
            names |= {f"{name.decode()}_bucket", f"{name.decode()}_sum", f"{name.decode()}_count"}
        if kind == b"counter":
            names.add(f"{name.decode()}_total")
    assert asked and asked <= names, asked - names


def decisions(url: str) -> float:
    """The sum of imc_pod_decisions_total in one scrape."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in fetch(url).decode().splitlines()
               if line.startswith("imc_pod_decisions_total{"))


def test_two_processes_share_one_ledger_and_count_each_pod_once(cluster, exporter, history, tmp_path):
    eci = len([p for p in kubectl_items(cluster, "pods")
               if is_eci_pod(p["metadata"].get("labels") or {}, p["spec"].get("nodeName"))])
    poll(lambda: decisions(exporter) == eci, 30, f"the first exporter's decisions == {eci}")
    with running_exporter(cluster, history, tmp_path / "second.log") as second:
        poll(lambda: decisions(second) == eci, 30, f"the second exporter's decisions == {eci}")
        assert decisions(exporter) == eci  # both wrote every pod; the triggers counted each once
    assert "history" not in (tmp_path / "second.log").read_text().replace(f"(history {history})", "")


def results(prometheus: str, expression: str) -> list[dict]:
    """Every result of an instant query: its labels and value."""
    body = json.loads(fetch(f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': expression})}"))
    assert body["status"] == "success", body
    return [{**item["metric"], "value": float(item["value"][1])} for item in body["data"]["result"]]


def ledger_saved(history: Path) -> float:
    """The seconds saved by every pod in the ledger file, read beside the exporter writing it."""
    connection = sqlite3.connect(f"{history.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        return connection.execute("SELECT coalesce(sum(saved_seconds), 0) FROM pods").fetchone()[0]
    finally:
        connection.close()


def ledger_outcomes(history: Path, namespace: str) -> dict[str, int]:
    """The ledger's pods of a namespace by outcome."""
    connection = sqlite3.connect(f"{history.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        return dict(connection.execute("SELECT outcome, count(*) FROM pods WHERE namespace = ? GROUP BY outcome",
                                       (namespace,)).fetchall())
    finally:
        connection.close()


def grafana_expressions() -> list[tuple[str, str]]:
    """Every Grafana panel's query, its variables filled in as Grafana would: all clusters, a 5-minute rate window."""
    grafana = json.loads((DEPLOY / "monitoring" / "grafana-dashboard.json").read_text())
    return [(panel["title"], target["expr"].replace("$cluster", ".*").replace("$__rate_interval", "5m"))
            for panel in grafana["panels"] for target in panel["targets"]]


def eci_cronjob(name: str, image: str) -> dict:
    """A CronJob of ECI pods every minute (three seconds at the sim's --speed 20)."""
    template = {"metadata": {"labels": {"alibabacloud.com/eci": "true"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": image}]}}
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": "*/1 * * * *", "jobTemplate": {"spec": {"template": template}}}}


def test_a_new_namespaces_first_pods_show_in_increase_and_cronjobs_are_one_workload(cluster, prometheus, history):
    from tests.integration.conftest import new_api_client

    api = new_api_client(cluster)
    run_kubectl(cluster, "create", "namespace", "fresh")
    run_kubectl(cluster, "create", "namespace", "batch")
    image = unique_image("fresh")
    create_pod(api, "fresh", [image], {AUTO_IMC: "false"})  # first off: its pull is what a hit's saving is told by
    wait_usable(api, create_cache(api, [image]))
    create_pod(api, "fresh", [image])  # first hit
    create_pod(api, "fresh", [unique_image("fresh-miss")])  # first miss
    create_pod(api, "fresh", [image], {IMC_ID: "imc-0000missing0000"})  # first failure: pinned to no cache
    run_kubectl(cluster, "apply", "-n", "batch", "-f", "-", input_text=json.dumps(eci_cronjob("etl-hourly", image)))
    window = 'sum by (outcome) (increase(imc_pod_decisions_total{namespace="fresh"}[10m]))'

    def every_first() -> dict[str, float] | None:
        found = {r["outcome"]: r["value"] for r in results(prometheus, window)}
        return found if all(found.get(o, 0) >= 0.9 for o in ("off", "hit", "miss", "fail")) else None

    found = poll(every_first, 90, "each first pod of namespace fresh in increase()", interval=0.5)
    in_ledger = ledger_outcomes(history, "fresh")
    assert in_ledger == {"off": 1, "hit": 1, "miss": 1, "fail": 1}
    assert all(in_ledger[o] * 0.9 <= found[o] < in_ledger[o] * 1.5 for o in in_ledger), found  # extrapolated
    for title, expression in grafana_expressions():
        answered = [r["value"] for r in results(prometheus, expression)]
        assert [v for v in answered if not math.isnan(v)], f"Grafana's {title!r} has no value: {expression}"
    runs = 'sum(imc_pod_decisions_total{namespace="batch"})'
    poll(lambda: (query(prometheus, runs) or 0) >= 2, 90, "two scheduled runs of the CronJob", interval=0.5)
    workloads = {r.get("workload", "") for r in results(prometheus, "group by (workload) (imc_pod_decisions_total)")}
    assert "CronJob/etl-hourly" in workloads
    assert not [w for w in workloads if w.startswith("Job/")], workloads  # never one series per run
    run_kubectl(cluster, "delete", "cronjob", "etl-hourly", "-n", "batch")

    def saved() -> tuple[float, float | None]:
        return ledger_saved(history), query(prometheus, "sum(imc_time_saved_seconds_total)")

    poll(saved, 60, "imc_time_saved_seconds_total == the ledger's savings (> 0), as (ledger, Prometheus)", interval=0.5,
         until=lambda pair: pair[0] > 0 and pair[1] == pytest.approx(pair[0]))
