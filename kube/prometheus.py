"""The Fleet page's figures read back from a Prometheus that scrapes imc (`IMC_PROMETHEUS_URL`, issue 25).

Each figure is one of the series /metrics exports (`kube.metrics`), taken per `cluster` label as imc computed it:
the window's hit rate is `imc_window_hit_ratio`, never a rate recomputed in PromQL. Every figure is one instant
query (`/api/v1/query`), and all of them go as one expression (`fleet_query`): each part tagged with its figure by
`label_replace`, joined by `or`, so one round trip reads the whole fleet at one instant. Pure builders and parsers
(`fleet_request`, `parse_answer`) beside the one function that sends (`read_fleet`), which never raises: what went
wrong is one line in `FleetReading.problem`.
"""

from __future__ import annotations

import json
import math
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field

from core.findings import brief

PROMETHEUS_VARIABLE = "IMC_PROMETHEUS_URL"
QUERY_PATH = "/api/v1/query"
FIGURE_LABEL = "imc_figure"  # the label that tags each part of the one expression with its figure
TIMEOUT_SECONDS = 5.0
MAX_ANSWER_BYTES = 16 << 20
EXPIRING_SOON_SECONDS = 86400  # the Fleet page's "Expiring in 24 h" (dashboard.cache_views.EXPIRING_SOON)
PER_CLUSTER = "cluster"

# figure -> PromQL per cluster; {window} is the window label of /metrics ("24h"). Counts of "now" default to 0 for a
# cluster that reports (count() of no caches is no series); window figures stay absent without history.
NOW_FIGURES = {
    "scraped": "max by (cluster) (timestamp(imc_watch_up))",
    "watch_up": "min by (cluster) (imc_watch_up)",
    "eci_pods": "sum by (cluster) (imc_pods)",
    "caches": "count by (cluster) (imc_imagecache_info)",
    "ready_caches": 'count by (cluster) (imc_imagecache_info{phase="Ready"})',
    "failed_caches": 'count by (cluster) (imc_imagecache_info{phase=~"Failed|UpdateFailed"})',
    # the Caches page's ⚠ (dashboard.cache_views.expiring_soon): Ready, hit by live pods, expiring within 24 h
    "expiring_soon": f"count by (cluster) ((imc_imagecache_expiry_timestamp_seconds - time() <= "
                     f"{EXPIRING_SOON_SECONDS}) and on (cluster, name) (imc_imagecache_pods > 0) "
                     f'and on (cluster, name) imc_imagecache_info{{phase="Ready"}})',
    "disagreements": "sum by (cluster) (imc_prediction_disagreements)",
}
WINDOW_FIGURES = {
    "pods_decided": 'sum by (cluster) (imc_window_pods{{window="{window}"}})',
    "tried": 'sum by (cluster) (imc_window_pods{{window="{window}",outcome=~"hit|miss|fail"}})',
    "hit_rate": 'max by (cluster) (imc_window_hit_ratio{{window="{window}"}})',
    "hit_started": 'max by (cluster) (imc_window_started_pods{{window="{window}",outcome="hit"}})',
    "miss_started": 'max by (cluster) (imc_window_started_pods{{window="{window}",outcome="miss"}})',
    "hit_median": 'max by (cluster) (imc_window_start_seconds{{window="{window}",outcome="hit",statistic="median"}})',
    "hit_p90": 'max by (cluster) (imc_window_start_seconds{{window="{window}",outcome="hit",statistic="p90"}})',
    "miss_median": 'max by (cluster) (imc_window_start_seconds{{window="{window}",outcome="miss",statistic="median"}})',
    "miss_p90": 'max by (cluster) (imc_window_start_seconds{{window="{window}",outcome="miss",statistic="p90"}})',
}
ZERO_WHEN_ABSENT = ("eci_pods", "caches", "ready_caches", "failed_caches", "expiring_soon", "disagreements")


@dataclass(frozen=True)
class PrometheusRequest:
    """One instant query, ready to send: a form POST to /api/v1/query (long expressions fit in a body)."""

    url: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=lambda: {"Content-Type": "application/x-www-form-urlencoded",
                                                                "Accept": "application/json"})


@dataclass(frozen=True)
class FleetReading:
    """Per `cluster` label, its figures as Prometheus holds them (figure -> value); or why there are none."""

    clusters: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    problem: str | None = None


def prometheus_url(environ: Mapping[str, str] | None = None) -> str | None:
    """IMC_PROMETHEUS_URL (stripped), or None when unset."""
    environ = os.environ if environ is None else environ
    return environ.get(PROMETHEUS_VARIABLE, "").strip() or None


def url_problem(url: str) -> str | None:
    """Why a Prometheus base URL cannot be used (not http or https, no host), else None."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return f"{PROMETHEUS_VARIABLE} is not a URL"
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"{PROMETHEUS_VARIABLE}={brief(shown_url(url))} is not an http:// or https:// URL"
    if parts.query or parts.fragment:
        return (f"{PROMETHEUS_VARIABLE}={brief(shown_url(url))} has a query or fragment; give the base URL "
                "(http://host:9090)")
    return None


def shown_url(url: str) -> str:
    """The URL to show on a page: without a user or password it may carry."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return PROMETHEUS_VARIABLE
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def window_label(window: str) -> str:
    """A window's label in /metrics: "24 h" -> "24h" (`kube.metrics.window_families`)."""
    return window.replace(" ", "")


