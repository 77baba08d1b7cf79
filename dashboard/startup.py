"""Process-wide settings of a dashboard process, made once when it starts (app.py calls `configure_process`)."""

from __future__ import annotations

from functools import cache

import pyarrow as pa

from core.malloc import limit_malloc_arenas


@cache
def configure_process() -> None:
    """Settings that hold for the whole process; the first call makes them, later calls do nothing."""
    # pandas 3 keeps the view models' strings in Arrow arrays, rebuilt on every store version (and Streamlit converts
    # the tables to Arrow on every rerun). pyarrow's default pool (mimalloc) keeps the pages it freed; the system
    # allocator hands big buffers back at once, ~30-45 MiB less RSS for the 10k-pod dashboard (bench/README.md).
    pa.set_memory_pool(pa.system_memory_pool())
    limit_malloc_arenas()
