"""List+watch: pure line parsing and request builders, and the Reflector threads that feed a ClusterStore."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from core.malloc import release_free_memory
from kube.connect import single_try_client
from kube.http import Request, RequestError, Stream, open_stream, send, status_code
from kube.list_helper import decode_page, pages_in_turn, read_ahead, worth_a_helper
from kube.resources import RESOURCES
from kube.slim import keep_object, slim_object
from kube.store import KINDS, LIVENESS, ClusterStore

log = logging.getLogger("imc.kube.watch")

WATCH_TYPES = ("ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR")
PAGE_SIZE = 500
WATCH_TIMEOUT_SECONDS = 300
# A watch silent this long is re-opened from its resourceVersion: the server sends bookmarks well within it
# (kube-apiserver about every minute, imc sim every 5 s), so silence means the server stopped answering.
WATCH_READ_TIMEOUT_SECONDS = 90.0
# The liveness check asks the API server for /version this often, in one try that waits at most this long: a frozen
# server is "not live" within 2 + 3 = 5 s of its last answer.
HEARTBEAT_SECONDS = 2.0
HEARTBEAT_TIMEOUT_SECONDS = 3.0
# ECI writes its image-cache events with source.component EciService (docs/eci-model.md 4.1), the
# kubelet (or virtual node) its `Pulled` events; a field selector cannot OR reasons or sources, so
# the reasons are filtered client-side.
EVENT_SELECTORS: tuple[str | None, ...] = (
    "involvedObject.kind=Pod",
    None,
)


class WatchProtocolError(ValueError):
    """A watch line that is not a watch event."""


@dataclass(frozen=True)
class WatchEvent:
    """One line of a watch stream."""

    type: str
    object: dict
    resource_version: str | None
    code: int | None = None
    reason: str = ""
    message: str = ""

    @property
    def expired(self) -> bool:
        """True for the in-stream 410: the version is too old, the client must re-list."""
        return self.type == "ERROR" and (self.code == 410 or self.reason in ("Expired", "Gone"))


def process_one_line(line: bytes) -> WatchEvent:
    """Parse one watch line; WatchProtocolError when it is not a watch event."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise WatchProtocolError(f"watch line is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WatchProtocolError("watch line is not a JSON object")
    kind = data.get("type")
    obj = data.get("object")
    if kind not in WATCH_TYPES:
        raise WatchProtocolError(f"unknown watch event type {kind!r}")
    if not isinstance(obj, dict):
        raise WatchProtocolError(f"{kind} watch event without an object")
    rv = (obj.get("metadata") or {}).get("resourceVersion")
    rv = str(rv) if rv is not None else None
    if kind == "ERROR":
        return WatchEvent(
            kind,
            obj,
            rv,
            code=status_code(obj.get("code")),
            reason=str(obj.get("reason") or ""),
            message=str(obj.get("message") or ""),
        )
    return WatchEvent(kind, obj, rv)


def list_request(
    kind: str,
    namespace: str | None = None,
    limit: int = PAGE_SIZE,
    continue_token: str | None = None,
    field_selector: str | None = None,
) -> Request:
    """One page of a list."""
    query: list[tuple[str, str]] = [("limit", str(limit))]
    if continue_token:
        query.append(("continue", continue_token))
    if field_selector:
        query.append(("fieldSelector", field_selector))
    return Request("GET", RESOURCES[kind].collection_path(namespace), tuple(query))


def watch_request(
    kind: str,
    resource_version: str,
    namespace: str | None = None,
    timeout_seconds: int = WATCH_TIMEOUT_SECONDS,
    field_selector: str | None = None,
) -> Request:
    """A watch from a list's resourceVersion, with bookmarks and a server-side timeout."""
    query: list[tuple[str, str]] = [
        ("watch", "true"),
        ("resourceVersion", resource_version),
        ("allowWatchBookmarks", "true"),
        ("timeoutSeconds", str(timeout_seconds)),
    ]
    if field_selector:
        query.append(("fieldSelector", field_selector))
    return Request("GET", RESOURCES[kind].collection_path(namespace), tuple(query))


def list_pages(
    api_client: Any,
    kind: str,
    namespace: str | None = None,
    field_selector: str | None = None,
    page_size: int = PAGE_SIZE,
    timeout: Any = (10.0, 120.0),
    slim: bool = True,
    helper: bool = False,
) -> Iterator[tuple[list[dict], str]]:
    """A paged list of every object of a kind, page by page as each arrives: (the page's objects, the list's
    resourceVersion); objects kept whole unless slim (cut to what imc reads, for a store kept while the objects
    change). Each page is requested once the one before is consumed; with `helper`, a list that proves big has its
    later pages asked for and decoded (by a helper process, `kube.list_helper.read_ahead`) while the caller stores
    the one before."""

    def fetch(token: str | None) -> bytes:
        return fetch_page(api_client, kind, namespace, page_size, token, field_selector, timeout)

    page = decode_page(kind, fetch(None), slim)
    resource_version = page.resource_version
    yield page.objects, resource_version
    if helper and page.continue_token and worth_a_helper(kind, page, page.remaining if page.remaining is not None
                                                          else kind_count(api_client, kind, namespace, timeout)):
        later = read_ahead(api_client, fetch, kind, slim, page.continue_token, namespace=namespace,
                           page_size=page_size, field_selector=field_selector, timeout=timeout)
    else:
        later = pages_in_turn(fetch, kind, slim, page.continue_token)
    del page
    for page in later:
        resource_version = page.resource_version or resource_version
        yield page.objects, resource_version


