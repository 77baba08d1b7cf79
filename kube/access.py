"""Who may write and read: read-only mode, and SelfSubjectAccessReviews (TTL-cached) for the writes the UI offers and,
for a signed-in person, the namespaces whose pods they may list."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache

from kube.http import Request, RequestError, send_json
from kube.impersonation import impersonation_refused
from kube.resources import RESOURCES

FIELD_MANAGER = "imc-dashboard"
SSAR_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
ACCESS_TTL_SECONDS = 60.0
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class WriteAction:
    """A verb on a resource: a write the UI offers, or a read a signed-in person's view depends on."""

    verb: str
    group: str
    resource: str
    namespaced: bool


def _action(verb: str, kind: str) -> WriteAction:
    resource = RESOURCES[kind]
    return WriteAction(verb, resource.group, resource.plural, resource.namespaced)


WRITE_ACTIONS: dict[str, WriteAction] = {
    "create-imagecache": _action("create", "imagecaches"),
    "patch-deployment": _action("patch", "deployments"),
    "update-imagecache": _action("patch", "imagecaches"),
    "delete-imagecache": _action("delete", "imagecaches"),
}
# what a signed-in person sees: the pods of a namespace (the namespace's objects on every page), the caches
READ_ACTIONS: dict[str, WriteAction] = {
    "list-pods": _action("list", "pods"),
    "list-imagecaches": _action("list", "imagecaches"),
}
IMPERSONATION_REFUSED = ("read-only: imc's ServiceAccount may not impersonate signed-in people, so it cannot ask "
                         "Kubernetes what you may do (apply deploy/rbac-impersonate.yaml)")


@dataclass(frozen=True)
class Permission:
    """Whether a write is allowed, and why not."""

    allowed: bool
    reason: str = ""


class WriteError(Exception):
    """A write that did not happen: the message says why (Status message and causes included)."""

    def __init__(self, message: str, status: int = 0, reason: str = "", causes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason
        self.causes = causes


class ReadOnlyError(WriteError):
    """A write refused before any request because imc runs read-only."""


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def read_only_reason(connection: Any) -> str | None:
    """Why writes are off for this connection (IMC_READ_ONLY, or in-cluster without IMC_ALLOW_WRITES); None if on."""
    if _flag("IMC_READ_ONLY"):
        return "read-only mode: IMC_READ_ONLY is set"
    if getattr(connection, "in_cluster", False) and not _flag("IMC_ALLOW_WRITES"):
        return "read-only mode: running in the cluster (set IMC_ALLOW_WRITES=1 to allow writes)"
    return None


def ensure_writable(connection: Any) -> None:
    """Raise ReadOnlyError when writes are off; called by every write function before any request."""
    reason = read_only_reason(connection)
    if reason:
        raise ReadOnlyError(reason)


def ssar_body(action: WriteAction, namespace: str | None = None, name: str | None = None) -> dict:
    """The SelfSubjectAccessReview asking whether the current user may do an action."""
    attributes: dict[str, str] = {"verb": action.verb, "group": action.group, "resource": action.resource}
    if action.namespaced and namespace:
        attributes["namespace"] = namespace
    if name:
        attributes["name"] = name
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attributes},
    }


def ssar_request(action: WriteAction, namespace: str | None = None, name: str | None = None) -> Request:
    """The POST that asks the server."""
    return Request("POST", SSAR_PATH, body=ssar_body(action, namespace, name))


def permission_from_review(review: dict, action: WriteAction, user: str = "", namespace: str | None = None
                           ) -> Permission:
    """A Permission from a SelfSubjectAccessReview answer."""
    status = review.get("status") or {}
    if status.get("allowed"):
        return Permission(True)
    who = f"user {user!r}" if user else "this user"
    why = status.get("reason") or status.get("evaluationError") or ""
    where = f" in namespace {namespace}" if action.namespaced and namespace else ""
    text = f"{who} may not {action.verb} {action.resource}{where}" + (f": {why}" if why else "")
    return Permission(False, text)


@dataclass(frozen=True)
class Visibility:
    """What a signed-in person may see: the namespaces whose pods they may list (None: every one), whether they may
    list ImageCaches, and why it is not their own view (imc may not impersonate: then it is imc's)."""

    namespaces: frozenset[str] | None
    caches: bool
    problem: str | None = None

    def shows(self, namespace: str) -> bool:
        """Whether objects of this namespace are shown."""
        return self.namespaces is None or namespace in self.namespaces

    @property
    def nothing(self) -> bool:
        """No namespace and no caches: the person may see nothing imc shows."""
        return self.namespaces == frozenset() and not self.caches


EVERYTHING = Visibility(None, True)


class AccessChecker:
    """SSAR answers per connection, cached for a while so reruns of the UI do not ask every time.

    A signed-in person's connection (kube.impersonation.acting_as) asks as that person; when the server refuses imc
    the right to impersonate, every answer is no, with that reason (`refused`)."""

    def __init__(self, connection: Any, ttl: float = ACCESS_TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.connection = connection
        self._cache: TTLCache = TTLCache(maxsize=4096, ttl=ttl, timer=clock)
        self._lock = threading.Lock()
        self.refused: str | None = None  # imc may not impersonate the connection's person

    def can(self, action_name: str, namespace: str | None = None) -> Permission:
        """Whether the UI may offer this write (read-only mode first, then the server's answer)."""
        reason = read_only_reason(self.connection)
        if reason:
            return Permission(False, reason)
        return self._review(action_name, WRITE_ACTIONS[action_name], namespace)

    def may(self, action_name: str, namespace: str | None = None) -> Permission:
        """Whether the connection may do a read of READ_ACTIONS (no namespace: in every namespace)."""
        return self._review(action_name, READ_ACTIONS[action_name], namespace)

    def _review(self, action_name: str, action: WriteAction, namespace: str | None) -> Permission:
        key = (action_name, namespace if action.namespaced else None)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        try:
            review = send_json(self.connection.api_client, ssar_request(action, namespace))
        except RequestError as exc:
            if not impersonation_refused(exc):
                # Not cached: a passing network problem should not hide a write for a minute.
                return Permission(False, f"cannot check permissions: {exc}")
            self.refused = IMPERSONATION_REFUSED
            answer = Permission(False, IMPERSONATION_REFUSED)
        else:
            answer = permission_from_review(review or {}, action, getattr(self.connection, "user", ""), namespace)
        with self._lock:
            self._cache[key] = answer
        return answer

    def all(self, namespace: str | None = None) -> dict[str, Permission]:
        """Every write the UI offers, answered."""
        return {name: self.can(name, namespace) for name in WRITE_ACTIONS}

    def visibility(self, namespaces: Iterable[str]) -> Visibility:
        """What the connection's person may see of these namespaces: one review whether they may list pods
        everywhere, else one per namespace, and one for the caches (each cached for the TTL).

        When imc may not impersonate, the person sees what imc's own account sees, read-only, and the problem says
        so."""
        everywhere = self.may("list-pods")
        if self.refused:
            return Visibility(None, True, self.refused)
        caches = self.may("list-imagecaches").allowed
        if everywhere.allowed:
            return Visibility(None, caches)
        return Visibility(frozenset(ns for ns in sorted(set(namespaces)) if self.may("list-pods", ns).allowed), caches)

    def forget(self) -> None:
        """Drop cached answers (after a role change, say)."""
        with self._lock:
            self._cache.clear()
