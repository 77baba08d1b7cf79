"""The built-in cluster refuses what kube-apiserver refuses (issue 18, items 2, 3, 6 and 8), and stores none of it.

- an object whose JSON is over etcd's 1.5 MiB request limit: 500 with etcd's words and no reason, as kube-apiserver relays it;
- annotations over 256 KiB in total: 422 (apimachinery's ValidateAnnotationsSize);
- metadata of the wrong type: 400, as decoding into ObjectMeta fails (custom resources and built-in kinds alike);
- a CronJob time zone kube-apiserver's validateTimeZone refuses: 422.
Each on create, update, merge patch and server-side apply.
"""

from __future__ import annotations

import json
import uuid

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from bench.waits import poll
from tests.integration.test_sim_limits import request

pytestmark = pytest.mark.integration
MIB = 1024 * 1024
ANNOTATIONS_LIMIT = 256 * 1024
OPERATIONS = ("create", "update", "patch", "json-patch", "apply")
BAD_METADATA = {
    "labels-list": ({"labels": ["a", "b"]}, "ObjectMeta.{}labels of type map[string]string"),
    "object-annotation": ({"annotations": {"note": {"nested": "value"}}},
                          "ObjectMeta.{}annotations of type string"),
    "string-owners": ({"ownerReferences": "q"}, "ObjectMeta.{}ownerReferences of type []v1.OwnerReference"),
    "string-finalizers": ({"finalizers": "zz"}, "ObjectMeta.{}finalizers of type []string"),
    "string-owner-item": ({"ownerReferences": ["q"]}, "ObjectMeta.{}ownerReferences of type v1.OwnerReference"),
    "number-label": ({"labels": {"tier": 5}}, "ObjectMeta.{}labels of type string"),
}


@pytest.fixture(scope="module")
def refusing_sim(start_sim_factory):
    """A sim of this module's own at --speed 200: an ImageCache a write changes must be Ready first, about 0.4 s on
    the shared sim at 20 for each of some thirty tests, 0.04 s here; what is refused does not depend on the speed."""
    return start_sim_factory("empty", ("--speed", "200"))


@pytest.fixture(scope="module")
def refusing_namespace(refusing_sim) -> str:
    """A namespace of that sim for the ConfigMaps and Leases written (each test's names are its own)."""
    name = f"refusals-{uuid.uuid4().hex[:8]}"
    status, answer = request(refusing_sim, "POST", "/api/v1/namespaces",
                             json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}).encode())
    assert status == 201, answer
    return name


def imagecache(name: str, metadata: dict | None = None, pull_secrets: list[str] | None = None) -> dict:
    spec = {"images": ["nginx:1.25"], **({"imagePullSecrets": pull_secrets} if pull_secrets else {})}
    return {"apiVersion": "eci.alibabacloud.com/v1", "kind": "ImageCache",
            "metadata": {"name": name, **(metadata or {})}, "spec": spec}


def configmap(name: str, metadata: dict | None = None, filler: str = "") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **(metadata or {})},
            "data": {"filler": filler} if filler else {"a": "b"}}


def lease(name: str, holder: str = "me") -> dict:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name},
            "spec": {"holderIdentity": holder}}


VALID = {"imagecache": imagecache, "configmap": configmap, "lease": lease}


