"""The demo people of the built-in cluster (issue 26), as kubectl, the official client and imc's own writes see them:
the admin impersonates them, namespaced RBAC decides."""

from __future__ import annotations

import json

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from core.caches import GROUP, PLURAL, VERSION
from core.policy import AUTO_IMC
from kube.access import AccessChecker
from kube.connect import connect
from kube.writes import PATCHED_REASON, WriteError, patch_deployment_annotations
from sim.apiserver.people import DEMO_VIEWER, DEMO_VIEWER_GROUP, DEMO_WRITER, DEMO_WRITER_GROUP
from sim.scenarios import deployment
from tests.integration.conftest import new_api_client
from tests.integration.test_sim_access import rules

pytestmark = pytest.mark.integration

AS_WRITER = ("--as", DEMO_WRITER)
AS_VIEWER = ("--as", DEMO_VIEWER)
WEB = "people-web"
PEOPLES_NAMESPACES = ("shop", "data", "ml")


@pytest.fixture(scope="module")
def people_cluster(sim_server):
    """The shared sim with the namespaces the demo people's bindings name, a Deployment in shop and in data."""
    admin = new_api_client(sim_server, "sim")
    core, apps = client.CoreV1Api(admin), client.AppsV1Api(admin)
    made = []
    for name in PEOPLES_NAMESPACES:
        try:
            core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
            made.append(name)
        except ApiException as error:
            if error.status != 409:
                raise
    for name in ("shop", "data"):
        apps.create_namespaced_deployment(name, deployment(WEB, ["nginx:1.25"], replicas=1))
    yield sim_server
    for name in ("shop", "data"):
        apps.delete_namespaced_deployment(WEB, name)
    for name in made:
        core.delete_namespace(name)
    admin.close()


@pytest.fixture
def acting_as(people_cluster):
    """An official-client ApiClient of the admin that impersonates a user (and groups) by default headers."""
    made = []

    def make(user: str, group: str = ""):
        api_client = new_api_client(people_cluster, "sim")
        api_client.set_default_header("Impersonate-User", user)
        if group:
            api_client.set_default_header("Impersonate-Group", group)
        made.append(api_client)
        return api_client

    yield make
    for api_client in made:
        api_client.close()


def forbidden_line(user: str, verb: str, resource: str, group: str, namespace: str, name: str = "") -> str:
    """kubectl's line for a 403 as kube-apiserver's RBAC words it."""
    what = f"{resource}.{group}" if group else resource
    return (f'Error from server (Forbidden): {what}{f" {json.dumps(name)}" if name else ""} is forbidden: '
            f'User "{user}" cannot {verb} resource "{resource}" in API group "{group}" in the namespace "{namespace}"')


