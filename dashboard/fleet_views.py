"""The Fleet page's view model (pure): one row per watched cluster, its figures side by side, or why it has none."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from core.figures import Spread, WindowFigures
from dashboard.text import NO_VALUE
from dashboard.views import Headline

# what a cluster that cannot be read says in its row, by the words of kube.connect's messages (first match wins)
PROBLEM_WORDS = (
    ("has no context", "no such context"),
    ("401", "credentials rejected (401)"),
    ("TLS failure", "bad certificate (TLS)"),
    ("certificate", "bad certificate (TLS)"),
    ("timed out", "timed out"),
    ("cannot reach", "cannot reach the API server"),
    ("refused access", "access refused (403)"),
    ("does not exist", "no kubeconfig"),
    ("cannot be read", "kubeconfig unreadable"),
)


@dataclass(frozen=True)
class FleetRow:
    """One cluster of the fleet: what it holds now and what happened in the window, or why it cannot be read."""

    context: str
    server: str = ""
    watch: str = "Live"  # "Live", "Loading…", "Not live since …", or what stops it being read
    problem: str | None = None  # the whole message when it cannot be read
    eci_pods: int | None = None
    ready_caches: int | None = None
    caches: int | None = None
    failed_caches: int | None = None
    expiring_soon: int | None = None
    disagreements: int | None = None
    pods_decided: int | None = None
    hit_rate: float | None = None
    tried: int | None = None
    hit_start: Spread | None = None
    miss_start: Spread | None = None
    remote: bool = False  # read from Prometheus (IMC_PROMETHEUS_URL), not watched by this process


def cluster_row(context: str, server: str, head: Headline, figures: WindowFigures, expiring: int,
                watch: str) -> FleetRow:
    """A watched cluster's row: the Overview's headline (now) and window figures (`core.figures`)."""
    return FleetRow(context, server, watch, None, head.eci_pods, head.ready_caches, head.caches, head.failed_caches,
                    expiring, head.disagreements, figures.pods, figures.hit_rate, figures.tried, figures.hit_start,
                    figures.miss_start)


def prometheus_row(cluster: str, figures: Mapping[str, float], now: float) -> FleetRow:
    """A cluster another imc watches, as a Prometheus holds its /metrics (`kube.prometheus`): the same figures,
    the Watch column saying where they come from and how old they are."""
    def whole(name: str) -> int | None:
        return None if figures.get(name) is None else int(figures[name])

    tried = whole("tried")
    hit_rate = figures.get("hit_rate") if tried else None
    return FleetRow(cluster, "", prometheus_watch_words(figures, now), None, whole("eci_pods"), whole("ready_caches"),
                    whole("caches"), whole("failed_caches"), whole("expiring_soon"), whole("disagreements"),
                    whole("pods_decided"), hit_rate, tried, spread_of(figures, "hit"), spread_of(figures, "miss"),
                    remote=True)


def spread_of(figures: Mapping[str, float], outcome: str) -> Spread | None:
    """The median and p90 start of the window's hits or misses, with their n, as /metrics exports them."""
    count = figures.get(f"{outcome}_started")
    if count is None:
        return None
    return Spread(figures.get(f"{outcome}_median"), figures.get(f"{outcome}_p90"), int(count))


def prometheus_watch_words(figures: Mapping[str, float], now: float) -> str:
    """"via Prometheus, scraped 12 s ago" (its newest scrape), with "watch down" when that imc's watch is."""
    scraped = figures.get("scraped")
    age = "" if scraped is None else f", scraped {age_words(max(0.0, now - scraped))} ago"
    down = " (watch down)" if figures.get("watch_up", 1) < 1 else ""
    return f"via Prometheus{down}{age}"


def age_words(seconds: float) -> str:
    """An age in the staleness badge's words (`dashboard.shell.staleness`): 12 s, 5 min."""
    seconds = int(seconds)
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"


