"""The sim answers everyday clients as a kube-apiserver does (issue 14 items 1, 2, 3, 5, 10, 12, 13)."""

from __future__ import annotations

import json
import uuid

import pytest
from kubernetes import client

from core.policy import MATCHED_CACHE
from tests.integration.conftest import poll
from tests.integration.test_sim_eci import create_cache, create_pod, read_cache, unique_image
from tests.integration.test_sim_kubectl import deployment_yaml, imagecache_yaml
from tests.integration.test_sim_limits import request

pytestmark = pytest.mark.integration


def test_a_pod_created_in_the_second_its_cache_became_ready_hits(api_client, namespace):
    for _ in range(5):  # until the pod lands in the Ready second (it does at once unless the second just turned)
        image = unique_image("same-second")
        name = create_cache(api_client, [image])
        cache = poll(lambda name=name: (c := read_cache(api_client, name)) and c.get("status", {}).get("phase") ==
                     "Ready" and c, interval=0.01, message="the cache Ready")
        pod = create_pod(api_client, namespace, [image])
        created = client.CoreV1Api(api_client).read_namespaced_pod(pod, namespace)
        if created.metadata.creation_timestamp.strftime("%Y-%m-%dT%H:%M:%SZ") == cache["status"]["lastUpdatedTime"]:
            break
    else:
        pytest.fail("no pod was created within its cache's Ready second")
    assert created.metadata.annotations[MATCHED_CACHE] == cache["status"]["imageCacheId"]


def test_delete_dry_run_server_keeps_the_object_and_the_collection(kubectl):
    name = f"ic-{uuid.uuid4().hex[:8]}"
    kubectl("apply", "-f", "-", input_text=imagecache_yaml(name, [unique_image("dry")]))
    one = kubectl("delete", "ic", name, "--dry-run=server")
    every = kubectl("delete", "ic", "--all", "--dry-run=server")
    assert "(server dry run)" in one.stdout and name in every.stdout
    assert kubectl("get", "ic", name, "-o", "name").stdout.strip() == f"imagecache.eci.alibabacloud.com/{name}"
    kubectl("delete", "ic", name)


@pytest.mark.parametrize(("manifest", "field"), [
    (deployment_yaml("typo", "nginx:1.25").replace("  replicas: 2", "  replicas: 2\n  foo: 1"), "spec.foo"),
    (deployment_yaml("typo", "nginx:1.25").replace("imagePullPolicy", "imagePullPolice", 1),
     "spec.template.spec.containers[0].imagePullPolice"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: typo}\nspec:\n  containers:\n  - name: main\n"
     "    image: busybox:1.36\n    comand: [sleep, '1']\n", "spec.containers[0].comand"),
], ids=["deployment-spec-foo", "imagePullPolice", "pod-comand"])
def test_a_misspelt_field_is_refused_naming_it(kubectl, namespace, manifest, field):
    refused = kubectl("apply", "-n", namespace, "-f", "-", input_text=manifest, check=False)
    assert refused.returncode != 0
    assert f'strict decoding error: unknown field "{field}"' in refused.stderr
    warned = kubectl("apply", "-n", namespace, "--validate=warn", "-f", "-", input_text=manifest)
    assert f'unknown field "{field}"' in warned.stderr
    kind = "pod" if "kind: Pod" in manifest else "deployment"
    stored = json.loads(kubectl("get", "-n", namespace, kind, "typo", "-o", "json").stdout)
    assert field.rsplit(".", 1)[-1] not in json.dumps({k: v for k, v in stored.items() if k != "metadata"})


def test_wait_for_the_crd_established(kubectl):
    waited = kubectl("wait", "--for=condition=established", "--timeout=10s",
                     "crd/imagecaches.eci.alibabacloud.com")
    assert "condition met" in waited.stdout
    crd = json.loads(kubectl("get", "crd", "imagecaches.eci.alibabacloud.com", "-o", "json").stdout)
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert crd["status"]["acceptedNames"]["kind"] == "ImageCache"


def test_lightkube_strategic_merge_on_a_custom_resource_is_415(sim_server, kubectl):
    from lightkube import ApiError, Client, KubeConfig
    from lightkube.generic_resource import create_global_resource
    from lightkube.types import PatchType

    image_cache = create_global_resource("eci.alibabacloud.com", "v1", "ImageCache", "imagecaches")
    lightkube = Client(config=KubeConfig.from_file(sim_server.kubeconfig))
    name = f"ic-{uuid.uuid4().hex[:8]}"
    kubectl("apply", "-f", "-", input_text=imagecache_yaml(name, [unique_image("smp")]))
    patch = {"metadata": {"labels": {"team": "a"}}}
    with pytest.raises(ApiError) as raised:
        lightkube.patch(image_cache, name, patch, patch_type=PatchType.STRATEGIC)
    assert raised.value.status.code == 415
    merged = lightkube.patch(image_cache, name, patch, patch_type=PatchType.MERGE)
    assert merged.metadata.labels == {"team": "a"}
    lightkube.delete(image_cache, name)


