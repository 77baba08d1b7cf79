"""glibc malloc settings of a long-lived process: few arenas, and freed memory handed back to the OS."""

from __future__ import annotations

import ctypes
from typing import Any


def _load_libc() -> Any:
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:  # not glibc
        return None


_LIBC = _load_libc()
M_ARENA_MAX = -8  # glibc's mallopt parameters
M_MMAP_THRESHOLD = -3
MALLOC_ARENAS = 2
# glibc's default start; setting it turns off the dynamic threshold, which after the first big free keeps buffers of
# up to 32 MiB (Arrow columns, serialised tables) in the heap, where the churn of reruns fragments it
MMAP_THRESHOLD = 128 * 1024


def release_free_memory() -> None:
    """Hand freed memory back to the OS (glibc): after a big list, or once old view models are dropped."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS, mmap_threshold: int = MMAP_THRESHOLD) -> bool:
    """Let glibc's malloc keep few arenas and map big blocks on their own: each thread (reflectors, ledger writer,
    script runs) otherwise gets an arena, and their free pages stay resident (bench/README.md). True when set."""
    if _LIBC is None:
        return False
    return _LIBC.mallopt(M_ARENA_MAX, arenas) == 1 and _LIBC.mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1
