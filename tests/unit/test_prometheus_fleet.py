"""Issue 25, past one process, without a real Prometheus: the Fleet query, Prometheus' answers read, the rows."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from bench.waits import free_port
from core.figures import Spread
from dashboard import fleet_views
from kube import prometheus
from tests.unit.test_dashboard_pages import page_script, texts
from tests.unit.test_fleet_views import kubeconfig  # noqa: F401 - the fixture: west shown from a filled store

NOW = 1_780_000_000.0


def sample(cluster: str, figure: str, value: str, at: float = NOW) -> dict:
    """One element of an instant vector as Prometheus writes it: labels, then [time, "value"]."""
    return {"metric": {"cluster": cluster, prometheus.FIGURE_LABEL: figure}, "value": [at, value]}


def answer(*samples: dict) -> bytes:
    """Prometheus' JSON answer to an instant query whose result is a vector."""
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": list(samples)}}).encode()


FAR = (sample("far", "scraped", str(NOW - 12)), sample("far", "watch_up", "1"), sample("far", "eci_pods", "6"),
       sample("far", "caches", "2"), sample("far", "ready_caches", "1"), sample("far", "disagreements", "0"),
       sample("far", "pods_decided", "7"), sample("far", "tried", "5"), sample("far", "hit_rate", "0.6"),
       sample("far", "hit_started", "3"), sample("far", "hit_median", "4.25"), sample("far", "hit_p90", "6"),
       sample("far", "miss_started", "0"))


def test_the_fleet_query_reads_each_figure_from_the_series_metrics_exports_for_the_chosen_window():
    figures = prometheus.fleet_figures("24 h")
    assert figures["hit_rate"] == 'max by (cluster) (imc_window_hit_ratio{window="24h"})'  # imc's rate, carried
    assert 'window="1h"' in prometheus.fleet_figures("1 h")["tried"]
    assert all("by (cluster)" in query for query in figures.values())
    query = prometheus.fleet_query("7 d")
    assert query.count(" or ") == len(figures) - 1
    assert 'label_replace(sum by (cluster) (imc_pods), "imc_figure", "eci_pods", "", "")' in query
    assert 'window="7d"' in query and "{window}" not in query


def test_the_request_is_a_form_post_to_the_query_api_under_the_base_url_path():
    request = prometheus.fleet_request("https://thanos.example/prom/", "24 h")
    assert request.url == "https://thanos.example/prom/api/v1/query"
    assert urllib.parse.parse_qs(request.body.decode()) == {"query": [prometheus.fleet_query("24 h")]}
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert prometheus.query_request("http://p:9090", "up").url == "http://p:9090/api/v1/query"


def test_a_vector_answer_becomes_figures_per_cluster_with_counts_of_now_zero_when_absent():
    reading = prometheus.parse_answer(answer(*FAR, sample("near", "scraped", str(NOW)),
                                             sample("near", "eci_pods", "3")))
    assert reading.problem is None and list(reading.clusters) == ["far", "near"]
    far = reading.clusters["far"]
    assert far["eci_pods"] == 6 and far["hit_rate"] == 0.6 and far["hit_median"] == 4.25
    assert far["failed_caches"] == 0 and far["expiring_soon"] == 0  # count() of none is no series: 0
    assert "miss_median" not in far  # absent when none started: no value, not 0


def test_an_empty_answer_is_no_cluster_and_samples_not_ours_are_left_out():
    assert prometheus.parse_answer(answer()) == prometheus.FleetReading({})
    odd = answer({"metric": {"cluster": "x"}, "value": [NOW, "1"]}, sample("y", "eci_pods", "NaN"),
                 sample("z", "eci_pods", "4"), {"metric": {}, "value": "junk"}, "junk")
    assert prometheus.parse_answer(odd).clusters == {}  # z never reported a scrape: not a cluster


@pytest.mark.parametrize(("body", "words"), [
    (json.dumps({"status": "error", "errorType": "bad_data", "error": "parse error at char 3"}).encode(),
     "the query failed: bad_data: parse error at char 3"),
    (json.dumps({"status": "success", "data": {"resultType": "matrix", "result": []}}).encode(),
     "the answer is not an instant vector"),
    (b"<html>502 Bad Gateway</html>", "the answer is not JSON"),
    (b"[1, 2]", "the answer is not a Prometheus API answer"),
])
def test_an_error_answer_is_one_line_never_a_raise(body, words):
    reading = prometheus.parse_answer(body)
    assert reading.clusters == {} and reading.problem.startswith(words) and "\n" not in reading.problem


