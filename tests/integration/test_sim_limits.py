"""The built-in cluster survives exhaustion and poisoning attacks (issue 9, items 3 and 5); bad input is 4xx, not 500.

During each attack a probe asks `/version` over and over with a 1 s client timeout: the server must keep
answering within that second (the issue's liveness requirement).
"""

from __future__ import annotations

import json
import signal
import ssl
import threading
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.integration.conftest import new_api_client, poll, run_kubectl

pytestmark = pytest.mark.integration
LIVENESS_SECONDS = 1.0  # the issue: "still answers /version within 1 s during each"
REFUSAL_SECONDS = 2.0  # issue 18: an alias bomb refused "within 1 s"; doubled for a loaded 2-core machine (main: 15 s)
QUOTA = 150


def request(sim, method: str, path: str, body: bytes | None = None, content_type: str = "application/json",
            token: str | None = None) -> tuple[int, dict]:
    """One raw HTTPS request to a sim as its admin (or with `token`); (status, decoded body)."""
    tokens = json.loads((Path(sim.state_dir) / "tokens.json").read_text())
    context = ssl.create_default_context(cafile=str(Path(sim.state_dir) / "ca.crt"))
    headers = {"Authorization": f"Bearer {token if token is not None else tokens['admin']}",
               "Content-Type": content_type}
    call = urllib.request.Request(sim.server + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(call, context=context, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@contextmanager
def stays_alive(sim, path: str = "/version"):
    """Probe `path` continuously while the block runs; fail if one answer takes longer than a second."""
    context = ssl.create_default_context(cafile=str(Path(sim.state_dir) / "ca.crt"))
    stop, failures, answers = threading.Event(), [], []

    def probe() -> None:
        while not stop.is_set():
            try:
                with urllib.request.urlopen(f"{sim.server}{path}", context=context,
                                            timeout=LIVENESS_SECONDS) as response:
                    answers.append(response.status)
            except OSError as exc:
                failures.append(repr(exc))
            stop.wait(0.05)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
    assert not failures, f"{path} did not answer within {LIVENESS_SECONDS} s: {failures[:3]}"
    assert answers, "the probe never got an answer"


def pod_manifest(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]}}


def test_a_yaml_alias_bomb_is_refused_on_create_and_apply(sim_server, namespace):
    levels = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 8)]
    bomb = "x:\n" + "".join(f"  {line}\n" for line in levels) + "apiVersion: v1\nkind: Pod\nmetadata:\n" \
           "  name: bomb\nspec:\n  containers:\n  - name: main\n    image: busybox:1.36\n    args: *a7\n"
    path = f"/api/v1/namespaces/{namespace}/pods"
    with stays_alive(sim_server):
        created = request(sim_server, "POST", path, bomb.encode(), "application/yaml")
        applied = request(sim_server, "PATCH", f"{path}/bomb?fieldManager=attacker", bomb.encode(),
                          "application/apply-patch+yaml")
    for status, body in (created, applied):
        assert status == 400, body
        assert "alias bomb" in body["message"]
    assert request(sim_server, "GET", f"{path}/bomb")[0] == 404


def test_a_yaml_string_aliased_past_3_mib_is_413_at_once_while_the_api_answers(sim_server, namespace):
    """Issue 18 item 2: 2 MiB anchored once and aliased 300 times would be a 600 MB object; kube-apiserver refuses
    an object past etcd's 1.5 MiB with 413, and the sim does so while reading the body, before building it."""
    filler = "x" * (2 * 2**20)
    bomb = (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: bomb\n  annotations:\n    filler: &big {filler}\n"
            "spec:\n  containers:\n  - name: main\n    image: busybox:1.36\n    args:\n" + "    - *big\n" * 300)
    path = f"/api/v1/namespaces/{namespace}/pods"
    with stays_alive(sim_server):  # another GET (/version) answers within its second throughout
        started = time.monotonic()
        status, body = request(sim_server, "POST", path, bomb.encode(), "application/yaml")
        took = time.monotonic() - started
    assert (status, body["reason"]) == (413, "RequestEntityTooLarge"), body
    assert "document 1: expands to more than 3 MiB once its aliases are resolved" in body["message"]
    assert took < REFUSAL_SECONDS, f"refused after {took:.1f} s"
    assert request(sim_server, "GET", f"{path}/bomb")[0] == 404


