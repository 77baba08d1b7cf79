"""Prometheus metrics: a collector that reads the store snapshot and the ledger at scrape time, and its endpoint.

Nothing is counted on the watch threads; a scrape builds the families from the latest snapshot (cached per store
version) and from the ledger's small summary tables. No metric has a pod label: a label value per pod makes a new
time series for every pod ever created, which is what a Prometheus server cannot afford on a busy cluster.

A label value is at most MAX_LABEL_CHARS (300) characters, longer than any valid Kubernetes name with its kind (a
DNS subdomain name is at most 253, k8s.io/apimachinery IsDNS1123Subdomain): a longer one (an owner name the server
did not check, say) keeps its first 283 characters, then LABEL_CUT_MARKER ("…") and 16 hex digits of its SHA-256,
so two long values stay two series.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import math
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from core.figures import WINDOWS, WindowFigures, window_bounds, window_figures
from core.findings import brief
from core.workloads import is_eci_pod
from kube.ledger import DURATION_BOUNDS, DurationBucket
from kube.ledger_rows import effective_outcome
from kube.store import StoreSnapshot

log = logging.getLogger("imc.kube.metrics")

DEFAULT_PORT = 9108
MAX_PORT = 65535
DEFAULT_ADDRESS = "0.0.0.0"
GIB = 1 << 30
OUTCOMES = ("hit", "miss", "fail", "off")
MAX_LABEL_CHARS = 300
LABEL_CUT_MARKER = "…"
_LABEL_HASH_CHARS = 16
DEFAULT_NEW_SERIES_SECONDS = 120.0  # twice Prometheus's default scrape_interval (1m)
HISTOGRAMS = {
    "start": ("imc_pod_start_seconds", "ECI pods' creation to all containers started, by outcome."),
    "pull": ("imc_image_pull_seconds", "Time an ECI pod spent pulling its images, by outcome."),
}


@dataclass(frozen=True)
class Source:
    """What one watched cluster offers a scrape."""

    cluster: str
    snapshot: StoreSnapshot
    relists: Mapping[str, int]
    history_behind: int = 0  # changes waiting in memory for the ledger file


@dataclass(frozen=True)
class LedgerFigures:
    """What the ledger offers a scrape: decision totals and duration buckets over every cluster in it."""

    decisions: tuple[tuple[str, str, str, str, int], ...] = ()
    durations: tuple[DurationBucket, ...] = ()
    saved: tuple[tuple[str, str, str, float], ...] = ()  # (cluster, namespace, workload, seconds saved)
    windows: tuple[tuple[str, WindowFigures], ...] = ()  # (cluster, the Overview's figures of one window)


def pod_families(cluster: str, snapshot: Any) -> dict[str, Counter]:
    """Live ECI pods by (namespace, outcome), disagreements by namespace, pods on each cache by name, and the
    workloads seen: of live ECI pods, and Deployments of ECI pods (seen before their first pod)."""
    pods: Counter = Counter()
    disagreements: Counter = Counter()
    on_cache: Counter = Counter()
    workloads: set[tuple[str, str, str]] = set()
    for deployment in snapshot.deployments.values():
        meta = deployment.get("metadata") if isinstance(deployment.get("metadata"), Mapping) else {}
        if eci_template(deployment) and isinstance(meta.get("name"), str):
            workloads.add((cluster, str(meta.get("namespace") or ""), f"Deployment/{meta['name']}"))
    for record in snapshot.pods.values():
        outcome = effective_outcome(record)
        if outcome is None:
            continue
        workloads.add((cluster, record.namespace, record.workload))
        if (cluster, record.namespace, OUTCOMES[0]) not in pods:
            # every outcome of a namespace, zeros too: a rate of hits is 0, not absent, when nothing hit
            pods.update({(cluster, record.namespace, each): 0 for each in OUTCOMES})
            disagreements[(cluster, record.namespace)] += 0  # 0, not absent, where ECI agreed with every pod
        pods[(cluster, record.namespace, outcome)] += 1
        if record.disagrees:
            disagreements[(cluster, record.namespace)] += 1
        if outcome == "hit" and record.decision.cache is not None:
            on_cache[(cluster, record.decision.cache.name)] += 1
    return {"pods": pods, "disagreements": disagreements, "on_cache": on_cache, "workloads": workloads}


def eci_template(workload: Mapping[str, Any]) -> bool:
    """Whether a workload object's pod template makes ECI pods."""
    spec = workload.get("spec") if isinstance(workload.get("spec"), Mapping) else {}
    template = spec.get("template") if isinstance(spec.get("template"), Mapping) else {}
    meta = template.get("metadata") if isinstance(template.get("metadata"), Mapping) else {}
    pod_spec = template.get("spec") if isinstance(template.get("spec"), Mapping) else {}
    labels = meta.get("labels") if isinstance(meta.get("labels"), Mapping) else {}
    return is_eci_pod(labels, pod_spec.get("nodeName"))


