"""A big list's later pages fetched and decoded by helper processes, while this one stores the pages before.

A dashboard's reflectors share one interpreter, so a big list is bound to one core: at 50,000 pods fetching and
decoding the pages (TLS, JSON, cutting objects down) was about 40 % of the CPU of listing and storing them. A list
whose rest is big hands it to a child process of its own (`python -m kube.list_helper`), given the client's
configuration (server, TLS, the credentials of the moment) through a pipe: it asks for each page with
`kube.http.send`, as this process would, and hands the page's bytes to a decoder of its own (`decode_pages`), asking
for the next page (its token read from the page's head) while that one is decoded. The decoder writes the objects
straight to this process as `marshal` data (which keeps the strings `kube.slim` interned interned) while it stores
the page before. A request's error comes back as the `RequestError` it was; if a helper cannot start or ends, the
list goes on here from the page it had reached.
"""

from __future__ import annotations

import copy
import gc
import logging
import marshal
import os
import pickle
import signal
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from kube.slim import keep_object, slim_object

try:
    import fcntl
except ImportError:  # not a POSIX system: pipes of the default size
    fcntl = None

log = logging.getLogger("imc.kube.list_helper")

# A list goes on in a helper process when what is left of it would take a second or more to fetch and decode here:
# a helper costs ~0.7 s of CPU to start (on the other core), and its first page comes ~0.6 s after, while the list
# waits. A pod took ~50 µs, an event ~10 µs, on our 2-core machines (bench/README.md, issue 24): at 10,000 pods
# (40,000 events) no list has a helper, at 50,000 (200,000 events) pods and events have one each.
HELPER_MIN_REMAINING = {"pods": 20_000, "events": 100_000}
HELPER_MIN_OTHERS = 20_000
_LENGTH = struct.Struct("!Q")
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux's number, where Python does not name it
PIPE_SIZE = 1 << 20  # an answer (~0.3 MB of pods) in one read, not 64 KiB at a time
PROJECT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class DecodedPage:
    """One page of a list: the objects kept, the list's resourceVersion, the token of the next page, how many
    objects the server said remain (None when it did not say), how many it sent (kept or not)."""

    objects: list[dict]
    resource_version: str
    continue_token: str | None
    remaining: int | None
    listed: int


@dataclass(frozen=True)
class ListJob:
    """What a helper needs to go on with a list: the client's configuration and identity, and the list's request
    from the page `token` names."""

    configuration: Any
    identity: Any
    kind: str
    namespace: str | None
    page_size: int
    field_selector: str | None
    token: str
    slim: bool
    timeout: Any


def decode_page(kind: str, data: bytes, slim: bool = True) -> DecodedPage:
    """Parse one page of a list: its objects filtered (`keep_object`) and, if `slim`, cut down (`slim_object`)."""
    page = orjson.loads(data)
    items = page.get("items") or ()
    kept = (o for o in items if keep_object(kind, o))
    objects = [slim_object(kind, o) for o in kept] if slim else list(kept)
    meta = page.get("metadata") or {}
    remaining = meta.get("remainingItemCount")
    return DecodedPage(objects, str(meta.get("resourceVersion") or ""), meta.get("continue") or None,
                       remaining if type(remaining) is int else None, len(items))


def worth_a_helper(kind: str, page: DecodedPage, bound: int | None = None) -> bool:
    """Whether the rest of a list is big enough to go on in a helper process: the objects the server says remain, or
    when it does not say (kube-apiserver leaves remainingItemCount out of a list with a selector), `bound`, how many
    objects of the kind there are in all."""
    remaining = page.remaining if page.remaining is not None else bound
    if page.continue_token is None or remaining is None:
        return False
    return remaining >= HELPER_MIN_REMAINING.get(kind, HELPER_MIN_OTHERS)


