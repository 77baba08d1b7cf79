"""ConfigMaps and Secrets as kubectl and the official client use them against the sim."""

from __future__ import annotations

import base64
import json

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.integration
VIEWER = ("--context", "sim-viewer")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def header(output: str) -> list[str]:
    return output.splitlines()[0].split()


def test_kubectl_creates_lists_and_describes_them(kubectl, namespace):
    ns = ("-n", namespace)
    assert kubectl("create", "configmap", "c", "--from-literal=a=b", "--from-literal=x=y", *ns).stdout.strip() == \
        "configmap/c created"
    kubectl("create", "secret", "generic", "s", "--from-literal=a=s3cr3t", *ns)
    kubectl("create", "secret", "docker-registry", "acr-pull", "--docker-server=registry.cn-hangzhou.aliyuncs.com",
            "--docker-username=me@example", "--docker-password=pw", *ns)
    configmaps = kubectl("get", "cm", *ns).stdout
    assert header(configmaps) == ["NAME", "DATA", "AGE"] and configmaps.splitlines()[1].split()[:2] == ["c", "2"]
    secrets = kubectl("get", "secrets", *ns).stdout
    assert header(secrets) == ["NAME", "TYPE", "DATA", "AGE"]
    assert [line.split()[:3] for line in secrets.splitlines()[1:]] == [
        ["acr-pull", "kubernetes.io/dockerconfigjson", "1"], ["s", "Opaque", "1"]]
    both = kubectl("get", "cm,secrets", "-A").stdout
    assert f"{namespace}   configmap/c" in both and f"{namespace}   secret/acr-pull" in both
    described = kubectl("describe", "secret", "s", *ns).stdout
    assert "Type:  Opaque" in described and "a:  6 bytes" in described and "s3cr3t" not in described
    value = kubectl("get", "secret", "s", *ns, "-o", "jsonpath={.data.a}").stdout
    assert base64.b64decode(value) == b"s3cr3t"
    config = json.loads(base64.b64decode(kubectl("get", "secret", "acr-pull", *ns, "-o",
                                                 r"jsonpath={.data.\.dockerconfigjson}").stdout))
    assert config["auths"]["registry.cn-hangzhou.aliyuncs.com"]["username"] == "me@example"
    pulls = kubectl("get", "secrets", *ns, "--field-selector", "type=kubernetes.io/dockerconfigjson", "-o", "name")
    assert pulls.stdout.split() == ["secret/acr-pull"]


def test_kubectl_edits_applies_patches_and_deletes_them(kubectl, namespace, monkeypatch):
    ns = ("-n", namespace)
    manifest = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: {namespace}}}\n" \
               "data: {mode: one}\n"
    kubectl("apply", "-f", "-", input_text=manifest)
    assert kubectl("apply", "-f", "-", input_text=manifest.replace("one", "two")).stdout.strip() == \
        "configmap/settings configured"
    monkeypatch.setenv("KUBE_EDITOR", "sed -i s/mode:\\ two/mode:\\ three/")
    kubectl("edit", "configmap", "settings", *ns)
    assert kubectl("get", "cm", "settings", *ns, "-o", "jsonpath={.data.mode}").stdout == "three"
    kubectl("create", "secret", "generic", "s", "--from-literal=a=b", *ns)
    kubectl("patch", "secret", "s", *ns, "-p", json.dumps({"stringData": {"c": "d"}}))
    stored = json.loads(kubectl("get", "secret", "s", *ns, "-o", "json").stdout)
    assert stored["data"] == {"a": b64("b"), "c": b64("d")} and "stringData" not in stored
    changed = kubectl("patch", "secret", "s", *ns, "-p", '{"type": "kubernetes.io/tls"}', check=False)
    assert changed.returncode == 1
    assert 'type: Invalid value: "kubernetes.io/tls": field is immutable' in changed.stderr
    kubectl("delete", "secret", "s", *ns)
    kubectl("delete", "configmap", "settings", *ns)
    assert kubectl("get", "cm,secrets", *ns, "-o", "name").stdout.strip() == ""


