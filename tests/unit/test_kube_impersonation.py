"""Acting as a signed-in person: the header lines, a client of its own, the audit Event's name, the TTL of answers."""

from __future__ import annotations

from datetime import UTC, datetime

from kubernetes.client import ApiClient, Configuration

from core.identity import Identity
from kube.access import IMPERSONATION_REFUSED, Visibility
from kube.connect import Connection
from kube.http import RequestError
from kube.impersonation import (
    IMPERSONATE_GROUP,
    IMPERSONATE_USER,
    ImpersonatingClient,
    acting_as,
    copied_configuration,
    impersonation_headers,
    impersonation_refused,
)
from kube.writes import audit_event

PERSON = Identity("oidc:shop-dev@example.com", ("oidc:shop-writers", "oidc:everyone"))


def shared_connection() -> Connection:
    configuration = Configuration()
    configuration.host = "https://127.0.0.1:9"
    configuration.api_key = {"authorization": "Bearer imc-token"}
    return Connection(ApiClient(configuration), "ctx", configuration.host, "imc", in_cluster=True)


def test_one_user_line_and_one_line_per_group():
    assert impersonation_headers(PERSON) == (
        (IMPERSONATE_USER, "oidc:shop-dev@example.com"),
        (IMPERSONATE_GROUP, "oidc:shop-writers"),
        (IMPERSONATE_GROUP, "oidc:everyone"),
    )
    assert impersonation_headers(Identity("oidc:a@example.com")) == ((IMPERSONATE_USER, "oidc:a@example.com"),)


def test_the_persons_connection_leaves_the_shared_client_as_it_was():
    shared = shared_connection()
    before = (dict(shared.api_client.default_headers), shared.api_client.configuration.api_key.copy())
    person = acting_as(shared, PERSON)
    assert isinstance(person.api_client, ImpersonatingClient)
    assert person.api_client is not shared.api_client
    assert person.api_client.configuration is not shared.api_client.configuration
    assert person.api_client.configuration.host == shared.api_client.configuration.host
    assert person.api_client.configuration.api_key == {"authorization": "Bearer imc-token"}  # imc's own credentials
    assert (dict(shared.api_client.default_headers), shared.api_client.configuration.api_key) == before
    assert not isinstance(shared.api_client, ImpersonatingClient)
    assert (person.user, person.person, person.context, person.in_cluster) == (PERSON.user, PERSON, "ctx", True)
    assert shared.person is None and shared.user == "imc"


def test_a_copied_configuration_is_a_copy():
    original = shared_connection().api_client.configuration
    copied = copied_configuration(original)
    copied.host = "https://elsewhere"
    assert original.host == "https://127.0.0.1:9"


def test_the_audit_event_names_the_person_when_there_is_one():
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}}
    now = datetime(2025, 1, 1, tzinfo=UTC)
    named = audit_event(deployment, "R", "set a=b", "in-cluster", now, person=PERSON.user)
    assert named["message"] == "set a=b (by oidc:shop-dev@example.com through imc, context in-cluster)"
    assert audit_event(deployment, "R", "set a=b", "in-cluster", now)["message"] == "set a=b (by imc, context in-cluster)"


def test_only_a_403_about_impersonating_is_imc_lacking_the_right():
    refused = RequestError(403, "Forbidden", 'users "oidc:a" is forbidden: User "system:serviceaccount:imc-system:imc" '
                                             'cannot impersonate resource "users" in API group "" at the cluster scope')
    assert impersonation_refused(refused)
    assert not impersonation_refused(RequestError(403, "Forbidden", 'deployments.apps "web" is forbidden'))
    assert not impersonation_refused(RequestError(500, "InternalError", "impersonate"))


def test_what_a_person_sees():
    some = Visibility(frozenset({"shop"}), caches=False)
    assert some.shows("shop") and not some.shows("data") and not some.nothing
    assert Visibility(frozenset(), caches=False).nothing
    assert not Visibility(frozenset(), caches=True).nothing
    assert Visibility(None, caches=False).shows("anything")
    assert "deploy/rbac-impersonate.yaml" in IMPERSONATION_REFUSED
