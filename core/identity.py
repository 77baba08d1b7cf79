"""A signed-in person's Kubernetes identity, mapped from their OpenID Connect ID token's claims.

The mapping is kube-apiserver's own for OIDC tokens (--oidc-username-claim, --oidc-username-prefix,
--oidc-groups-claim, --oidc-groups-prefix; staging/src/k8s.io/apiserver/plugin/pkg/authenticator/token/oidc/oidc.go,
getUsername and getGroups), so a person imc impersonates is the same user and groups RBAC would see if they used
kubectl with the same provider:

- the username claim must be a string; with the `email` claim, an `email_verified` claim present must be true;
- the username prefix is put before it; "-" (as the flag's documentation says) means no prefix;
- the groups claim may be one string or a list of strings, and may be absent (no groups); each gets the groups prefix.

Beyond kube-apiserver: a user or group name beginning `system:` is refused (Kubernetes reserves the prefix for its
own identities, and the structured authentication configuration's documented userValidationRules refuse it the same
way), since imc impersonates with the ServiceAccount's rights and must never lend them to `system:masters`. A name
that cannot travel in an HTTP header (printable ASCII only) is refused too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.errors import ImcError

RESERVED_PREFIX = "system:"
NO_PREFIX = "-"  # --oidc-username-prefix=- : no prefix at all


class IdentityError(ImcError):
    """Claims that do not make a Kubernetes identity imc may act as; the message says why."""


@dataclass(frozen=True)
class Identity:
    """Whom imc acts as for a signed-in person: a Kubernetes user name and groups."""

    user: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClaimMapping:
    """Which claims name the person and their groups, and the prefixes, as kube-apiserver's --oidc-* flags."""

    username_claim: str = "email"
    username_prefix: str = "oidc:"
    groups_claim: str = "groups"
    groups_prefix: str = "oidc:"


def _prefixed(prefix: str, name: str) -> str:
    return name if prefix in ("", NO_PREFIX) else prefix + name


def _checked(kind: str, name: str) -> str:
    """The name, or IdentityError when imc must not act as it."""
    if name.startswith(RESERVED_PREFIX):
        raise IdentityError(f"refused: the {kind} {name!r} begins with {RESERVED_PREFIX!r}, which Kubernetes keeps "
                            "for its own identities")
    if not all(" " <= char <= "~" for char in name):
        raise IdentityError(f"refused: the {kind} {name!r} has characters an HTTP header cannot carry "
                            "(printable ASCII only)")
    return name


def _groups(value: object, claim: str) -> list[str]:
    """A groups claim's names: one string or a list of strings (empty ones skipped)."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [item for item in value if item]
    raise IdentityError(f"the {claim!r} claim (the groups claim) must be a string or a list of strings")


def identity_from_claims(claims: Mapping[str, object], mapping: ClaimMapping = ClaimMapping()) -> Identity:
    """The Kubernetes user and groups of an ID token's claims, as kube-apiserver maps them; IdentityError if none."""
    username_claim, groups_claim = mapping.username_claim, mapping.groups_claim
    value = claims.get(username_claim)
    if value is None:
        raise IdentityError(f"the ID token has no {username_claim!r} claim (the username claim)")
    if not isinstance(value, str) or not value:
        raise IdentityError(f"the {username_claim!r} claim (the username claim) must be a non-empty string")
    if username_claim == "email" and "email_verified" in claims and claims["email_verified"] is not True:
        raise IdentityError(f"the provider has not verified the email {value!r} (email_verified is not true)")
    user = _checked("user", _prefixed(mapping.username_prefix, value))
    found = _groups(claims[groups_claim], groups_claim) if groups_claim and groups_claim in claims else []
    groups = tuple(dict.fromkeys(_checked("group", _prefixed(mapping.groups_prefix, group)) for group in found))
    return Identity(user, groups)
