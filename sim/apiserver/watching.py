"""Watch streams: replay from a resourceVersion, live events, bookmarks, timeouts, in-stream 410."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import orjson

from sim.apiserver.errors import expired
from sim.apiserver.resources import ResourceType
from sim.apiserver.selectors import Selector
from sim.apiserver.store import Entry, Store, Watcher

BOOKMARK_INTERVAL = 5.0
BATCH = 500  # events sent in one write when many are ready
CHUNK_BYTES = 256 * 1024  # and about this many bytes at most: what a stalled client holds up in the server
DEFAULT_TIMEOUT = 1800.0


@dataclass(frozen=True)
class WatchRequest:
    """What one watch asks for."""

    resource: ResourceType
    namespace: str
    selector: Selector
    resource_version: str
    bookmarks: bool
    timeout: float
    send_initial_events: bool = False


def event_line(event_type: str, object_raw: bytes) -> bytes:
    """One line of a watch stream from an already encoded object."""
    return b'{"type":"' + event_type.encode() + b'","object":' + object_raw + b"}\n"


def _bookmark(resource: ResourceType, rv: int, initial_events_end: bool = False) -> bytes:
    """A BOOKMARK line at a resourceVersion."""
    metadata: dict = {"resourceVersion": str(rv)}
    if initial_events_end:
        metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
    return event_line("BOOKMARK", orjson.dumps({"kind": resource.kind, "apiVersion": resource.api_version,
                                                "metadata": metadata}))


def _expired(resource_version: str, oldest: int) -> bytes:
    """The ERROR line of a watch from a resourceVersion the history no longer holds."""
    status = expired(f"too old resource version: {resource_version} ({oldest})")
    return event_line("ERROR", orjson.dumps(status.status()))


def _parse_rv(text: str) -> int | None:
    """A resourceVersion as an int, None for "" or "0" (meaning: from now, with the current state)."""
    if text in ("", "0"):
        return None
    try:
        return int(text)
    except ValueError:
        return -1


async def watch_stream(
    store: Store,
    request: WatchRequest,
    encode: Callable[[str, Entry], bytes],
    drop_after: int = 0,
) -> AsyncIterator[bytes]:
    """Chunks of watch lines; stops after the timeout, or after `drop_after` events when set.

    Events wait in the watcher, bounded by the history: a client too slow to take them before the history drops
    them gets an ERROR event with 410 Expired, as kube-apiserver's watch cache answers a resourceVersion it no
    longer holds, and the stream ends (the client lists again).
    """
    watcher = Watcher(request.resource.key, request.namespace or None, request.selector)
    since = None if request.send_initial_events else _parse_rv(request.resource_version)
    if since is not None and (since < 0 or not store.can_resume(since)):
        yield _expired(request.resource_version, store.evicted_rv + 1)
        return
    if since is None:  # the current state as ADDED events (also what sendInitialEvents asks for)
        for entry in store.entries(watcher.resource, watcher.namespace):
            if watcher.wanted(entry.obj):
                watcher.queue(store.rv, "ADDED", entry)
    else:
        for change in store.changes_since(watcher.resource, since):
            watcher.offer(change)
    initial = len(watcher.pending)  # events before the initial-events-end bookmark
    watcher.delivered_rv = since or store.rv
    store.subscribe(watcher)
    backlog_rv = store.rv  # every change up to here is in the backlog; later ones are queued
    limit = drop_after or None  # events this stream may still send (None: no limit)
    deadline = time.monotonic() + (request.timeout or DEFAULT_TIMEOUT)
    initial_end = request.bookmarks and request.send_initial_events
    try:
        while True:
            if initial_end and initial <= 0:
                initial_end = False
                yield _bookmark(request.resource, backlog_rv, initial_events_end=True)
            if watcher.expired_at:
                yield _expired(str(watcher.delivered_rv), watcher.expired_at)
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (watcher.ended and not watcher.pending):
                return
            if not watcher.pending:
                watcher.wakeup.clear()
                try:
                    await asyncio.wait_for(watcher.wakeup.wait(), min(remaining, BOOKMARK_INTERVAL))
                except TimeoutError:
                    if request.bookmarks and not watcher.pending and not initial_end:
                        yield _bookmark(request.resource, store.rv)
                continue
            events = watcher.take(min(BATCH, limit or BATCH), CHUNK_BYTES)
            initial -= len(events)
            yield b"".join(encode(event_type, entry) for event_type, entry in events)
            if limit is not None and (limit := limit - len(events)) <= 0:
                return
    finally:
        store.unsubscribe(watcher)
