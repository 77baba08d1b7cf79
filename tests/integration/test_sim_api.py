"""The sim as the official Python client sees it: CRUD, selectors, paging, patches, watch, errors, auth."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
import uuid

import orjson
import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException
from kubernetes.watch.watch import iter_resp_lines

from sim.launch import SimStartError, start_sim
from tests.integration.conftest import new_api_client, poll

pytestmark = pytest.mark.integration
GROUP, VERSION, PLURAL = "eci.alibabacloud.com", "v1", "imagecaches"


def pod_body(name: str, image: str = "busybox:1.36", labels: dict | None = None, eci: bool = True) -> dict:
    """A minimal pod manifest."""
    labels = dict(labels or {})
    if eci:
        labels["alibabacloud.com/eci"] = "true"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "main", "image": image}, {"name": "side", "image": "busybox:1.36"}]},
    }


def deployment_body(name: str, image: str, replicas: int = 2, annotations: dict | None = None) -> dict:
    """A minimal Deployment manifest."""
    labels = {"app": name, "alibabacloud.com/eci": "true"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels, "annotations": annotations or {}},
                "spec": {"containers": [{"name": "main", "image": image}, {"name": "side", "image": "busybox:1.36"}]},
            },
        },
    }


def status_of(error: ApiException) -> dict:
    """The Status object of an API error."""
    return json.loads(error.body)


def open_get(api_client, path: str, query: list[tuple[str, str]] = (), accept: str = "application/json",
             timeout: float = 10):
    """GET a path through the official client's transport; the response is not read yet (streams)."""
    method, url, headers, body, post = api_client.param_serialize(
        "GET", path, query_params=list(query), header_params={"Accept": accept}, auth_settings=["BearerToken"]
    )
    return api_client.call_api(method, url, headers, body, post, _request_timeout=timeout)


def raw_get(api_client, path: str, query: list[tuple[str, str]] = (), accept: str = "application/json",
            timeout: float = 10) -> tuple[int, bytes]:
    """GET a path; returns (status, raw body), for watches and Tables."""
    response = open_get(api_client, path, query, accept, timeout)
    return response.status, response.read()


def watch_lines(api_client, path: str, query: list[tuple[str, str]], timeout: float = 10) -> list[dict]:
    """Every event of a watch that ends by itself (timeoutSeconds, or a dropped stream)."""
    _, data = raw_get(api_client, path, [("watch", "1"), *query], timeout=timeout)
    return json_lines(data)


def json_lines(data: bytes) -> list[dict]:
    """The JSON objects of a watch stream's lines."""
    return [orjson.loads(line) for line in data.splitlines() if line.strip()]


def test_version_and_discovery(api_client):
    assert client.VersionApi(api_client).get_code().major == "1"
    groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
    assert {"apps", GROUP, "apiextensions.k8s.io", "authorization.k8s.io"} <= groups
    resources = client.CustomObjectsApi(api_client).get_api_resources(GROUP, VERSION).resources
    imagecaches = next(r for r in resources if r.name == PLURAL)
    assert imagecaches.short_names == ["ic"] and imagecaches.namespaced is False and "all" in imagecaches.categories
    core = {r.name: r for r in client.CoreV1Api(api_client).get_api_resources().resources}
    assert {"pods", "pods/status", "events", "nodes", "namespaces"} <= set(core)


def test_the_virtual_kubelet_node_and_the_crd(api_client):
    nodes = [n.metadata.name for n in client.CoreV1Api(api_client).list_node().items]
    assert any(name.startswith("virtual-kubelet-") for name in nodes)
    crd = client.ApiextensionsV1Api(api_client).read_custom_resource_definition(f"{PLURAL}.{GROUP}")
    assert crd.spec.scope == "Cluster"
    columns = [c.name for c in crd.spec.versions[0].additional_printer_columns]
    assert columns == ["Age", "CacheId", "Phase", "Progress"]


