"""The built-in cluster's demo people (issue 26): namespaced RBAC, per-namespace rules reviews, impersonation."""

from __future__ import annotations

import pytest

from core.caches import GROUP as CACHES
from sim.apiserver.access import (
    AUTHENTICATED,
    BASIC_RULES,
    CACHE_READ_RULES,
    GROUPS_OF,
    VIEWER_RULES,
    Subject,
    access_review,
    allowed,
    impersonated,
    request_namespace,
    rules_review,
    url_allowed,
)
from sim.apiserver.errors import ApiError
from sim.apiserver.identity import ADMIN_USER, VIEWER_USER
from sim.apiserver.people import (
    DEMO_VIEWER,
    DEMO_VIEWER_GROUP,
    DEMO_WRITER,
    DEMO_WRITER_GROUP,
    DEMO_WRITER_NAMESPACE,
)
from sim.apiserver.resources import NAMESPACES, PODS, Target

ADMIN = Subject(ADMIN_USER, GROUPS_OF[ADMIN_USER])
SIM_VIEWER = Subject(VIEWER_USER, GROUPS_OF[VIEWER_USER])
WRITER = impersonated(ADMIN, DEMO_WRITER, [])
VIEWER = impersonated(ADMIN, DEMO_VIEWER, [])
READS = [("", "pods"), ("", "pods/log"), ("", "events"), ("", "configmaps"), ("apps", "deployments"),
         ("apps", "replicasets"), ("batch", "jobs"), ("batch", "cronjobs")]


def test_the_admin_impersonates_a_demo_person_who_then_has_only_system_authenticated():
    assert WRITER == Subject(DEMO_WRITER, (AUTHENTICATED,))
    assert DEMO_WRITER == "oidc:shop-dev@example.com" and DEMO_WRITER_GROUP == "oidc:shop-writers"
    assert DEMO_VIEWER == "oidc:viewer@example.com" and DEMO_VIEWER_GROUP == "oidc:viewers"
    assert DEMO_WRITER_NAMESPACE == "shop"


@pytest.mark.parametrize("person", [DEMO_WRITER, DEMO_VIEWER])
def test_sim_viewer_may_not_impersonate_a_demo_person(person):
    with pytest.raises(ApiError) as refused:
        impersonated(SIM_VIEWER, person, [])
    assert refused.value.code == 403
    assert refused.value.message == (f'users "{person}" is forbidden: User "sim-viewer" cannot impersonate resource '
                                      '"users" in API group "" at the cluster scope')
    with pytest.raises(ApiError):
        impersonated(WRITER, DEMO_VIEWER, [])  # nor may a demo person impersonate anyone


def test_a_service_account_is_impersonated_in_its_own_namespace():
    with pytest.raises(ApiError) as refused:
        impersonated(SIM_VIEWER, "system:serviceaccount:ci:builder", [])
    assert refused.value.message == ('serviceaccounts "builder" is forbidden: User "sim-viewer" cannot impersonate '
                                     'resource "serviceaccounts" in API group "" in the namespace "ci"')


@pytest.mark.parametrize("namespace", ["shop", "data", "ml"])
@pytest.mark.parametrize(("group", "resource"), READS)
def test_the_writer_reads_what_the_view_role_gives_in_shop_data_and_ml(namespace, group, resource):
    assert all(allowed(WRITER, verb, group, resource, namespace) for verb in ("get", "list", "watch"))
    assert not allowed(WRITER, "list", group, resource, "payments")
    assert not allowed(WRITER, "list", group, resource), "a list across namespaces needs a cluster-wide grant"
    assert not allowed(WRITER, "get", "", "secrets", namespace), "the view role reads no Secrets"


def test_the_writer_patches_deployments_and_writes_events_in_shop_only():
    for verb in ("patch", "update"):
        assert allowed(WRITER, verb, "apps", "deployments", "shop")
        assert not allowed(WRITER, verb, "apps", "deployments", "data")
        assert not allowed(WRITER, verb, "apps", "deployments")
    assert allowed(WRITER, "create", "", "events", "shop")
    assert not allowed(WRITER, "create", "", "events", "data")
    for verb, resource in [("create", "deployments"), ("delete", "deployments"), ("patch", "replicasets"),
                           ("patch", "deployments/scale")]:
        assert not allowed(WRITER, verb, "apps", resource, "shop")
    assert not allowed(WRITER, "create", "", "pods", "shop") and not allowed(WRITER, "delete", "", "pods", "shop")


@pytest.mark.parametrize("person", [WRITER, VIEWER])
def test_both_read_imagecaches_cluster_wide_and_change_none(person):
    for verb in ("get", "list", "watch"):
        assert allowed(person, verb, CACHES, "imagecaches")
    for verb in ("create", "update", "patch", "delete", "deletecollection"):
        assert not allowed(person, verb, CACHES, "imagecaches")
        assert not allowed(person, verb, CACHES, "imagecaches", "shop")
    assert not allowed(person, "list", "", "nodes") and not allowed(person, "list", "", "namespaces")


