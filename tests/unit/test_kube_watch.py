"""Watch lines and list/watch requests, without a server."""

from __future__ import annotations

import orjson
import pytest

from kube.http import status_error
from kube.watch import (
    EVENT_SELECTORS,
    WatchProtocolError,
    backoff_delay,
    keep_object,
    list_request,
    process_one_line,
    watch_request,
)

EXPIRED = (
    b'{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
    b'"message":"too old resource version: 5 (90)","reason":"Expired","code":410}}'
)


@pytest.mark.parametrize("kind", ["ADDED", "MODIFIED", "DELETED"])
def test_object_events(kind):
    line = orjson.dumps({"type": kind, "object": {"kind": "Pod", "metadata": {"name": "a", "resourceVersion": "17"}}})
    event = process_one_line(line)
    assert (event.type, event.object["metadata"]["name"], event.resource_version) == (kind, "a", "17")
    assert not event.expired


def test_bookmark_carries_only_a_version():
    event = process_one_line(b'{"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"99"}}}\n')
    assert (event.type, event.resource_version) == ("BOOKMARK", "99")


def test_expired_status_in_stream():
    event = process_one_line(EXPIRED)
    assert event.type == "ERROR" and event.expired
    assert (event.code, event.reason) == (410, "Expired")
    assert "too old" in event.message


def test_other_error_is_not_expired():
    line = b'{"type":"ERROR","object":{"kind":"Status","code":500,"reason":"InternalError","message":"boom"}}'
    event = process_one_line(line)
    assert not event.expired and event.code == 500


@pytest.mark.parametrize(
    "line",
    [b"not json", b"[1,2]", b'{"type":"ADDED"}', b'{"type":"SYNC","object":{}}', b'{"type":"ADDED","object":[]}'],
)
def test_malformed_lines_are_refused(line):
    with pytest.raises(WatchProtocolError):
        process_one_line(line)


def test_list_requests_of_each_kind():
    assert list_request("pods").path == "/api/v1/pods"
    assert list_request("pods", namespace="shop").path == "/api/v1/namespaces/shop/pods"
    assert list_request("deployments").path == "/apis/apps/v1/deployments"
    assert list_request("imagecaches", namespace="shop").path == "/apis/eci.alibabacloud.com/v1/imagecaches"
    request = list_request("events", limit=100, continue_token="abc", field_selector=EVENT_SELECTORS[0])
    assert request.path == "/api/v1/events"
    assert dict(request.query) == {
        "limit": "100",
        "continue": "abc",
        "fieldSelector": "involvedObject.kind=Pod",
    }
    assert request.method == "GET"


def test_watch_request_resumes_from_the_version_with_bookmarks():
    request = watch_request("deployments", "123", timeout_seconds=60)
    assert request.path == "/apis/apps/v1/deployments"
    assert dict(request.query) == {
        "watch": "true",
        "resourceVersion": "123",
        "allowWatchBookmarks": "true",
        "timeoutSeconds": "60",
    }


def test_events_are_filtered_client_side():
    assert keep_object("events", {"reason": "ImageCacheMissed"})
    assert keep_object("events", {"reason": "Pulled"})
    assert not keep_object("events", {"reason": "Pulling"})
    assert keep_object("pods", {"reason": "anything"})


def test_backoff_grows_to_a_cap_with_jitter():
    assert backoff_delay(0, rng=lambda: 1.0) == 0.5
    assert backoff_delay(3, rng=lambda: 1.0) == 4.0
    assert backoff_delay(50, rng=lambda: 1.0) == 30.0
    assert backoff_delay(5, rng=lambda: 0.0) == 0.0


def test_status_error_names_reason_message_and_causes():
    body = orjson.dumps(
        {
            "kind": "Status",
            "code": 422,
            "reason": "Invalid",
            "message": 'ImageCache.eci.alibabacloud.com "x" is invalid',
            "details": {"causes": [{"field": "spec.images", "message": "Required value"}]},
        }
    )
    error = status_error(422, body, "Unprocessable Entity")
    assert (error.status, error.reason, error.causes) == (422, "Invalid", ("spec.images: Required value",))
    assert str(error).startswith("422 Invalid: ImageCache")
    plain = status_error(502, b"<html>bad gateway</html>", "Bad Gateway")
    assert (plain.status, plain.reason, plain.message) == (502, "Bad Gateway", "<html>bad gateway</html>")


ODD_CODES = ["²", "4¹0", "٤١٠", "9" * 5000, -410, 0, 4100, True, 410.0, "410 ", None, [410], {"n": 410}]


@pytest.mark.parametrize("code", ODD_CODES)
def test_a_status_body_of_any_shape_is_an_error_with_the_http_status(code):
    body = orjson.dumps({"kind": "Status", "code": code, "reason": ["x"], "message": 7,
                         "details": {"causes": ["bare", {"field": 1, "message": None, "reason": "Bad"}, None]}})
    error = status_error(503, body, "Service Unavailable")
    assert (error.status, error.reason, error.message) == (503, '["x"]', "7")
    assert error.causes == ("1: Bad",)
    for details in ([], "text", {"causes": {"a": 1}}):
        assert status_error(500, orjson.dumps({"kind": "Status", "details": details})).causes == ()
    assert status_error(500, orjson.dumps({"kind": "Status", "code": "409"})).status == 409


@pytest.mark.parametrize("code", ODD_CODES)
def test_a_watch_error_of_any_code_is_an_event_without_a_code(code):
    line = orjson.dumps({"type": "ERROR", "object": {"kind": "Status", "code": code, "reason": "Odd"}})
    event = process_one_line(line)
    assert event.type == "ERROR" and event.code is None and not event.expired
    assert process_one_line(line.replace(b'"Odd"', b'"Expired"')).expired


def test_malloc_arenas_are_limited_on_glibc():
    import platform

    from core.malloc import limit_malloc_arenas

    assert limit_malloc_arenas() is (platform.libc_ver()[0] == "glibc")
