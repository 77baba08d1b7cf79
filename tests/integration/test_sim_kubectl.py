"""The sim as kubectl 1.32 sees it: apply, get (printer columns), patch, delete, -w, errors, RBAC, rollouts."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import uuid

import pytest

from tests.integration.conftest import KUBECTL, poll

pytestmark = pytest.mark.integration


def imagecache_yaml(name: str, images: list[str], size: int = 20, retention: int = 7) -> str:
    """An ImageCache manifest."""
    listed = ", ".join(images)
    return f"""apiVersion: eci.alibabacloud.com/v1
kind: ImageCache
metadata:
  name: {name}
spec:
  images: [{listed}]
  imageCacheSize: {size}
  retentionDays: {retention}
"""


def deployment_yaml(name: str, image: str, replicas: int = 2, annotation: str = "") -> str:
    """A Deployment manifest of ECI pods."""
    annotations = f"\n      annotations: {{{annotation}}}" if annotation else ""
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}, alibabacloud.com/eci: "true"}}{annotations}
    spec:
      containers:
      - name: main
        image: {image}
        imagePullPolicy: IfNotPresent
      - name: side
        image: busybox:1.36
        imagePullPolicy: IfNotPresent
"""


def header(output: str) -> list[str]:
    """The column names of kubectl's table output."""
    return output.splitlines()[0].split()


def output_when(kubectl, text: str, *args: str) -> str | None:
    """kubectl's stdout when it contains `text`, else None (for polling)."""
    output = kubectl(*args).stdout
    return output if text in output else None


def unique_image(tag: str) -> str:
    """An image no other test uses."""
    return f"registry.cn-hangzhou.aliyuncs.com/imc-kubectl/{tag}-{uuid.uuid4().hex[:8]}:1.0"


def test_apply_get_and_printer_columns(kubectl, namespace):
    name = f"ic-{uuid.uuid4().hex[:8]}"
    manifest = imagecache_yaml(name, [unique_image("apply")])
    assert "created" in kubectl("apply", "-f", "-", input_text=manifest).stdout
    assert "unchanged" in kubectl("apply", "-f", "-", input_text=manifest).stdout
    output = poll(lambda: output_when(kubectl, " Ready ", "get", "imagecache", name),
                  message="the ImageCache Ready in kubectl get")
    changed = manifest.replace("retentionDays: 7", "retentionDays: 9")  # ECI updates a cache once it is Ready
    assert "configured" in kubectl("apply", "-f", "-", input_text=changed).stdout
    assert header(output) == ["NAME", "AGE", "CACHEID", "PHASE", "PROGRESS"]
    row = output.splitlines()[1].split()
    assert row[0] == name and row[2].startswith("imc-") and row[3:] == ["Ready", "100%"]
    assert kubectl("get", "ic", name, "-o", "jsonpath={.spec.retentionDays}").stdout == "9"
    kubectl("apply", "-n", namespace, "-f", "-", input_text=deployment_yaml("shown", "nginx:1.25"))
    deployments = poll(lambda: output_when(kubectl, " 2/2 ", "get", "deploy", "-n", namespace),
                       message="the Deployment 2/2")
    assert header(deployments) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    pods = kubectl("get", "pods", "-n", namespace).stdout
    assert header(pods) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert all(line.split()[2] == "Running" for line in pods.splitlines()[1:])
    kubectl("delete", "ic", name)


def test_patch_strategic_merge_and_json(kubectl, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input_text=deployment_yaml("patched", "nginx:1.25", replicas=1))
    kubectl("patch", "-n", namespace, "deploy", "patched", "-p",
            '{"spec":{"template":{"spec":{"containers":[{"name":"main","image":"nginx:1.27"}]}}}}')
    images = kubectl("get", "-n", namespace, "deploy", "patched", "-o",
                     "jsonpath={.spec.template.spec.containers[*].image}").stdout
    assert images == "nginx:1.27 busybox:1.36"
    kubectl("patch", "-n", namespace, "deploy", "patched", "--type", "merge", "-p", '{"metadata":{"labels":{"a":"b"}}}')
    kubectl("patch", "-n", namespace, "deploy", "patched", "--type", "json", "-p",
            '[{"op":"replace","path":"/spec/replicas","value":3}]')
    got = json.loads(kubectl("get", "-n", namespace, "deploy", "patched", "-o", "json").stdout)
    assert got["metadata"]["labels"]["a"] == "b" and got["spec"]["replicas"] == 3
    kubectl("rollout", "status", "-n", namespace, "deploy/patched", "--timeout=30s", timeout=40)
    listed = json.loads(kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)["items"]
    # the first replica set's pod may still be Terminating (graceful deletion), as on a real cluster
    assert len([pod for pod in listed if not pod["metadata"].get("deletionTimestamp")]) == 3