def collection(kind: str, namespace: str) -> str:
    return {"imagecache": "/apis/eci.alibabacloud.com/v1/imagecaches",
            "configmap": f"/api/v1/namespaces/{namespace}/configmaps",
            "lease": f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"}[kind]


def write(sim, operation: str, kind: str, namespace: str, body: dict) -> tuple[int, dict, dict | None]:
    """One write of `body` by `operation` (for all but create, over a valid object of that name created first);
    (status, answer, the object stored before the write or None)."""
    base = collection(kind, namespace)
    name = body["metadata"]["name"]
    if operation == "create":
        status, answer = request(sim, "POST", base, json.dumps(body).encode())
        return status, answer, None
    created_status, before = request(sim, "POST", base, json.dumps(VALID[kind](name)).encode())
    assert created_status == 201, before
    if kind == "imagecache" and body.get("spec") != before.get("spec"):
        # ECI's admission refuses a spec change before the cache is Ready (403), as a validating webhook runs
        # before storage; the write under test must reach storage, so it changes a Ready cache
        before = poll(lambda: request(sim, "GET", f"{base}/{name}")[1], 30, f"ImageCache {name} Ready",
                      until=lambda cache: (cache.get("status") or {}).get("phase") == "Ready")
    if operation == "update":  # unconditional (no resourceVersion): the ECI controller may write an ImageCache first
        status, answer = request(sim, "PUT", f"{base}/{name}", json.dumps(body).encode())
    elif operation == "patch":
        patch = {key: value for key, value in body.items() if key not in ("apiVersion", "kind")}
        status, answer = request(sim, "PATCH", f"{base}/{name}", json.dumps(patch).encode(),
                                 "application/merge-patch+json")
    elif operation == "json-patch":
        steps = [{"op": "add", "path": f"/metadata/{key}", "value": value}
                 for key, value in body["metadata"].items() if key != "name"]
        steps += [{"op": "add", "path": f"/{key}", "value": value}
                  for key, value in body.items() if key not in ("apiVersion", "kind", "metadata")]
        status, answer = request(sim, "PATCH", f"{base}/{name}", json.dumps(steps).encode(),
                                 "application/json-patch+json")
    else:
        status, answer = request(sim, "PATCH", f"{base}/{name}?fieldManager=refusals&force=true", json.dumps(body).encode(),
                                 "application/apply-patch+yaml")
    return status, answer, before


def assert_nothing_stored(sim, kind: str, namespace: str, body: dict, before: dict | None) -> None:
    """A refused create left no object; a refused change left what it wrote as it was (the ECI controller may write
    an ImageCache's status meanwhile, so its resourceVersion is not compared)."""
    status, now = request(sim, "GET", f"{collection(kind, namespace)}/{body['metadata']['name']}")
    if before is None:
        assert status == 404, now
        return
    assert status == 200, now
    for key in body["metadata"]:
        assert now["metadata"].get(key) == before["metadata"].get(key), key
    for key in ("spec", "data"):
        assert now.get(key) == before.get(key), key


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("kind", ["imagecache", "configmap"])
@pytest.mark.parametrize("case", list(BAD_METADATA))
def test_metadata_of_the_wrong_type_is_400_and_not_stored(refusing_sim, refusing_namespace, case, kind, operation):
    bad, words = BAD_METADATA[case]
    name = f"bad-meta-{uuid.uuid4().hex[:8]}"
    body = imagecache(name, bad) if kind == "imagecache" else configmap(name, bad)
    status, answer, before = write(refusing_sim, operation, kind, refusing_namespace, body)
    assert status == 400, answer
    kind_name = "ImageCache" if kind == "imagecache" else "ConfigMap"
    # a custom resource's metadata is decoded on its own, a built-in's as a field of the object (Go names the path)
    field_words = words.format("" if kind == "imagecache" else "metadata.")
    assert answer["message"].startswith(f'{kind_name} in version "v1" cannot be handled as a {kind_name}: json: '
                                        "cannot unmarshal "), answer["message"]
    assert f"into Go struct field {field_words}" in answer["message"]
    assert_nothing_stored(refusing_sim, kind, refusing_namespace, body, before)


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("kind", ["imagecache", "configmap"])
def test_annotations_over_256_kib_are_422_and_not_stored(refusing_sim, refusing_namespace, kind, operation):
    name = f"annotated-{uuid.uuid4().hex[:8]}"
    annotations = {"a": "x" * (ANNOTATIONS_LIMIT // 2), "b": "y" * (ANNOTATIONS_LIMIT // 2)}  # 2 bytes over
    body = imagecache(name, {"annotations": annotations}) if kind == "imagecache" else \
        configmap(name, {"annotations": annotations})
    status, answer, before = write(refusing_sim, operation, kind, refusing_namespace, body)
    assert status == 422, answer
    assert "metadata.annotations: Too long: may not be more than 262144 bytes" in answer["message"]
    assert answer["details"]["causes"] == [{"reason": "FieldValueTooLong", "field": "metadata.annotations",
                                            "message": "Too long: may not be more than 262144 bytes"}]
    assert_nothing_stored(refusing_sim, kind, refusing_namespace, body, before)


def test_the_official_client_gets_422_over_256_kib_of_annotations_and_stores_exactly_256_kib(api_client, namespace):
    core = client.CoreV1Api(api_client)
    over = {"a": "x" * ANNOTATIONS_LIMIT}  # key and value: 262145 bytes
    with pytest.raises(ApiException) as raised:
        core.create_namespaced_config_map(namespace, configmap("annotated", {"annotations": over}))
    assert raised.value.status == 422
    at_the_limit = {"a": "x" * (ANNOTATIONS_LIMIT - 1)}
    created = core.create_namespaced_config_map(namespace, configmap("annotated", {"annotations": at_the_limit}))
    assert created.metadata.annotations == at_the_limit


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("kind", ["imagecache", "lease"])
def test_an_object_over_1_5_mib_is_refused_as_etcd_refuses_it_and_not_stored(refusing_sim, refusing_namespace, kind, operation):
    name = f"huge-{uuid.uuid4().hex[:8]}"
    if kind == "imagecache":
        body = imagecache(name, pull_secrets=[f"ns:{'s' * 240}-{n}" for n in range(7000)])
    else:
        body = lease(name, holder="x" * (1600 * 1024))
    status, answer, before = write(refusing_sim, operation, kind, refusing_namespace, body)
    assert status == 500, answer
    assert answer["message"] == "etcdserver: request is too large"
    assert "reason" not in answer
    assert_nothing_stored(refusing_sim, kind, refusing_namespace, body, before)


def test_the_official_client_gets_etcds_refusal_over_1_5_mib_and_stores_just_under_it(api_client, namespace):
    leases = client.CoordinationV1Api(api_client)
    with pytest.raises(ApiException) as raised:
        leases.create_namespaced_lease(namespace, lease("over", holder="x" * (1536 * 1024)))
    assert raised.value.status == 500
    assert json.loads(raised.value.body)["message"] == "etcdserver: request is too large"
    with pytest.raises(ApiException) as missing:
        leases.read_namespaced_lease("over", namespace)
    assert missing.value.status == 404
    under = leases.create_namespaced_lease(namespace, lease("under", holder="x" * (1500 * 1024)))
    assert len(under.spec.holder_identity) == 1500 * 1024
    # a dry run never reaches etcd, so kube-apiserver does not refuse it for its size
    leases.create_namespaced_lease(namespace, lease("dry", holder="x" * (1536 * 1024)), dry_run="All")


@pytest.mark.parametrize(("time_zone", "words"), [
    ("A" * 5000, f"unknown time zone {'A' * 5000}"),
    ("Local", "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"),
    ("", "timeZone must be nil or non-empty string"),
], ids=["5000-characters", "local", "empty"])
def test_a_cronjob_time_zone_kube_apiserver_refuses_is_422(api_client, namespace, time_zone, words):
    cronjob = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "zoned"},
               "spec": {"schedule": "0 * * * *", "timeZone": time_zone, "jobTemplate": {"spec": {"template": {
                   "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox:1.36"}]}}}}}}
    batch = client.BatchV1Api(api_client)
    with pytest.raises(ApiException) as raised:
        batch.create_namespaced_cron_job(namespace, cronjob)
    assert raised.value.status == 422
    assert f'spec.timeZone: Invalid value: "{time_zone}": {words}' in json.loads(raised.value.body)["message"]
    assert not batch.list_namespaced_cron_job(namespace).items