def decision_counts(decisions: Iterable[tuple[str, str, str, str, int]], workloads: Iterable[tuple[str, str, str]]
                    ) -> dict[tuple[str, str, str, str], int]:
    """Every outcome of every workload imc knows (from the ledger, live pods, Deployments), 0 where none was seen."""
    counts = {(*known, outcome): 0 for known in workloads for outcome in OUTCOMES}
    for cluster, namespace, workload, outcome, count in decisions:
        for each in OUTCOMES:
            counts.setdefault((cluster, namespace, workload, each), 0)
        counts[(cluster, namespace, workload, outcome)] = count
    return counts


def saved_seconds(saved: Iterable[tuple[str, str, str, float]], workloads: Iterable[tuple[str, str, str]]
                  ) -> dict[tuple[str, str, str], float]:
    """Seconds saved per workload imc knows, 0 where nothing was saved yet."""
    totals = dict.fromkeys(workloads, 0.0)
    for cluster, namespace, workload, seconds in saved:
        totals[(cluster, namespace, workload)] = max(0.0, seconds)
    return totals


@dataclass
class NewSeries:
    """When this process first exposed each counter series: a series of a cluster this process already scraped
    shows 0 for its first `seconds`, so every scraper whose interval is shorter samples it at 0 before its first
    count (a series that appears at N loses N in increase()). What the first scrape of a cluster finds (the ledger's
    past) was exposed by an earlier run, and is shown as it is: held at 0 it would read as a counter reset."""

    seconds: float = DEFAULT_NEW_SERIES_SECONDS
    first_seen: dict[tuple, float] = field(default_factory=dict)
    clusters: set[str] = field(default_factory=set)  # clusters a scrape has reported (their label is first)

    def shown(self, name: str, values: Mapping[tuple, float], now: float) -> dict[tuple, float]:
        """The values to expose now: a series new since its cluster's first scrape is 0 for its first `seconds`."""
        shown = {}
        for labels, value in values.items():
            since = self.first_seen.setdefault((name, labels), now if labels[0] in self.clusters else -math.inf)
            shown[labels] = value if now - since >= self.seconds else 0
        return shown

    def done(self, clusters: Iterable[str]) -> None:
        """A scrape reported these clusters: what appears in them from now on is new."""
        self.clusters.update(clusters)


