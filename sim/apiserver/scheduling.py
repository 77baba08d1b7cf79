"""Timed work on the server's event loop, scaled by `--speed`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger("imc.sim")


class Scheduler:
    """Runs callbacks later on the event loop; `speed` divides every delay."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed if speed > 0 else 1.0
        self._pending: set[tuple] = set()

    @staticmethod
    def _run(callback: Callable, args: tuple) -> None:
        """Run one callback; a failing controller logs, it does not stop the server."""
        try:
            callback(*args)
        except Exception:  # noqa: BLE001
            log.exception("controller callback %s failed", getattr(callback, "__qualname__", callback))

    def after(self, seconds: float, callback: Callable, *args: object) -> None:
        """Run `callback(*args)` after `seconds` of simulated time."""
        asyncio.get_running_loop().call_later(seconds / self.speed, self._run, callback, args)

    def soon_once(self, callback: Callable, *args: object) -> None:
        """Run `callback(*args)` on the next loop turn, once however often it is asked for before then."""
        self.after_once(0.0, callback, *args)

    def after_once(self, seconds: float, callback: Callable, *args: object, real: bool = False) -> None:
        """Run `callback(*args)` after `seconds` of simulated time (of real time when `real`), once however often it
        is asked for before then."""
        key = (seconds, callback, args)
        if key in self._pending:
            return
        self._pending.add(key)

        def run() -> None:
            self._pending.discard(key)
            self._run(callback, args)

        loop = asyncio.get_running_loop()
        if seconds:
            loop.call_later(seconds if real else seconds / self.speed, run)
        else:
            loop.call_soon(run)
