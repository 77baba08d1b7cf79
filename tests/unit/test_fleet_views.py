"""Issue 25 without a server: the context picker's options and order, the Fleet page's rows, in AppTest."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from core.figures import window_figures
from dashboard import fleet_views, shown_cluster
from dashboard.shown_cluster import ShownCluster, fleet_contexts, ordered_contexts
from dashboard.views import Headline
from kube.access import AccessChecker
from tests.unit.test_dashboard_pages import TIMEOUT, no_exception, page_script, recent, texts
from tests.unit.test_dashboard_views import demo_store

KUBECONFIG = {"apiVersion": "v1", "kind": "Config", "current-context": "west",
              "clusters": [{"name": n, "cluster": {"server": f"https://{n}.example:6443"}} for n in ("east", "west", "north")],
              "users": [{"name": "me", "user": {"token": "t"}}],
              "contexts": [{"name": n, "context": {"cluster": n, "user": "me"}} for n in ("east", "west", "north")]}


@pytest.fixture
def kubeconfig(monkeypatch, tmp_path):
    """A kubeconfig of three contexts, west current, in use; a filled store injected as the shown cluster."""
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(KUBECONFIG))
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.setenv("IMC_READ_ONLY", "1")
    for name in ("IMC_CONTEXT", "IMC_CONTEXTS"):
        monkeypatch.delenv(name, raising=False)
    shown_cluster.inject(ShownCluster(store=demo_store(recent()), context="west", server="https://west.example:6443",
                                      source=str(path), access=AccessChecker(None)))
    yield path
    shown_cluster.inject(None)
    shown_cluster.open_cluster.clear()


def sidebar(**query: str) -> AppTest:
    """The sidebar alone, opened by a link with these query parameters."""
    at = AppTest.from_string("from dashboard import shell\nshell.sidebar()\n", default_timeout=TIMEOUT)
    at.query_params.update(query)
    return at.run()


def test_the_picker_lists_the_current_context_first_then_the_others_in_the_files_order(kubeconfig):
    at = sidebar()
    no_exception(at)
    picker = at.sidebar.selectbox[0]
    assert picker.label == "Context"
    assert picker.options == ["west", "east", "north"] and picker.value == "west"
    assert "context" not in at.query_params  # the default needs no link


def test_imc_context_is_the_default_choice_and_comes_first(kubeconfig, monkeypatch):
    monkeypatch.setenv("IMC_CONTEXT", "north")
    picker = sidebar().sidebar.selectbox[0]
    assert picker.options == ["north", "east", "west"] and picker.value == "north"


def test_a_deep_link_opens_on_its_context_and_a_pick_goes_into_the_url(kubeconfig):
    at = sidebar(context="east")
    assert at.sidebar.selectbox[0].value == "east"
    at.sidebar.selectbox[0].select("north").run()
    no_exception(at)
    assert at.sidebar.selectbox[0].value == "north"
    assert at.query_params["context"] == "north"


def test_a_linked_context_the_kubeconfig_lacks_is_shown_chosen_not_dropped(kubeconfig):
    picker = sidebar(context="gone").sidebar.selectbox[0]
    assert picker.options == ["west", "east", "north", "gone"] and picker.value == "gone"


def test_ordered_contexts_and_imc_contexts_are_read_as_written():
    assert ordered_contexts(KUBECONFIG) == ("west", "east", "north")
    assert ordered_contexts({"contexts": [{"name": "a"}, {"name": 3}, "junk", {}]}) == ("a",)
    assert ordered_contexts({"current-context": "x", "contexts": []}, wanted=None) == ("x",)
    assert fleet_contexts("all", ("a", "b")) == ("a", "b")
    assert fleet_contexts(" b, a ,,b", ("a", "b")) == ("b", "a")
    assert fleet_contexts(None, ("a",)) == () and fleet_contexts("", ("a",)) == ()


NOW = datetime(2026, 5, 1, 12, tzinfo=UTC).timestamp()


def test_a_clusters_row_carries_the_overviews_figures_with_what_each_counts():
    head = Headline(eci_pods=40, hits=20, misses=10, fails=2, off=8, disagreements=1, ready_caches=5, caches=7,
                    failed_caches=1)
    figures = window_figures([(NOW - 60, "hit", 3.0, 10.0), (NOW - 60, "hit", 5.0, 10.0),
                              (NOW - 60, "miss", 30.0, None), (NOW - 90_000, "hit", 1.0, None)], "24 h", NOW, False)
    row = fleet_views.cluster_row("east", "https://east", head, figures, expiring=2, watch="Live")
    frame = fleet_views.fleet_frame([row, fleet_views.problem_row("west", "kubeconfig k has no context 'west'")],
                                    "24 h")
    east, west = frame.to_dict("records")
    assert east["ECI pods"] == 40 and east["Hit rate, 24 h"] == "67% of 3"
    assert east["Median start, hits · misses, 24 h"] == "4.0 s (2) · 30.0 s (1)"
    assert (east["Ready caches"], east["Failed caches"], east["Expiring in 24 h"], east["Disagreements"]) == (
        "5 of 7", 1, 2, 1)
    assert east["Watch"] == "Live"
    assert west["Watch"] == "Not connected: no such context" and pd.isna(west["ECI pods"])
    assert pd.isna(west["Median start, hits · misses, 24 h"]) and pd.isna(west["Hit rate, 24 h"])
    assert set(fleet_views.columns("24 h")) == set(frame.columns)
    assert all("24 h" in about or "Now" in about or name in ("Context", "Watch")
               for name, about in fleet_views.columns("24 h").items())


def test_the_watch_column_is_live_loading_or_since_when_it_is_not():
    assert fleet_views.watch_words(True, None) == "Live" and fleet_views.watch_words(False, None) == "Loading…"
    assert fleet_views.watch_words(True, "Not live since 12:00:00 UTC (30 s): data may be stale") == \
        "Not live since 12:00:00 UTC (30 s)"


@pytest.mark.parametrize(("message", "words"), [
    ("kubeconfig k has no context 'x'; it has: a", "no such context"),
    ("https://h rejected the credentials of user 'u' (kubeconfig k): 401 Unauthorized", "credentials rejected (401)"),
    ("TLS failure talking to https://h (kubeconfig k): certificate verify failed", "bad certificate (TLS)"),
    ("cannot reach https://h (kubeconfig k): timed out", "timed out"),
    ("cannot reach https://h (kubeconfig k): Connection refused", "cannot reach the API server"),
    ("something else entirely", "cannot connect"),
])
def test_a_cluster_that_cannot_be_read_says_why_in_a_few_words(message, words):
    assert fleet_views.problem_words(message) == words


def test_the_fleet_page_without_imc_contexts_shows_the_open_cluster_and_how_to_watch_more(kubeconfig):
    at = page_script("fleet").run()
    no_exception(at)
    table = at.dataframe[0].value
    assert list(table["Context"]) == ["west"] and table["ECI pods"][0] > 0
    assert "IMC_CONTEXTS" in texts(at)


def test_the_fleet_page_names_a_context_it_cannot_open_and_keeps_the_others(kubeconfig, monkeypatch):
    monkeypatch.setenv("IMC_CONTEXTS", "west,nowhere")
    at = page_script("fleet").run()
    no_exception(at)
    table = at.dataframe[0].value
    assert list(table["Context"]) == ["west", "nowhere"]
    assert table["ECI pods"][0] > 0 and table["Watch"][1] == "Not connected: no such context"
    assert "nowhere" in texts(at) and "IMC_CONTEXTS" not in texts(at)