def families(sources: Iterable[Source], ledger: LedgerFigures, pods_of: Callable[[Source], dict] | None = None,
             new_series: NewSeries | None = None, now: float = 0.0) -> list[Metric]:
    """Every imc metric family from the watched clusters and the ledger (pure but for `new_series`, which records
    when each counter series was first shown)."""
    pods_of = pods_of or (lambda s: pod_families(s.cluster, s.snapshot))
    new_series = new_series or NewSeries()
    workloads: set[tuple[str, str, str]] = set()
    pods = GaugeMetricFamily("imc_pods", "Live ECI pods by outcome (ECI's word when it reported, else imc's "
                             "prediction).", labels=["cluster", "namespace", "outcome"])
    disagreements = GaugeMetricFamily("imc_prediction_disagreements", "Live ECI pods where ECI reported something "
                                      "other than imc's prediction.", labels=["cluster", "namespace"])
    on_cache = GaugeMetricFamily("imc_imagecache_pods", "Live ECI pods that hit each ImageCache.",
                                 labels=["cluster", "name"])
    info = GaugeMetricFamily("imc_imagecache_info", "One per ImageCache, with its ID and phase.",
                             labels=["cluster", "name", "id", "phase"])
    expiry = GaugeMetricFamily("imc_imagecache_expiry_timestamp_seconds", "When an ImageCache expires (caches "
                               "with a retention only).", labels=["cluster", "name"])
    size = GaugeMetricFamily("imc_imagecache_size_bytes", "The size of an ImageCache.", labels=["cluster", "name"])
    watch_up = GaugeMetricFamily("imc_watch_up", "1 while imc lists and watches a resource without error and the API server answers.",
                                 labels=["cluster", "resource"])
    relists = CounterMetricFamily("imc_watch_relists", "Full re-lists of a resource (410 Expired, broken watches).",
                                  labels=["cluster", "resource"])
    behind = GaugeMetricFamily("imc_history_pending_changes", "Changes waiting in memory because the history file "
                               "cannot be written now (locked or busy); 0 when the ledger is up to date.",
                               labels=["cluster"])
    for source in sources:
        counted = pods_of(source)
        workloads |= counted["workloads"]
        for labels, value in sorted(counted["pods"].items()):
            pods.add_metric(list(labels), value)
        for labels, value in sorted(counted["disagreements"].items()):
            disagreements.add_metric(list(labels), value)
        for labels, value in sorted(counted["on_cache"].items()):
            on_cache.add_metric(list(labels), value)
        for name, view in sorted(source.snapshot.caches.items()):
            info.add_metric([source.cluster, name, view.id or "", view.phase or ""], 1)
            size.add_metric([source.cluster, name], view.size_gib * GIB)
            if view.expires is not None:
                expiry.add_metric([source.cluster, name], view.expires.timestamp())
        for kind, up in sorted(source.snapshot.watch_up().items()):
            watch_up.add_metric([source.cluster, kind], 1 if up else 0)
        for kind, count in sorted(source.relists.items()):
            relists.add_metric([source.cluster, kind], count)
        behind.add_metric([source.cluster], source.history_behind)
    decisions = CounterMetricFamily("imc_pod_decisions", "ECI pods ever seen, each counted once under its outcome "
                                    "when first recorded (from the ledger: survives restarts); every outcome of a "
                                    "known workload from 0.", labels=["cluster", "namespace", "workload", "outcome"])
    counts = new_series.shown(decisions.name, decision_counts(ledger.decisions, workloads), now)
    for labels, count in sorted(counts.items()):
        decisions.add_metric(list(labels), count)
    saved = CounterMetricFamily("imc_time_saved_seconds", "Image pull seconds ECI pods saved by hitting a cache, "
                                "estimated once per pod when it started (core.starts: the median observed pull of "
                                "each image, less what the pod paid; never negative).",
                                labels=["cluster", "namespace", "workload"])
    for labels, seconds in sorted(new_series.shown(saved.name, saved_seconds(ledger.saved, workloads), now).items()):
        saved.add_metric(list(labels), seconds)
    return [bounded(family) for family in (pods, decisions, saved, disagreements, info, expiry, size, on_cache,
                                           *histograms(ledger.durations), watch_up, relists, behind,
                                           *window_families(ledger.windows))]


def window_families(windows: Iterable[tuple[str, WindowFigures]]) -> list[GaugeMetricFamily]:
    """The Overview's and `imc report`'s headline figures per window (`core.figures`, from the ledger), as gauges:
    four windows a cluster, so a dashboard can show the very numbers imc shows without recomputing them."""
    labels = ["cluster", "window"]
    pods = GaugeMetricFamily("imc_window_pods", "ECI pods created in the window, by outcome (the Overview's Pods "
                             "decided).", labels=[*labels, "outcome"])
    rate = GaugeMetricFamily("imc_window_hit_ratio", "Hits among the window's pods that asked for a cache (hit, "
                             "miss or fail); absent when none did.", labels=labels)
    started = GaugeMetricFamily("imc_window_started_pods", "The window's started hits and misses: the n of their "
                                "start quantiles.", labels=[*labels, "outcome"])
    start = GaugeMetricFamily("imc_window_start_seconds", "Median and p90 start of the window's started hits and "
                              "misses (label statistic, not quantile: a gauge, not a summary); absent when none "
                              "started.", labels=[*labels, "outcome", "statistic"])
    saved = GaugeMetricFamily("imc_window_time_saved_seconds", "Pull seconds saved by the window's hits, each as "
                              "estimated when it started, never negative.", labels=labels)
    for cluster, figures in windows:
        named = [cluster, figures.window.replace(" ", "")]
        for outcome, count in (("hit", figures.hits), ("miss", figures.misses), ("fail", figures.fails),
                               ("off", figures.off)):
            pods.add_metric([*named, outcome], count)
        if figures.hit_rate is not None:
            rate.add_metric(named, figures.hit_rate)
        for outcome, spread in (("hit", figures.hit_start), ("miss", figures.miss_start)):
            started.add_metric([*named, outcome], spread.count)
            for statistic, value in (("median", spread.median), ("p90", spread.p90)):
                if value is not None:
                    start.add_metric([*named, outcome, statistic], value)
        saved.add_metric(named, figures.saved_seconds)
    return [pods, rate, started, start, saved]