def test_an_unreachable_or_unusable_prometheus_is_one_line():
    refused = prometheus.read_fleet(f"http://127.0.0.1:{free_port()}", "24 h", timeout=2)
    assert refused.clusters == {} and refused.problem.startswith("cannot reach it:")
    assert prometheus.read_fleet("ftp://p", "24 h").problem == "IMC_PROMETHEUS_URL='ftp://p' is not an http:// or https:// URL"
    assert prometheus.prometheus_url({"IMC_PROMETHEUS_URL": " http://p:9090 "}) == "http://p:9090"
    assert prometheus.prometheus_url({}) is None
    assert prometheus.shown_url("https://me:secret@mimir.example/prometheus") == "https://mimir.example/prometheus"
    assert "secret" not in prometheus.read_fleet("ftp://me:secret@p", "24 h").problem
    assert prometheus.read_fleet("http://[::1", "24 h").problem == "IMC_PROMETHEUS_URL is not a URL"
    assert prometheus.read_fleet("http://p:port", "24 h").problem == "IMC_PROMETHEUS_URL is not a URL"


def test_a_cluster_read_from_prometheus_has_the_same_columns_and_says_where_it_comes_from():
    clusters = prometheus.parse_answer(answer(*FAR, sample("west", "scraped", str(NOW)))).clusters
    rows = fleet_views.prometheus_rows(clusters, {"west"}, NOW)  # west is watched here: its live row stays
    assert [row.context for row in rows] == ["far"] and rows[0].remote
    assert rows[0].hit_start == Spread(4.25, 6.0, 3) and rows[0].miss_start == Spread(None, None, 0)
    (far,) = fleet_views.fleet_frame(rows, "24 h").to_dict("records")
    assert far["Watch"] == "via Prometheus, scraped 12 s ago"
    assert far["ECI pods"] == 6 and far["Hit rate, 24 h"] == "60% of 5"
    assert far["Median start, hits · misses, 24 h"] == "4.2 s (3) · –"
    assert (far["Ready caches"], far["Failed caches"], far["Expiring in 24 h"], far["Disagreements"]) == (
        "1 of 2", 0, 0, 0)


def test_a_cluster_without_history_has_no_window_figures_and_a_down_watch_says_so():
    figures = {"scraped": NOW - 300, "watch_up": 0.0, "eci_pods": 2.0, "caches": 0.0, "ready_caches": 0.0}
    row = fleet_views.prometheus_row("far", figures, NOW)
    assert row.watch == "via Prometheus (watch down), scraped 5 min ago"
    (far,) = fleet_views.fleet_frame([row], "1 h").to_dict("records")
    assert pd.isna(far["Hit rate, 1 h"]) and far["Median start, hits · misses, 1 h"] == "– · –"


class CannedPrometheus(BaseHTTPRequestHandler):
    """Answers every query with the FAR cluster, as a Prometheus would (scraped just now)."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = answer(*(s if s["metric"][prometheus.FIGURE_LABEL] != "scraped"
                        else sample("far", "scraped", str(time.time() - 12)) for s in FAR))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def canned_prometheus() -> Iterator[str]:
    """A local HTTP server answering the Prometheus query API with FAR: its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), CannedPrometheus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_fleet_page_adds_the_clusters_prometheus_knows_beside_the_live_one(kubeconfig, monkeypatch,  # noqa: F811
                                                                               canned_prometheus):
    monkeypatch.setenv("IMC_PROMETHEUS_URL", canned_prometheus)
    at = page_script("fleet").run()
    assert not at.exception and not at.warning
    table = at.dataframe[0].value
    assert list(table["Context"]) == ["west", "far"]
    assert table["Watch"][1].startswith("via Prometheus, scraped 1") and table["ECI pods"][1] == 6
    assert "1 read from Prometheus" in texts(at)
    assert [link.label for link in at.get("page_link")] == ["Open west"]  # far is not watched here


def test_a_prometheus_that_cannot_be_reached_says_so_once_and_the_live_rows_stay(kubeconfig, monkeypatch):  # noqa: F811
    monkeypatch.setenv("IMC_PROMETHEUS_URL", f"http://127.0.0.1:{free_port()}")
    at = page_script("fleet").run()
    assert not at.exception and not at.error
    assert list(at.dataframe[0].value["Context"]) == ["west"]
    (warning,) = at.warning
    assert "IMC_PROMETHEUS_URL" in warning.value and "cannot reach it" in warning.value
