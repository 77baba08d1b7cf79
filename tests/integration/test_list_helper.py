"""A big list read by a helper process from a real API server (`imc sim`): the same pages as read here."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import pytest

from kube.http import RequestError, send
from kube.list_helper import decode_page, pages_in_turn, read_ahead
from kube.watch import EVENT_SELECTORS, PAGE_SIZE, kind_count, list_pages, list_request
from tests.integration.conftest import new_api_client, raw_list

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("scale")]  # shares the session's scale_sim
TIMEOUT = (10.0, 60.0)


def fetcher(api_client, kind: str, field_selector: str | None, asked: list[str]):
    """One page of a list, as `kube.watch.list_pages` asks for it; the tokens asked for are noted."""
    def fetch(token: str | None) -> bytes:
        asked.append(token)
        return send(api_client, list_request(kind, None, PAGE_SIZE, token, field_selector), TIMEOUT)

    return fetch


@pytest.mark.parametrize(("kind", "field_selector"), [("pods", None), ("events", EVENT_SELECTORS[0])])
def test_the_helper_reads_the_rest_of_a_big_list_as_this_process_would(scale_sim, caplog, kind, field_selector):
    api_client = new_api_client(scale_sim)
    asked: list[str] = []
    fetch = fetcher(api_client, kind, field_selector, asked)
    first = decode_page(kind, fetch(None))
    # the sim keeps a continued list's snapshot: both readings below read the same objects
    with caplog.at_level(logging.WARNING, logger="imc.kube.list_helper"):
        by_helper = list(read_ahead(api_client, fetch, kind, True, first.continue_token, namespace=None,
                                    page_size=PAGE_SIZE, field_selector=field_selector, timeout=TIMEOUT))
    assert asked == [None], "the helper read the pages, not this process"
    assert not caplog.records
    here = list(pages_in_turn(fetch, kind, True, first.continue_token))
    assert len(asked) == 1 + len(here) > 10
    assert by_helper == here
    assert by_helper[-1].continue_token is None


def test_a_request_the_server_refuses_is_raised_as_it_would_be_here(scale_sim):
    api_client = new_api_client(scale_sim)
    asked: list[str] = []
    fetch = fetcher(api_client, "pods", None, asked)
    stale = "bm90IGEgdG9rZW4="
    with pytest.raises(RequestError) as here:
        fetch(stale)
    with pytest.raises(RequestError) as by_helper:
        list(read_ahead(api_client, fetch, "pods", True, stale, namespace=None, page_size=PAGE_SIZE,
                        field_selector=None, timeout=TIMEOUT))
    assert here.value.status in (400, 410)
    assert (by_helper.value.status, by_helper.value.reason, by_helper.value.message) == (
        here.value.status, here.value.reason, here.value.message)
    assert asked == [stale]


def helpers_of_this_process() -> list[int]:
    """The pids of this process's `kube.list_helper` children, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == os.getpid() and b"kube.list_helper" in command:
            found.append(int(entry.name))
    return found


def test_a_list_whose_helper_ends_goes_on_here_from_the_page_it_reached(scale_sim, caplog):
    api_client = new_api_client(scale_sim)
    asked: list[str] = []
    fetch = fetcher(api_client, "pods", None, asked)
    first = decode_page("pods", fetch(None))
    here = list(pages_in_turn(fetch, "pods", True, first.continue_token))
    del asked[:]
    pages = read_ahead(api_client, fetch, "pods", True, first.continue_token, namespace=None,
                       page_size=PAGE_SIZE, field_selector=None, timeout=TIMEOUT)
    with caplog.at_level(logging.WARNING, logger="imc.kube.list_helper"):
        read = [next(pages), next(pages)]
        helpers = helpers_of_this_process()
        assert len(helpers) == 1
        os.kill(helpers[0], signal.SIGKILL)
        read += list(pages)
    assert read == here
    assert 0 < len(asked) <= len(here) - 2, "this process read only the pages the helper had not sent"
    assert "its helper ended" in caplog.text


def test_at_ten_thousand_pods_no_list_pays_for_a_helper(scale_sim):
    api_client = new_api_client(scale_sim)
    pods = kind_count(api_client, "pods")
    events = kind_count(api_client, "events")
    assert pods == len(raw_list(api_client, "/api/v1/pods", [])["items"]) >= 10_000
    assert events is not None and events >= pods
    for kind, selector in (("pods", None), ("events", EVENT_SELECTORS[0])):
        pages = list_pages(api_client, kind, field_selector=selector, helper=True)
        next(pages), next(pages)
        assert helpers_of_this_process() == [], kind
        pages.close()