def test_create_get_list_delete_pod(api_client, namespace):
    core = client.CoreV1Api(api_client)
    created = core.create_namespaced_pod(namespace, pod_body("one"))
    assert created.metadata.uid and created.metadata.resource_version
    assert core.read_namespaced_pod("one", namespace).metadata.uid == created.metadata.uid
    with pytest.raises(ApiException) as duplicate:
        core.create_namespaced_pod(namespace, pod_body("one"))
    assert duplicate.value.status == 409 and status_of(duplicate.value)["reason"] == "AlreadyExists"
    assert [p.metadata.name for p in core.list_namespaced_pod(namespace).items] == ["one"]
    core.delete_namespaced_pod("one", namespace, grace_period_seconds=0)
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_pod("one", namespace)
    assert missing.value.status == 404 and status_of(missing.value)["reason"] == "NotFound"
    assert status_of(missing.value)["kind"] == "Status"


def test_unknown_namespace_is_not_found(api_client):
    with pytest.raises(ApiException) as error:
        client.CoreV1Api(api_client).create_namespaced_pod("no-such-namespace", pod_body("x"))
    assert error.value.status == 404


def test_dry_run_stores_nothing(api_client, namespace):
    core = client.CoreV1Api(api_client)
    answer = core.create_namespaced_pod(namespace, pod_body("dry"), dry_run="All")
    assert answer.metadata.name == "dry"
    assert core.list_namespaced_pod(namespace).items == []
    with pytest.raises(ApiException) as error:
        core.create_namespaced_pod(namespace, pod_body("dry"), dry_run="Some")
    assert error.value.status == 400


def test_update_with_a_stale_resource_version_is_a_conflict(api_client, namespace):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_pod(namespace, pod_body("stale"))
    poll(lambda: core.read_namespaced_pod("stale", namespace).status.phase == "Running", message="pod Running")
    pod = core.read_namespaced_pod("stale", namespace)
    fresh = core.patch_namespaced_pod("stale", namespace, {"metadata": {"labels": {"touched": "yes"}}})
    assert fresh.metadata.resource_version != pod.metadata.resource_version
    pod.metadata.labels["again"] = "yes"
    with pytest.raises(ApiException) as error:
        core.replace_namespaced_pod("stale", namespace, pod)
    assert error.value.status == 409 and status_of(error.value)["reason"] == "Conflict"
    fresh.metadata.labels["again"] = "yes"
    replaced = core.replace_namespaced_pod("stale", namespace, fresh, field_manager="imc-tests")
    assert replaced.metadata.labels["again"] == "yes"
    assert any(m.manager == "imc-tests" for m in replaced.metadata.managed_fields)


def test_patch_with_a_stale_resource_version_is_a_conflict(api_client, namespace):
    core = client.CoreV1Api(api_client)
    pod = core.create_namespaced_pod(namespace, pod_body("guarded"))
    core.patch_namespaced_pod("guarded", namespace, {"metadata": {"labels": {"a": "1"}}})
    with pytest.raises(ApiException) as error:
        core.patch_namespaced_pod(
            "guarded", namespace, {"metadata": {"resourceVersion": pod.metadata.resource_version, "labels": {"b": "2"}}}
        )
    assert error.value.status == 409
    assert "b" not in core.read_namespaced_pod("guarded", namespace).metadata.labels