def test_delete_takes_the_pods_along(kubectl, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input_text=deployment_yaml("doomed", "nginx:1.25", replicas=2))
    poll(lambda: len(kubectl("get", "pods", "-n", namespace, "-o", "name").stdout.split()) == 2, message="two pods")
    assert 'deployment.apps "doomed" deleted' in kubectl("delete", "-n", namespace, "deploy", "doomed").stdout
    assert kubectl("get", "pods", "-n", namespace, "-o", "name").stdout.strip() == ""
    missing = kubectl("get", "-n", namespace, "deploy", "doomed", check=False)
    assert missing.returncode == 1 and "NotFound" in missing.stderr


def test_get_watch_prints_new_and_changed_pods(sim_server, kubectl, kubectl_cache_dir, namespace):
    command = [KUBECTL, "--kubeconfig", sim_server.kubeconfig, "--cache-dir", kubectl_cache_dir,
               "get", "pods", "-n", namespace, "-w"]
    watcher = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in watcher.stdout], daemon=True).start()
    try:
        # an image no cache holds, 400 MiB: it pulls for about a minute of the sim's time (3 s at --speed 20), so the
        # watch, which lists as the pod is created, sees it ContainerCreating before Running even on a loaded machine
        image = f"registry.example.com/kubectl-watch-{uuid.uuid4().hex[:8]}/node:22"
        kubectl("run", "-n", namespace, "watched", f"--image={image}", "--labels=alibabacloud.com/eci=true")
        seen: list[str] = []

        def running_line() -> bool:
            while not lines.empty():
                seen.append(lines.get())
            return any(line.split()[:1] == ["watched"] and "Running" in line for line in seen)

        poll(running_line, timeout=20, message="kubectl get -w to print the pod Running")
        assert any(line.split()[:1] == ["watched"] and "ContainerCreating" in line for line in seen)
    finally:
        watcher.terminate()
        watcher.wait(5)


def test_invalid_imagecache_is_rejected_with_its_fields(kubectl):
    manifest = imagecache_yaml("too-small", ["nginx:1.25"], size=10, retention=0)
    result = kubectl("apply", "-f", "-", input_text=manifest, check=False)
    assert result.returncode == 1
    assert "is invalid" in result.stderr and "spec.imageCacheSize" in result.stderr
    assert "spec.retentionDays" in result.stderr
    assert kubectl("get", "ic", "too-small", check=False).returncode == 1


def test_viewer_is_forbidden_to_write_and_can_i_agrees(kubectl, namespace):
    kubectl("run", "-n", namespace, "kept", "--image=nginx:1.25")
    denied = kubectl("--context", "sim-viewer", "delete", "-n", namespace, "pod", "kept", check=False)
    assert denied.returncode == 1 and "Forbidden" in denied.stderr and "sim-viewer" in denied.stderr
    assert "kept" in kubectl("--context", "sim-viewer", "get", "pods", "-n", namespace).stdout
    no = kubectl("--context", "sim-viewer", "auth", "can-i", "create", "pods", "-n", namespace, check=False)
    assert no.returncode == 1 and no.stdout.startswith("no")
    yes = kubectl("--context", "sim-viewer", "auth", "can-i", "watch", "imagecaches", check=False)
    assert yes.returncode == 0 and yes.stdout.strip() == "yes"
    assert kubectl("auth", "can-i", "delete", "imagecaches").stdout.strip() == "yes"


def test_rollout_carries_a_template_annotation_to_new_pods(kubectl, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input_text=deployment_yaml("rolled", "nginx:1.25", replicas=2))
    kubectl("rollout", "status", "-n", namespace, "deploy/rolled", "--timeout=30s", timeout=40)
    before = set(kubectl("get", "pods", "-n", namespace, "-o", "name").stdout.split())
    marker = "k8s.aliyun.com/imc-perfect-match"
    kubectl("patch", "-n", namespace, "deploy", "rolled", "-p",
            json.dumps({"spec": {"template": {"metadata": {"annotations": {marker: "true"}}}}}))
    kubectl("rollout", "status", "-n", namespace, "deploy/rolled", "--timeout=30s", timeout=40)
    listed = json.loads(kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)["items"]
    # old pods may still be Terminating (graceful deletion), as on a real cluster; they are no replicas any more
    terminating = [pod for pod in listed if pod["metadata"].get("deletionTimestamp")]
    pods = [pod for pod in listed if not pod["metadata"].get("deletionTimestamp")]
    assert len(pods) == 2
    assert {f"pod/{pod['metadata']['name']}" for pod in terminating} <= before
    assert all(pod["metadata"]["annotations"].get(marker) == "true" for pod in pods)
    assert not before & {f"pod/{pod['metadata']['name']}" for pod in pods}
    status = json.loads(kubectl("get", "-n", namespace, "deploy", "rolled", "-o", "json").stdout)["status"]
    assert status["updatedReplicas"] == status["availableReplicas"] == status["readyReplicas"] == 2
    assert "2" == kubectl("get", "-n", namespace, "deploy", "rolled", "-o",
                          "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}").stdout
    scaling = kubectl("get", "events", "-n", namespace, "--field-selector", "reason=ScalingReplicaSet").stdout
    assert "Scaled up replica set rolled-" in scaling and "Scaled down replica set rolled-" in scaling


