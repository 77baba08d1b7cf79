"""Benchmark: the outcome ledger with 1,000,000 pod rows: the 7-day chart query, the Overview rerun, and ingest.

Run: python -m bench.bench_ledger [--rows 1000000] [--days 30] [--pods 10000] [--rate 500] [--seconds 20]
     [--repeat 7] [--path FILE]
1. Fill a fresh ledger with --rows pod rows created over the last --days days (through Ledger.store, so the
   triggers maintain the per-minute counts and totals as in production); the fill time is printed.
2. The 7-day Overview chart: the ledger query plus the view model (dashboard.history_views), --repeat times.
3. One Overview rerun in AppTest with the 7 d window, the store of --pods workload pods and the 1M-row ledger
   injected; "changed" runs follow one pod event, so the view models and the ledger query are redone.
4. Ingest: --rate pod events a second (new pods and changes) for --seconds into a store of --pods pods, with the
   ledger writer thread running on the 1M-row file; event-to-store is store.apply + snapshot as in bench_store,
   and the writer's lag is how long after the last event the ledger held every new pod.
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from bench.bench_dashboard import SCRIPT, store_from_workload, touch_one_pod
from bench.harness import median_ms, percentile, timed
from bench.waits import poll
from core.figures import WINDOWS, window_bounds, window_figures
from dashboard import history_views
from kube.ledger import Ledger, LedgerWriter
from kube.ledger_rows import Batch, PodRow

CLUSTER = "bench"
OUTCOMES = ("hit", "hit", "hit", "miss", "fail", "off")


def fill(ledger: Ledger, rows: int, days: float, now: float, rng: random.Random, batch: int = 20_000) -> float:
    """Store `rows` pod rows created over `days` days; the seconds it took."""
    start = time.perf_counter()
    for first in range(0, rows, batch):
        pods = []
        for number in range(first, min(rows, first + batch)):
            outcome = rng.choice(OUTCOMES)
            pods.append(PodRow(CLUSTER, f"uid-{number:08d}", f"ns-{number % 40}", f"pod-{number}",
                               f"Deployment/app-{number % 400}", now - rng.random() * days * 86400, outcome, outcome,
                               outcome, "cache", "imc-bench", 0, rng.uniform(1, 60), rng.uniform(0, 50)))
        if not ledger.store(CLUSTER, Batch(pods=pods), now):
            raise SystemExit(f"filling the ledger failed: {ledger.problem}")
    return time.perf_counter() - start


def chart_frame(ledger: Ledger, now: datetime):
    """What the Overview draws for the 7 d window: the query and the view model."""
    return history_views.outcomes_over_time(history_views.ledger_counts(ledger, CLUSTER, "7 d", now), "7 d", now)


def chart_query(ledger: Ledger, repeat: int) -> tuple[list[float], list[float], int]:
    """Seconds of the 7-day query alone and with the view model; the pods the chart draws."""
    sql, whole, drawn = [], [], 0
    for _ in range(repeat):
        now = datetime.now(UTC)
        seconds, _ = timed(partial(history_views.ledger_counts, ledger, CLUSTER, "7 d", now))
        sql.append(seconds)
        seconds, frame = timed(partial(chart_frame, ledger, now))
        whole.append(seconds)
        drawn = int(frame["Pods"].sum())
    return sql, whole, drawn


def figures_query(ledger: Ledger, repeat: int) -> dict[str, tuple[float, float, int]]:
    """Per window: median ms of the headline figures' ledger query alone and with `core.figures`, and their pods."""
    found = {}
    for window in WINDOWS:
        sql, whole, pods = [], [], 0
        for _ in range(repeat):
            now = time.time()
            seconds, _ = timed(partial(ledger.window_rows, CLUSTER, *window_bounds(window, now)))
            sql.append(seconds)
            seconds, figures = timed(lambda w=window, n=now: window_figures(
                ledger.window_rows(CLUSTER, *window_bounds(w, n)), w, n, from_history=True))
            whole.append(seconds)
            pods = figures.pods
        found[window] = (median_ms(sql), median_ms(whole), pods)
    return found


def overview_reruns(store, ledger: Ledger, repeat: int, rng: random.Random) -> dict[str, float]:
    """Median script seconds of changed and unchanged Overview reruns with the 7 d window."""
    from streamlit.testing.v1 import AppTest

    from dashboard import shown_cluster
    from dashboard.history import WINDOW_KEY
    from kube.access import AccessChecker
    from kube.live import Live
    from kube.watch import ClusterWatcher

    live = Live(CLUSTER, store, ClusterWatcher(None, store), ledger, None)
    shown_cluster.inject(shown_cluster.ShownCluster(store=store, context=CLUSTER, server="https://bench", source="bench",
                                   access=AccessChecker(None), live=live))
    try:
        at = AppTest.from_string(SCRIPT.format(module="overview", profile_start="", profile_stop=""),
                                 default_timeout=300)
        at.session_state[WINDOW_KEY] = "7 d"
        at.run()
        if at.exception or at.error:
            raise SystemExit(f"overview failed: {[e.value for e in [*at.exception, *at.error]]}")
        found = {}
        for label, change in (("changed", True), ("unchanged", False), ("ledger changed", True)):
            runs = []
            for number in range(repeat):
                if change:
                    touch_one_pod(store, rng)
                if label == "ledger changed":  # a stored batch: the windowed figures query the ledger again
                    ledger.store(CLUSTER, Batch(pods=[PodRow(CLUSTER, f"rerun-{number}", "ns-0", f"rerun-{number}",
                                                             "Deployment/app-0", time.time(), "hit", "hit", "hit",
                                                             None, None, 0, 2.0, 0.0, 10.0, 10.0)]), time.time())
                at.run()
                if at.error:
                    raise SystemExit(f"overview failed: {[e.value for e in at.error]}")
                runs.append(at.session_state["bench_seconds"])
            found[label] = median_ms(runs)
        return found
    finally:
        shown_cluster.inject(None)


