"""Issue 25: two `imc sim` clusters as two contexts of one kubeconfig, each watched by the dashboard's own ShownCluster
(`dashboard.shown_cluster.open_cluster`): each store is its own cluster, a write lands only in the chosen one, and
one cluster going down leaves the other live."""

from __future__ import annotations

import uuid

import pytest
from kubernetes import client

from bench.fleet import merge_kubeconfigs
from dashboard import shown_cluster, writer
from dashboard.shown_cluster import ShownCluster
from kube.store import KINDS, LIVENESS
from sim.scenarios import deployment
from tests.integration.conftest import TEST_SPEED, new_api_client, poll, run_kubectl
from tests.integration.test_kube_live import fresh_store, imagecache_body, view

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("fleet")]  # in order: the last test kills west
GROUP = ("eci.alibabacloud.com", "v1", "imagecaches")


@pytest.fixture(scope="module")
def fleet(start_sim_factory, tmp_path_factory):
    """Two sims, east with 3 ECI pods and west with 5, one kubeconfig naming them east and west, and the dashboard's
    ShownCluster of each (its watcher, store and ledger: one history file, rows keyed by context)."""
    sims = {name: start_sim_factory("empty", ("--speed", TEST_SPEED)) for name in ("east", "west")}
    for name, replicas in (("east", 3), ("west", 5)):
        apps = client.AppsV1Api(new_api_client(sims[name]))
        apps.create_namespaced_deployment("default", deployment(f"{name}-web", ["nginx:1.27"], replicas=replicas))
    home = tmp_path_factory.mktemp("fleet")
    kubeconfig = merge_kubeconfigs({name: sim.kubeconfig for name, sim in sims.items()}, home / "kubeconfig")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KUBECONFIG", str(kubeconfig))
        patch.setenv("IMC_HISTORY_PATH", str(home / "history.sqlite3"))
        patch.setenv("IMC_METRICS_PORT", "0")
        patch.delenv("IMC_CONTEXT", raising=False)
        patch.delenv("IMC_CLUSTER", raising=False)
        shown_cluster.open_cluster.clear()
        clusters = {name: shown_cluster.open_cluster(name) for name in sims}
        yield sims, clusters
        shown_cluster.open_cluster.clear()  # closes both (on_release)


def synced(cluster: ShownCluster) -> bool:
    """Every kind listed once."""
    return all(cluster.store.snapshot().synced.get(kind) for kind in KINDS)


def test_the_kubeconfigs_contexts_are_offered_the_current_one_first(fleet):
    offered = shown_cluster.choices()
    assert offered.names == ("east", "west")
    assert offered.default == "east" and not offered.demo


def test_each_store_equals_its_own_cluster(fleet):
    sims, clusters = fleet
    for name, cluster in clusters.items():
        assert isinstance(cluster, ShownCluster), cluster
        assert cluster.context == name and cluster.server == str(sims[name].server)
        poll(lambda c=cluster, s=sims[name]: synced(c) and view(c.store.snapshot()) == view(fresh_store(s).snapshot()),
             30, f"{name}'s store to equal a fresh kubectl get of {name}")
    east, west = (clusters[name].store.snapshot() for name in ("east", "west"))
    assert {key.split("/")[1].rsplit("-", 2)[0] for key in east.pods} == {"east-web"}
    assert {key.split("/")[1].rsplit("-", 2)[0] for key in west.pods} == {"west-web"}
    assert (len(east.pods), len(west.pods)) == (3, 5)
    assert clusters["east"].live.cluster == "east" and clusters["west"].live.cluster == "west"


def test_a_write_through_the_chosen_context_lands_only_in_that_cluster(fleet):
    sims, clusters = fleet
    name = f"only-east-{uuid.uuid4().hex[:6]}"
    outcome = writer.create_cache(clusters["east"], imagecache_body(name, ["nginx:1.27"]))  # as the Create page does
    assert outcome.ok, outcome.message
    poll(lambda: name in clusters["east"].store.snapshot().caches, 15, "east's store to see the new cache")
    assert run_kubectl(sims["east"], "get", "imagecache", name, check=False).returncode == 0
    west = run_kubectl(sims["west"], "get", "imagecache", name, check=False)
    assert west.returncode != 0 and "NotFound" in west.stderr
    assert name not in clusters["west"].store.snapshot().caches


def test_killing_one_cluster_leaves_the_other_live(fleet):
    sims, clusters = fleet
    for cluster in clusters.values():
        poll(lambda c=cluster: all(c.store.snapshot().watch_up().values()), 30, f"{cluster.context} to be live")
    sims["west"].process.kill()
    poll(lambda: LIVENESS in clusters["west"].store.snapshot().down_since, 20, "west to be seen down")
    name = f"after-west-died-{uuid.uuid4().hex[:6]}"
    client.CustomObjectsApi(new_api_client(sims["east"])).create_cluster_custom_object(
        *GROUP, imagecache_body(name, ["redis:7"]))
    poll(lambda: name in clusters["east"].store.snapshot().caches, 15, "east's store to keep following east")
    east = clusters["east"].store.snapshot()
    assert all(east.watch_up().values()) and not east.down_since
    assert len(clusters["west"].store.snapshot().pods) == 5  # what west was when it went down, said to be stale