def pages_in_turn(fetch: Callable[[str], bytes], kind: str, slim: bool, token: str | None) -> Iterator[DecodedPage]:
    """The pages of a list from `token` on, each fetched and decoded once the one before is consumed."""
    while token:
        page = decode_page(kind, fetch(token), slim)
        yield page
        token = page.continue_token


def write_frame(out: BinaryIO, payload: bytes) -> None:
    """One message: its length, then its bytes."""
    out.write(_LENGTH.pack(len(payload)) + payload)
    out.flush()


def read_frame(source: BinaryIO) -> bytes | None:
    """The next message, or None at the end of the stream (a message cut short is the end too)."""
    head = source.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(head)
    payload = source.read(length)
    return payload if len(payload) == length else None


def job_for(api_client: Any, **request: Any) -> bytes | None:
    """The pickled job for a helper, or None when the client's configuration cannot go to another process (a proxy
    given as an SSL context, say). The copy carries the credentials of the moment, not the hook that refreshes
    them: a helper lives for one list, and a list that outlives a token fails as it would here (401), then
    starts again."""
    configuration = copy.copy(api_client.configuration)
    configuration.refresh_api_key_hook = None
    configuration.logger_stream_handler = configuration.logger_file_handler = None
    try:
        return pickle.dumps(ListJob(configuration, getattr(api_client, "identity", None), **request))
    except (pickle.PicklingError, TypeError, AttributeError):
        return None


def next_token(kind: str, data: bytes) -> str | None:
    """A page's continue token, read from its head: kube-apiserver writes a list's `metadata` before its `items`
    (`{"kind":…,"apiVersion":…,"metadata":{…},"items":[…]}`, and `,"items":` cannot occur inside a JSON string), so
    the page's first bytes up to its items are an object of their own; a page written otherwise is read whole."""
    cut = data.find(b',"items":')
    if cut > 0:
        try:
            head = orjson.loads(data[:cut] + b"}")
        except orjson.JSONDecodeError:
            head = None
        if isinstance(head, dict) and isinstance(head.get("metadata"), dict):
            return head["metadata"].get("continue") or None
    return decode_page(kind, data, slim=False).continue_token


def fetch_pages(job: ListJob, out: BinaryIO) -> None:
    """The helper: ask for each page, hand its bytes to a decoder (`decode_pages`, a process of its own writing to
    `out`), and ask for the next (its token read from the page's head) while the decoder decodes it; once the
    decoder is done, "end", or a failed request as ("error", status, reason, message, causes, body)."""
    from kube.http import RequestError
    from kube.watch import fetch_page

    client = _client(job)
    decoder = _spawn(["decode", job.kind, "slim" if job.slim else "whole"], stdout=out)
    closing: tuple = ("end",)
    try:
        token = job.token
        while token:
            data = fetch_page(client, job.kind, job.namespace, job.page_size, token, job.field_selector, job.timeout)
            write_frame(decoder.stdin, data)
            token = next_token(job.kind, data)
    except RequestError as exc:
        closing = ("error", exc.status, exc.reason, exc.message, exc.causes, exc.body)
    finally:
        client.close()
        try:
            decoder.stdin.close()
        except OSError:  # it ended already
            pass
        decoder.wait()  # before anything more is written to `out`, which the decoder writes too
    if decoder.returncode == 0:  # else it said why, or ended: the list reads on in its own process
        write_frame(out, marshal.dumps(closing))


def decode_pages(kind: str, slim: bool, source: BinaryIO, out: BinaryIO) -> None:
    """The decoder: each page's bytes from `source`, decoded (`decode_page`), to `out` as ("page", objects,
    resourceVersion, continue token, remaining, listed)."""
    while (data := read_frame(source)) is not None:
        page = decode_page(kind, data, slim)
        write_frame(out, marshal.dumps(("page", page.objects, page.resource_version, page.continue_token,
                                         page.remaining, page.listed)))