def ingest(store, ledger: Ledger, rate: int, seconds: float, rng: random.Random) -> dict[str, float]:
    """Pod events at `rate` a second into the store while the ledger writer runs: latencies and the writer's lag."""
    writer = LedgerWriter(store, ledger, CLUSTER)
    writer.flush()  # the store's pods are in the ledger before the clock starts
    before = ledger.pod_count(CLUSTER)
    writer.start()
    pods = [record.obj for record in store.snapshot().pods.values()]
    total = int(rate * seconds)
    events, made = [], []
    for number in range(total):  # built before the clock starts: the watch hands over parsed objects
        pod = copy.deepcopy(rng.choice(pods))
        if number % 2 == 0:  # half new pods, half changes of a live one
            pod["metadata"]["name"] = f"ingest-{number}"
            pod["metadata"]["uid"] = f"ingest-uid-{number}"
            made.append(pod["metadata"]["uid"])
            events.append(("ADDED", pod))
        else:
            pod["metadata"].setdefault("labels", {})["bench-rev"] = str(number)
            events.append(("MODIFIED", pod))
    latencies = []
    start = time.perf_counter()
    for number, (kind, pod) in enumerate(events):
        wait = start + number / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        begin = time.perf_counter()
        store.apply("pods", kind, pod)
        store.snapshot()
        latencies.append(time.perf_counter() - begin)
    fed = time.perf_counter() - start
    last_event = time.perf_counter()
    poll(lambda: ledger.pod_count(CLUSTER) == before + len(made), 60, "the ledger to hold every new pod",
               interval=0.02, max_interval=0.02)  # the lag is measured
    lag = time.perf_counter() - last_event
    writer.stop()
    return {"events": total, "fed_seconds": fed, "rate": total / fed, "median_ms": statistics.median(latencies) * 1000,
            "p95_ms": percentile(latencies, 0.95) * 1000, "max_ms": max(latencies) * 1000, "lag_s": lag}


def main() -> None:
    """Print the fill time, the chart query, the Overview rerun and the ingest figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--caches", type=int, default=1_000)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--path", type=Path, default=None, help="the ledger file (default: a temporary one)")
    args = parser.parse_args()
    os.environ["IMC_METRICS_PORT"] = "0"
    os.environ["IMC_READ_ONLY"] = "1"  # no permission checks against a server that is not there
    from dashboard.startup import configure_process

    configure_process()
    rng = random.Random(13)
    with tempfile.TemporaryDirectory() as directory:
        path = args.path or Path(directory) / "history.sqlite3"
        ledger = Ledger(path, days=args.days + 1)
        fill_seconds = fill(ledger, args.rows, args.days, time.time(), rng)
        size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
        print(f"ledger: {args.rows:,} pod rows over {args.days:g} days filled in {fill_seconds:.1f} s "
              f"({args.rows / fill_seconds:,.0f} rows/s), {size / 2**20:.0f} MiB on disk", flush=True)
        sql, whole, drawn = chart_query(ledger, args.repeat)
        print(f"7-day chart ({drawn:,} pods): query median {median_ms(sql):.1f} ms, max {max(sql) * 1000:.1f} ms; "
              f"with the view model median {median_ms(whole):.1f} ms, max {max(whole) * 1000:.1f} ms "
              "(target <= 200 ms)", flush=True)
        store, _ = store_from_workload(args.pods, args.caches)
        reruns = overview_reruns(store, ledger, args.repeat, rng)
        for window, (query, whole, pods) in figures_query(ledger, args.repeat).items():
            print(f"headline figures, {window} ({pods:,} pods): query median {query:.1f} ms, with core.figures "
                  f"{whole:.1f} ms", flush=True)
        print(f"Overview rerun, 7 d window, {args.pods:,} live pods: changed {reruns['changed']:.0f} ms, "
              f"unchanged {reruns['unchanged']:.0f} ms, a pod and the ledger changed {reruns['ledger changed']:.0f} ms "
              f"(median of {args.repeat}; target <= 1000 ms; windowed figures: <= 300 ms)", flush=True)
        found = ingest(store, ledger, args.rate, args.seconds, rng)
        print(f"ingest: {found['events']:,} pod events at {found['rate']:.0f}/s with the ledger writer running: "
              f"event-to-store median {found['median_ms']:.2f} ms, p95 {found['p95_ms']:.2f} ms, "
              f"max {found['max_ms']:.1f} ms (target p95 <= 50 ms); the ledger held every new pod "
              f"{found['lag_s']:.2f} s after the last event", flush=True)
        ledger.close()


if __name__ == "__main__":
    main()