def test_strategic_merge_patch_merges_containers_by_name_and_null_deletes(api_client, namespace):
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_deployment(
        namespace, deployment_body("smp", "nginx:1.25", replicas=0, annotations={"keep": "1", "drop": "1"})
    )
    patch = {"spec": {"template": {"metadata": {"annotations": {"drop": None}},
                                   "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}}}}
    patched = apps.patch_namespaced_deployment("smp", namespace, patch)
    containers = {c.name: c.image for c in patched.spec.template.spec.containers}
    assert containers == {"main": "nginx:1.27", "side": "busybox:1.36"}
    assert patched.spec.template.metadata.annotations == {"keep": "1"}
    assert patched.metadata.generation == 2


def test_json_patch_and_merge_patch(api_client, namespace):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_pod(namespace, pod_body("jp", labels={"tier": "web"}))
    patched = core.patch_namespaced_pod(
        "jp", namespace, [{"op": "replace", "path": "/metadata/labels/tier", "value": "db"},
                          {"op": "add", "path": "/metadata/labels/extra", "value": "x"}]
    )
    assert patched.metadata.labels["tier"] == "db" and patched.metadata.labels["extra"] == "x"
    with pytest.raises(ApiException) as error:
        core.patch_namespaced_pod("jp", namespace, [{"op": "test", "path": "/metadata/labels/tier", "value": "web"}])
    assert error.value.status == 422
    objects = client.CustomObjectsApi(api_client)
    name = f"merge-{uuid.uuid4().hex[:8]}"
    objects.create_cluster_custom_object(GROUP, VERSION, PLURAL, {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "ImageCache", "metadata": {"name": name},
        "spec": {"images": ["alpine:3.20"], "retentionDays": 3}})
    poll(lambda: objects.get_cluster_custom_object(GROUP, VERSION, PLURAL, name).get("status", {}).get("phase")
         == "Ready", message="the cache Ready (ECI updates a cache only then)")
    merged = objects.patch_cluster_custom_object(GROUP, VERSION, PLURAL, name, {"spec": {"retentionDays": None,
                                                                                         "imageCacheSize": 40}})
    assert merged["spec"] == {"images": ["alpine:3.20"], "imageCacheSize": 40}
    objects.delete_cluster_custom_object(GROUP, VERSION, PLURAL, name)


def test_label_and_field_selectors(api_client, namespace):
    core = client.CoreV1Api(api_client)
    for index in range(4):
        core.create_namespaced_pod(namespace, pod_body(f"sel-{index}", labels={"parity": "even" if index % 2 == 0
                                                                               else "odd"}))
    even = core.list_namespaced_pod(namespace, label_selector="parity=even").items
    assert sorted(p.metadata.name for p in even) == ["sel-0", "sel-2"]
    not_even = core.list_namespaced_pod(namespace, label_selector="parity notin (even),parity").items
    assert sorted(p.metadata.name for p in not_even) == ["sel-1", "sel-3"]
    by_name = core.list_pod_for_all_namespaces(field_selector=f"metadata.name=sel-1,metadata.namespace={namespace}")
    assert [p.metadata.name for p in by_name.items] == ["sel-1"]
    poll(lambda: len(core.list_namespaced_pod(namespace, field_selector="status.phase=Running").items) == 4,
         message="all four pods Running")
    on_node = core.list_namespaced_pod(namespace, field_selector="spec.nodeName!=nowhere").items
    assert len(on_node) == 4
    events = core.list_namespaced_event(namespace, field_selector="involvedObject.name=sel-1,involvedObject.kind=Pod")
    assert events.items and all(e.involved_object.name == "sel-1" for e in events.items)
    with pytest.raises(ApiException) as error:
        core.list_namespaced_pod(namespace, field_selector="spec.nope=1")
    assert error.value.status == 400


def test_event_field_selector_leaves_out_reasons_one_by_one(api_client, namespace):
    """Clauses are ANDed as by kube-apiserver, several on one field too: `reason!=A,reason!=B` is neither."""
    core = client.CoreV1Api(api_client)
    core.create_namespaced_pod(namespace, pod_body("pulls", image=f"registry.example.com/{namespace}/app:1"))

    def reasons(selector: str | None = None) -> list[str]:
        return sorted(e.reason for e in core.list_namespaced_event(namespace, field_selector=selector).items)

    def agree() -> bool:
        everything = reasons()
        left = reasons("involvedObject.kind=Pod,reason!=Pulling,reason!=Scheduled,reason!=Pulled")
        return {"Pulling", "Pulled"} <= set(everything) and bool(left) and left == [
            r for r in everything if r not in ("Pulling", "Scheduled", "Pulled")]

    poll(agree, message="the pod's events but its pulls, and some left")
    assert reasons("reason=Pulled,reason!=Pulled") == []


def test_paged_list_keeps_one_resource_version(api_client, namespace):
    core = client.CoreV1Api(api_client)
    names = {f"page-{i:02d}" for i in range(23)}
    for name in names:
        core.create_namespaced_pod(namespace, pod_body(name, eci=False))
    seen, versions, token = [], set(), None
    while True:
        page = core.list_namespaced_pod(namespace, limit=5, _continue=token)
        seen += [p.metadata.name for p in page.items]
        versions.add(page.metadata.resource_version)
        core.create_namespaced_pod(namespace, pod_body(f"late-{uuid.uuid4().hex[:6]}", eci=False))
        token = page.metadata._continue
        if not token:
            break
        assert len(page.items) == 5
    assert sorted(seen) == sorted(names) and len(versions) == 1
    with pytest.raises(ApiException) as error:
        core.list_namespaced_pod(namespace, limit=5, _continue="bm90IGEgdG9rZW4=")
    assert error.value.status in (400, 410)


def test_remaining_item_count_is_left_out_of_a_list_with_a_selector(api_client, namespace):
    """ListMeta.remainingItemCount: with a label or field selector "the number of remaining items is unknown and the
    field will be left unset" (kube-apiserver counts what it stores, not what matches)."""
    core = client.CoreV1Api(api_client)
    for i in range(7):
        core.create_namespaced_pod(namespace, pod_body(f"count-{i}", eci=False))
    plain = core.list_namespaced_pod(namespace, limit=5)
    assert plain.metadata.remaining_item_count == 2 and plain.metadata._continue
    for selector in ({"field_selector": "metadata.name!=none"}, {"label_selector": "!absent"}):
        page = core.list_namespaced_pod(namespace, limit=5, **selector)
        assert page.metadata._continue and page.metadata.remaining_item_count is None
        rest = core.list_namespaced_pod(namespace, limit=5, _continue=page.metadata._continue, **selector)
        assert len(rest.items) == 2 and rest.metadata.remaining_item_count is None


def test_watch_from_a_list_version_sees_added_modified_deleted(api_client, namespace):
    core = client.CoreV1Api(api_client)
    listed = core.list_namespaced_pod(namespace)
    core.create_namespaced_pod(namespace, pod_body("watched", eci=False))
    core.patch_namespaced_pod("watched", namespace, {"metadata": {"labels": {"step": "2"}}})
    core.delete_namespaced_pod("watched", namespace)
    seen = []
    stream = watch.Watch().stream(core.list_namespaced_pod, namespace,
                                  resource_version=listed.metadata.resource_version, timeout_seconds=5,
                                  allow_watch_bookmarks=True, _request_timeout=10)
    for event in stream:
        if event["type"] == "BOOKMARK":
            continue
        seen.append((event["type"], event["object"].metadata.name))
        if event["type"] == "DELETED":
            break
    assert seen[0] == ("ADDED", "watched") and seen[-1] == ("DELETED", "watched")
    assert ("MODIFIED", "watched") in seen


def test_watch_with_a_label_selector_turns_leaving_into_deleted(api_client, namespace):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_pod(namespace, pod_body("leaver", labels={"team": "a"}, eci=False))
    # started first: its status updates would be MODIFIED events of a pod still matching (seen on a loaded machine)
    poll(lambda: core.read_namespaced_pod("leaver", namespace).status.phase, message="the pod to start",
         until=lambda phase: phase == "Running")
    rv = core.list_namespaced_pod(namespace).metadata.resource_version
    core.patch_namespaced_pod("leaver", namespace, {"metadata": {"labels": {"team": "b"}}})
    events = watch_lines(api_client, f"/api/v1/namespaces/{namespace}/pods",
                         [("resourceVersion", rv), ("labelSelector", "team=a"), ("timeoutSeconds", "1")])
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("DELETED", "leaver")]


def test_bookmarks_carry_the_current_version(api_client, namespace):
    rv = client.CoreV1Api(api_client).list_namespaced_pod(namespace).metadata.resource_version
    events = watch_lines(api_client, f"/api/v1/namespaces/{namespace}/pods",
                         [("resourceVersion", rv), ("allowWatchBookmarks", "true"), ("sendInitialEvents", "true"),
                          ("resourceVersionMatch", "NotOlderThan"), ("timeoutSeconds", "1")])
    bookmark = next(e for e in events if e["type"] == "BOOKMARK")
    assert int(bookmark["object"]["metadata"]["resourceVersion"]) >= int(rv)
    assert bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def _pods_created_after_a_list(start_sim_factory, options: tuple[str, ...], prefix: str, count: int):
    """Non-ECI pods `prefix-N` made on a fresh sim: its client, CoreV1Api and the list version before them."""
    api_client = new_api_client(start_sim_factory("empty", (*options, "--speed", "20")))
    core = client.CoreV1Api(api_client)
    listed = core.list_namespaced_pod("default").metadata.resource_version
    for index in range(count):
        core.create_namespaced_pod("default", pod_body(f"{prefix}-{index}", eci=False))
    return api_client, core, listed


def quiet_version(core) -> str:
    """The resourceVersion of a pod list once two lists a quarter second apart see the same one."""
    seen: list[str] = []

    def settled() -> str | None:
        seen.append(core.list_namespaced_pod("default").metadata.resource_version)
        return seen[-1] if len(seen) > 1 and seen[-2] == seen[-1] else None

    return poll(settled, 30, "the cluster to stop changing (two lists at one resourceVersion)", interval=0.25)


def test_too_old_a_version_is_410_in_the_stream(start_sim_factory):
    api_client, core, old = _pods_created_after_a_list(start_sim_factory, ("--history", "5"), "churn", 8)
    status, data = raw_get(api_client, "/api/v1/namespaces/default/pods",
                           [("watch", "1"), ("resourceVersion", old), ("timeoutSeconds", "2")])
    assert status == 200
    events = json_lines(data)
    assert events[0]["type"] == "ERROR" and events[0]["object"]["code"] == 410
    assert events[0]["object"]["reason"] == "Expired"
    with pytest.raises(ApiException) as error:
        for _ in watch.Watch().stream(core.list_namespaced_pod, "default", resource_version=old, timeout_seconds=2):
            pass
    assert error.value.status == 410
    # the sim still writes the new pods' statuses and events: with a history of 5, a list taken meanwhile can be 6
    # changes old by the time the watch starts (a loaded machine saw that); take it once the cluster is quiet
    fresh = quiet_version(core)
    kinds = [event["type"] for event in watch.Watch().stream(core.list_namespaced_pod, "default",
                                                              resource_version=fresh, timeout_seconds=1)]
    assert "ADDED" not in kinds, "watching from a fresh list's version resumes without replaying the list"
    api_client.close()


def test_drop_watch_every_closes_streams(start_sim_factory):
    api_client, core, rv = _pods_created_after_a_list(start_sim_factory, ("--drop-watch-every", "2"), "drop", 5)
    events = watch_lines(api_client, "/api/v1/namespaces/default/pods",
                         [("resourceVersion", rv), ("timeoutSeconds", "30")])
    assert len(events) == 2 and events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "drop-0"
    api_client.close()


def test_drop_watch_every_seconds_closes_quiet_streams(start_sim_factory):
    sim = start_sim_factory("empty", ("--drop-watch-every", "1s"))
    api_client = new_api_client(sim)
    rv = client.CoreV1Api(api_client).list_namespaced_pod("default").metadata.resource_version
    events = watch_lines(api_client, "/api/v1/namespaces/default/pods",
                         [("resourceVersion", rv), ("timeoutSeconds", "600")], timeout=10)
    assert events == []  # ended by the server after a second, long before the client's 10 s timeout
    api_client.close()


def test_validation_errors_name_the_fields(api_client, namespace):
    objects = client.CustomObjectsApi(api_client)
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ImageCache", "metadata": {"name": "too-many"},
            "spec": {"images": [f"nginx:1.{i}" for i in range(21)], "imageCacheSize": 10, "retentionDays": 0}}
    with pytest.raises(ApiException) as error:
        objects.create_cluster_custom_object(GROUP, VERSION, PLURAL, body)
    status = status_of(error.value)
    assert error.value.status == 422 and status["reason"] == "Invalid"
    fields = {cause["field"] for cause in status["details"]["causes"]}
    assert {"spec.images", "spec.imageCacheSize", "spec.retentionDays"} <= fields
    with pytest.raises(ApiException) as no_containers:
        client.CoreV1Api(api_client).create_namespaced_pod(namespace, {"metadata": {"name": "bad"}, "spec": {
            "containers": []}})
    assert no_containers.value.status == 422
    assert status_of(no_containers.value)["details"]["causes"][0]["field"] == "spec.containers"
    with pytest.raises(ApiException) as bad_selector:
        body = deployment_body("mismatch", "nginx:1.25")
        body["spec"]["selector"] = {"matchLabels": {"app": "other"}}
        client.AppsV1Api(api_client).create_namespaced_deployment(namespace, body)
    assert bad_selector.value.status == 422


def test_viewer_reads_but_may_not_write(viewer_api_client, api_client, namespace):
    viewer = client.CoreV1Api(viewer_api_client)
    assert viewer.list_namespaced_pod(namespace).items == []
    with pytest.raises(ApiException) as error:
        viewer.create_namespaced_pod(namespace, pod_body("nope"))
    status = status_of(error.value)
    assert error.value.status == 403 and status["reason"] == "Forbidden" and "sim-viewer" in status["message"]
    reviews = client.AuthorizationV1Api(viewer_api_client)

    def can(verb: str) -> bool:
        review = client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(verb=verb, resource="pods", namespace=namespace)))
        return reviews.create_self_subject_access_review(review).status.allowed

    assert can("list") and can("watch") and not can("create") and not can("delete")
    admin = client.AuthorizationV1Api(api_client).create_self_subject_access_review(client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(
            verb="delete", group=GROUP, resource=PLURAL))))
    assert admin.status.allowed