def _client(job: ListJob) -> Any:
    if job.identity is not None:
        from kube.impersonation import ImpersonatingClient

        return ImpersonatingClient(job.configuration, job.identity)
    from kubernetes.client import ApiClient

    return ApiClient(configuration=job.configuration)


def read_ahead(api_client: Any, fetch: Callable[[str], bytes], kind: str, slim: bool, token: str | None,
               **request: Any) -> Iterator[DecodedPage]:
    """The pages of a list from `token` on, fetched and decoded by a helper process a page or two ahead of the
    caller; here, from the page reached, when the helper cannot be used."""
    from kube.http import RequestError

    job = job_for(api_client, kind=kind, token=token, slim=slim, **request) if token else None
    child = _start(job) if job is not None else None
    try:
        while child is not None:
            frame = _next_frame(child)
            answer = marshal.loads(frame) if frame is not None else ("gone",)
            if answer[0] == "page":
                page = DecodedPage(*answer[1:])
                yield page
                token = page.continue_token
            elif answer[0] == "end":
                return
            elif answer[0] == "error":
                raise RequestError(*answer[1:6])
            else:
                why = answer[1] if answer[0] == "failed" else f"exit status {child.poll()}"
                log.warning("a list goes on in this process: its helper ended (%s)", why)
                break
    finally:
        if child is not None:
            _stop(child)
    yield from pages_in_turn(fetch, kind, slim, token)


def _spawn(arguments: list[str], stdout: Any) -> subprocess.Popen:
    """`python -m kube.list_helper ARGUMENTS`, its input a pipe of 1 MiB where the system allows it."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(PROJECT),
                                                                              os.environ.get("PYTHONPATH"))))}
    child = subprocess.Popen([sys.executable, "-m", "kube.list_helper", *arguments], stdin=subprocess.PIPE,
                             stdout=stdout, stderr=subprocess.DEVNULL, env=environment, cwd=PROJECT)
    for pipe in (child.stdin, child.stdout):
        try:
            if pipe is not None and fcntl is not None:
                fcntl.fcntl(pipe.fileno(), F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:  # not Linux, or above /proc/sys/fs/pipe-max-size: the default size serves
            pass
    return child


def _start(job: bytes) -> subprocess.Popen | None:
    try:
        child = _spawn([], stdout=subprocess.PIPE)
    except OSError as exc:
        log.warning("a list goes on in this process: its helper did not start (%s)", exc)
        return None
    try:
        write_frame(child.stdin, job)
        child.stdin.close()
    except OSError:
        pass  # it ended already: its output says so
    return child


def _next_frame(child: subprocess.Popen) -> bytes | None:
    try:
        return read_frame(child.stdout)
    except (OSError, ValueError):
        return None


def _stop(child: subprocess.Popen) -> None:
    """End the helper: with its output closed, its next write fails and it exits."""
    try:
        child.stdout.close()
    except OSError:
        pass
    try:
        child.wait(5)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def main(arguments: list[str]) -> None:
    """The helper (no arguments: one job on stdin) or its decoder (`decode KIND slim|whole`: pages on stdin); the
    answers on stdout."""
    gc.disable()  # a page's objects are freed by reference counting once answered; they hold no cycles
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is the dashboard's to handle
    source, out = sys.stdin.buffer, sys.stdout.buffer
    try:
        if arguments[:1] == ["decode"]:
            decode_pages(arguments[1], arguments[2] == "slim", source, out)
        elif (job := read_frame(source)) is not None:
            fetch_pages(pickle.loads(job), out)
    except BrokenPipeError:  # the list was given up (its reader closed)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - said to the list, which goes on in its own process
        write_frame(out, marshal.dumps(("failed", f"{type(exc).__name__}: {exc}")))
        sys.exit(1)


if __name__ == "__main__":  # the module as imported, so that the jobs it unpickles are of the same classes
    from kube.list_helper import main as helper_main

    helper_main(sys.argv[1:])