def prometheus_rows(clusters: Mapping[str, Mapping[str, float]], watched: Collection[str], now: float
                    ) -> list[FleetRow]:
    """A row for every cluster Prometheus knows that this process does not watch itself, by name."""
    return [prometheus_row(cluster, figures, now) for cluster, figures in sorted(clusters.items())
            if cluster not in watched]


def problem_row(context: str, message: str) -> FleetRow:
    """A cluster that cannot be read: its row says why, in a few words, and keeps the whole message."""
    return FleetRow(context, watch=f"Not connected: {problem_words(message)}", problem=message)


def problem_words(message: str) -> str:
    """A connection problem in a few words (no such context, 401, bad certificate, unreachable, …)."""
    return next((words for marker, words in PROBLEM_WORDS if marker in message), "cannot connect")


def watch_words(synced: bool, stale: str | None) -> str:
    """The watch column: the staleness badge's words (without their last clause) when the watch is down, else
    Loading… or Live."""
    if stale:
        since, cut, _ = stale.partition("): ")  # "Not live since 12:00:00 UTC (30 s): data may be stale"
        return f"{since})" if cut else stale
    return "Live" if synced else "Loading…"


def start_text(spread: Spread | None) -> str:
    """A median start with how many pods it rests on: '4.2 s (12)'; '–' without starts."""
    if spread is None or spread.median is None or not spread.count:
        return NO_VALUE
    return f"{spread.median:,.1f} s ({spread.count:,})"


def columns(window: str) -> dict[str, str]:
    """The table's columns, most telling first (at 1024 px the last ones scroll), each with what it counts and over
    which window (its header's help)."""
    return {
        "Context": "The kubeconfig context (Open … below the table opens the Overview on it); for a row read from "
                   "Prometheus, its cluster label.",
        "Watch": "Live: imc follows the cluster; else since when it has not, or why it cannot be read. Via "
                 "Prometheus: another imc follows it, and these are its /metrics as Prometheus last scraped them.",
        "ECI pods": "Now: pods labelled for ECI (or on a virtual-kubelet node) that exist.",
        f"Hit rate, {window}": f"Hits among the ECI pods created in the last {window} that asked ECI for a cache "
                               "(hit, miss or fail), of how many asked.",
        f"Median start, hits · misses, {window}": f"Median seconds from creation to running of the hits, then of the "
                                                  f"misses, created in the last {window} that started (how many).",
        "Ready caches": "Now: ImageCaches in phase Ready, of all ImageCaches.",
        "Failed caches": "Now: ImageCaches in phase Failed or UpdateFailed.",
        "Expiring in 24 h": "Now: Ready caches that live pods hit and that expire within 24 h.",
        "Disagreements": "Now: ECI pods where ECI reported something other than imc's prediction.",
    }


def fleet_frame(rows: Sequence[FleetRow], window: str) -> pd.DataFrame:
    """The table: one row per cluster, in the columns of `columns(window)`; no value where a cluster has none."""
    records = []
    for row in rows:
        read = row.problem is None
        rate = None if row.hit_rate is None else f"{row.hit_rate:.0%} of {row.tried:,}"
        starts = f"{start_text(row.hit_start)} · {start_text(row.miss_start)}" if read else None
        ready = None if row.ready_caches is None else f"{row.ready_caches:,} of {row.caches:,}"
        records.append([row.context, row.watch, row.eci_pods, rate, starts, ready, row.failed_caches,
                        row.expiring_soon, row.disagreements])
    frame = pd.DataFrame(records, columns=list(columns(window)))
    for name in ("ECI pods", "Failed caches", "Expiring in 24 h", "Disagreements"):
        frame[name] = frame[name].astype("Int64")
    return frame


def ordered(contexts: Sequence[str], opened: Sequence[str]) -> list[str]:
    """The rows' contexts: those asked for (IMC_CONTEXTS) in their order, then any other opened in this process."""
    return list(dict.fromkeys([*contexts, *opened]))

