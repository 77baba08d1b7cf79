"""Acting as a signed-in person: a connection whose every request carries Impersonate-User and Impersonate-Group.

Kubernetes then authorizes each request as that person (its RBAC decides), provided imc's own account may
`impersonate` users and groups (deploy/rbac-impersonate.yaml). The shared connection the watches use is never
changed: the person's connection has its own client, built from a copy of the configuration.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from kubernetes.client import ApiClient, Configuration
from urllib3 import HTTPHeaderDict

from core.identity import Identity
from kube.http import RequestError

IMPERSONATE_USER = "Impersonate-User"
IMPERSONATE_GROUP = "Impersonate-Group"


def impersonation_headers(identity: Identity) -> tuple[tuple[str, str], ...]:
    """The header lines that make a request act as the identity: one Impersonate-User, one Impersonate-Group per
    group (kube-apiserver reads each group from its own header line, never a comma-joined list)."""
    return ((IMPERSONATE_USER, identity.user), *((IMPERSONATE_GROUP, group) for group in identity.groups))


def copied_configuration(configuration: Configuration) -> Configuration:
    """A copy of a client configuration (server, credentials, TLS) that changes nothing of the original."""
    return copy.deepcopy(configuration)


class ImpersonatingClient(ApiClient):
    """An ApiClient that adds the impersonation header lines to every request it sends."""

    def __init__(self, configuration: Configuration, identity: Identity) -> None:
        super().__init__(configuration=configuration)
        self.identity = identity
        self.header_lines = impersonation_headers(identity)

    def call_api(self, method: str, url: str, header_params: Any = None, body: Any = None, post_params: Any = None,
                 _request_timeout: Any = None) -> Any:
        """The request with the impersonation lines added; several groups are several lines of one name."""
        headers = HTTPHeaderDict(header_params or {})
        for name in (IMPERSONATE_USER, IMPERSONATE_GROUP):
            headers.discard(name)
        for name, value in self.header_lines:
            headers.add(name, value)
        return super().call_api(method, url, headers, body, post_params, _request_timeout)


def acting_as(connection: Any, identity: Identity) -> Any:
    """The connection, acting as the identity: its own client on a copy of the configuration, `user` the person's
    name and `person` the identity (the audit Event names them)."""
    client = ImpersonatingClient(copied_configuration(connection.api_client.configuration), identity)
    return dataclasses.replace(connection, api_client=client, user=identity.user, person=identity)


def impersonation_refused(exc: RequestError) -> bool:
    """Whether a 403 is the server refusing imc's account the right to impersonate (not the person's own refusal)."""
    return exc.status == 403 and "impersonate" in exc.message