def cut_label(value: str) -> str:
    """A label value of at most MAX_LABEL_CHARS: a longer one cut, marked, and told apart by its hash."""
    if len(value) <= MAX_LABEL_CHARS:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:_LABEL_HASH_CHARS]
    return value[:MAX_LABEL_CHARS - len(LABEL_CUT_MARKER) - _LABEL_HASH_CHARS] + LABEL_CUT_MARKER + digest


def bounded(family: Metric) -> Metric:
    """The family with every label value cut to MAX_LABEL_CHARS."""
    family.samples = [
        sample._replace(labels={k: cut_label(v) for k, v in sample.labels.items()})
        if any(len(v) > MAX_LABEL_CHARS for v in sample.labels.values()) else sample
        for sample in family.samples
    ]
    return family


def histograms(durations: Iterable[DurationBucket]) -> list[HistogramMetricFamily]:
    """The start and pull histograms by (cluster, outcome), cumulative as Prometheus wants them."""
    grouped: dict[tuple[str, str, str], list[DurationBucket]] = {}
    for bucket in durations:
        grouped.setdefault((bucket.metric, bucket.cluster, bucket.outcome), []).append(bucket)
    out = {}
    for metric, (name, documentation) in HISTOGRAMS.items():
        out[metric] = HistogramMetricFamily(name, documentation, labels=["cluster", "outcome"])
    for (metric, cluster, outcome), buckets in sorted(grouped.items()):
        if metric not in out:
            continue
        own = {b.le: b.count for b in buckets}
        running, cumulative = 0, []
        for bound in DURATION_BOUNDS:
            running += own.get(bound, 0)
            cumulative.append(("+Inf" if math.isinf(bound) else f"{bound:g}", running))
        out[metric].add_metric([cluster, outcome], cumulative, sum_value=sum(b.total for b in buckets))
    return list(out.values())