def fetch_page(api_client: Any, kind: str, namespace: str | None, page_size: int, token: str | None,
               field_selector: str | None, timeout: Any) -> bytes:
    """One page of a list, as the server sent it (`list_request`)."""
    return send(api_client, list_request(kind, namespace, page_size, token, field_selector), timeout)


def kind_count(api_client: Any, kind: str, namespace: str | None = None, timeout: Any = (10.0, 60.0)) -> int | None:
    """How many objects of a kind there are (in a namespace): a one-object list's remainingItemCount and its object;
    None when the server does not say or refuses."""
    try:
        page = decode_page(kind, fetch_page(api_client, kind, namespace, 1, None, None, timeout), slim=False)
    except RequestError:
        return None
    return None if page.remaining is None else page.remaining + page.listed


def list_kind(
    api_client: Any,
    kind: str,
    namespace: str | None = None,
    selectors: tuple[str | None, ...] | None = None,
    page_size: int = PAGE_SIZE,
    slim: bool = True,
    helper: bool = False,
) -> tuple[list[dict], str, tuple[str | None, ...]]:
    """A full list (slim or whole, as `list_pages`); for events, the first field selector the server accepts (a 400
    means it does not).

    Returns (objects, resourceVersion, the selectors from the one that worked on).
    """
    objects, resource_version, pages, selectors = first_page(api_client, kind, namespace, selectors, page_size, slim,
                                                             helper)
    for page, resource_version in pages:  # noqa: B007 - the last page's
        objects.extend(page)
    return objects, resource_version, selectors


def first_page(
    api_client: Any,
    kind: str,
    namespace: str | None = None,
    selectors: tuple[str | None, ...] | None = None,
    page_size: int = PAGE_SIZE,
    slim: bool = True,
    helper: bool = False,
) -> tuple[list[dict], str, Iterator[tuple[list[dict], str]], tuple[str | None, ...]]:
    """A list's first page, its resourceVersion, the pages after it (to be read as they arrive) and the selectors
    from the one that worked on: for events, the first field selector the server accepts (a 400, which comes with
    page one, means it does not)."""
    if selectors is None:
        selectors = EVENT_SELECTORS if kind == "events" else (None,)
    while True:
        pages = list_pages(api_client, kind, namespace, selectors[0], page_size, slim=slim, helper=helper)
        try:
            objects, resource_version = next(pages)
            return objects, resource_version, pages, selectors
        except RequestError as exc:
            if exc.status != 400 or len(selectors) == 1:
                raise
            selectors = selectors[1:]


def _noting_versions(first: list[dict], version: str, pages: Iterator[tuple[list[dict], str]],
                     versions: list[str]) -> Iterator[tuple[list[dict], str]]:
    """The first page and the pages after it, each with its resourceVersion, also appended to `versions`."""
    yield first, version
    del first  # not held while the next pages are listed
    for page, version in pages:
        versions.append(version)
        yield page, version


def backoff_delay(
    attempt: int, base: float = 0.5, cap: float = 30.0, rng: Callable[[], float] = random.random
) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    return rng() * min(cap, base * (2 ** min(attempt, 20)))


