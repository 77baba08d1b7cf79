"""imc acting as a signed-in person against `imc sim`: the headers reach the server, RBAC decides as that person, and
an account that may not impersonate makes signed-in mode read-only."""

from __future__ import annotations

import uuid

import orjson
import pytest
from kubernetes import client

from core.identity import Identity
from core.policy import AUTO_IMC
from kube.access import IMPERSONATION_REFUSED, AccessChecker
from kube.connect import connect
from kube.http import Request, send_json
from kube.impersonation import acting_as
from kube.writes import WriteError, patch_deployment_annotations
from tests.integration.test_kube_live import deployment_body

WHOAMI = Request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                 body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})


def test_the_server_sees_the_person_and_every_group(sim_server):
    admin = connect(kubeconfig=sim_server.kubeconfig, context="sim")
    person = acting_as(admin, Identity("oidc:ana@example.com", ("oidc:sre", "oidc:on-call")))
    seen = send_json(person.api_client, WHOAMI)["status"]["userInfo"]
    assert seen["username"] == "oidc:ana@example.com"
    assert {"oidc:sre", "oidc:on-call"} <= set(seen["groups"])
    assert send_json(admin.api_client, WHOAMI)["status"]["userInfo"]["username"] != "oidc:ana@example.com"


def test_rbac_decides_as_the_person(sim_server, namespace, api_client, kubectl):
    """A person the sim grants nothing may not patch, sees nothing; one in its viewers' group sees everything."""
    client.AppsV1Api(api_client).create_namespaced_deployment(namespace, deployment_body("web", ["nginx:1.25"]))
    admin = connect(kubeconfig=sim_server.kubeconfig, context="sim")
    nobody = acting_as(admin, Identity(f"oidc:{uuid.uuid4().hex[:6]}@example.com"))
    checker = AccessChecker(nobody)
    patch = checker.can("patch-deployment", namespace)
    assert not patch.allowed and f"may not patch deployments in namespace {namespace}" in patch.reason
    assert nobody.user in patch.reason
    shown = checker.visibility([namespace, "default"])
    assert shown.namespaces == frozenset() and not shown.caches and shown.nothing and shown.problem is None
    seen = orjson.loads(kubectl("get", "deployment", "web", "-n", namespace, "-o", "json").stdout)
    with pytest.raises(WriteError) as refused:
        patch_deployment_annotations(nobody, seen, {AUTO_IMC: "false"})
    assert refused.value.status == 403
    viewer = AccessChecker(acting_as(admin, Identity("oidc:val@example.com", ("imc:viewers",))))
    assert viewer.visibility([namespace]).namespaces is None and viewer.visibility([namespace]).caches
    assert not viewer.can("patch-deployment", namespace).allowed


def test_an_account_that_may_not_impersonate_makes_it_read_only(sim_server):
    """sim-viewer may not impersonate: every answer is no, with the reason, the person sees what imc sees, and the
    refusal is an answer kept for the TTL of the checker's clock."""
    now = [0.0]
    viewer = connect(kubeconfig=sim_server.kubeconfig, context="sim-viewer")
    checker = AccessChecker(acting_as(viewer, Identity("oidc:ana@example.com")), ttl=60, clock=lambda: now[0])
    first = checker.can("patch-deployment", "shop")
    assert not first.allowed and first.reason == IMPERSONATION_REFUSED
    shown = checker.visibility(["shop"])
    assert shown.namespaces is None and shown.problem == IMPERSONATION_REFUSED
    now[0] = 59.0
    assert checker.can("patch-deployment", "shop") is first
    now[0] = 61.0
    again = checker.can("patch-deployment", "shop")
    assert again is not first and again == first