def test_the_official_client_creates_reads_lists_patches_deletes_and_watches(api_client, namespace):
    core = client.CoreV1Api(api_client)
    version = core.list_namespaced_secret(namespace).metadata.resource_version
    body = client.V1Secret(metadata=client.V1ObjectMeta(name="token"), string_data={"token": "hunter2"})
    created = core.create_namespaced_secret(namespace, body)
    assert created.type == "Opaque" and created.data == {"token": b64("hunter2")} and created.string_data is None
    assert core.read_namespaced_secret("token", namespace).data == {"token": b64("hunter2")}
    assert [s.metadata.name for s in core.list_namespaced_secret(namespace).items] == ["token"]
    patched = core.patch_namespaced_secret("token", namespace, {"metadata": {"labels": {"team": "a"}}})
    assert patched.metadata.labels == {"team": "a"} and patched.data == created.data
    core.delete_namespaced_secret("token", namespace)
    seen = []
    for event in watch.Watch().stream(core.list_namespaced_secret, namespace, resource_version=version,
                                      timeout_seconds=5, _request_timeout=10):
        seen.append(event["type"])
        if event["type"] == "DELETED":
            break
    assert seen == ["ADDED", "MODIFIED", "DELETED"]

    configmap = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c"), data={"a": "1"},
                                   binary_data={"bin": b64("\x00")})
    assert core.create_namespaced_config_map(namespace, configmap).binary_data == {"bin": "AA=="}
    core.patch_namespaced_config_map("c", namespace, {"data": {"a": "2"}})
    assert core.read_namespaced_config_map("c", namespace).data == {"a": "2"}
    assert [c.metadata.name for c in core.list_config_map_for_all_namespaces(
        field_selector=f"metadata.namespace={namespace}").items] == ["c"]
    core.delete_namespaced_config_map("c", namespace)
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("c", namespace)
    assert missing.value.status == 404


def test_bad_data_is_refused_as_kube_apiserver_refuses_it(api_client, namespace):
    core = client.CoreV1Api(api_client)
    with pytest.raises(ApiException) as bad_base64:
        core.create_namespaced_secret(namespace, {"metadata": {"name": "bad"}, "data": {"a": "not base64!"}})
    assert bad_base64.value.status == 400
    assert json.loads(bad_base64.value.body)["message"] == \
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3'
    with pytest.raises(ApiException) as bad_key:
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "bad"}, "data": {"a b": "1"}})
    assert bad_key.value.status == 422
    assert json.loads(bad_key.value.body)["details"]["causes"][0]["field"] == "data[a b]"
    with pytest.raises(ApiException) as no_config:
        core.create_namespaced_secret(namespace, {"metadata": {"name": "pull"}, "type": "kubernetes.io/dockerconfigjson",
                                                  "data": {"a": b64("{}")}})
    assert no_config.value.status == 422 and "data[.dockerconfigjson]: Required value" in no_config.value.body


def test_immutable_data_stays_and_metadata_may_change(api_client, namespace):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_secret(namespace, {"metadata": {"name": "frozen"}, "immutable": True,
                                              "stringData": {"a": "1"}})
    with pytest.raises(ApiException) as refused:
        core.patch_namespaced_secret("frozen", namespace, {"stringData": {"a": "2"}})
    assert refused.value.status == 422
    assert 'Secret "frozen" is invalid: data: Forbidden: field is immutable when `immutable` is set' in \
        json.loads(refused.value.body)["message"]
    relabelled = core.patch_namespaced_secret("frozen", namespace, {"metadata": {"labels": {"a": "b"}}})
    assert relabelled.metadata.labels == {"a": "b"} and relabelled.data == {"a": b64("1")}
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "frozen"}, "immutable": True, "data": {"a": "1"}})
    with pytest.raises(ApiException) as thawed:
        core.patch_namespaced_config_map("frozen", namespace, {"immutable": False})
    assert thawed.value.status == 422 and "immutable: Forbidden" in thawed.value.body


def test_the_viewer_reads_configmaps_but_not_secrets(kubectl, api_client, viewer_api_client, namespace):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_secret(namespace, {"metadata": {"name": "s"}, "stringData": {"a": "1"}})
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "c"}, "data": {"a": "1"}})
    viewer = client.CoreV1Api(viewer_api_client)
    assert viewer.read_namespaced_config_map("c", namespace).data == {"a": "1"}
    with pytest.raises(ApiException) as denied:
        viewer.read_namespaced_secret("s", namespace)
    assert denied.value.status == 403
    assert json.loads(denied.value.body)["message"] == (
        f'secrets "s" is forbidden: User "sim-viewer" cannot get resource "secrets" in API group "" in the '
        f'namespace "{namespace}"')
    listed = kubectl(*VIEWER, "get", "secrets", "-n", namespace, check=False)
    assert listed.returncode == 1 and 'cannot list resource "secrets"' in listed.stderr
    assert kubectl(*VIEWER, "auth", "can-i", "get", "secrets", "-n", namespace, check=False).stdout.strip() == "no"
    assert kubectl(*VIEWER, "auth", "can-i", "list", "configmaps", "-n", namespace).stdout.strip() == "yes"
    assert kubectl("auth", "can-i", "get", "secrets", "-n", namespace).stdout.strip() == "yes"
