"""What the live benchmarks share: timing, a sim, a watched store, Chromium, /proc readings (waits: bench/waits.py)."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.waits import CHROMIUM, CHROMIUM_ARGS, poll
from sim.launch import SimProcess, start_sim

ROOT = Path(__file__).resolve().parent.parent


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds one call took, and what it returned."""
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def median_ms(values: Sequence[float]) -> float:
    """The median of durations in seconds, in milliseconds."""
    return statistics.median(values) * 1000


def percentile(values: Sequence[float], share: float) -> float:
    """The value at this share of the sorted values (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def scale_options(parser: argparse.ArgumentParser, repeat: int) -> None:
    """--repeat, and the --pods / --caches of the scale scenario (None keeps the sim's 10,000 and 1,000)."""
    parser.add_argument("--repeat", type=int, default=repeat)
    parser.add_argument("--pods", type=int, default=None, help="pods of the scale scenario (sim default 10000)")
    parser.add_argument("--caches", type=int, default=None, help="caches of the scale scenario (sim default 1000)")


def scale_args(args: argparse.Namespace) -> list[str]:
    """The sim's arguments for the --pods / --caches given."""
    return [*(["--pods", str(args.pods)] if args.pods else []), *(["--caches", str(args.caches)] if args.caches else [])]


@contextmanager
def running_sim(scenario: str = "scale", extra_args: Sequence[str] = (), timeout: float = 180) -> Iterator[SimProcess]:
    """`imc sim` in its own process and state dir, stopped on the way out whatever happens."""
    with tempfile.TemporaryDirectory(prefix="imc-bench-") as state:
        sim = start_sim(scenario, state_dir=state, extra_args=tuple(extra_args), timeout=timeout)
        try:
            yield sim
        finally:
            sim.stop()


def synced(store: Any) -> bool:
    """True once every kind of the store has been listed."""
    return all(store.snapshot().synced.values())


@contextmanager
def watched_store(kubeconfig: str, timeout: float = 300) -> Iterator[tuple[Any, Any, float]]:
    """A ClusterStore fed by the real list+watch of a cluster: (store, watcher, seconds to sync); stops the watch."""
    from kube.connect import connect
    from kube.store import ClusterStore
    from kube.watch import ClusterWatcher

    store = ClusterStore()
    watcher = ClusterWatcher(connect(kubeconfig=kubeconfig), store)
    start = time.perf_counter()
    watcher.start()
    try:
        poll(lambda: synced(store), timeout, "the store to list every kind", max_interval=0.05)  # a measured time
        yield store, watcher, time.perf_counter() - start
    finally:
        watcher.stop()


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright, closed on the way out."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def memory_mib(pid: int) -> dict[str, float]:
    """VmRSS (resident now) and VmHWM (peak resident) of a process, in MiB, from /proc."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) / 1024
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
