"""Issue 20's Done-when: the dashboard restarted on its built-in demo resumes the same cluster, and the ledger and
imc_pod_decisions_total grow only by the pods created meanwhile; and issue 25's: the built-in demo is a fleet of two
clusters (checked on the same demo: each start of one costs a dashboard and a fleet of sims)."""

from __future__ import annotations

import sqlite3
import time
import urllib.request
from pathlib import Path

import orjson
import pytest
from playwright.sync_api import expect
from prometheus_client.parser import text_string_to_metric_families

from bench.waits import Dashboard, free_port, poll, scaled, start_dashboard
from sim.launch import SimProcess
from tests.e2e.conftest import kubectl, kubectl_json, ms, open_page
from tests.e2e.test_fleet_e2e import fleet_cells

pytestmark = pytest.mark.e2e
CLUSTER = "sim"  # the ledger's and the metrics' cluster: the demo's kubeconfig context
CACHE = "kept-across-restart"
PAST_MARGIN_SECONDS = 60  # the demo's past ended LAST_RUN_BEFORE (12 min) before it started; all else is newer


def start_demo_app(tmp_path: Path, name: str) -> tuple[Dashboard, int]:
    """The dashboard with no kubeconfig anywhere (so it starts its built-in demo under tmp_path/cache) and /metrics on
    a port of its own; returns it and that port."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    port = free_port()
    env = {"KUBECONFIG": "", "HOME": str(home), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "IMC_HISTORY_PATH": str(tmp_path / "history.sqlite3"), "IMC_METRICS_PORT": str(port), "IMC_CONTEXT": ""}
    try:
        return start_dashboard("", tmp_path / f"{name}.log", **env), port
    except RuntimeError as exc:
        pytest.fail(str(exc))


def ledger_pods(path: Path) -> dict[str, float]:
    """The demo's pods in the ledger: creation time (epoch seconds) by UID."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return dict(conn.execute("SELECT uid, coalesce(created, first_seen) FROM pods WHERE cluster = ?", (CLUSTER,)))


def ledger_total(path: Path) -> int:
    """The ledger's decision totals of the demo, summed over workloads and outcomes."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT coalesce(sum(pods), 0) FROM decision_totals WHERE cluster = ?",
                            (CLUSTER,)).fetchone()[0]


def ledger_updated(path: Path) -> float:
    """When the ledger last stored a change of the demo's pods (epoch seconds)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT coalesce(max(updated), 0) FROM pods WHERE cluster = ?", (CLUSTER,)).fetchone()[0]


def counter_total(port: int) -> float | None:
    """imc_pod_decisions_total of the demo on /metrics, summed; None while it is not served."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=scaled(10)) as response:
            text = response.read().decode()
    except OSError:
        return None
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "imc_pod_decisions_total" and sample.labels.get("cluster") == CLUSTER)


def counter_agrees(port: int, ledger: Path) -> int | None:
    """The ledger's total when the counter reads the same (read around it, so no write fell between); else None."""
    before = ledger_total(ledger)
    counted = counter_total(port)
    return before if counted == before == ledger_total(ledger) else None


def test_the_built_in_demo_is_a_fleet_and_a_restarted_dashboard_resumes_it_counting_each_pod_once(page, tmp_path):
    ledger = tmp_path / "history.sqlite3"
    # the demo the dashboard starts, for kubectl (only its kubeconfig is read)
    demo = SimProcess(str(tmp_path / "cache" / "imc" / "dashboard-demo" / "kubeconfig"), "", None, "")
    started_at = time.time()
    first, port = start_demo_app(tmp_path, "first")
    try:
        # the first session starts the demo and its watcher; the Pods page, lighter than the Overview to keep open
        open_page(page, f"{first.url}/pods")
        cache = {"apiVersion": "eci.alibabacloud.com/v1", "kind": "ImageCache", "metadata": {"name": CACHE},
                 "spec": {"images": ["nginx:1.25"], "imageCacheSize": 20}}
        kubectl(demo, "apply", "-f", "-", input_text=orjson.dumps(cache).decode())
        kubectl(demo, "annotate", "deployment", "cart", "-n", "shop", "team=payments")
        uid = kubectl_json(demo, "get", "imagecache", CACHE)["metadata"]["uid"]
        poll(lambda: ledger.exists() and counter_agrees(port, ledger), 60,
             "the ledger to hold the demo and /metrics to count the same")
        # the built-in demo is a fleet of two clusters side by side (issue 25)
        open_page(page, f"{first.url}/fleet")
        poll(lambda: fleet_cells(page, "Context") == ["sim", "sim-beijing"], 60,
             "a row for each of the demo's clusters")
        poll(lambda: all(cell not in ("", "0") for cell in fleet_cells(page, "ECI pods") or [""]), 60,
             "ECI pods in both demo clusters")
        assert len(fleet_cells(page, "ECI pods")) == 2
        open_page(page, f"{first.url}/?context=sim-beijing")
        expect(page.get_by_text("Context sim-beijing")).to_be_visible(timeout=ms(30))
    finally:
        first.stop()
    assert first.process.returncode is not None
    before = ledger_pods(ledger)
    total_before = ledger_total(ledger)
    past = {pod for pod, created in before.items() if created < started_at - PAST_MARGIN_SECONDS}
    assert past and total_before == len(before), "the demo's past is in the ledger, each pod once"

    second, port = start_demo_app(tmp_path, "second")
    try:
        open_page(page, f"{second.url}/pods")  # the first session starts the demo again, on a new port
        answered = poll(lambda: kubectl(demo, "get", "imagecache", CACHE, "-o", "json", check=False), 60,
                        "the restarted demo to answer kubectl (its kubeconfig rewritten with the new port)",
                        until=lambda result: result.returncode == 0)
        assert orjson.loads(answered.stdout)["metadata"]["uid"] == uid
        annotations = kubectl_json(demo, "get", "deployment", "cart", "-n", "shop")["metadata"]["annotations"]
        assert annotations.get("team") == "payments", "the user's patch is kept"
        restarted = time.time()
        poll(lambda: ledger_pods(ledger) and max(ledger_updated(ledger), 0) > restarted, 60,
             "the restarted dashboard's ledger writer to store the demo")
        total_after = poll(lambda: counter_agrees(port, ledger), 60, "/metrics to count what the ledger holds")
        after = ledger_pods(ledger)
    finally:
        second.stop()
    new = set(after) - set(before)
    assert {pod for pod, created in after.items() if created < started_at - PAST_MARGIN_SECONDS} == past, \
        "the demo's past is the same pods, not generated again"
    assert all(after[pod] >= started_at - PAST_MARGIN_SECONDS for pod in new), "only pods created meanwhile are new"
    assert total_after - total_before == len(new), "the totals grew by the new pods, each counted once"