def test_a_body_over_3_mib_is_413(api_client, namespace, sim_server):
    pod = pod_manifest("huge")
    pod["metadata"]["annotations"] = {"filler": "x" * (3 * 1024 * 1024 + 1)}
    with stays_alive(sim_server), pytest.raises(ApiException) as raised:
        client.CoreV1Api(api_client).create_namespaced_pod(namespace, pod)
    assert raised.value.status == 413
    assert json.loads(raised.value.body)["reason"] == "RequestEntityTooLarge"


@pytest.mark.parametrize(("path_template", "method", "body", "code", "words"), [
    ("/api/v1/namespaces/{ns}/pods", "POST",
     b'{"metadata": {"name": "deep"}, "spec": {"x": ' + b"[" * 400 + b"]" * 400 + b"}}", 400, "nested"),
    ("/api/v1/namespaces/{ns}/pods", "POST",
     b'{"metadata": {"name": "listy", "labels": ["a", "b"]}, "spec": {"containers": []}}', 400, "metadata.labels"),
    ("/api/v1/namespaces/{ns}/pods", "POST", b'[{"metadata": {"name": "x"}}]', 400, "object"),
    ("/api/v1/namespaces/{ns}/pods/nothing", "DELETE", b'{"preconditions": "abc"}', 400, "preconditions"),
], ids=["json-400-deep", "list-for-labels", "list-for-pod", "string-preconditions"])
def test_bad_bodies_are_4xx_with_a_reason(sim_server, namespace, path_template, method, body, code, words):
    status, answer = request(sim_server, method, path_template.format(ns=namespace), body)
    assert status == code, answer
    assert words in answer["message"]


def test_a_non_ascii_bearer_token_is_401(sim_server):
    context = ssl.create_default_context(cafile=str(Path(sim_server.state_dir) / "ca.crt"))
    call = urllib.request.Request(f"{sim_server.server}/api/v1/pods")
    call.add_unredirected_header("Authorization", "Bearer t\u00f6k\u00e9n")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(call, context=context, timeout=30)
    assert raised.value.code == 401


@pytest.fixture(scope="module")
def quota_sim(start_sim_factory):
    """A sim of its own with a small pod quota, for the replicas attack."""
    return start_sim_factory("empty", ("--speed", "20", "--max-pods", str(QUOTA)))


def test_a_billion_replicas_stop_at_the_pod_quota_and_scale_back(quota_sim, tmp_path):
    api = new_api_client(quota_sim)
    core = client.CoreV1Api(api)

    def kubectl(*args: str):
        return run_kubectl(quota_sim, *args, cache_dir=str(tmp_path))

    with stays_alive(quota_sim):
        kubectl("create", "deployment", "greedy", "--image=busybox:1.36", "--replicas=1")
        kubectl("scale", "deployment", "greedy", "--replicas=1000000000")
        poll(lambda: len(core.list_namespaced_pod("default").items) == QUOTA, 60, "the pods to reach the quota")
        events = poll(lambda: [e for e in core.list_namespaced_event("default").items if e.reason == "FailedCreate"],
                      30, "a FailedCreate event")
        with pytest.raises(ApiException) as raised:
            core.create_namespaced_pod("default", pod_manifest(f"one-more-{uuid.uuid4().hex[:6]}"))
        kubectl("scale", "deployment", "greedy", "--replicas=0")
        poll(lambda: not core.list_namespaced_pod("default").items, 60, "the pods to go")
    assert raised.value.status == 403
    assert f"exceeded quota: imc-sim-pods, requested: pods=1, used: pods={QUOTA}, limited: pods={QUOTA}" in \
        json.loads(raised.value.body)["message"]
    assert "exceeded quota: imc-sim-pods" in events[0].message
    assert len(core.list_namespaced_pod("default").items) == 0


