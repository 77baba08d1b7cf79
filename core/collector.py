"""The cyclic garbage collector of a long-lived process holding a big heap: short pauses, cycles still freed."""

from __future__ import annotations

import gc
from collections.abc import Callable

FULL_COLLECT_SECONDS = 600.0  # how often every object, frozen ones included, is looked at once more


def pace_collector(schedule: Callable[[Callable[[], None]], object] | None = None) -> None:
    """After each full collection, freeze what survived (`gc.freeze`), so the next looks only at what is newer.

    A full collection looks at every object: at 50,000 pods and their events one takes about a second, and while a
    cluster is listed they come every few hundred thousand allocations (12 s of a 31 s list+store of 50k pods
    here). Frozen objects are still freed by reference counting; only cycles among them wait for
    `collect_everything`, which the process should call every FULL_COLLECT_SECONDS. `schedule(gc.freeze)` runs the
    freeze later on a thread of the caller's choosing (an event loop's); by default it runs in the callback.
    """
    run = schedule or (lambda action: action())

    def after_collection(phase: str, info: dict) -> None:
        if phase == "stop" and info["generation"] == 2:
            run(gc.freeze)

    after_collection.paces = True  # type: ignore[attr-defined]
    # one pacer a process: a later call (a sim served again in one process) replaces the earlier one
    gc.callbacks[:] = [callback for callback in gc.callbacks if not getattr(callback, "paces", False)]
    gc.callbacks.append(after_collection)


def collect_everything() -> None:
    """A full collection of every object, frozen ones included (see pace_collector)."""
    gc.unfreeze()
    gc.collect()