def test_put_on_a_collection_is_405(sim_server, namespace):
    status, body = request(sim_server, "PUT", f"/api/v1/namespaces/{namespace}/pods", b"{}")
    assert status == 405, body
    assert body["reason"] == "MethodNotAllowed"


def test_a_list_from_get_o_yaml_round_trips_through_apply_replace_and_server_side_apply(kubectl):
    names = [f"ic-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for name in names:
        kubectl("apply", "-f", "-", input_text=imagecache_yaml(name, [unique_image("list")]))
    for name in names:  # built, so nothing changes them between the export and the write
        poll(lambda name=name: kubectl("get", "ic", name, "-o", "jsonpath={.status.phase}").stdout == "Ready",
             message=f"{name} Ready")

    def exported() -> str:
        listed = kubectl("get", "ic", *names, "-o", "yaml").stdout
        assert "kind: List" in listed
        return listed

    applied = kubectl("apply", "-f", "-", input_text=exported())  # validated by kubectl with /openapi/v2
    replaced = kubectl("replace", "-f", "-", input_text=exported())
    server_side = kubectl("apply", "--server-side", "-f", "-", input_text=exported())
    for name in names:
        assert f"imagecache.eci.alibabacloud.com/{name}" in applied.stdout
        assert f"imagecache.eci.alibabacloud.com/{name} replaced" in replaced.stdout
        assert f"imagecache.eci.alibabacloud.com/{name} serverside-applied" in server_side.stdout
    kubectl("delete", "ic", *names)


@pytest.mark.parametrize(("what", "words"), [
    ("pods", "Pod is a collection of containers"),
    ("deployment.spec.strategy", "The deployment strategy to use"),
    ("nodes", "Node is a worker node in Kubernetes"),
    ("imagecache.spec.images", "1 to 20"),
])
def test_explain_every_kind(kubectl, what, words):
    explained = kubectl("explain", what).stdout
    assert " ".join(words.split()) in " ".join(explained.split())


@pytest.mark.parametrize(("kind", "wide_columns"), [
    ("pods", ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]),
    ("nodes", ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"]),
    ("replicasets", ["CONTAINERS", "IMAGES", "SELECTOR"]),
    ("events", ["SUBOBJECT", "SOURCE", "FIRST SEEN", "COUNT", "NAME"]),
])
def test_get_o_wide_has_the_extra_columns(kubectl, namespace, kind, wide_columns):
    kubectl("create", "deployment", "wide", "-n", namespace, "--image=busybox:1.36")
    poll(lambda: kubectl("get", "-n", namespace, kind, "--no-headers").stdout.strip(), message=f"some {kind}")
    header = kubectl("get", "-n", namespace, kind, "-o", "wide").stdout.splitlines()[0]
    for column in wide_columns:
        assert f"  {column}  " in f"  {header}  ", header


def test_defaults_a_port_protocol_and_labels_a_namespace_with_its_name(kubectl, namespace):
    pod = ("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: main\n"
           "    image: nginx:1.25\n    ports: [{containerPort: 80}]\n")
    kubectl("apply", "-n", namespace, "-f", "-", input_text=pod)
    protocol = kubectl("get", "-n", namespace, "pod", "web", "-o", "jsonpath={.spec.containers[0].ports[0].protocol}")
    assert protocol.stdout == "TCP"
    labels = kubectl("get", "namespace", namespace, "-o", "jsonpath={.metadata.labels}").stdout
    assert json.loads(labels)["kubernetes.io/metadata.name"] == namespace


def test_a_future_resource_version_is_504(kubectl):
    future = kubectl("get", "--raw", "/api/v1/namespaces?resourceVersion=999999999&resourceVersionMatch=NotOlderThan",
                     check=False)
    assert future.returncode != 0 and "Too large resource version" in future.stderr


def test_versions_older_than_the_history_are_410_but_a_paged_list_goes_on(start_sim_factory, tmp_path):
    """kube-apiserver serves an Exact list from its watch cache, but a continued page from etcd at the token's
    revision: a continue token outlives the watch history, until etcd compacts (pkg/storage/etcd3 store.go GetList)."""
    from tests.integration.conftest import run_kubectl

    sim = start_sim_factory("empty", ("--history", "5"))
    kubectl = lambda *args, **kw: run_kubectl(sim, *args, cache_dir=str(tmp_path), **kw)  # noqa: E731
    first = json.loads(kubectl("get", "--raw", "/api/v1/namespaces?limit=1").stdout)
    for number in range(6):  # push the first list's version out of the kept history
        kubectl("create", "namespace", f"churn-{number}")
    version, token = first["metadata"]["resourceVersion"], first["metadata"]["continue"]
    exact = kubectl("get", "--raw", f"/api/v1/namespaces?resourceVersion={version}&resourceVersionMatch=Exact",
                    check=False)
    assert exact.returncode != 0 and "too old resource version" in exact.stderr
    resumed = json.loads(kubectl("get", "--raw", f"/api/v1/namespaces?limit=1&continue={token}").stdout)
    assert resumed["metadata"]["resourceVersion"] == version  # the page of the list as it was begun
    assert not {item["metadata"]["name"] for item in resumed["items"]} & {f"churn-{n}" for n in range(6)}
    current = json.loads(kubectl("get", "--raw", "/api/v1/namespaces").stdout)["metadata"]["resourceVersion"]
    kubectl("create", "namespace", "later")
    then = json.loads(kubectl("get", "--raw", f"/api/v1/namespaces?resourceVersion={current}"
                                         "&resourceVersionMatch=Exact").stdout)
    names = {item["metadata"]["name"] for item in then["items"]}
    assert "churn-5" in names and "later" not in names


def test_a_continue_token_older_than_a_compaction_is_410(start_sim_factory, tmp_path):
    from tests.integration.conftest import poll, run_kubectl

    sim = start_sim_factory("empty", ("--compaction-interval", "1"))
    kubectl = lambda *args, **kw: run_kubectl(sim, *args, cache_dir=str(tmp_path), **kw)  # noqa: E731
    token = json.loads(kubectl("get", "--raw", "/api/v1/namespaces?limit=1").stdout)["metadata"]["continue"]
    tries = iter(range(1000))

    def expired() -> bool:
        kubectl("create", "namespace", f"after-{next(tries)}")  # a write: the sim compacts when an interval is due
        resumed = kubectl("get", "--raw", f"/api/v1/namespaces?limit=1&continue={token}", check=False)
        return resumed.returncode != 0 and "continue parameter is too old" in resumed.stderr

    poll(expired, 20, "the continue token to expire once its version was compacted")


def test_kubectl_discovers_through_aggregated_discovery(kubectl, tmp_path):
    listed = kubectl("api-resources", "-v=6", cache_dir=str(tmp_path))
    requested = [line.split("GET ", 1)[1].split("?")[0] for line in listed.stderr.splitlines() if "GET https" in line]
    assert [url.rsplit("/", 1)[-1] for url in requested] == ["api", "apis"]  # no per-group documents needed
    rows = {line.split()[0] for line in listed.stdout.splitlines()[1:]}
    assert {"pods", "deployments", "imagecaches", "customresourcedefinitions"} <= rows


@pytest.mark.parametrize("version", ["v2", "v2beta1"])
def test_aggregated_discovery_answers_in_the_version_asked(sim_server, version):
    import ssl
    import urllib.request
    from pathlib import Path

    media = f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
    tokens = json.loads((Path(sim_server.state_dir) / "tokens.json").read_text())
    call = urllib.request.Request(f"{sim_server.server}/apis", headers={
        "Accept": f"{media},application/json", "Authorization": f"Bearer {tokens['admin']}"})
    context = ssl.create_default_context(cafile=str(Path(sim_server.state_dir) / "ca.crt"))
    with urllib.request.urlopen(call, context=context, timeout=30) as response:
        assert response.headers["Content-Type"] == media
        document = json.loads(response.read())
    assert document["apiVersion"] == f"apidiscovery.k8s.io/{version}"
    apps = next(item for item in document["items"] if item["metadata"]["name"] == "apps")
    deployments = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    assert {s["subresource"] for s in deployments["subresources"]} == {"status", "scale"}


def test_describe_node_shows_its_lease_and_ready_times(kubectl):
    described = kubectl("describe", "node", "cn-hangzhou.192.168.0.10")
    assert "HolderIdentity:  cn-hangzhou.192.168.0.10" in described.stdout
    assert "0001" not in described.stdout and "rror" not in described.stderr + described.stdout
