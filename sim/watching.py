"""Watch streams: replay from a resourceVersion, live events, bookmarks, timeouts, in-stream 410."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import orjson

from sim.errors import expired
from sim.resources import ResourceType
from sim.selectors import Selector
from sim.store import Entry, Store, Watcher

BOOKMARK_INTERVAL = 5.0
BATCH = 500  # events sent in one write when many are ready
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
    """Chunks of watch lines; stops after the timeout, or after `drop_after` events when set."""
    watcher = Watcher(request.resource.key, request.namespace or None, request.selector)
    since = None if request.send_initial_events else _parse_rv(request.resource_version)
    if since is not None and (since < 0 or not store.can_resume(since)):
        status = expired(f"too old resource version: {request.resource_version} ({store.evicted_rv + 1})")
        yield event_line("ERROR", orjson.dumps(status.status()))
        return
    if since is None:  # the current state as ADDED events (also what sendInitialEvents asks for)
        backlog = [("ADDED", entry) for entry in store.entries(watcher.resource, watcher.namespace)
                   if watcher.wanted(entry.obj)]
    else:
        events = (watcher.event_for(change) for change in store.changes_since(watcher.resource, since))
        backlog = [event for event in events if event is not None]
    store.subscribe(watcher)
    backlog_rv = store.rv  # every change up to here is in the backlog; later ones are queued
    limit = drop_after or None  # events this stream may still send (None: no limit)
    deadline = time.monotonic() + (request.timeout or DEFAULT_TIMEOUT)
    try:
        for start in range(0, len(backlog), BATCH):
            chunk = backlog[start:start + BATCH][:limit]
            yield b"".join(encode(event_type, entry) for event_type, entry in chunk)
            if limit is not None and (limit := limit - len(chunk)) <= 0:
                return
        if request.bookmarks and request.send_initial_events:
            yield _bookmark(request.resource, backlog_rv, initial_events_end=True)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                event = await asyncio.wait_for(watcher.queue.get(), min(remaining, BOOKMARK_INTERVAL))
            except TimeoutError:
                if request.bookmarks and watcher.queue.empty():
                    yield _bookmark(request.resource, store.rv)
                continue
            chunk = [event]  # and whatever else is already queued, sent as one write
            while chunk[-1] is not None and len(chunk) < min(BATCH, limit or BATCH) and not watcher.queue.empty():
                chunk.append(watcher.queue.get_nowait())
            events = [e for e in chunk if e is not None]
            if events:
                yield b"".join(encode(event_type, entry) for event_type, entry in events)
            if chunk[-1] is None or (limit is not None and (limit := limit - len(events)) <= 0):
                return
    finally:
        store.unsubscribe(watcher)