def fleet_figures(window: str) -> dict[str, str]:
    """Every figure of a Fleet row and its PromQL per cluster, for one window ("24 h")."""
    label = window_label(window)
    return {**NOW_FIGURES, **{name: query.format(window=label) for name, query in WINDOW_FIGURES.items()}}


def fleet_query(window: str) -> str:
    """One expression answering every figure of every cluster: each part tagged with its figure, joined by `or`."""
    return " or ".join(f'label_replace({query}, "{FIGURE_LABEL}", "{name}", "", "")'
                       for name, query in fleet_figures(window).items())


def query_request(base_url: str, expression: str) -> PrometheusRequest:
    """The instant query of an expression against a Prometheus (or Thanos, Mimir: the same HTTP API) base URL."""
    path = urllib.parse.urlsplit(base_url).path.rstrip("/")
    url = urllib.parse.urlunsplit((*urllib.parse.urlsplit(base_url)[:2], path + QUERY_PATH, "", ""))
    return PrometheusRequest(url, urllib.parse.urlencode({"query": expression}).encode())


def fleet_request(base_url: str, window: str) -> PrometheusRequest:
    """The one instant query of the Fleet page's figures."""
    return query_request(base_url, fleet_query(window))


def parse_answer(body: bytes) -> FleetReading:
    """Prometheus' JSON answer to `fleet_query` as figures per cluster; an error answer, or one that is not a
    vector of tagged samples, is a reading with a one-line problem."""
    try:
        answer = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return FleetReading(problem=f"the answer is not JSON: {brief(body[:80])}")
    if not isinstance(answer, Mapping):
        return FleetReading(problem="the answer is not a Prometheus API answer")
    if answer.get("status") != "success":
        kind, error = answer.get("errorType"), answer.get("error")
        words = f"{kind}: {error}" if kind and error else error or kind or f"status {brief(answer.get('status'))}"
        return FleetReading(problem=f"the query failed: {cut(str(words), 300)}")
    data = answer.get("data")
    if not isinstance(data, Mapping) or data.get("resultType") != "vector" or not isinstance(data.get("result"), list):
        return FleetReading(problem="the answer is not an instant vector")
    clusters: dict[str, dict[str, float]] = {}
    for sample in data["result"]:
        found = sample_value(sample)
        if found is not None:
            cluster, figure, value = found
            clusters.setdefault(cluster, {})[figure] = value
    for figures in clusters.values():
        for name in ZERO_WHEN_ABSENT:
            figures.setdefault(name, 0.0)
    return FleetReading({cluster: figures for cluster, figures in sorted(clusters.items()) if "scraped" in figures})


def sample_value(sample: object) -> tuple[str, str, float] | None:
    """(cluster, figure, value) of one vector sample ({"metric": {...}, "value": [time, "text"]}); None when it is
    not one of ours or its value is not a finite number."""
    if not isinstance(sample, Mapping) or not isinstance(sample.get("metric"), Mapping):
        return None
    labels, pair = sample["metric"], sample.get("value")
    cluster, figure = labels.get(PER_CLUSTER), labels.get(FIGURE_LABEL)
    if not isinstance(cluster, str) or not isinstance(figure, str) or not isinstance(pair, list) or len(pair) != 2:
        return None
    try:
        value = float(pair[1])
    except (TypeError, ValueError):
        return None
    return (cluster, figure, value) if math.isfinite(value) else None


def cut(text: str, limit: int) -> str:
    """The first line of a text from outside, at most `limit` characters (… marks a cut)."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[:limit - 1] + "…"


def error_answer(status: int, body: bytes) -> FleetReading:
    """An HTTP error from Prometheus: its API error when the body is one, else the status."""
    reading = parse_answer(body)
    if reading.problem and reading.problem.startswith("the query failed"):
        return reading
    return FleetReading(problem=f"Prometheus answered HTTP {status}")


def read_fleet(base_url: str, window: str, timeout: float = TIMEOUT_SECONDS) -> FleetReading:
    """Send the Fleet query and parse the answer; never raises: a failure is the reading's one-line problem."""
    problem = url_problem(base_url)
    if problem:
        return FleetReading(problem=problem)
    request = fleet_request(base_url, window)
    sent = urllib.request.Request(request.url, data=request.body, headers=dict(request.headers), method="POST")
    try:
        with urllib.request.urlopen(sent, timeout=timeout) as response:  # noqa: S310 - http(s) only (url_problem)
            return parse_answer(response.read(MAX_ANSWER_BYTES))
    except urllib.error.HTTPError as exc:
        with exc:
            return error_answer(exc.code, exc.read(MAX_ANSWER_BYTES))
    except TimeoutError:
        return FleetReading(problem=f"no answer within {timeout:g} s")
    except urllib.error.URLError as exc:
        reason = exc.reason if isinstance(exc.reason, str) else getattr(exc.reason, "strerror", None) or exc.reason
        return FleetReading(problem=f"cannot reach it: {cut(str(reason), 200)}")
    except (OSError, ValueError) as exc:
        return FleetReading(problem=f"cannot read it: {cut(str(exc) or type(exc).__name__, 200)}")
