"""Process-wide settings of a dashboard process, made once when it starts (app.py calls `configure_process`)."""

from __future__ import annotations

import threading
from functools import cache

import pyarrow as pa

from core.collector import FULL_COLLECT_SECONDS, collect_everything, pace_collector
from core.malloc import limit_malloc_arenas


@cache
def configure_process() -> None:
    """Settings that hold for the whole process; the first call makes them, later calls do nothing."""
    # pandas 3 keeps the view models' strings in Arrow arrays, rebuilt on every store version (and Streamlit converts
    # the tables to Arrow on every rerun). pyarrow's default pool (mimalloc) keeps the pages it freed; the system
    # allocator hands big buffers back at once, ~30-45 MiB less RSS for the 10k-pod dashboard (bench/README.md).
    pa.set_memory_pool(pa.system_memory_pool())
    limit_malloc_arenas()
    # the store of a big cluster is millions of long-lived objects: without freezing them, full collections took
    # 12 of the 31 s that listing and storing 50,000 pods and their events took (bench/README.md, issue 24)
    pace_collector()
    threading.Thread(target=collect_now_and_then, name="imc-full-gc", daemon=True).start()


def collect_now_and_then(stop: threading.Event | None = None, seconds: float = FULL_COLLECT_SECONDS) -> None:
    """Every `seconds`, a full collection of every object, frozen ones included, until `stop` is set."""
    stop = stop or threading.Event()
    while not stop.wait(seconds):
        collect_everything()
