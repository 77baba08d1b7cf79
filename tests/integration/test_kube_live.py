"""kube against `imc sim` over real HTTPS with the official client: watch correctness, writes, access."""

from __future__ import annotations

import os
import signal
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import yaml
from kubernetes import client

from core.matching import decide
from core.policy import AUTO_IMC, PERFECT_MATCH
from kube.access import AccessChecker
from kube.connect import ConnectError, connect
from kube.store import ClusterStore, StoreSnapshot
from kube.watch import ClusterWatcher
from kube.writes import WriteError, create_imagecache, patch_deployment_annotations
from sim.scenarios import deployment as deployment_body
from tests.integration.conftest import poll, run_kubectl

pytestmark = pytest.mark.integration


def imagecache_body(name: str, images: list[str]) -> dict:
    """An ImageCache."""
    return {
        "apiVersion": "eci.alibabacloud.com/v1",
        "kind": "ImageCache",
        "metadata": {"name": name},
        "spec": {"images": images},
    }


def kubectl_json(sim, *args: str) -> list[dict]:
    """`kubectl get ... -o json` items."""
    return orjson.loads(run_kubectl(sim, "get", *args, "-o", "json").stdout)["items"]


def fresh_store(sim) -> ClusterStore:
    """A store filled from kubectl: what a fresh `kubectl get` says the cluster is (the four run side by side: one
    after the other they took a second a comparison, the pause of the polls that compare)."""
    lists = {"pods": ("pods", "-A"), "imagecaches": ("imagecaches",), "deployments": ("deployments", "-A"),
             "events": ("events", "-A")}
    with ThreadPoolExecutor(len(lists)) as pool:
        listed = dict(zip(lists, pool.map(lambda args: kubectl_json(sim, *args), lists.values()), strict=True))
    store = ClusterStore()
    for kind, items in listed.items():
        store.replace(kind, items, "kubectl")
    return store


def view(snapshot: StoreSnapshot) -> dict:
    """What must agree with a fresh list: every object and its resourceVersion, every pod's actual outcome."""
    return {
        "pods": {key: (r.obj["metadata"]["resourceVersion"], r.actual) for key, r in snapshot.pods.items()},
        "caches": {name: o["metadata"]["resourceVersion"] for name, o in snapshot.cache_objects.items()},
        "deployments": {key: o["metadata"]["resourceVersion"] for key, o in snapshot.deployments.items()},
    }


def decided(record) -> tuple:
    """A pod's decision as compared: outcome and cache."""
    return record.decision.outcome, record.decision.cache.name if record.decision.cache else None


def agrees_with_kubectl(store: ClusterStore, sim) -> bool:
    """The store's objects and ECI's outcomes equal a fresh kubectl get; every pod's decision equals deciding it
    anew on the caches of its creation as the store remembers them (a fresh list knows no deleted cache, nor an
    earlier spec), and, for a pod created after the last cache change the store remembers, the fresh list's."""
    live, fresh = store.snapshot(), fresh_store(sim).snapshot()
    if view(live) != view(fresh):
        return False
    now = datetime.now(UTC)
    history = live.cache_history
    for key, record in live.pods.items():
        at = record.template.decided_at(now)
        again = decide(record.template, live.index_at(at), at)
        if decided(record) != (again.outcome, again.cache.name if again.cache else None):
            return False
        if history.epoch(at) == len(history.changes) and (decided(record), record.disagrees) != (
                decided(fresh.pods[key]), fresh.pods[key].disagrees):
            return False
    return True


@pytest.fixture
def watching():
    """Start a ClusterWatcher on a connection; all are stopped at the end."""
    started = []

    def start(connection, **options):
        store = ClusterStore()
        watcher = ClusterWatcher(connection, store, **options)
        watcher.start()
        started.append(watcher)
        poll(lambda: all(store.snapshot().synced.values()), 15, "the first list of every kind")
        return store, watcher

    yield start
    for watcher in started:
        watcher.stop()


def churn(api_client, namespace: str, tag: str) -> None:
    """Caches and Deployments created, scaled, edited and deleted through the official client."""
    apps = client.AppsV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    group = ("eci.alibabacloud.com", "v1", "imagecaches")
    for i in range(3):
        custom.create_cluster_custom_object(*group, imagecache_body(f"{tag}-c{i}", [f"nginx:1.{i}", "redis:7"]))
    for i in range(4):
        images = [f"nginx:1.{i % 3}", "busybox:1"] if i % 2 else ["redis:7"]
        apps.create_namespaced_deployment(namespace, deployment_body(f"d{i}", images, replicas=1 + i % 2))
    apps.patch_namespaced_deployment("d0", namespace, {"spec": {"replicas": 3}})
    apps.patch_namespaced_deployment(
        "d1", namespace, {"spec": {"template": {"metadata": {"annotations": {PERFECT_MATCH: "true"}}}}}
    )
    custom.delete_cluster_custom_object(*group, f"{tag}-c0")
    apps.delete_namespaced_deployment("d2", namespace)
    apps.patch_namespaced_deployment("d3", namespace, {"spec": {"replicas": 0}})
    custom.create_cluster_custom_object(*group, imagecache_body(f"{tag}-c9", ["busybox:1"]))


