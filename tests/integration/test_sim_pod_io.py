"""kubectl logs, exec, attach, port-forward and debug against the sim, and the official client's pod log and
ephemeral containers calls: what a kube-apiserver answers, where the sim has no container to reach."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.integration.conftest import KUBECTL
from tests.integration.test_sim_api import open_get, raw_get
from tests.integration.test_sim_kubectl import deployment_yaml

pytestmark = pytest.mark.integration


@pytest.fixture
def running_pod(kubectl, namespace) -> str:
    """The name of a Running two-container ECI pod (containers main, nginx:1.25, and side, busybox:1.36)."""
    kubectl("apply", "-n", namespace, "-f", "-", input_text=deployment_yaml("io", "nginx:1.25", replicas=1))
    kubectl("rollout", "status", "-n", namespace, "deploy/io", "--timeout=30s", timeout=40)
    return kubectl("get", "pods", "-n", namespace, "-l", "app=io", "-o", "jsonpath={.items[0].metadata.name}").stdout


def test_kubectl_logs_prints_what_the_sim_did_with_each_container(kubectl, namespace, running_pod):
    main = kubectl("logs", "-n", namespace, running_pod, "-c", "main").stdout
    assert main.startswith("imc sim: container main (nginx:1.25) started")
    both = kubectl("logs", "-n", namespace, "deploy/io", "--all-containers", "--prefix").stdout.splitlines()
    # kubectl sends one request per container and prints them in its own order (a Go map's), not the pod's
    assert sorted(line.split("]")[0] for line in both) == [f"[pod/{running_pod}/main", f"[pod/{running_pod}/side"]
    stamped = kubectl("logs", "-n", namespace, running_pod, "-c", "side", "--timestamps").stdout
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z imc sim: container side \(busybox:1\.36\)", stamped)
    assert kubectl("logs", "-n", namespace, running_pod, "-c", "main", "--tail=0").stdout == ""
    previous = kubectl("logs", "-n", namespace, running_pod, "-c", "main", "--previous", check=False)
    assert previous.returncode == 1
    assert f'previous terminated container "main" in pod "{running_pod}" not found' in previous.stderr


def test_kubectl_logs_follow_stays_open_until_the_pod_is_gone(sim_server, kubectl, namespace, running_pod):
    command = [KUBECTL, "--kubeconfig", sim_server.kubeconfig, "logs", "-f", "-n", namespace, running_pod, "-c", "main"]
    follower = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = follower.stdout.readline()
        assert first.startswith("imc sim: container main (nginx:1.25) started")
        kubectl("delete", "pod", "-n", namespace, running_pod, "--wait=true", timeout=60)
        assert follower.wait(30) == 0
        assert follower.stdout.read() == ""
    finally:
        follower.kill()
        follower.wait(5)


def test_a_followed_log_of_a_running_container_stays_open(api_client, namespace, running_pod):
    import urllib3

    path = f"/api/v1/namespaces/{namespace}/pods/{running_pod}/log"
    response = open_get(api_client, path, [("container", "side"), ("follow", "true")], accept="*/*",
                        timeout=(5, 2)).response  # urllib3's, not read yet
    try:
        first = b""
        while not first.endswith(b"\n"):
            first += response.read(1)
        assert first.startswith(b"imc sim: container side (busybox:1.36) started")
        with pytest.raises(urllib3.exceptions.ReadTimeoutError):  # still open: a closed stream reads b""
            response.read(1)
    finally:
        response.release_conn()


def test_the_viewer_may_read_logs_but_not_exec_or_debug(kubectl, viewer_api_client, namespace, running_pod):
    viewed = kubectl("--context", "sim-viewer", "logs", "-n", namespace, running_pod, "-c", "main")
    assert "container main (nginx:1.25) started" in viewed.stdout
    executed = kubectl("--context", "sim-viewer", "exec", "-n", namespace, running_pod, "--", "ls", check=False)
    assert 'cannot create resource "pods/exec"' in executed.stderr
    debugged = kubectl("--context", "sim-viewer", "debug", "-n", namespace, running_pod, "--image=busybox:1.36",
                       "--profile=general", check=False)
    assert 'cannot patch resource "pods/ephemeralcontainers"' in debugged.stderr
    # a plain GET, as a websocket upgrade starts, needs create too
    status, _ = raw_get(viewer_api_client, f"/api/v1/namespaces/{namespace}/pods/{running_pod}/exec",
                        [("command", "ls")])
    assert status == 403


def test_the_official_client_reads_a_log_and_gets_kubernetes_errors(api_client, namespace, running_pod):
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(api_client)
    text = core.read_namespaced_pod_log(running_pod, namespace, container="side", tail_lines=5)
    assert text.startswith("imc sim: container side (busybox:1.36) started")
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod_log(running_pod, namespace)
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["message"] == (
        f"a container name must be specified for pod {running_pod}, choose one of: [main side]")
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_pod_log("no-such-pod", namespace, container="main")
    assert missing.value.status == 404


@pytest.mark.parametrize("command", [["exec", "{pod}", "-c", "main", "--", "ls"], ["attach", "{pod}", "-c", "main"],
                                     ["port-forward", "pod/{pod}", "18080:80"]])
def test_exec_attach_and_port_forward_say_the_sim_runs_no_containers(kubectl, namespace, running_pod, command):
    done = kubectl("-n", namespace, *[part.format(pod=running_pod) for part in command], check=False, timeout=40)
    assert done.returncode == 1
    assert "imc sim simulates pods and runs no containers" in done.stderr
    assert f"{namespace}/{running_pod}" in done.stderr


def test_exec_into_a_missing_pod_is_not_found(kubectl, namespace):
    done = kubectl("exec", "-n", namespace, "no-such-pod", "--", "ls", check=False)
    assert done.returncode == 1 and 'pods "no-such-pod" not found' in done.stderr


def test_kubectl_debug_adds_an_ephemeral_container_that_runs_and_logs(kubectl, namespace, running_pod):
    kubectl("debug", "-n", namespace, running_pod, "--image=busybox:1.36", "--profile=general", "-c", "dbg")
    pod = json.loads(kubectl("get", "pod", "-n", namespace, running_pod, "-o", "json").stdout)
    assert [c["name"] for c in pod["spec"]["ephemeralContainers"]] == ["dbg"]
    status = pod["status"]["ephemeralContainerStatuses"][0]
    assert status["name"] == "dbg" and "running" in status["state"]
    logged = kubectl("logs", "-n", namespace, running_pod, "-c", "dbg").stdout
    assert logged.startswith("imc sim: container dbg (busybox:1.36) started.")
    again = kubectl("debug", "-n", namespace, running_pod, "--image=busybox:1.36", "--profile=general", "-c", "main",
                    check=False)
    assert again.returncode == 1 and 'Duplicate value: "main"' in again.stderr


def test_the_official_client_may_add_but_not_remove_an_ephemeral_container(api_client, namespace, running_pod):
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(api_client)
    added = core.patch_namespaced_pod_ephemeralcontainers(
        running_pod, namespace, {"spec": {"ephemeralContainers": [{"name": "probe", "image": "busybox:1.36"}]}})
    assert [c.name for c in added.spec.ephemeral_containers] == ["probe"]
    assert [c.name for c in core.read_namespaced_pod_ephemeralcontainers(running_pod, namespace)
            .spec.ephemeral_containers] == ["probe"]
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_pod_ephemeralcontainers(
            running_pod, namespace, [{"op": "remove", "path": "/spec/ephemeralContainers/0"}])
    assert caught.value.status == 422
    assert 'existing ephemeral containers "probe" may not be removed' in json.loads(caught.value.body)["message"]


def test_discovery_lists_the_pod_subresources(kubectl):
    listed = json.loads(kubectl("get", "--raw", "/api/v1").stdout)["resources"]
    kinds = {entry["name"]: (entry["kind"], entry["verbs"]) for entry in listed if entry["name"].startswith("pods/")}
    assert kinds["pods/log"] == ("Pod", ["get"])
    assert kinds["pods/exec"] == ("PodExecOptions", ["create", "get"])
    assert kinds["pods/ephemeralcontainers"] == ("Pod", ["get", "patch", "update"])
    assert {"pods/attach", "pods/portforward", "pods/eviction", "pods/status"} <= kinds.keys()