def test_no_token_is_401_and_version_is_public(sim_server):
    context = ssl.create_default_context(cafile=f"{sim_server.state_dir}/ca.crt")
    with urllib.request.urlopen(f"{sim_server.server}/version", context=context, timeout=5) as response:
        assert json.loads(response.read())["major"] == "1"
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"{sim_server.server}/api/v1/pods", context=context, timeout=5)
    assert error.value.code == 401
    assert json.loads(error.value.read())["reason"] == "Unauthorized"


def test_table_responses_for_kubectl_columns(api_client, namespace):
    client.CoreV1Api(api_client).create_namespaced_pod(namespace, pod_body("tabled"))
    _, data = raw_get(api_client, f"/api/v1/namespaces/{namespace}/pods",
                      accept="application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
    table = orjson.loads(data)
    assert table["kind"] == "Table"
    columns = [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]
    assert columns == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert table["rows"][0]["cells"][0] == "tabled"
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_deleting_a_deployment_takes_its_pods(api_client, namespace):
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    apps.create_namespaced_deployment(namespace, deployment_body("gone", "nginx:1.25", replicas=3))
    poll(lambda: len(core.list_namespaced_pod(namespace).items) == 3, message="three pods")
    apps.delete_namespaced_deployment("gone", namespace)
    assert apps.list_namespaced_replica_set(namespace).items == []
    assert all(pod.metadata.deletion_timestamp for pod in core.list_namespaced_pod(namespace).items)
    poll(lambda: core.list_namespaced_pod(namespace).items == [], message="the Terminating pods to go")


def test_controllers_name_their_pods_by_generate_name(api_client, namespace):
    """A ReplicaSet's and a Job's pods are created with generateName `<owner>-` (kube-controller-manager's
    GetPodFromTemplate), so the server draws a free name: at 25,000 pods, names the controller drew itself collided
    and each collision was a FailedCreate and a second of backoff."""
    apps, batch, core = client.AppsV1Api(api_client), client.BatchV1Api(api_client), client.CoreV1Api(api_client)
    apps.create_namespaced_deployment(namespace, deployment_body("named", "nginx:1.25", replicas=2))
    batch.create_namespaced_job(namespace, {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "named-job"},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
                                       "containers": [{"name": "main", "image": "busybox:1.36"}]}}}})
    pods = poll(lambda: core.list_namespaced_pod(namespace).items, message="the three pods",
                until=lambda items: len(items) == 3)
    (replica_set,) = apps.list_namespaced_replica_set(namespace).items
    prefixes = sorted(pod.metadata.generate_name or "" for pod in pods)
    assert prefixes == sorted(["named-job-", f"{replica_set.metadata.name}-", f"{replica_set.metadata.name}-"])
    assert all(pod.metadata.name.startswith(pod.metadata.generate_name) for pod in pods)
    assert all(len(pod.metadata.name) == len(pod.metadata.generate_name) + 5 for pod in pods)


