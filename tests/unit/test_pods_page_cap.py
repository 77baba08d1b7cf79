"""The Pods page sends the browser at most MAX_ROWS rows, in an order made on the server, says so when it cuts, and
still downloads and opens every matching pod (issue 24)."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
import streamlit as st

from dashboard import shown_cluster, views
from dashboard.pages import pods
from dashboard.shown_cluster import ShownCluster
from kube.access import AccessChecker
from kube.store import ClusterStore
from tests.unit.test_dashboard_kept import started
from tests.unit.test_dashboard_pages import no_exception, page_script, texts
from tests.unit.test_dashboard_views import NOW, eci_pod

COUNT = 30  # pods in the store
CAP = 10  # the row cap while these tests run


def created(number: int) -> str:
    """Pod `number`'s creation: one second each, in an order that is not the pods' name order."""
    return f"2026-11-28T07:59:{(number * 7) % COUNT:02d}Z"


def start_seconds(number: int) -> int:
    """Pod `number`'s seconds from its creation to its containers' start."""
    return 60 - (number * 7) % COUNT + 8 + number


def store() -> ClusterStore:
    """COUNT ECI pods p00 … p29 in `shop` (every third in `jobs`), created a second apart out of name order, each
    running from 08:00:00 plus 8 seconds plus its number."""
    store = ClusterStore(clock=lambda: NOW)
    store.replace("imagecaches", [], "1")
    made = []
    for number in range(COUNT):
        namespace = "jobs" if number % 3 == 0 else "shop"
        made.append(started(eci_pod(f"p{number:02d}", ["nginx:1.25"], namespace=namespace, created=created(number)),
                            8 + number))
    store.replace("pods", made, "1")
    store.replace("events", [], "1")
    store.replace("deployments", [], "1")
    return store


@pytest.fixture
def many(monkeypatch):
    """COUNT pods shown, the row cap at CAP, and every Download CSV's data callable noted in order."""
    monkeypatch.setenv("IMC_READ_ONLY", "1")
    monkeypatch.setattr(pods, "MAX_ROWS", CAP)
    downloads: list = []
    real = st.download_button

    def noted(label, data, *args, **kwargs):
        downloads.append(data)
        return real(label, data, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", noted)  # Streamlit's, noted on the way: the page's own code runs
    shown_cluster.inject(ShownCluster(store=store(), context="test", server="https://test", source="test",
                                      access=AccessChecker(None)))
    yield downloads
    shown_cluster.inject(None)
    shown_cluster.open_cluster.clear()


def pods_table(at):
    """The Pods table as the page sent it."""
    (table,) = [frame for frame in at.dataframe if "key" in frame.value.columns]
    return table


def sent(at) -> list[str]:
    """The pod keys the Pods table was sent, in order."""
    return pods_table(at).value["key"].tolist()


def captions(at) -> list[str]:
    """The page's captions."""
    return [caption.value for caption in at.caption]


def csv_keys(downloads: list) -> list[str]:
    """The pods (namespace/pod) in the last Download CSV, in order."""
    frame = pd.read_csv(io.StringIO(downloads[-1]()))
    return (frame["Namespace"] + "/" + frame["Pod"]).tolist()


def by_name(count: int) -> list[str]:
    """The first `count` pods of the store in the table's own order, namespace then name."""
    keys = [f"{'jobs' if n % 3 == 0 else 'shop'}/p{n:02d}" for n in range(COUNT)]
    return sorted(keys, key=lambda key: tuple(key.split("/")))[:count]


def test_the_table_is_sent_the_first_rows_only_and_says_so_with_the_counts_and_the_order(many):
    at = page_script("pods").run()
    no_exception(at)
    assert sent(at) == by_name(CAP)
    assert (f"{COUNT} of {COUNT} ECI pods: showing the first {CAP}, by namespace and name. Narrow the filters, or "
            f"download the CSV of all {COUNT}.") in captions(at)


def test_the_cut_caption_still_reads_as_matching_of_all_eci_pods(many):
    # bench/bench_browser.py and the e2e tests read the total from "N of M ECI pods"
    at = page_script("pods").run()
    at.text_input(key="q").input("shop/").run()
    (caption,) = [c for c in captions(at) if "ECI pods" in c]
    assert caption.startswith(f"20 of {COUNT} ECI pods: showing the first {CAP},")
    assert caption.endswith("download the CSV of all 20.")


def test_under_the_cap_the_caption_is_the_count_alone(many):
    at = page_script("pods").run()
    at.text_input(key="q").input("jobs/").run()
    assert f"10 of {COUNT} ECI pods" in captions(at)
    assert "showing the first" not in texts(at)
    assert len(sent(at)) == 10


def test_the_csv_has_every_matching_pod_not_only_those_shown(many):
    at = page_script("pods").run()
    assert len(sent(at)) == CAP
    assert csv_keys(many) == by_name(COUNT)
    at.text_input(key="q").input("shop/").run()
    assert len(sent(at)) == CAP
    assert csv_keys(many) == [key for key in by_name(COUNT) if key.startswith("shop/")]


def test_the_order_chooses_which_pods_are_shown_and_the_csv_follows_it(many):
    at = page_script("pods").run()
    at.selectbox(key="order").select("newest").run()
    newest = sorted(by_name(COUNT), key=lambda key: created(int(key[-2:])), reverse=True)
    assert sent(at) == newest[:CAP]
    assert sent(at) != by_name(CAP)
    assert csv_keys(many) == newest
    assert any("showing the first 10, newest first." in caption for caption in captions(at))
    at.selectbox(key="order").select("slowest").run()
    slowest = sorted(by_name(COUNT), key=lambda key: start_seconds(int(key[-2:])), reverse=True)
    oldest = newest[::-1]
    assert sent(at) == slowest[:CAP] and slowest[:CAP] not in (oldest[:CAP], newest[:CAP])
    assert any("showing the first 10, slowest start first." in caption for caption in captions(at))


def test_a_pod_not_yet_started_comes_after_every_started_one_whatever_the_order():
    frame = pd.DataFrame({"key": ["a/1", "a/2", "a/3", "a/4"], "Start (s)": [3.0, float("nan"), 9.0, 3.0]})
    assert frame["key"].take(views.pod_order(frame, views.POD_ORDERS["slowest"])).tolist() == [
        "a/3", "a/1", "a/4", "a/2"]  # ties in the table's own order


def test_a_deep_linked_pod_beyond_the_cap_is_sent_selected_and_explained(many):
    last = by_name(COUNT)[-1]
    at = page_script("pods", pod=last).run()
    no_exception(at)
    assert sent(at) == [*by_name(CAP), last]
    assert json.loads(pods_table(at).proto.selection_default)["selection"]["rows"] == [CAP]  # its row, selected
    assert last in [subheader.value for subheader in at.subheader]
    assert any(caption.endswith(f"showing the first {CAP}, by namespace and name, and the selected pod (the last "
                                f"row). Narrow the filters, or download the CSV of all {COUNT}.") for caption in captions(at))


def test_a_deep_linked_pod_that_the_filter_leaves_out_is_not_sent_but_still_explained(many):
    at = page_script("pods", pod="jobs/p00").run()
    at.text_input(key="q").input("shop/").run()
    assert "jobs/p00" not in sent(at) and len(sent(at)) == CAP
    assert "jobs/p00" in [subheader.value for subheader in at.subheader]


def test_the_drawn_rows_are_text_with_a_categorical_columns_control_characters_shown():
    """The pods table holds columns of few values as categories (`views.CATEGORICAL`); the rows sent are text, so the
    table's guard against invisible characters from the cluster reads them too."""
    frame = views.pods_frame(store().snapshot().pods)
    assert set(views.CATEGORICAL) <= {name for name in frame.columns if frame[name].dtype == "category"}
    frame = frame.assign(Phase=pd.Categorical(["Running\u202e"] * len(frame)),
                         Predicted=pd.Categorical(["miss \u2066x"] * len(frame)))
    drawn = pods.drawn_rows(frame.head(3))
    assert not any(drawn[name].dtype == "category" for name in drawn.columns)
    assert drawn["Phase"].tolist() == ["Running<U+202E>"] * 3
    assert drawn["Predicted"].tolist() == ["miss <U+2066>x"] * 3
    assert drawn["Owner"].tolist() == [""] * 3 and drawn["Cache"].tolist() == [""] * 3
