"""What the caches buy, in Chromium: the start-time chart shows hits and misses, and Overview agrees with imc report."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from bench.waits import poll
from core.timeutil import parse_time
from dashboard.start_panels import seconds, short_duration
from sim.launch import start_sim
from tests.e2e.conftest import REPO, kubectl, kubectl_json, ms, open_page, screenshot, start_app
from tests.fixtures.engine.builders import pod

pytestmark = pytest.mark.e2e


def pod_json(name: str, images: list[str]) -> str:
    return json.dumps(pod(images, name=name))


@pytest.fixture(scope="module")
def quiet(tmp_path_factory):
    """A cluster of its own that holds still once its pods started: two misses and two hits of the same images.

    At --speed 8 the pulls take an eighth of the modelled seconds (hits and misses keep their ratio)."""
    sim = start_sim(scenario="empty", state_dir=tmp_path_factory.mktemp("starts-sim"), extra_args=("--speed", "8"))
    try:
        images = [f"registry.example.com/e2e-{uuid.uuid4().hex[:6]}/node:22"]
        for i in range(2):
            kubectl(sim, "apply", "-f", "-", input_text=pod_json(f"miss-{i}", images))  # ECI misses, auto-creates a cache
        cache = {
            "apiVersion": "eci.alibabacloud.com/v1",
            "kind": "ImageCache",
            "metadata": {"name": "e2e-starts"},
            "spec": {"images": images},
        }
        kubectl(sim, "apply", "-f", "-", input_text=json.dumps(cache))

        def ready() -> str | None:
            status = kubectl_json(sim, "get", "imagecache", "e2e-starts").get("status") or {}
            return status.get("lastUpdatedTime") if status.get("phase") == "Ready" else None

        ready_at = parse_time(poll(ready, 30, "the cache to be Ready"))
        poll(lambda: datetime.now(UTC) >= ready_at + timedelta(seconds=1), 5, "the second after Ready")
        for i in range(2):
            kubectl(sim, "apply", "-f", "-", input_text=pod_json(f"hit-{i}", images))

        def all_running() -> bool:
            items = kubectl_json(sim, "get", "pods", "-n", "default")["items"]
            return len(items) == 4 and all(p["status"].get("phase") == "Running" for p in items)

        poll(all_running, 60, "every pod to start")
        yield sim
    finally:
        sim.stop()


@pytest.fixture(scope="module")
def quiet_app(quiet, tmp_path_factory):
    started = start_app(quiet, tmp_path_factory.mktemp("starts-app") / "streamlit.log")
    yield started
    started.stop()


def report(sim) -> list[dict]:
    result = subprocess.run(
        [sys.executable, str(REPO / "cli.py"), "report", "--kubeconfig", sim.kubeconfig, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(REPO),
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["results"]


def metric(page, label: str):
    return page.locator("[data-testid='stMetric']", has_text=label).locator("[data-testid='stMetricValue']")


def test_overview_shows_the_speed_up_as_imc_report_measures_it(quiet, quiet_app, page):
    items = report(quiet)
    outcome = {i["name"]: (i["actual"] or {}).get("outcome", i["decision"]) for i in items}
    hits = [i["start_seconds"] for i in items if outcome[i["name"]] == "hit"]
    misses = [i["start_seconds"] for i in items if outcome[i["name"]] == "miss"]
    assert len(hits) == len(misses) == 2 and None not in hits + misses
    saved = sum(i["saved_seconds"] for i in items if i["saved_seconds"] is not None)
    assert saved > 0
    open_page(page, quiet_app.url)
    expect(page.get_by_role("heading", name="What the caches buy")).to_be_visible(timeout=ms(30))
    expect(metric(page, "Hit start p50")).to_have_text(seconds(statistics.median(hits)), timeout=ms(20))
    expect(metric(page, "Miss start p50")).to_have_text(seconds(statistics.median(misses)))
    expect(metric(page, "Pull time saved")).to_have_text(short_duration(saved))
    expect(page.get_by_text("Pull time saved over 2 hits of the last 24 h", exact=False)).to_be_visible()
    chart = page.locator("[data-testid='stPlotlyChart']").first
    expect(chart).to_contain_text("Hit (2)", timeout=ms(20))  # drawn after the metrics: 5 s was short beside two CPU hogs
    expect(chart).to_contain_text("Miss (2)")
    screenshot(page, "e2e-overview-starts")
