"""The sim answers unmodified clients as kube-apiserver v1.32 does where they still tripped (issue 23)."""

from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from kubernetes import client

from tests.integration.conftest import poll
from tests.integration.test_sim_eci import GROUP, PLURAL, VERSION, create_cache, create_pod, unique_image
from tests.integration.test_sim_limits import request

pytestmark = pytest.mark.integration


def run_in_fresh_loop(coroutine):
    """Run a coroutine on a new event loop in its own thread (the test session may already run a loop here)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def asyncio_client(sim):
    """A kubernetes_asyncio ApiClient for the sim's admin context."""
    from kubernetes_asyncio import config

    return await config.new_client_from_config(config_file=sim.kubeconfig, context="sim")


async def first_added(list_call, *args, name: str, resource_version: str) -> object:
    """The ADDED event of `name` in a kubernetes_asyncio watch (which sends `watch=True`) from `resource_version`."""
    from kubernetes_asyncio import watch

    async with watch.Watch().stream(list_call, *args, resource_version=resource_version,
                                    timeout_seconds=20) as stream:
        async for event in stream:
            obj = event["object"]
            named = obj["metadata"]["name"] if isinstance(obj, dict) else obj.metadata.name
            if event["type"] == "ADDED" and named == name:
                return obj
    raise AssertionError(f"the watch ended without an ADDED event for {name}")


def test_kubernetes_asyncio_lists_and_watches_pods_and_imagecaches(sim_server, api_client, namespace):
    async def scenario() -> tuple[str, str, str, str]:
        from kubernetes_asyncio import client

        async with await asyncio_client(sim_server) as api:
            core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
            pods = await core.list_namespaced_pod(namespace)
            pod = create_pod(api_client, namespace, [unique_image("aio")])
            watched_pod = await first_added(core.list_namespaced_pod, namespace, name=pod,
                                            resource_version=pods.metadata.resource_version)
            caches = await custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
            cache = create_cache(api_client, [unique_image("aio")])
            watched_cache = await first_added(custom.list_cluster_custom_object, GROUP, VERSION, PLURAL, name=cache,
                                              resource_version=caches["metadata"]["resourceVersion"])
            return watched_pod.metadata.name, watched_cache["metadata"]["name"], pod, cache

    watched_pod, watched_cache, pod, cache = run_in_fresh_loop(scenario())
    assert (watched_pod, watched_cache) == (pod, cache)


def test_kubernetes_asyncio_force_and_previous_flags_are_read_as_true(sim_server, api_client, namespace):
    async def scenario() -> tuple[dict, int, str]:
        from kubernetes_asyncio import client
        from kubernetes_asyncio.client.exceptions import ApiException

        name = f"cm-{uuid.uuid4().hex[:8]}"
        applied = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "a"}}
        async with await asyncio_client(sim_server) as api:
            core = client.CoreV1Api(api)
            await core.patch_namespaced_config_map(name, namespace, applied, field_manager="first",
                                                   _content_type="application/apply-patch+yaml")
            applied["data"]["k"] = "b"
            forced = await core.patch_namespaced_config_map(name, namespace, applied, field_manager="second",
                                                            force=True, _content_type="application/apply-patch+yaml")
            pod = create_pod(api_client, namespace, [unique_image("aio")])
            try:
                await core.read_namespaced_pod_log(pod, namespace, previous=True)
            except ApiException as error:
                return forced.data, error.status, error.body
            return forced.data, 200, ""

    data, status, body = run_in_fresh_loop(scenario())
    assert data == {"k": "b"}  # force=True took the field over rather than answering 409
    assert status == 400 and "previous terminated container" in body


def config_map_yaml(name: str, namespace: str, value: str) -> str:
    return (f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\n"
            f"data:\n  k: {value}\n  kept: same\n")