@pytest.mark.parametrize("expiry", [("--history", "4"), ("--compaction-interval", "0.05")], ids=["history", "compaction"])
def test_store_equals_kubectl_after_churn_with_dropped_watches_and_tiny_history(start_sim_factory, watching, expiry):
    sim = start_sim_factory("empty", ("--speed", "20", "--drop-watch-every", "3", *expiry))
    connection = connect(kubeconfig=sim.kubeconfig, context="sim")
    store, watcher = watching(connection, max_backoff=1.0)
    api_client = connection.api_client
    client.CoreV1Api(api_client).create_namespace({"metadata": {"name": "churn"}})
    churn(api_client, "churn", "churn")
    poll(lambda: agrees_with_kubectl(store, sim), 40, "the store to equal kubectl get after churn")
    snap = store.snapshot()
    assert len(snap.pods) >= 4 and any(r.actual for r in snap.pods.values())
    # dropped streams and 410s were survived by re-listing, not by luck
    assert sum(r.lists for r in watcher.reflectors.values()) > len(watcher.reflectors)


def test_store_follows_a_server_killed_and_restarted_with_new_state(start_sim_factory, watching, tmp_path):
    state = tmp_path / "state"
    # real time: at --speed 20 the demo changes every ~0.6 s, faster than four kubectl lists under load compare
    first = start_sim_factory("demo", ("--speed", "1"), state_dir=state)
    connection = connect(kubeconfig=first.kubeconfig, context="sim")
    store, _ = watching(connection, max_backoff=1.0)
    poll(lambda: agrees_with_kubectl(store, first) or None, 60, "the store to equal kubectl get of the demo")
    demo_pods = set(store.snapshot().pods)
    assert demo_pods
    os.killpg(first.process.pid, signal.SIGKILL)
    first.process.wait(10)
    poll(lambda: store.snapshot().errors, 20, "the store to report the lost connection")
    port = first.server.rsplit(":", 1)[1]
    second = start_sim_factory("empty", ("--speed", "20", "--port", port, "--reset"), state_dir=state)
    assert second.server == first.server
    client.AppsV1Api(connection.api_client).create_namespaced_deployment(
        "default", deployment_body("after-restart", ["nginx:1.25"])
    )
    # every kind re-listed: one whose objects already equal kubectl's (none) may still be waiting to reconnect
    poll(lambda: agrees_with_kubectl(store, second) and not store.snapshot().errors, 30,
         "the store to equal kubectl get after the restart, with no kind still unreachable")
    snap = store.snapshot()
    assert not demo_pods & set(snap.pods), "pods of the killed server must disappear"
    assert snap.errors == ()


def test_concurrent_deployment_edit_conflicts_and_loses_nothing(sim_server, namespace, api_client, kubectl):
    body = deployment_body("shop", ["nginx:1.25", "redis:7"], annotations={"team": "web"})
    for container in body["spec"]["template"]["spec"]["containers"]:
        container["imagePullPolicy"] = "Always"
    client.AppsV1Api(api_client).create_namespaced_deployment(namespace, body)
    connection = connect(kubeconfig=sim_server.kubeconfig, context="sim")
    seen = orjson.loads(kubectl("get", "deployment", "shop", "-n", namespace, "-o", "json").stdout)
    kubectl("annotate", "deployment", "shop", "-n", namespace, "owner=someone-else")  # a concurrent edit
    with pytest.raises(WriteError) as info:
        patch_deployment_annotations(connection, seen, {AUTO_IMC: "false"})
    assert info.value.status == 409 and "changed it since it was loaded" in info.value.message
    now = orjson.loads(kubectl("get", "deployment", "shop", "-n", namespace, "-o", "json").stdout)
    assert now["metadata"]["annotations"]["owner"] == "someone-else"
    assert AUTO_IMC not in now["spec"]["template"]["metadata"]["annotations"]

    result = patch_deployment_annotations(connection, now, {AUTO_IMC: "false", PERFECT_MATCH: None}, True)
    assert result.ok and result.warnings == ()
    after = orjson.loads(kubectl("get", "deployment", "shop", "-n", namespace, "-o", "json").stdout)
    template = after["spec"]["template"]
    assert template["metadata"]["annotations"] == {"team": "web", AUTO_IMC: "false"}
    assert [(c["image"], c["imagePullPolicy"]) for c in template["spec"]["containers"]] == [
        ("nginx:1.25", "IfNotPresent"),
        ("redis:7", "IfNotPresent"),
    ]
    assert after["metadata"]["annotations"]["owner"] == "someone-else"
    events = orjson.loads(kubectl("get", "events", "-n", namespace, "-o", "json").stdout)["items"]
    audit = [e for e in events if e["reason"] == "ImageCacheAnnotationsPatched"]
    assert len(audit) == 1 and "context sim" in audit[0]["message"]
    assert audit[0]["involvedObject"]["name"] == "shop"