def test_deleting_a_big_deployment_cascades_while_the_server_answers(quota_sim, tmp_path):
    api = new_api_client(quota_sim)
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    run_kubectl(quota_sim, "create", "deployment", "wide", "--image=busybox:1.36", f"--replicas={QUOTA}",
                cache_dir=str(tmp_path))
    poll(lambda: len(core.list_namespaced_pod("default", label_selector="app=wide").items) == QUOTA, 60,
         "all pods")
    with stays_alive(quota_sim):
        apps.delete_namespaced_deployment("wide", "default")
        poll(lambda: not core.list_namespaced_pod("default", label_selector="app=wide").items, 60,
             "the cascade to take every pod")
    assert not apps.list_namespaced_replica_set("default", label_selector="app=wide").items


def test_sigterm_stops_a_busy_server_within_seconds(start_sim_factory, tmp_path):
    sim = start_sim_factory("empty", ("--speed", "20", "--max-pods", "2000"))
    run_kubectl(sim, "create", "deployment", "busy", "--image=busybox:1.36", "--replicas=1000000000",
                cache_dir=str(tmp_path))
    poll(lambda: len(client.CoreV1Api(new_api_client(sim)).list_namespaced_pod("default", limit=500).items) >= 100,
         60, "the server to be busy creating pods")
    sim.process.send_signal(signal.SIGTERM)
    assert sim.process.wait(timeout=10) == 0  # the issue: "SIGTERM that always stops the server within seconds"


def test_a_status_of_the_wrong_type_is_refused_and_eci_pods_still_start(api_client, namespace):
    custom, core = client.CustomObjectsApi(api_client), client.CoreV1Api(api_client)
    name = f"poison-{uuid.uuid4().hex[:8]}"
    custom.create_cluster_custom_object("eci.alibabacloud.com", "v1", "imagecaches", {
        "apiVersion": "eci.alibabacloud.com/v1", "kind": "ImageCache", "metadata": {"name": name},
        "spec": {"images": ["registry.cn-hangzhou.aliyuncs.com/imc-limits/poison:1.0"]}})
    with pytest.raises(ApiException) as raised:
        custom.patch_cluster_custom_object_status("eci.alibabacloud.com", "v1", "imagecaches", name,
                                                  {"status": {"imageCacheId": ["a", "b"]}})
    assert raised.value.status == 422
    assert json.loads(raised.value.body)["details"]["causes"][0]["field"] == "status.imageCacheId"
    pod = pod_manifest("after-poison")
    pod["metadata"]["labels"] = {"alibabacloud.com/eci": "true"}
    core.create_namespaced_pod(namespace, pod)
    poll(lambda: core.read_namespaced_pod("after-poison", namespace).status.phase == "Running", 30, "the pod to run")
    custom.delete_cluster_custom_object("eci.alibabacloud.com", "v1", "imagecaches", name)


def test_a_huge_extra_storage_exponent_does_not_freeze_the_sim(api_client, namespace, sim_server):
    core = client.CoreV1Api(api_client)
    pod = pod_manifest("huge-exponent")
    pod["metadata"]["labels"] = {"alibabacloud.com/eci": "true"}
    pod["metadata"]["annotations"] = {"k8s.aliyun.com/eci-extra-ephemeral-storage": "1e30000000"}
    with stays_alive(sim_server, "/healthz"):
        core.create_namespaced_pod(namespace, pod)
        poll(lambda: core.read_namespaced_pod("huge-exponent", namespace).status.phase == "Running", 30,
             "the pod to run")