def test_a_restarted_sim_keeps_its_identity(start_sim_factory, tmp_path):
    first = start_sim_factory("empty", state_dir=tmp_path)
    ca, tokens = (tmp_path / "ca.crt").read_bytes(), (tmp_path / "tokens.json").read_bytes()
    first_client = new_api_client(first)
    stream = iter_resp_lines(open_get(first_client, "/api/v1/namespaces", [("watch", "1")]).response)
    assert json.loads(next(stream))["type"] == "ADDED"
    assert first.stop() == 0, "SIGTERM stops it cleanly, open watches included"
    assert all(json.loads(line)["type"] == "ADDED" for line in stream)
    first_client.close()
    assert "Traceback" not in (tmp_path / "sim.log").read_text()
    second = start_sim_factory("empty", state_dir=tmp_path)
    assert (tmp_path / "ca.crt").read_bytes() == ca and (tmp_path / "tokens.json").read_bytes() == tokens
    api_client = new_api_client(second)
    assert client.CoreV1Api(api_client).read_namespace("default").metadata.name == "default"
    api_client.close()
    assert second.stop() == 0


def test_status_subresource_and_no_op_writes(api_client, namespace):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_pod(namespace, pod_body("statused", labels={"a": "1"}, eci=False))
    poll(lambda: core.read_namespaced_pod("statused", namespace).status.phase == "Running", message="pod Running")
    before = core.read_namespaced_pod("statused", namespace)
    same = core.patch_namespaced_pod("statused", namespace, {"metadata": {"labels": {"a": "1"}}})
    assert same.metadata.resource_version == before.metadata.resource_version
    ignored = core.patch_namespaced_pod("statused", namespace, {"status": {"phase": "Failed"}})
    assert ignored.status.phase == "Running"
    patched = core.patch_namespaced_pod_status("statused", namespace, {"metadata": {"labels": {"a": "2"}},
                                                                        "status": {"phase": "Failed"}})
    assert patched.status.phase == "Failed" and patched.metadata.labels["a"] == "1"
    assert patched.metadata.resource_version != before.metadata.resource_version


def test_a_busy_port_is_one_clear_error(sim_server, tmp_path):
    port = int(sim_server.server.rsplit(":", 1)[1])
    with pytest.raises(SimStartError) as error:
        start_sim("empty", state_dir=tmp_path, port=port, timeout=20)
    assert f"cannot listen on 127.0.0.1:{port}" in str(error.value)
    assert "Traceback" not in str(error.value)