class Reflector(threading.Thread):
    """One kind: list, watch from the list's version; re-list on 410 or a broken stream; back off."""

    def __init__(
        self,
        api_client: Any,
        store: ClusterStore,
        kind: str,
        namespace: str | None = None,
        page_size: int = PAGE_SIZE,
        watch_timeout: int = WATCH_TIMEOUT_SECONDS,
        max_backoff: float = 30.0,
    ) -> None:
        super().__init__(name=f"imc-reflector-{kind}", daemon=True)
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        self.api_client = api_client
        self.store = store
        self.kind = kind
        self.namespace = namespace
        self.page_size = page_size
        self.watch_timeout = watch_timeout
        self.max_backoff = max_backoff
        self.lists = 0  # how many full lists (first one and re-lists) were done
        self.last_error: str | None = None
        self._selectors = EVENT_SELECTORS if kind == "events" else (None,)
        self._stopping = threading.Event()
        self._stream: Stream | None = None
        self._stream_lock = threading.Lock()

    def stop(self) -> None:
        """Ask the thread to end and close its open watch."""
        self._stopping.set()
        with self._stream_lock:
            if self._stream is not None:
                self._stream.close()

    @property
    def stopping(self) -> bool:
        """True once stop() was called."""
        return self._stopping.is_set()

    def run(self) -> None:
        """List, watch, repeat until stopped."""
        attempt = 0
        while not self.stopping:
            try:
                resource_version = self._list()
                self._error(None)
                attempt = 0
                while not self.stopping:
                    resource_version = self._watch(resource_version)
                    if resource_version is None:
                        break  # expired: re-list at once
            except RequestError as exc:
                if self.stopping:
                    break
                if exc.reason != "StreamBroken" or attempt > 0:
                    self._error(f"{self.kind}: {exc}")
                delay = backoff_delay(attempt, cap=self.max_backoff)
                attempt += 1
                self._stopping.wait(delay)
            except Exception as exc:  # noqa: BLE001 - the thread must survive anything and say why
                log.exception("reflector %s failed", self.kind)
                self._error(f"{self.kind}: {type(exc).__name__}: {exc}")
                self._stopping.wait(backoff_delay(attempt, cap=self.max_backoff))
                attempt += 1

    def _error(self, message: str | None) -> None:
        self.last_error = message
        self.store.set_error(self.kind, message)

    def _list(self) -> str:
        first, resource_version, pages, self._selectors = first_page(
            self.api_client, self.kind, self.namespace, self._selectors, self.page_size, helper=True
        )
        versions = [resource_version]
        every_page = _noting_versions(first, resource_version, pages, versions)
        del first
        self.store.replace_pages(self.kind, every_page)
        self.lists += 1
        release_free_memory()
        return versions[-1]

    def _watch(self, resource_version: str) -> str | None:
        """Watch until the server ends the stream; the version to resume from, or None to re-list."""
        request = watch_request(self.kind, resource_version, self.namespace, self.watch_timeout, self._selectors[0])
        stream = open_stream(self.api_client, request, timeout=(10.0, min(self.watch_timeout + 30.0,
                                                                           WATCH_READ_TIMEOUT_SECONDS)))
        with self._stream_lock:
            if self.stopping:
                stream.close()
                return resource_version
            self._stream = stream
        try:
            for line in stream.lines():
                if self.stopping:
                    break
                event = process_one_line(line)
                if event.type == "ERROR":
                    if event.expired:
                        return None
                    raise RequestError(event.code or 500, event.reason or "WatchError", event.message)
                if event.resource_version:
                    resource_version = event.resource_version
                if event.type != "BOOKMARK" and keep_object(self.kind, event.object):
                    self.store.apply(self.kind, event.type, slim_object(self.kind, event.object))
        except RequestError as exc:
            if self.stopping or exc.reason == "ReadTimeout":
                return resource_version  # stopping, or silent too long: watch again from where it was
            raise  # a broken stream: back off, then re-list (events in flight may be lost)
        finally:
            with self._stream_lock:
                self._stream = None
            stream.close()
        return resource_version


class Heartbeat(threading.Thread):
    """The liveness check: GET /version every few seconds; a server that does not answer in time (stopped,
    gone, partitioned, while a watch connection may stay open and silent) is the store's "api" problem."""

    def __init__(self, api_client: Any, store: ClusterStore, interval: float = HEARTBEAT_SECONDS,
                 timeout: float = HEARTBEAT_TIMEOUT_SECONDS) -> None:
        super().__init__(name="imc-heartbeat", daemon=True)
        self.api_client = api_client
        self.store = store
        self.interval = interval
        self.timeout = timeout
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Ask the thread to end (at its next tick)."""
        self._stopping.set()

    def run(self) -> None:
        """Check, wait, repeat until stopped, through a client of its own that never retries."""
        client = single_try_client(self.api_client)
        try:
            while not self._stopping.is_set():
                self.check(client)
                self._stopping.wait(self.interval)
        finally:
            client.close()

    def check(self, client: Any) -> bool:
        """One check: True when the API server answered; records or clears the problem in the store."""
        try:
            send(client, Request("GET", "/version"), timeout=self.timeout)  # connect and read, in total
        except RequestError as exc:
            self.store.set_error(LIVENESS, f"the API server does not answer: {exc}")
            return False
        self.store.set_error(LIVENESS, None)
        return True


class ClusterWatcher:
    """The four reflectors of one connection and its liveness check, feeding one store."""

    def __init__(self, connection: Any, store: ClusterStore, namespace: str | None = None,
                 heartbeat: float = HEARTBEAT_SECONDS, heartbeat_timeout: float = HEARTBEAT_TIMEOUT_SECONDS,
                 **options: Any) -> None:
        api_client = getattr(connection, "api_client", connection)
        self.store = store
        self.reflectors = {kind: Reflector(api_client, store, kind, namespace, **options) for kind in KINDS}
        self.heartbeat = Heartbeat(api_client, store, heartbeat, heartbeat_timeout)

    def start(self) -> None:
        """Start every reflector thread and the liveness check."""
        for reflector in self.reflectors.values():
            reflector.start()
        self.heartbeat.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every reflector and the liveness check, and wait for the reflector threads to end."""
        self.heartbeat.stop()
        for reflector in self.reflectors.values():
            reflector.stop()
        for reflector in self.reflectors.values():
            if reflector.is_alive():
                reflector.join(timeout)

    @property
    def errors(self) -> dict[str, str]:
        """The current connection problem of each kind that has one."""
        return {k: r.last_error for k, r in self.reflectors.items() if r.last_error}