@dataclass(eq=False)  # registered by identity
class ImcCollector(Collector):
    """Reads the clusters this process watches at scrape time; pod counts are cached per store version."""

    lives: Callable[[], Iterable[Any]]
    new_series_seconds: float = DEFAULT_NEW_SERIES_SECONDS
    clock: Callable[[], float] = time.monotonic
    _cache: dict[str, tuple[Any, int, dict]] = field(default_factory=dict)  # cluster -> (snapshot, version, counts)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _series_lock: threading.Lock = field(default_factory=threading.Lock)  # one scrape at a time updates _new_series
    _windows: dict[tuple[str, str], tuple[tuple, WindowFigures]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._new_series = NewSeries(self.new_series_seconds)

    def collect(self) -> Iterable[Metric]:
        """The families of one scrape."""
        lives = list(self.lives())
        sources = [Source(live.cluster, live.store.snapshot(), live.relists(),
                          live.writer.behind if live.writer is not None else 0) for live in lives]
        ledgers = {id(live.ledger): live.ledger for live in lives if live.ledger is not None}
        figures = LedgerFigures(
            tuple(row for ledger in ledgers.values() for row in ledger.decision_totals()),
            tuple(bucket for ledger in ledgers.values() for bucket in ledger.durations()),
            tuple(row for ledger in ledgers.values() for row in ledger.time_saved()),
            tuple((live.cluster, self._window(live, window)) for live in lives
                  if live.ledger is not None and live.ledger.readable for window in WINDOWS),
        )
        with self._series_lock:
            built = families(sources, figures, self._pods_of, self._new_series, self.clock())
            self._new_series.done(source.cluster for source in sources)
        return built

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: the families are known only at scrape time."""
        return []

    def _window(self, live: Any, window: str) -> WindowFigures:
        """A window's figures from the live cluster's ledger, queried again only when it stored a batch or the
        window's bounds moved."""
        now = time.time()
        key = (live.ledger.generation, window_bounds(window, now))
        with self._lock:
            found = self._windows.get((live.cluster, window))
        if found is not None and found[0] == key:
            return found[1]
        figures = window_figures(live.ledger.window_rows(live.cluster, *key[1]), window, now, from_history=True)
        with self._lock:
            self._windows[(live.cluster, window)] = (key, figures)
        return figures

    def _pods_of(self, source: Source) -> dict:
        with self._lock:
            found = self._cache.get(source.cluster)
            if found is not None and found[0] is source.snapshot and found[1] == source.snapshot.version:
                return found[2]
        counted = pod_families(source.cluster, source.snapshot)
        with self._lock:
            self._cache[source.cluster] = (source.snapshot, source.snapshot.version, counted)
        return counted


@dataclass(frozen=True)
class MetricsSettings:
    """Where /metrics listens; port 0 turns it off."""

    port: int = DEFAULT_PORT
    address: str = DEFAULT_ADDRESS
    problem: str | None = None
    new_series_seconds: float = DEFAULT_NEW_SERIES_SECONDS  # how long a new counter series shows 0 first


def parse_port(text: str) -> int | None:
    """A TCP port number (0-65535) written in ASCII digits, else None."""
    if not re.fullmatch(r"[0-9]{1,5}", text) or int(text) > MAX_PORT:
        return None
    return int(text)


def port_problem(name: str, value: object) -> str:
    """One line saying that a setting is not a port number, naming the value (bounded)."""
    return f"{name}={brief(value)} is not a port number (1-{MAX_PORT}, or 0 to turn metrics off)"


def metrics_settings(environ: Mapping[str, str] | None = None) -> MetricsSettings:
    """IMC_METRICS_PORT (default 9108, 0 = off), IMC_METRICS_ADDRESS (default 0.0.0.0) and
    IMC_METRICS_NEW_SERIES_SECONDS (default 120); a bad value is off, with a problem naming it."""
    environ = os.environ if environ is None else environ
    address = environ.get("IMC_METRICS_ADDRESS", "").strip() or DEFAULT_ADDRESS
    hold = new_series_seconds(environ)
    if isinstance(hold, str):
        return MetricsSettings(0, address, hold)
    return replace(port_settings(environ, address), new_series_seconds=hold)


def new_series_seconds(environ: Mapping[str, str]) -> float | str:
    """IMC_METRICS_NEW_SERIES_SECONDS (default 120), or a problem naming a value that is not a number of seconds."""
    text = environ.get("IMC_METRICS_NEW_SERIES_SECONDS", "").strip()
    if not text:
        return DEFAULT_NEW_SERIES_SECONDS
    if not re.fullmatch(r"[0-9]{1,6}(\.[0-9]{1,3})?", text):
        return (f"IMC_METRICS_NEW_SERIES_SECONDS={brief(text)} is not a number of seconds (0-999999, more than the "
                "longest scrape interval)")
    return float(text)


def port_settings(environ: Mapping[str, str], address: str) -> MetricsSettings:
    """The port of IMC_METRICS_PORT (default 9108); a bad one is off, with a problem naming it."""
    text = environ.get("IMC_METRICS_PORT", "").strip()
    if not text:
        return MetricsSettings(DEFAULT_PORT, address)
    port = parse_port(text)
    if port is None:
        return MetricsSettings(0, address, port_problem("IMC_METRICS_PORT", text))
    return MetricsSettings(port, address)


@dataclass
class MetricsEndpoint:
    """The /metrics server of this process, or why there is none."""

    settings: MetricsSettings
    server: Any = None
    problem: str | None = None

    @property
    def url(self) -> str | None:
        """http://ADDRESS:PORT/metrics once serving."""
        if self.server is None:
            return None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/metrics"

    def stop(self) -> None:
        """Stop serving."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def registry_for(lives: Callable[[], Iterable[Any]],
                 new_series_seconds: float = DEFAULT_NEW_SERIES_SECONDS) -> CollectorRegistry:
    """A registry holding only imc's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ImcCollector(lives, new_series_seconds))
    return registry


def serve_metrics(lives: Callable[[], Iterable[Any]], settings: MetricsSettings) -> MetricsEndpoint:
    """Start /metrics in a daemon thread; a taken port or a bad address is a one-line problem, not a crash."""
    if settings.problem:
        endpoint = MetricsEndpoint(settings, problem=f"{settings.problem}; metrics are off")
        log.warning("imc: %s", endpoint.problem)
        return endpoint
    endpoint = MetricsEndpoint(settings)
    if settings.port == 0:
        return endpoint
    try:
        server, _thread = start_http_server(settings.port, settings.address,
                                            registry=registry_for(lives, settings.new_series_seconds))
    except OSError as exc:
        reason = "the port is in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        endpoint.problem = (f"metrics not served on {settings.address}:{settings.port}: {reason} "
                            "(set IMC_METRICS_PORT to another port, or 0 to turn metrics off)")
        log.warning("imc: %s", endpoint.problem)
        return endpoint
    endpoint.server = server
    return endpoint
