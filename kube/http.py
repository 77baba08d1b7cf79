"""The thin transport: send a built `Request` with an ApiClient, raw bytes back, readable errors."""

from __future__ import annotations

import re
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
DEFAULT_TIMEOUT = (10.0, 60.0)


@dataclass(frozen=True)
class Request:
    """One API request: method, path, query pairs and an optional JSON body."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    body: Any = None
    content_type: str | None = None


@dataclass
class RequestError(Exception):
    """A failed request: HTTP status (0: no answer), the Status reason, message and causes."""

    status: int
    reason: str
    message: str
    causes: tuple[str, ...] = field(default_factory=tuple)
    body: dict | None = None

    def __str__(self) -> str:
        head = f"{self.status} {self.reason}".strip() if self.status else self.reason
        text = f"{head}: {self.message}" if self.message else head
        if self.causes:
            text += " (" + "; ".join(self.causes) + ")"
        return text


def status_code(value: object) -> int | None:
    """A Status `code` as a number: an HTTP status (100-599) given as a number or ASCII digits, else None."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]{3}", value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    return None


def _text(value: object) -> str:
    """A Status field shown as text: a string as it is, anything else (a number, a list) as its JSON."""
    if isinstance(value, str):
        return value
    return "" if value is None else orjson.dumps(value, default=str).decode()


def status_error(status: int, data: bytes, http_reason: str = "") -> RequestError:
    """A RequestError from an error response body (a Status object, or anything else)."""
    try:
        body = orjson.loads(data) if data else None
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and body.get("kind") == "Status":
        return RequestError(
            status=status_code(body.get("code")) or status,
            reason=_text(body.get("reason")) or http_reason,
            message=_text(body.get("message")),
            causes=status_causes(body),
            body=body,
        )
    text = data.decode("utf-8", "replace").strip()[:300] if data else ""
    return RequestError(status=status, reason=http_reason, message=text)


def status_causes(status: dict) -> tuple[str, ...]:
    """The `details.causes` of a Status as 'field: message' lines."""
    details = status.get("details")
    causes = details.get("causes") if isinstance(details, dict) else None
    out = []
    for cause in causes if isinstance(causes, list) else ():
        if not isinstance(cause, dict):
            continue
        message = _text(cause.get("message")) or _text(cause.get("reason"))
        where = _text(cause.get("field"))
        out.append(f"{where}: {message}" if where else message)
    return tuple(out)


def _open(api_client: ApiClient, request: Request, timeout: Any) -> Any:
    headers = {"Accept": JSON}
    if request.body is not None:
        headers["Content-Type"] = request.content_type or JSON
    method, url, headers, body, post = api_client.param_serialize(
        request.method,
        request.path,
        query_params=list(request.query),
        header_params=headers,
        body=request.body,
        auth_settings=["BearerToken"],
    )
    try:
        return api_client.call_api(method, url, headers, body, post, _request_timeout=timeout).response
    except ApiException as exc:  # the client turns TLS failures into status 0
        raise RequestError(0, "TLSError", str(exc.reason or exc).splitlines()[-1]) from exc
    except urllib3.exceptions.HTTPError as exc:
        reason = getattr(exc, "reason", None) or exc
        kind = "TLSError" if isinstance(reason, urllib3.exceptions.SSLError | ssl.SSLError) else "Unreachable"
        raise RequestError(0, kind, _connection_message(exc)) from exc


def _connection_message(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or exc
    return str(reason)


def send(api_client: ApiClient, request: Request, timeout: Any = DEFAULT_TIMEOUT) -> bytes:
    """Send a request, return the response body; RequestError on a non-2xx answer or no answer."""
    response = _open(api_client, request, timeout)
    try:
        data = response.data
    except urllib3.exceptions.HTTPError as exc:
        raise RequestError(0, "Unreachable", _connection_message(exc)) from exc
    finally:
        response.release_conn()
    if not 200 <= response.status <= 299:
        raise status_error(response.status, data, response.reason or "")
    return data


def send_json(api_client: ApiClient, request: Request, timeout: Any = DEFAULT_TIMEOUT) -> Any:
    """Send a request and parse its JSON answer."""
    data = send(api_client, request, timeout)
    return orjson.loads(data) if data else None


class Stream:
    """An open streaming response (a watch): iterate its lines, close it from any thread."""

    def __init__(self, response: Any) -> None:
        self._response = response
        self._closed = False
        self._lock = threading.Lock()

    def lines(self) -> Iterator[bytes]:
        """The non-empty lines as they arrive."""
        buffer = b""
        try:
            for chunk in self._response.stream(amt=None, decode_content=True):
                buffer += chunk
                while True:
                    newline = buffer.find(b"\n")
                    if newline < 0:
                        break
                    line, buffer = buffer[:newline], buffer[newline + 1 :]
                    if line.strip():
                        yield line
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise RequestError(0, "ReadTimeout", _connection_message(exc)) from exc
        except (urllib3.exceptions.HTTPError, OSError, AttributeError, ValueError) as exc:
            # AttributeError/ValueError: urllib3 reading from a socket another thread closed.
            raise RequestError(0, "StreamBroken", _connection_message(exc)) from exc
        if buffer.strip():
            yield buffer

    def close(self) -> None:
        """Close the connection (wakes a reader blocked in `lines`); safe to call twice, from any thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._response.shutdown()
        except (AttributeError, OSError, ValueError, RuntimeError):
            pass  # the stream already ended, or a urllib3 without shutdown()
        self._response.release_conn()


def open_stream(api_client: ApiClient, request: Request, timeout: Any = DEFAULT_TIMEOUT) -> Stream:
    """Open a streaming request; RequestError when the answer is not 2xx."""
    response = _open(api_client, request, timeout)
    if not 200 <= response.status <= 299:
        try:
            data = response.data
        finally:
            response.release_conn()
        raise status_error(response.status, data, response.reason or "")
    return Stream(response)