def test_a_status_update_since_loading_is_no_conflict(sim_server, namespace, api_client, kubectl):
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_deployment(namespace, deployment_body("rolling", ["nginx:1.25"]))
    connection = connect(kubeconfig=sim_server.kubeconfig, context="sim")
    seen = orjson.loads(kubectl("get", "deployment", "rolling", "-n", namespace, "-o", "json").stdout)
    apps.patch_namespaced_deployment_status("rolling", namespace, {"status": {"collisionCount": 7}})
    moved = orjson.loads(kubectl("get", "deployment", "rolling", "-n", namespace, "-o", "json").stdout)
    assert moved["metadata"]["resourceVersion"] != seen["metadata"]["resourceVersion"]

    result = patch_deployment_annotations(connection, seen, {AUTO_IMC: "false"})
    assert result.ok
    after = orjson.loads(kubectl("get", "deployment", "rolling", "-n", namespace, "-o", "json").stdout)
    assert after["spec"]["template"]["metadata"]["annotations"][AUTO_IMC] == "false"


def test_create_imagecache_dry_run_then_real_with_an_audit_event(sim_server, kubectl):
    connection = connect(kubeconfig=sim_server.kubeconfig, context="sim")
    name = f"ic-{uuid.uuid4().hex[:8]}"
    result = create_imagecache(connection, imagecache_body(name, ["nginx:1.25", "redis:7"]))
    assert result.ok and result.object["metadata"]["name"] == name
    assert orjson.loads(kubectl("get", "imagecache", name, "-o", "json").stdout)["spec"]["images"] == [
        "nginx:1.25",
        "redis:7",
    ]
    events = orjson.loads(kubectl("get", "events", "-n", "default", "-o", "json").stdout)["items"]
    assert any(e["reason"] == "ImageCacheCreated" and e["involvedObject"]["name"] == name for e in events)
    with pytest.raises(WriteError) as info:
        create_imagecache(connection, imagecache_body(name, ["nginx:1.25"]))
    assert info.value.status == 409 and "server dry-run" in info.value.message


def test_viewer_context_cannot_write_and_says_so(sim_server, kubectl, namespace, api_client):
    client.AppsV1Api(api_client).create_namespaced_deployment(namespace, deployment_body("view", ["nginx:1.25"]))
    viewer = connect(kubeconfig=sim_server.kubeconfig, context="sim-viewer")
    admin = connect(kubeconfig=sim_server.kubeconfig, context="sim")
    permissions = AccessChecker(viewer).all(namespace)
    assert not permissions["create-imagecache"].allowed
    assert not permissions["patch-deployment"].allowed
    assert "sim-viewer" in permissions["patch-deployment"].reason
    assert all(p.allowed for p in AccessChecker(admin).all(namespace).values())
    name = f"ic-{uuid.uuid4().hex[:8]}"
    with pytest.raises(WriteError) as info:
        create_imagecache(viewer, imagecache_body(name, ["nginx:1.25"]))
    assert info.value.status == 403 and "not allowed" in info.value.message
    assert kubectl("get", "imagecache", name, check=False).returncode != 0
    seen = orjson.loads(kubectl("get", "deployment", "view", "-n", namespace, "-o", "json").stdout)
    with pytest.raises(WriteError) as info:
        patch_deployment_annotations(viewer, seen, {AUTO_IMC: "false"})
    assert info.value.status == 403


def _edited_kubeconfig(sim, tmp_path: Path, edit) -> str:
    config = yaml.safe_load(Path(sim.kubeconfig).read_text())
    edit(config)
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_bad_credentials_wrong_ca_and_unreachable_server_are_clear(sim_server, tmp_path):
    def wrong_token(config):
        for user in config["users"]:
            user["user"] = {"token": "not-a-valid-token"}

    path = _edited_kubeconfig(sim_server, tmp_path, wrong_token)
    with pytest.raises(ConnectError, match=rf"{sim_server.server} rejected the credentials .*401 Unauthorized"):
        connect(kubeconfig=path, context="sim")

    def wrong_ca(config):
        for cluster in config["clusters"]:
            cluster["cluster"].pop("certificate-authority-data", None)
            cluster["cluster"]["certificate-authority"] = "/etc/ssl/certs/ca-certificates.crt"  # not the sim's CA

    path = _edited_kubeconfig(sim_server, tmp_path, wrong_ca)
    with pytest.raises(ConnectError) as info:
        connect(kubeconfig=path, context="sim")
    assert str(info.value).startswith(f"TLS failure talking to {sim_server.server} (kubeconfig ")
    assert "context 'sim'" in str(info.value)

    def no_server(config):
        for cluster in config["clusters"]:
            cluster["cluster"]["server"] = "https://127.0.0.1:9"

    path = _edited_kubeconfig(sim_server, tmp_path, no_server)
    with pytest.raises(ConnectError, match=r"cannot reach https://127.0.0.1:9 \(kubeconfig .*context 'sim'\)"):
        connect(kubeconfig=path, context="sim")