def test_client_side_apply_moves_to_server_side_apply(kubectl, namespace):
    name = f"cm-{uuid.uuid4().hex[:8]}"
    kubectl("apply", "-f", "-", input_text=config_map_yaml(name, namespace, "a"))
    kubectl("apply", "--server-side", "-f", "-", input_text=config_map_yaml(name, namespace, "b"))
    live = json.loads(kubectl("get", "configmap", name, "-n", namespace, "-o", "json",
                              "--show-managed-fields").stdout)
    assert live["data"] == {"k": "b", "kept": "same"}
    managers = {(entry["manager"], entry["operation"]) for entry in live["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers and ("kubectl-client-side-apply", "Update") not in managers
    diff = kubectl("diff", "--server-side", "-f", "-", check=False, input_text=config_map_yaml(name, namespace, "c"))
    assert diff.returncode == 1, diff.stderr  # 1: differences found (>1 is an error)
    assert "-  k: b" in diff.stdout and "+  k: c" in diff.stdout



def pod_yaml(name: str, namespace: str, labels: str = "app: web", annotations: str = "note: x",
             restart_policy: str = "Always") -> str:
    return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {namespace}\n"
            f"  labels:\n    {labels}\n  annotations:\n    {annotations}\n"
            f"spec:\n  restartPolicy: {restart_policy}\n  containers:\n  - name: a\n    image: nginx\n")


@pytest.mark.parametrize(("change", "message"), [
    ({"labels": '"bad key": web'}, 'metadata.labels: Invalid value: "bad key": name part must consist of '
                                   "alphanumeric characters, '-', '_' or '.'"),
    ({"labels": "app: -web-"}, 'metadata.labels: Invalid value: "-web-": a valid label must be an empty string'),
    ({"annotations": "example.com/a/b: x"}, 'metadata.annotations: Invalid value: "example.com/a/b": a qualified '
                                            "name must consist of"),
    ({"restart_policy": "Sometimes"}, 'spec.restartPolicy: Unsupported value: "Sometimes": supported values: '
                                      '"Always", "OnFailure", "Never"'),
])
def test_invalid_labels_annotation_keys_and_enums_get_422_with_kube_apiservers_message(kubectl, namespace, change,
                                                                                        message):
    name = f"p-{uuid.uuid4().hex[:8]}"
    refused = kubectl("apply", "-f", "-", check=False, input_text=pod_yaml(name, namespace, **change))
    assert refused.returncode != 0
    assert f'The Pod "{name}" is invalid: {message}' in refused.stderr
    assert kubectl("get", "pod", name, "-n", namespace, check=False).returncode != 0  # nothing was stored


def test_the_official_clients_websocket_exec_gets_the_explained_status(api_client, namespace):
    from kubernetes.client.exceptions import ApiException
    from kubernetes.stream import stream

    pod = create_pod(api_client, namespace, [unique_image("ws")])
    with pytest.raises(ApiException) as raised:
        stream(client.CoreV1Api(api_client).connect_get_namespaced_pod_exec, pod, namespace, command=["ls"],
               stderr=True, stdin=False, stdout=True, tty=False)
    # stream() reports a refused WebSocket handshake with its status and body in the reason
    assert "Handshake status 400" in raised.value.reason
    status = json.loads(raised.value.reason.rsplit(" -+-+- ", 1)[1])
    assert status["kind"] == "Status" and status["code"] == 400
    assert "exec is not available on the built-in cluster" in status["message"]
    assert "runs no containers" in status["message"]


def test_kr8s_whoami_reads_the_user_from_a_token_review_the_admin_may_create(sim_server):
    import kr8s

    from sim.apiserver.identity import ADMIN_USER

    assert kr8s.api(kubeconfig=sim_server.kubeconfig, context="sim").whoami() == ADMIN_USER
    with pytest.raises(kr8s.ServerError) as refused:  # creating TokenReviews is the admin's alone
        kr8s.api(kubeconfig=sim_server.kubeconfig, context="sim-viewer").whoami()
    assert refused.value.response.status_code == 403


def test_a_token_review_of_an_unknown_or_missing_token(sim_server):
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": "not-a-token"}}
    status, review = request(sim_server, "POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                             json.dumps(body).encode())
    assert status == 201 and review["status"] == {"user": {}}
    body["spec"] = {}
    status, refused = request(sim_server, "POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                              json.dumps(body).encode())
    assert status == 400 and refused["message"] == "token is required for TokenReview in authentication"


def test_impersonating_a_service_account_with_a_uid(kubectl, namespace):
    account = f"system:serviceaccount:{namespace}:builder"
    review = json.loads(kubectl("auth", "whoami", f"--as={account}", "--as-uid=1234", "-o", "json").stdout)
    assert review["status"]["userInfo"] == {
        "username": account, "uid": "1234",
        "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"]}



def test_a_watch_from_before_the_last_compaction_gets_410(start_sim_factory, tmp_path):
    from tests.integration.conftest import run_kubectl

    sim = start_sim_factory("empty", ("--compaction-interval", "0.5"))
    kubectl = lambda *args, **kw: run_kubectl(sim, *args, cache_dir=str(tmp_path), **kw)  # noqa: E731
    version = json.loads(kubectl("get", "--raw", "/api/v1/namespaces").stdout)["metadata"]["resourceVersion"]
    kubectl("create", "namespace", "after-the-list")

    def expired_event() -> dict | None:
        stream = kubectl("get", "--raw", f"/api/v1/namespaces?watch=1&resourceVersion={version}&timeoutSeconds=1")
        events = [json.loads(line) for line in stream.stdout.splitlines() if line.strip()]
        return next((event for event in events if event["type"] == "ERROR"), None)

    event = poll(expired_event, 30, "a watch from the listed version to be refused once compacted")
    assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"
    assert event["object"]["message"].startswith(f"too old resource version: {version} (")


@pytest.mark.parametrize("eci", [True, False], ids=["eci", "ecs"])
def test_a_new_pod_is_first_seen_pending_then_container_creating(api_client, namespace, eci):
    """`kubectl get pods --watch-only` prints a new pod's ADDED event first: a real cluster stores the pod as created
    (Pending, no container statuses) and the scheduler and kubelet update it after; the sim wrote ContainerCreating
    into the created pod itself."""
    core = client.CoreV1Api(api_client)
    since = core.list_namespaced_pod(namespace).metadata.resource_version
    name = create_pod(api_client, namespace, [unique_image("watch-only")], eci=eci)
    from kubernetes import watch

    states = []
    for event in watch.Watch().stream(core.list_namespaced_pod, namespace, resource_version=since,
                                      timeout_seconds=20):
        pod = event["object"]
        if pod.metadata.name != name:
            continue
        waiting = [(s.state.waiting.reason if s.state and s.state.waiting else None)
                   for s in pod.status.container_statuses or []]
        states.append((event["type"], pod.status.phase, waiting))
        if "ContainerCreating" in waiting or pod.status.phase == "Running":
            break
    assert states[0] == ("ADDED", "Pending", []), states
    assert any("ContainerCreating" in waiting for _, _, waiting in states[1:]), states


@pytest.mark.parametrize(("field", "values"), [
    ("pod.spec.restartPolicy", ["Always", "Never", "OnFailure"]),
    ("pod.spec.containers.imagePullPolicy", ["Always", "IfNotPresent", "Never"]),
    ("deployment.spec.template.spec.dnsPolicy", ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]),
])
def test_kubectl_explain_lists_the_enum_values_v1_32_serves(kubectl, field, values):
    explained = kubectl("explain", field).stdout
    assert "ENUM:" in explained, explained
    listed = explained.split("ENUM:", 1)[1].split("DESCRIPTION:", 1)[0].split()
    assert listed == values, explained
