"""History in real Chromium: make history, restart the app on the same ledger, the pre-restart points are there."""

from __future__ import annotations

import sqlite3

import pytest
from playwright.sync_api import expect

from core.workloads import is_eci_pod
from tests.e2e.conftest import kubectl, kubectl_json, ms, open_page, poll, start_app
from tests.e2e.test_dashboard_e2e import pick_mode

pytestmark = pytest.mark.e2e

NAMESPACE = "e2e-history"
TITLE = "Hits, misses and failures over time"
# the pods counted by the over-time chart: the first plotly chart after its heading
CHART_TOTAL = """title => {
  const heading = [...document.querySelectorAll('h3')].find(h => h.textContent.includes(title));
  if (!heading) return null;
  const chart = [...document.querySelectorAll('.js-plotly-plot')]
    .find(c => heading.compareDocumentPosition(c) & Node.DOCUMENT_POSITION_FOLLOWING);
  const traces = chart && (chart._fullData || chart.data);  // _fullData: y decoded from plotly's binary form
  if (!traces) return null;
  return traces.reduce((sum, trace) => sum + Array.from(trace.y || []).reduce((a, b) => a + Number(b), 0), 0);
}"""


def pods_yaml(count: int) -> str:
    """ECI pods in the history namespace."""
    return "\n---\n".join(f"""apiVersion: v1
kind: Pod
metadata:
  name: remembered-{i}
  namespace: {NAMESPACE}
  labels: {{alibabacloud.com/eci: "true"}}
spec:
  containers:
  - {{name: main, image: "registry.cn-hangzhou.aliyuncs.com/eci_open/nginx:1.14.2"}}
""" for i in range(count))


def ledger_rows(path, deleted: bool) -> int:
    """Pods of the history namespace in the ledger file (deleted ones, or live ones)."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            return conn.execute(f"SELECT count(*) FROM pods WHERE namespace = ? AND deleted IS {'NOT' if deleted else ''} "
                                "NULL", (NAMESPACE,)).fetchone()[0]
    except sqlite3.Error:
        return 0


def chart_total(page, url: str) -> float:
    """Open Overview, pick the 30 d window, and add up the pods the over-time chart draws."""
    open_page(page, url)
    pick_mode(page, "30 d")  # the window picker is a segmented control like the mode picker
    expect(page.get_by_text("From the history file:")).to_be_visible(timeout=ms(20))
    return poll(lambda: page.evaluate(CHART_TOTAL, TITLE), 30, "the over-time chart")


def test_history_survives_a_restart_and_deleted_pods_still_count(sim, page, tmp_path):
    ledger = tmp_path / "history.sqlite3"
    kubectl(sim, "create", "namespace", NAMESPACE, check=False)
    first = start_app(sim, tmp_path / "first.log", IMC_CONTEXT="sim", IMC_HISTORY_PATH=str(ledger))
    try:
        open_page(page, f"{first.url}/pods")  # the app watches the cluster once a session opens it
        kubectl(sim, "apply", "-f", "-", input_text=pods_yaml(4))
        poll(lambda: ledger_rows(ledger, deleted=False) == 4, 30, "the new pods in the ledger")
        before = chart_total(page, first.url)
        kubectl(sim, "delete", "pods", "--all", "-n", NAMESPACE, "--wait=true")
        poll(lambda: ledger_rows(ledger, deleted=True) == 4, 30, "the deletions in the ledger")
    finally:
        first.stop()

    live = [p for p in kubectl_json(sim, "get", "pods", "-A")["items"]
            if is_eci_pod(p["metadata"].get("labels") or {}, p["spec"].get("nodeName"))]
    second = start_app(sim, tmp_path / "second.log", IMC_CONTEXT="sim", IMC_HISTORY_PATH=str(ledger))
    try:
        after = chart_total(page, second.url)
    finally:
        second.stop()
    assert after >= before  # every point drawn before the restart is drawn again (the demo only adds)
    assert after >= len(live) + 4  # the four pods deleted before the restart still count