def test_the_viewer_reads_in_shop_only_and_writes_nothing():
    for group, resource in READS:
        assert allowed(VIEWER, "list", group, resource, "shop")
        assert not allowed(VIEWER, "list", group, resource, "data")
        assert not allowed(VIEWER, "watch", group, resource)
    for verb, group, resource in [("patch", "apps", "deployments"), ("update", "apps", "deployments"),
                                  ("create", "", "events"), ("get", "", "secrets")]:
        assert not allowed(VIEWER, verb, group, resource, "shop")


@pytest.mark.parametrize(("group", "same_as"), [(DEMO_WRITER_GROUP, WRITER), (DEMO_VIEWER_GROUP, VIEWER)])
def test_the_group_alone_gives_the_same_rules(group, same_as):
    someone = impersonated(ADMIN, "someone", [group])
    for namespace in ("shop", "data", "ml", "default"):
        assert reviewed(someone, namespace) == reviewed(same_as, namespace)
    assert allowed(someone, "list", "", "pods", "shop")


@pytest.mark.parametrize("person", [WRITER, VIEWER])
def test_both_have_the_basic_rules_of_every_authenticated_user(person):
    for resource in ("selfsubjectaccessreviews", "selfsubjectrulesreviews"):
        assert allowed(person, "create", "authorization.k8s.io", resource)
    assert allowed(person, "create", "authentication.k8s.io", "selfsubjectreviews")
    assert url_allowed(person, "get", "/apis/apps/v1") and not url_allowed(person, "get", "/metrics")


def reviewed(subject: Subject, namespace: str) -> list[dict]:
    """The resource rules a SelfSubjectRulesReview lists for the subject in a namespace."""
    return rules_review(subject, {"spec": {"namespace": namespace}})["status"]["resourceRules"]


def test_a_rules_review_lists_cluster_wide_rules_then_the_namespaces():
    basic = [rule.review() for rule in CACHE_READ_RULES + BASIC_RULES if not rule.urls]
    view = [rule.review() for rule in VIEWER_RULES]
    assert reviewed(WRITER, "default") == reviewed(VIEWER, "data") == basic
    assert reviewed(VIEWER, "shop") == basic + view
    assert reviewed(WRITER, "data") == basic + view
    assert reviewed(WRITER, "shop") == basic + view + [
        {"verbs": ["patch", "update"], "apiGroups": ["apps"], "resources": ["deployments"]},
        {"verbs": ["create"], "apiGroups": [""], "resources": ["events"]}]
    answer = rules_review(WRITER, {"spec": {"namespace": "shop"}})
    assert answer["spec"] == {} and answer["status"]["nonResourceRules"] == [
        {"verbs": ["get"], "nonResourceURLs": list(BASIC_RULES[-1].urls)}]


def test_the_sim_users_rules_review_is_the_same_in_every_namespace():
    for subject in (ADMIN, SIM_VIEWER):
        assert reviewed(subject, "shop") == reviewed(subject, "data") == reviewed(subject, "anything")
    assert reviewed(SIM_VIEWER, "shop")[:len(VIEWER_RULES)] == [rule.review() for rule in VIEWER_RULES]


@pytest.mark.parametrize("body", [{}, {"spec": {}}, {"spec": {"namespace": ""}}, {"spec": {"namespace": 3}}, None])
def test_a_rules_review_without_a_namespace_is_400_as_kube_apiserver_answers(body):
    with pytest.raises(ApiError) as refused:
        rules_review(ADMIN, body)
    assert refused.value.code == 400 and refused.value.message == "no namespace on request"


def ssar(subject: Subject, verb: str, resource: str, namespace: str = "", group: str = "") -> bool:
    """A SelfSubjectAccessReview's answer."""
    attributes = {"verb": verb, "group": group, "resource": resource}
    if namespace:
        attributes["namespace"] = namespace
    return access_review(subject, {"spec": {"resourceAttributes": attributes}})["status"]["allowed"]


def test_an_access_review_takes_the_namespace_into_account():
    assert ssar(VIEWER, "list", "pods", "shop") and not ssar(VIEWER, "list", "pods", "data")
    assert not ssar(VIEWER, "list", "pods"), "all namespaces"
    assert ssar(WRITER, "patch", "deployments", "shop", "apps") and not ssar(WRITER, "patch", "deployments", "ml", "apps")
    assert ssar(VIEWER, "list", "imagecaches", group=CACHES)
    assert not ssar(WRITER, "create", "imagecaches", group=CACHES)
    assert ssar(SIM_VIEWER, "list", "pods") and not ssar(SIM_VIEWER, "patch", "deployments", "shop", "apps")


def test_a_namespace_is_authorized_in_itself_as_requestinfo_reads_its_url():
    assert request_namespace(Target(NAMESPACES, "", "shop")) == "shop"
    assert request_namespace(Target(NAMESPACES, "", "")) == ""
    assert request_namespace(Target(PODS, "data", "web", "log")) == "data"
    assert allowed(VIEWER, "get", "", "namespaces", request_namespace(Target(NAMESPACES, "", "shop")))
    assert not allowed(VIEWER, "get", "", "namespaces", request_namespace(Target(NAMESPACES, "", "data")))
