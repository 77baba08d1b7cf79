"""Issue 25: with several clusters watched, Pods and Image caches show every cluster's rows with a Cluster column and
filter (AppTest, two real ClusterStores injected, no server)."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from dashboard import shown_cluster, together, views
from dashboard.pages import pods
from dashboard.shown_cluster import ShownCluster
from kube.access import AccessChecker
from kube.store import ClusterStore
from tests.unit.test_dashboard_pages import no_exception, page_script, recent, texts
from tests.unit.test_dashboard_views import NOW, eci_pod, imagecache


def west_store(created: str) -> ClusterStore:
    """A second cluster: one cache and two pods of its own."""
    store = ClusterStore(clock=lambda: NOW)
    store.replace("imagecaches", [imagecache("west-cache", ["acme/west:1"])], "1")
    store.replace("pods", [eci_pod("west-1", ["acme/west:1"], namespace="far", created=created),
                           eci_pod("west-2", ["busybox:1.36"], namespace="far", created=created)], "1")
    for kind in ("events", "deployments"):
        store.replace(kind, [], "1")
    return store


def cluster(name: str, store: ClusterStore) -> ShownCluster:
    """A watched cluster of a context, its own keeper as a connected one has."""
    return ShownCluster(store=store, context=name, server=f"https://{name}", source="test",
                        access=AccessChecker(None), keeper=shown_cluster.frame_keeper())


@pytest.fixture
def two(monkeypatch):
    """east (the demo store, the session's) and west watched together."""
    from tests.unit.test_dashboard_views import demo_store

    monkeypatch.setenv("IMC_READ_ONLY", "1")
    east, west = cluster("east", demo_store(recent())), cluster("west", west_store(recent()))
    shown_cluster.inject(east, west)
    yield east, west
    shown_cluster.inject(None)
    shown_cluster.open_cluster.clear()


@pytest.fixture
def one(monkeypatch):
    """east alone."""
    from tests.unit.test_dashboard_views import demo_store

    monkeypatch.setenv("IMC_READ_ONLY", "1")
    shown_cluster.inject(cluster("east", demo_store(recent())))
    yield
    shown_cluster.inject(None)
    shown_cluster.open_cluster.clear()


def cluster_filter(at):
    """The Cluster multiselect, if drawn."""
    return next((widget for widget in at.multiselect if widget.label == "Cluster"), None)


def test_with_two_clusters_the_pods_page_lists_both_with_a_cluster_column_and_filter(two):
    at = page_script("pods").run()
    no_exception(at)
    table = at.dataframe[0].value
    assert list(table.columns)[0] == "Cluster"
    assert set(table["Cluster"]) == {"east", "west"} and (table["Cluster"] == "west").sum() == 2
    assert "9 of 9 ECI pods in 2 clusters" in texts(at)
    assert cluster_filter(at).options == ["east", "west"]


def test_the_cluster_filter_narrows_the_pods_to_one_cluster_and_a_link_keeps_it(two):
    at = page_script("pods").run()
    cluster_filter(at).select("west").run()
    no_exception(at)
    table = at.dataframe[0].value
    assert list(table["Cluster"]) == ["west", "west"] and list(table["key"]) == ["far/west-1", "far/west-2"]
    assert "2 of 9 ECI pods in 2 clusters" in texts(at)
    linked = page_script("pods", cluster="west").run()
    assert cluster_filter(linked).value == ["west"] and list(linked.dataframe[0].value["Cluster"]) == ["west", "west"]


def test_with_one_cluster_there_is_no_cluster_column_nor_filter(one):
    at = page_script("pods").run()
    no_exception(at)
    assert "Cluster" not in at.dataframe[0].value.columns and cluster_filter(at) is None
    assert "in 2 clusters" not in texts(at)
    at = page_script("caches").run()
    assert "Cluster" not in at.dataframe[0].value.columns and cluster_filter(at) is None


def test_a_pod_of_the_second_cluster_opens_its_own_explanation(two):
    at = page_script("pods", pod="far/west-1", context="west").run()
    no_exception(at)
    assert [s.value for s in at.subheader][0] == "far/west-1"
    assert "There is no pod" not in texts(at)


def test_a_deep_link_without_a_context_opens_the_pod_in_the_sessions_cluster(two):
    at = page_script("pods", pod="far/west-1").run()
    no_exception(at)
    assert "There is no pod" in texts(at)  # east has no far/west-1


def test_the_csv_of_two_clusters_says_which_cluster_each_pod_is_in():
    from tests.unit.test_dashboard_views import demo_store

    tables = {"east": views.pods_frame(demo_store(recent()).snapshot().pods),
              "west": views.pods_frame(west_store(recent()).snapshot().pods)}
    shown = pods.shown_rows(together.concatenated(tables, "key"), views.PodFilter(), "name")
    csv = pd.read_csv(io.StringIO(views.spreadsheet_csv(shown.all_rows().drop(columns=["key", together.ROW]))))
    assert list(csv.columns)[0] == "Cluster" and sorted(csv["Cluster"].unique()) == ["east", "west"]
    assert "far/west-1@west" in shown.keys


def test_with_two_clusters_the_caches_page_lists_both_and_a_cache_opens_in_its_own_cluster(two):
    at = page_script("caches", cache="west-cache", context="west").run()
    no_exception(at)
    table = at.dataframe[0].value
    assert list(table.columns)[0] == "Cluster" and set(table["Cluster"]) == {"east", "west"}
    assert "4 of 4 caches in 2 clusters" in texts(at)
    assert "west-cache" in [s.value for s in at.subheader]
    at.button_group(key="cache-action-west-cache").set_value("Delete").run()
    no_exception(at)
    assert "in context `west`" in texts(at) and "in context `east`" not in texts(at)  # its writes go to west
    cluster_filter(at).select("east").run()
    assert set(at.dataframe[0].value["Cluster"]) == {"east"}
