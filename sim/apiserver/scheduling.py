"""Timed work on the server's event loop, scaled by `--speed`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger("imc.sim")
SLICE_SECONDS = 0.02  # callbacks run back to back at most this long before the loop looks at its sockets again


class Scheduler:
    """Runs callbacks later on the event loop; `speed` divides every delay."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed if speed > 0 else 1.0
        self._pending: set[tuple] = set()
        self._due: deque[tuple[Callable, tuple]] = deque()
        self._draining = False
        self._running_loop: asyncio.AbstractEventLoop | None = None

    def _loop(self) -> asyncio.AbstractEventLoop:
        """The event loop it runs on (every call comes from that loop's thread)."""
        # asyncio.get_running_loop checks the process id each call: a twentieth of a ramp's CPU in getpid
        loop = self._running_loop
        if loop is None or loop.is_closed():
            loop = self._running_loop = asyncio.get_running_loop()
        return loop

    @staticmethod
    def _run(callback: Callable, args: tuple) -> None:
        """Run one callback; a failing controller logs, it does not stop the server."""
        try:
            callback(*args)
        except Exception:  # noqa: BLE001
            log.exception("controller callback %s failed", getattr(callback, "__qualname__", callback))

    def after(self, seconds: float, callback: Callable, *args: object) -> None:
        """Run `callback(*args)` after `seconds` of simulated time."""
        self._loop().call_later(seconds / self.speed, self._fire, callback, args)

    def _fire(self, callback: Callable, args: tuple) -> None:
        """A timer is due: its callback joins the queue the loop works through in slices.

        asyncio runs every callback that is due before it polls its sockets again; a loop that fell behind (thousands
        of pod starts due at once on a busy machine) would leave a request unread for seconds. In slices of
        SLICE_SECONDS the server answers between them, as kube-apiserver answers while its controllers work."""
        self._due.append((callback, args))
        if not self._draining:
            self._draining = True
            self._loop().call_soon(self._drain)

    def _drain(self) -> None:
        """Run due callbacks for one slice; the rest on a later loop turn, after the sockets."""
        deadline = time.monotonic() + SLICE_SECONDS
        while self._due:
            callback, args = self._due.popleft()
            self._run(callback, args)
            if time.monotonic() > deadline:
                break
        if self._due:
            self._loop().call_soon(self._drain)
        else:
            self._draining = False

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

        loop = self._loop()
        if seconds:
            loop.call_later(seconds if real else seconds / self.speed, self._fire, run, ())
        else:
            loop.call_soon(self._fire, run, ())