@pytest.mark.parametrize("verb", ["create", "apply --server-side"])
def test_kubectl_gets_422_for_a_pod_template_with_annotations_over_256_kib(kubectl, namespace, verb):
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "annotated"},
                  "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": {
                      "metadata": {"labels": {"app": "a"}, "annotations": {"a": "x" * ANNOTATIONS_LIMIT}},
                      "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]}}}}
    result = kubectl(*verb.split(), "-n", namespace, "-f", "-", input_text=json.dumps(deployment), check=False)
    assert result.returncode != 0
    assert "spec.template.metadata.annotations: Too long: may not be more than 262144 bytes" in result.stderr
    assert "No resources found" in kubectl("get", "deployments", "-n", namespace).stderr


def test_a_yaml_pod_aliasing_a_2_mib_string_300_times_is_refused_and_not_stored(sim_server, namespace):
    """The issue's repro: a 2 MB body that expands to 600 MiB. Whichever bound answers first (the YAML expansion's
    400/413 or etcd's 500), nothing is stored."""
    name = f"aliased-{uuid.uuid4().hex[:8]}"
    body = (f"x: &big {'x' * (2 * MIB - 200)}\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n"
            f"  containers:\n  - name: main\n    image: busybox:1.36\n    args: [{', '.join(['*big'] * 300)}]\n")
    path = f"/api/v1/namespaces/{namespace}/pods"
    status, answer = request(sim_server, "POST", path, body.encode(), "application/yaml")
    assert status in (400, 413, 500), answer
    assert request(sim_server, "GET", f"{path}/{name}")[0] == 404