def test_the_writer_patches_a_deployment_in_shop_and_is_refused_in_data(people_cluster, kubectl):
    patch = '{"spec":{"template":{"metadata":{"annotations":{"team":"shop"}}}}}'
    assert kubectl(*AS_WRITER, "-n", "shop", "patch", "deployment", WEB, "--dry-run=server", "-p", patch).returncode == 0
    done = kubectl(*AS_WRITER, "-n", "shop", "patch", "deployment", WEB, "-p", patch)
    assert done.stdout.strip() == f"deployment.apps/{WEB} patched"
    refused = kubectl(*AS_WRITER, "-n", "data", "patch", "deployment", WEB, "-p", patch, check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == forbidden_line(DEMO_WRITER, "patch", "deployments", "apps", "data", WEB)
    annotations = json.loads(kubectl("get", "deployment", WEB, "-n", "data", "-o", "json").stdout)["spec"][
        "template"]["metadata"]["annotations"]
    assert "team" not in annotations
    assert kubectl(*AS_WRITER, "get", "pods", "-n", "ml").returncode == 0
    assert kubectl(*AS_WRITER, "get", "secrets", "-n", "shop", check=False).stderr.strip() == forbidden_line(
        DEMO_WRITER, "list", "secrets", "", "shop")


def test_the_viewer_reads_shop_only(people_cluster, kubectl):
    assert kubectl(*AS_VIEWER, "get", "pods", "-n", "shop").returncode == 0
    assert kubectl(*AS_VIEWER, "get", "namespace", "shop").returncode == 0
    refused = kubectl(*AS_VIEWER, "get", "pods", "-n", "data", check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == forbidden_line(DEMO_VIEWER, "list", "pods", "", "data")
    assert kubectl(*AS_VIEWER, "get", "namespace", "data", check=False).stderr.strip() == forbidden_line(
        DEMO_VIEWER, "get", "namespaces", "", "data", "data")
    everywhere = kubectl(*AS_VIEWER, "get", "pods", "-A", check=False)
    assert everywhere.stderr.strip().endswith(
        f'pods is forbidden: User "{DEMO_VIEWER}" cannot list resource "pods" in API group "" at the cluster scope')
    assert kubectl(*AS_VIEWER, "get", "imagecaches").returncode == 0
    patch = kubectl(*AS_VIEWER, "-n", "shop", "patch", "deployment", WEB, "-p", '{"metadata":{"labels":{"a":"b"}}}',
                    check=False)
    assert patch.stderr.strip() == forbidden_line(DEMO_VIEWER, "patch", "deployments", "apps", "shop", WEB)


def test_auth_can_i_answers_per_namespace(people_cluster, kubectl):
    shop = rules(kubectl(*AS_VIEWER, "auth", "can-i", "--list", "-n", "shop").stdout)
    data = rules(kubectl(*AS_VIEWER, "auth", "can-i", "--list", "-n", "data").stdout)
    assert shop["pods"] == shop["deployments.apps"] == shop["pods/log"] == "[get list watch]"
    assert shop["imagecaches.eci.alibabacloud.com"] == data["imagecaches.eci.alibabacloud.com"] == "[get list watch]"
    assert "secrets" not in shop and "pods" not in data and "deployments.apps" not in data
    assert "[create]" in data["selfsubjectrulesreviews.authorization.k8s.io"]
    writer = rules(kubectl(*AS_WRITER, "auth", "can-i", "--list", "-n", "shop").stdout)
    assert "patch" in writer["deployments.apps"] and "update" in writer["deployments.apps"]
    assert "create" in writer["events"]
    assert "patch" not in rules(kubectl(*AS_WRITER, "auth", "can-i", "--list", "-n", "ml").stdout)["deployments.apps"]

    no = kubectl("auth", "can-i", "list", "pods", "-n", "data", *AS_VIEWER, check=False)
    assert (no.returncode, no.stdout.strip()) == (1, "no")
    assert kubectl("auth", "can-i", "list", "pods", "-n", "shop", *AS_VIEWER).stdout.strip() == "yes"
    assert kubectl("auth", "can-i", "create", "imagecaches", *AS_WRITER, check=False).stdout.strip() == "no"
    assert kubectl("auth", "can-i", "patch", "deployments", "-n", "shop", "--as", "someone", "--as-group",
                   DEMO_WRITER_GROUP).stdout.strip() == "yes"
    assert kubectl("auth", "can-i", "list", "pods", "-n", "shop", "--as", "someone", "--as-group",
                   DEMO_VIEWER_GROUP).stdout.strip() == "yes"
    assert kubectl("auth", "can-i", "list", "pods", "-n", "shop", "--as", "someone", check=False).returncode == 1
    whoami = kubectl("auth", "whoami", *AS_WRITER).stdout
    assert DEMO_WRITER in whoami and "system:authenticated" in whoami


def test_the_official_client_impersonating_by_header(people_cluster, acting_as):
    viewer, writer = acting_as(DEMO_VIEWER), acting_as("someone", DEMO_WRITER_GROUP)
    assert client.CoreV1Api(viewer).list_namespaced_pod("shop").items
    with pytest.raises(ApiException) as everywhere:
        client.CoreV1Api(viewer).list_pod_for_all_namespaces()
    assert everywhere.value.status == 403
    assert client.CustomObjectsApi(viewer).list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"] is not None
    with pytest.raises(ApiException) as create:
        client.CustomObjectsApi(writer).create_cluster_custom_object(GROUP, VERSION, PLURAL, {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "ImageCache", "metadata": {"name": "people-no"},
            "spec": {"images": ["nginx:1.25"]}})
    assert create.value.status == 403
    assert json.loads(create.value.body)["message"] == (
        f'imagecaches.{GROUP} is forbidden: User "someone" cannot create resource "imagecaches" in API group '
        f'"{GROUP}" at the cluster scope')
    apps = client.AppsV1Api(writer)
    patched = apps.patch_namespaced_deployment(WEB, "shop", {"metadata": {"labels": {"by": "someone"}}})
    assert patched.metadata.labels["by"] == "someone"
    with pytest.raises(ApiException) as data:
        apps.patch_namespaced_deployment(WEB, "data", {"metadata": {"labels": {"by": "someone"}}})
    assert json.loads(data.value.body)["message"] == (
        f'deployments.apps "{WEB}" is forbidden: User "someone" cannot patch resource "deployments" in API group '
        '"apps" in the namespace "data"')

    review = client.AuthorizationV1Api(viewer).create_self_subject_rules_review(
        client.V1SelfSubjectRulesReview(spec=client.V1SelfSubjectRulesReviewSpec(namespace="data")))
    assert {resource for rule in review.status.resource_rules for resource in rule.resources} == {
        "imagecaches", "imagecaches/status", "selfsubjectaccessreviews", "selfsubjectrulesreviews",
        "selfsubjectreviews"}


def test_a_namespaced_watch_is_authorized_as_a_namespaced_list(people_cluster, acting_as):
    core = client.CoreV1Api(acting_as(DEMO_VIEWER))
    seen = [event["object"].metadata.namespace
            for event in watch.Watch().stream(core.list_namespaced_pod, "shop", timeout_seconds=1)]
    assert seen and set(seen) == {"shop"}
    with pytest.raises(ApiException) as refused:
        list(watch.Watch().stream(core.list_namespaced_pod, "data", timeout_seconds=1))
    assert refused.value.status == 403
    with pytest.raises(ApiException):
        list(watch.Watch().stream(core.list_pod_for_all_namespaces, timeout_seconds=1))


def test_imcs_own_write_path_acts_as_the_writer(people_cluster, kubectl):
    connection = connect(kubeconfig=people_cluster.kubeconfig, context="sim")
    connection.api_client.set_default_header("Impersonate-User", DEMO_WRITER)
    try:
        checker = AccessChecker(connection)
        assert checker.can("patch-deployment", "shop").allowed
        assert not checker.can("patch-deployment", "data").allowed
        assert not any(checker.can(name).allowed for name in ("create-imagecache", "update-imagecache",
                                                              "delete-imagecache"))
        shop = json.loads(kubectl("get", "deployment", WEB, "-n", "shop", "-o", "json").stdout)
        result = patch_deployment_annotations(connection, shop, {AUTO_IMC: "false"})
        assert result.ok and result.warnings == (), "the audit Event was written in shop"
        events = json.loads(kubectl("get", "events", "-n", "shop", "-o", "json").stdout)["items"]
        assert any(e["reason"] == PATCHED_REASON and e["involvedObject"]["name"] == WEB for e in events)
        data = json.loads(kubectl("get", "deployment", WEB, "-n", "data", "-o", "json").stdout)
        with pytest.raises(WriteError) as refused:
            patch_deployment_annotations(connection, data, {AUTO_IMC: "false"})
        assert refused.value.status == 403 and "(server dry-run)" in refused.value.message
    finally:
        connection.close()
