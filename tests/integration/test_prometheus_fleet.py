"""Issue 25, past one process, with real parts: `imc exporter` on an `imc sim` named `far`, scraped by Debian's
Prometheus; the Fleet page's row of `far`, read back from that Prometheus, shows what the exporter's /metrics says."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.figures import Spread
from dashboard import fleet_views
from kube import prometheus
from tests.integration.conftest import poll
from tests.integration.test_monitoring import fetch, prometheus_before_exporter, running_exporter, shop_sim

pytestmark = pytest.mark.integration
WINDOW = "24 h"


@pytest.fixture(scope="module")
def far_scraped(tmp_path_factory) -> Iterator[tuple[int, str]]:
    """A real Prometheus, started before far's sim is filled (`prometheus_before_exporter`): (far's exporter's port,
    Prometheus' base URL)."""
    with prometheus_before_exporter(tmp_path_factory.mktemp("prometheus")) as both:
        yield both


@pytest.fixture(scope="module")
def far(start_sim_factory, tmp_path_factory, far_scraped) -> Iterator[str]:
    """A sim with a Ready cache, three pods that hit it and one that misses, watched by `imc exporter` as the
    cluster `far` (IMC_CLUSTER) with a history file: its /metrics URL."""
    sim, _api, _image = shop_sim(start_sim_factory)
    directory = tmp_path_factory.mktemp("far")
    with running_exporter(sim, directory / "history.sqlite3", directory / "exporter.log", {"IMC_CLUSTER": "far"},
                          port=far_scraped[0]) as url:
        yield url


@pytest.fixture(scope="module")
def fleet_prometheus(far, far_scraped) -> str:
    """The Prometheus scraping far's exporter every second: its base URL."""
    return far_scraped[1]


def exported(metrics_url: str, cluster: str) -> dict[str, float]:
    """The Fleet row's figures of a cluster as its /metrics text says them (window WINDOW), read by hand."""
    label = WINDOW.replace(" ", "")
    samples = [s for family in text_string_to_metric_families(fetch(metrics_url).decode()) for s in family.samples
               if s.labels.get("cluster") == cluster]

    def total(name: str, **labels: str) -> float:
        return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())

    def one(name: str, **labels: str) -> float | None:
        return next((s.value for s in samples if s.name == name and labels.items() <= s.labels.items()), None)

    caches = [s.labels for s in samples if s.name == "imc_imagecache_info"]
    figures = {
        "eci_pods": total("imc_pods"), "caches": len(caches),
        "ready_caches": sum(c["phase"] == "Ready" for c in caches),
        "failed_caches": sum(c["phase"] in ("Failed", "UpdateFailed") for c in caches),
        "disagreements": total("imc_prediction_disagreements"),
        "pods_decided": total("imc_window_pods", window=label),
        "tried": sum(total("imc_window_pods", window=label, outcome=o) for o in ("hit", "miss", "fail")),
        "hit_rate": one("imc_window_hit_ratio", window=label),
        "hit_started": one("imc_window_started_pods", window=label, outcome="hit"),
        "hit_median": one("imc_window_start_seconds", window=label, outcome="hit", statistic="median"),
        "miss_started": one("imc_window_started_pods", window=label, outcome="miss"),
        "miss_median": one("imc_window_start_seconds", window=label, outcome="miss", statistic="median"),
    }
    return {name: value for name, value in figures.items() if value is not None}


def test_a_central_fleet_page_shows_a_cluster_it_does_not_watch_as_prometheus_scraped_it(far, fleet_prometheus):
    def both() -> tuple[dict[str, float], dict[str, float]]:
        reading = prometheus.read_fleet(fleet_prometheus, WINDOW)
        assert reading.problem is None, reading.problem
        got = reading.clusters.get("far", {})
        return exported(far, "far"), {name: got[name] for name in exported(far, "far") if name in got}

    def settled(pair: tuple[dict[str, float], dict[str, float]]) -> bool:
        metrics, read = pair
        return metrics.get("hit_started") == 3 and metrics.get("miss_started") == 1 and read == pytest.approx(metrics)

    metrics, _ = poll(both, 90, "far's figures in Prometheus == its /metrics, every pod started, as (metrics, read)",
                      interval=0.5, until=settled)
    assert metrics["eci_pods"] == 4 and metrics["ready_caches"] >= 1 and metrics["hit_rate"] == pytest.approx(0.75)
    reading = prometheus.read_fleet(fleet_prometheus, WINDOW)
    assert list(reading.clusters) == ["far"]

    rows = fleet_views.prometheus_rows(reading.clusters, {"near"}, time.time())  # near: the cluster watched here
    (row,) = rows
    assert row.context == "far" and row.remote and row.watch.startswith("via Prometheus, scraped ")
    assert (row.eci_pods, row.ready_caches, row.caches, row.tried) == (
        4, metrics["ready_caches"], metrics["caches"], 4)
    assert row.hit_start == Spread(metrics["hit_median"], row.hit_start.p90, 3) and row.hit_start.p90 is not None
    (shown,) = fleet_views.fleet_frame(rows, WINDOW).to_dict("records")
    assert shown["Hit rate, 24 h"] == "75% of 4"
    assert shown["Ready caches"] == f"{metrics['ready_caches']:.0f} of {metrics['caches']:.0f}"
    assert shown["Median start, hits · misses, 24 h"] == (
        f"{fleet_views.start_text(Spread(metrics['hit_median'], None, 3))} · "
        f"{fleet_views.start_text(Spread(metrics['miss_median'], None, 1))}")
    assert fleet_views.prometheus_rows(reading.clusters, {"far"}, time.time()) == []  # watched here: its live row
