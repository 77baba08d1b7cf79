"""A signed-in person's Kubernetes identity from their ID token's claims, as kube-apiserver's --oidc-* flags map it."""

from __future__ import annotations

import pytest

from core.errors import ImcError
from core.identity import ClaimMapping, Identity, IdentityError, identity_from_claims


def test_email_and_groups_get_the_oidc_prefix_by_default():
    claims = {"sub": "1234", "email": "shop-dev@example.com", "groups": ["shop-writers", "everyone"]}
    assert identity_from_claims(claims) == Identity("oidc:shop-dev@example.com", ("oidc:shop-writers", "oidc:everyone"))


def test_the_claims_and_prefixes_are_configurable():
    claims = {"sub": "u-42", "roles": "sre"}
    mapping = ClaimMapping(username_claim="sub", username_prefix="idaas:", groups_claim="roles",
                           groups_prefix="idaas-role:")
    assert identity_from_claims(claims, mapping) == Identity("idaas:u-42", ("idaas-role:sre",))


@pytest.mark.parametrize("prefix", ["", "-"])
def test_an_empty_or_dash_prefix_adds_nothing(prefix):
    claims = {"email": "ana@example.com", "groups": ["ops"]}
    assert identity_from_claims(claims, ClaimMapping(username_prefix=prefix, groups_prefix=prefix)) == Identity(
        "ana@example.com", ("ops",))


def test_a_single_string_group_is_one_group_and_no_groups_claim_is_no_group():
    assert identity_from_claims({"email": "a@example.com", "groups": "ops"}).groups == ("oidc:ops",)
    assert identity_from_claims({"email": "a@example.com"}).groups == ()
    assert identity_from_claims({"email": "a@example.com", "groups": ["ops", "", "ops"]}).groups == ("oidc:ops",)


@pytest.mark.parametrize(("claims", "words"), [
    ({"sub": "1"}, "no 'email' claim"),
    ({"email": ""}, "non-empty string"),
    ({"email": 7}, "non-empty string"),
    ({"email": "a@example.com", "email_verified": False}, "not verified"),
    ({"email": "a@example.com", "email_verified": "true"}, "not verified"),
    ({"email": "a@example.com", "groups": [1, 2]}, "string or a list of strings"),
    ({"email": "a@example.com", "groups": {"a": 1}}, "string or a list of strings"),
    ({"email": "jos\u00e9@example.com"}, "printable ASCII"),
    ({"email": "a@example.com\r\nX-Evil: 1"}, "printable ASCII"),
])
def test_claims_that_make_no_identity_are_refused_with_a_reason(claims, words):
    with pytest.raises(IdentityError) as raised:
        identity_from_claims(claims)
    assert words in str(raised.value)
    assert isinstance(raised.value, ImcError)


def test_a_verified_email_is_taken():
    assert identity_from_claims({"email": "a@example.com", "email_verified": True}).user == "oidc:a@example.com"


@pytest.mark.parametrize(("claims", "mapping"), [
    ({"email": "system:admin"}, ClaimMapping(username_prefix="-")),
    ({"email": "a@example.com", "groups": ["system:masters"]}, ClaimMapping(groups_prefix="")),
    ({"email": "a@example.com", "groups": "masters"}, ClaimMapping(groups_prefix="system:")),
    ({"sub": "anonymous"}, ClaimMapping(username_claim="sub", username_prefix="system:")),
])
def test_a_name_mapping_to_system_is_refused(claims, mapping):
    with pytest.raises(IdentityError, match="begins with 'system:'"):
        identity_from_claims(claims, mapping)


def test_system_masters_is_refused_whatever_else_the_token_says():
    claims = {"email": "root@example.com", "email_verified": True, "groups": ["ops", "system:masters"]}
    with pytest.raises(IdentityError) as raised:
        identity_from_claims(claims, ClaimMapping(groups_prefix="-"))
    assert "'system:masters'" in str(raised.value)
