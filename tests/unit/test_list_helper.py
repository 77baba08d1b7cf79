"""A list's pages decoded, and the decision and the messages that hand a big list to a helper process."""

from __future__ import annotations

import io
import marshal
import pickle
import ssl
import sys

import orjson
from kubernetes.client import ApiClient, Configuration

from kube.list_helper import (
    HELPER_MIN_REMAINING,
    DecodedPage,
    decode_page,
    job_for,
    next_token,
    pages_in_turn,
    read_ahead,
    read_frame,
    worth_a_helper,
    write_frame,
)
from kube.slim import slim_pod

POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "web-1", "namespace": "shop", "uid": "u-1", "managedFields": [{"manager": "kubectl"}],
                    "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "team": "shop"}},
       "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "resources": {}}]},
       "status": {"phase": "Running"}}


def page_bytes(items: list[dict], continue_token: str | None = None, remaining: object = None) -> bytes:
    """A list page as an API server sends it."""
    metadata: dict = {"resourceVersion": "41"}
    if continue_token:
        metadata["continue"] = continue_token
    if remaining is not None:
        metadata["remainingItemCount"] = remaining
    return orjson.dumps({"kind": "List", "apiVersion": "v1", "metadata": metadata, "items": items})


def test_a_page_of_pods_comes_back_slim_with_its_version_and_next_token():
    page = decode_page("pods", page_bytes([POD], "next", 700))
    assert page == DecodedPage([slim_pod(POD)], "41", "next", 700, 1)
    assert "managedFields" not in page.objects[0]["metadata"]


def test_a_page_of_events_keeps_only_the_reasons_the_store_reads():
    events = [{"reason": reason, "message": "m", "involvedObject": {"kind": "Pod", "name": "a"}}
              for reason in ("Pulled", "Scheduled", "SuccessfulHitImageCache", "Started")]
    page = decode_page("events", page_bytes(events), slim=False)
    assert [event["reason"] for event in page.objects] == ["Pulled", "SuccessfulHitImageCache"]
    assert page.continue_token is None and page.remaining is None and page.listed == 4


def test_a_remaining_count_that_is_not_a_number_is_not_read_as_one():
    assert decode_page("pods", page_bytes([POD], "next", "many")).remaining is None
    assert decode_page("pods", page_bytes([POD], "next", True)).remaining is None


def test_a_list_goes_to_a_helper_only_when_much_of_it_is_still_to_come():
    many, few = HELPER_MIN_REMAINING["pods"], HELPER_MIN_REMAINING["pods"] - 1
    assert worth_a_helper("pods", DecodedPage([POD] * 500, "1", "next", many, 500))
    assert not worth_a_helper("pods", DecodedPage([POD] * 500, "1", "next", few, 500))
    assert not worth_a_helper("pods", DecodedPage([POD] * 500, "1", None, None, 500), bound=many)
    # an event is cheaper to decode than a pod: it takes more of them to pay for a helper
    assert not worth_a_helper("events", DecodedPage([], "1", "next", many, 500))
    # a server that does not say how many remain (a list with a field selector): how many there are in all
    assert worth_a_helper("events", DecodedPage([], "1", "next", None, 500), bound=HELPER_MIN_REMAINING["events"])
    assert not worth_a_helper("events", DecodedPage([], "1", "next", None, 500), bound=None)


def test_messages_are_read_back_whole_and_a_cut_one_is_the_end():
    stream = io.BytesIO()
    write_frame(stream, b"first")
    write_frame(stream, b"")
    write_frame(stream, b"third, cut short")
    cut = stream.getvalue()[:-3]
    reader = io.BytesIO(cut)
    assert [read_frame(reader), read_frame(reader), read_frame(reader)] == [b"first", b"", None]


def test_pages_in_turn_follow_the_continue_tokens_to_the_end():
    served = {"a": page_bytes([POD], "b", 1), "b": page_bytes([POD, POD], None)}
    asked: list[str] = []

    def fetch(token: str) -> bytes:
        asked.append(token)
        return served[token]

    pages = list(pages_in_turn(fetch, "pods", True, "a"))
    assert asked == ["a", "b"] and [len(page.objects) for page in pages] == [1, 2]


def test_a_configuration_that_cannot_go_to_another_process_keeps_the_list_here():
    configuration = Configuration(host="https://127.0.0.1:1")
    configuration.proxy_ssl_context = ssl.create_default_context()
    client = ApiClient(configuration)
    assert job_for(client, kind="pods", namespace=None, page_size=500, field_selector=None, token="a", slim=True,
                   timeout=(1, 1)) is None
    served = {"a": page_bytes([POD], "b", 1), "b": page_bytes([POD], None)}
    pages = list(read_ahead(client, served.__getitem__, "pods", True, "a", namespace=None, page_size=500,
                            field_selector=None, timeout=(1, 1)))
    assert [page.continue_token for page in pages] == ["b", None]


def test_a_job_carries_the_credentials_of_the_moment_but_not_their_refresher():
    configuration = Configuration(host="https://127.0.0.1:1", api_key={"authorization": "Bearer now"})
    configuration.refresh_api_key_hook = lambda _: None
    job = job_for(ApiClient(configuration), kind="pods", namespace="shop", page_size=500, field_selector=None,
                  token="a", slim=True, timeout=(1, 1))
    sent = pickle.loads(job)
    assert sent.configuration.api_key == {"authorization": "Bearer now"}
    assert sent.configuration.refresh_api_key_hook is None and sent.namespace == "shop"
    assert configuration.refresh_api_key_hook is not None  # the client's own configuration is left as it was


def test_marshal_keeps_an_interned_string_interned():
    name = sys.intern("".join(["shop-", "namespace"]))
    back = marshal.loads(marshal.dumps([{"namespace": name}]))
    assert back[0]["namespace"] is name


def test_the_next_token_is_read_from_a_page_head_as_kube_apiserver_writes_it():
    data = page_bytes([POD, {"metadata": {"name": "x", "annotations": {"a": ',"items":[]'}}}], "abc==", 7)
    assert data.startswith(b'{"kind":"List","apiVersion":"v1","metadata":')
    assert next_token("pods", data) == "abc==" == decode_page("pods", data).continue_token
    assert next_token("pods", page_bytes([POD])) is None


def test_a_page_written_with_its_items_first_is_read_whole_for_its_token():
    items_first = orjson.dumps({"apiVersion": "eci.aliyun.com/v1", "items": [{"metadata": {"name": "c"}}],
                                "kind": "ImageCacheList", "metadata": {"continue": "next", "resourceVersion": "3"}})
    assert next_token("imagecaches", items_first) == "next"
    spaced = b'{"metadata": {"continue": "more"}, "items": []}'
    assert next_token("pods", spaced) == "more"
