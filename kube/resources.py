"""Where each kind imc reads or writes lives in the Kubernetes API: group, version, plural, scope."""

from __future__ import annotations

from dataclasses import dataclass

from core import caches


@dataclass(frozen=True)
class Resource:
    """Where a kind lives in the API."""

    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool

    @property
    def prefix(self) -> str:
        """/api/v1 or /apis/GROUP/VERSION."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def collection_path(self, namespace: str | None = None) -> str:
        """The path of the collection (all namespaces when namespace is None)."""
        if namespace and self.namespaced:
            return f"{self.prefix}/namespaces/{namespace}/{self.plural}"
        return f"{self.prefix}/{self.plural}"

    def object_path(self, name: str, namespace: str | None = None) -> str:
        """The path of one object."""
        return f"{self.collection_path(namespace)}/{name}"


RESOURCES: dict[str, Resource] = {
    "pods": Resource("pods", "", "v1", "pods", True),
    caches.PLURAL: Resource(caches.PLURAL, caches.GROUP, caches.VERSION, caches.PLURAL, False),
    "deployments": Resource("deployments", "apps", "v1", "deployments", True),
    "events": Resource("events", "", "v1", "events", True),
}