def test_events_and_raw_paths(kubectl, namespace):
    kubectl("run", "-n", namespace, "evented", "--image", unique_image("events"), "--labels=alibabacloud.com/eci=true")
    events = poll(lambda: output_when(kubectl, "evented", "get", "events", "-n", namespace, "--field-selector",
                                      "reason=ImageCacheMissed"),
                  message="an ImageCacheMissed event listed by kubectl")
    assert header(events)[:4] == ["LAST", "SEEN", "TYPE", "REASON"]
    assert json.loads(kubectl("get", "--raw", "/version").stdout)["major"] == "1"
    assert "imagecaches" in kubectl("api-resources", "--api-group", "eci.alibabacloud.com").stdout


def test_unknown_imagecache_fields_are_rejected_when_strict_and_pruned_otherwise(kubectl):
    name = f"typo-{uuid.uuid4().hex[:8]}"
    manifest = imagecache_yaml(name, ["nginx:1.25"]).replace("retentionDays", "retentionDay")
    strict = kubectl("apply", "-f", "-", input_text=manifest, check=False)
    assert strict.returncode == 1 and 'unknown field "spec.retentionDay"' in strict.stderr
    warned = kubectl("apply", "--validate=warn", "-f", "-", input_text=manifest)
    assert 'Warning: unknown field "spec.retentionDay"' in warned.stderr
    spec = json.loads(kubectl("get", "ic", name, "-o", "jsonpath={.spec}").stdout)
    assert spec == {"images": ["nginx:1.25"], "imageCacheSize": 20}
    kubectl("delete", "ic", name)


def test_typed_commands_create_scale_and_server_side_apply(kubectl, namespace):
    kubectl("create", "deployment", "typed", "-n", namespace, "--image=nginx:1.25", "--replicas=1", "--port=80")
    created = json.loads(kubectl("get", "deploy", "typed", "-n", namespace, "-o", "json").stdout)
    container = created["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.25" and container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert "scaled" in kubectl("scale", "-n", namespace, "deploy/typed", "--replicas=3").stdout
    kubectl("rollout", "status", "-n", namespace, "deploy/typed", "--timeout=30s", timeout=40)
    assert len(kubectl("get", "pods", "-n", namespace, "-l", "app=typed", "-o", "name").stdout.split()) == 3
    other = f"t-{uuid.uuid4().hex[:8]}"
    assert f"namespace/{other} created" in kubectl("create", "namespace", other).stdout
    manifest = deployment_yaml("applied", "nginx:1.25", replicas=1)
    assert "serverside-applied" in kubectl("apply", "--server-side", "-n", other, "-f", "-", input_text=manifest).stdout
    kubectl("apply", "--server-side", "-n", other, "-f", "-", input_text=manifest.replace("replicas: 1", "replicas: 2"))
    assert kubectl("get", "deploy", "applied", "-n", other, "-o", "jsonpath={.spec.replicas}").stdout == "2"
    managers = json.loads(kubectl("get", "deploy", "applied", "-n", other, "-o", "json", "--show-managed-fields")
                          .stdout)["metadata"]["managedFields"]
    assert {(m["manager"], m["operation"]) for m in managers} == {("kubectl", "Apply")}
    kubectl("delete", "namespace", other)
    assert kubectl("get", "deploy", "-n", other, "-o", "name", check=False).stdout.strip() == ""


def test_explain_reads_the_crd_schema(kubectl):
    explained = kubectl("explain", "imagecache.spec.images").stdout
    assert "<[]string>" in explained and "1 to 20" in explained


def test_a_rollout_stuck_on_a_failed_pin_exceeds_its_progress_deadline(kubectl, namespace):
    manifest = deployment_yaml("stuck", unique_image("stuck"), replicas=1,
                               annotation='k8s.aliyun.com/eci-imc-id: "imc-2zenothere0000000000"')
    manifest = manifest.replace("  replicas: 1\n", "  replicas: 1\n  progressDeadlineSeconds: 20\n")
    kubectl("apply", "-n", namespace, "-f", "-", input_text=manifest)
    result = kubectl("rollout", "status", "-n", namespace, "deploy/stuck", "--timeout=30s", check=False, timeout=40)
    assert result.returncode == 1 and "exceeded its progress deadline" in result.stderr
    pods = json.loads(kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)["items"]
    assert [p["status"]["phase"] for p in pods] == ["Pending"]
