"""The resource types the simulated cluster serves, as discovery describes them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from core import caches

READ_VERBS = ("get", "list", "watch")
ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
OBJECT_VERBS = ("get", "patch", "update")
# subresource -> (kind, or "" for the resource's own; group/version when another's; verbs), as discovery lists them
SUBRESOURCES: dict[str, tuple[str, dict, tuple[str, ...]]] = {
    "attach": ("PodAttachOptions", {}, ("create", "get")),
    "ephemeralcontainers": ("", {}, OBJECT_VERBS),
    "eviction": ("Eviction", {"group": "policy", "version": "v1"}, ("create",)),
    "exec": ("PodExecOptions", {}, ("create", "get")),
    "log": ("", {}, ("get",)),
    "portforward": ("PodPortForwardOptions", {}, ("create", "get")),
    "scale": ("Scale", {"group": "autoscaling", "version": "v1"}, OBJECT_VERBS),
    "status": ("", {}, OBJECT_VERBS),
}
POD_SUBRESOURCES = ("attach", "ephemeralcontainers", "eviction", "exec", "log", "portforward")
NO_CONTAINERS = ("attach", "exec", "portforward")  # served, but the built-in cluster runs no containers to reach


@dataclass(frozen=True)
class ResourceType:
    """One served resource: where it lives in the API and how discovery names it."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    has_status: bool = True
    stored: bool = True
    subresources: tuple[str, ...] = ()  # besides status

    def has_subresource(self, name: str) -> bool:
        """Whether `name` (status, scale, log, ...) is a subresource of this resource."""
        return (name == "status" and self.has_status and self.stored) or name in self.subresources

    @cached_property
    def api_version(self) -> str:
        """`apiVersion` of the objects (`v1` or `group/version`)."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @cached_property
    def key(self) -> str:
        """A unique name of the resource: `plural` or `plural.group`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind(self) -> str:
        """Kind of the list object."""
        return f"{self.kind}List"

    def discovery(self) -> list[dict]:
        """APIResourceList entries for this resource and its subresources."""
        entry = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        entries = [entry]
        for subresource, (kind, other_group, verbs) in sorted(SUBRESOURCES.items()):
            if self.has_subresource(subresource):
                entries.append({"name": f"{self.plural}/{subresource}", "singularName": "",
                                "namespaced": self.namespaced, "kind": kind or self.kind, "verbs": list(verbs),
                                **other_group})
        return entries


@dataclass(frozen=True)
class Target:
    """What a resource URL names: an object or collection of a resource, maybe a subresource of the object."""

    resource: ResourceType
    namespace: str
    name: str
    subresource: str | None = None


NAMESPACES = ResourceType("", "v1", "namespaces", "namespace", "Namespace", False, ("ns",))
PODS = ResourceType("", "v1", "pods", "pod", "Pod", True, ("po",), ("all",),
                    subresources=POD_SUBRESOURCES)
SERVICES = ResourceType("", "v1", "services", "service", "Service", True, ("svc",), ("all",), verbs=READ_VERBS)
EVENTS = ResourceType("", "v1", "events", "event", "Event", True, ("ev",), has_status=False)
CONFIGMAPS = ResourceType("", "v1", "configmaps", "configmap", "ConfigMap", True, ("cm",), has_status=False)
SECRETS = ResourceType("", "v1", "secrets", "secret", "Secret", True, has_status=False)
NODES = ResourceType("", "v1", "nodes", "node", "Node", False, ("no",))
DEPLOYMENTS = ResourceType("apps", "v1", "deployments", "deployment", "Deployment", True, ("deploy",), ("all",),
                           subresources=("scale",))
REPLICASETS = ResourceType("apps", "v1", "replicasets", "replicaset", "ReplicaSet", True, ("rs",), ("all",),
                           subresources=("scale",))
JOBS = ResourceType("batch", "v1", "jobs", "job", "Job", True, (), ("all",))
CRONJOBS = ResourceType("batch", "v1", "cronjobs", "cronjob", "CronJob", True, ("cj",), ("all",))
IMAGECACHES = ResourceType(caches.GROUP, caches.VERSION, caches.PLURAL, "imagecache", caches.KIND, False, ("ic",),
                           ("all",))
CRDS = ResourceType(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    "customresourcedefinition",
    "CustomResourceDefinition",
    False,
    ("crd", "crds"),
    ("api-extensions",),
)
SSARS = ResourceType(
    "authorization.k8s.io",
    "v1",
    "selfsubjectaccessreviews",
    "selfsubjectaccessreview",
    "SelfSubjectAccessReview",
    False,
    verbs=("create",),
    has_status=False,
    stored=False,
)

SSRRS = ResourceType(
    "authorization.k8s.io",
    "v1",
    "selfsubjectrulesreviews",
    "selfsubjectrulesreview",
    "SelfSubjectRulesReview",
    False,
    verbs=("create",),
    has_status=False,
    stored=False,
)
SSRS = ResourceType(
    "authentication.k8s.io",
    "v1",
    "selfsubjectreviews",
    "selfsubjectreview",
    "SelfSubjectReview",
    False,
    verbs=("create",),
    has_status=False,
    stored=False,
)
TOKENREVIEWS = ResourceType(
    "authentication.k8s.io",
    "v1",
    "tokenreviews",
    "tokenreview",
    "TokenReview",
    False,
    verbs=("create",),
    has_status=False,
    stored=False,
)

LEASES = ResourceType("coordination.k8s.io", "v1", "leases", "lease", "Lease", True, has_status=False)
ALL_RESOURCES = (NAMESPACES, PODS, SERVICES, EVENTS, CONFIGMAPS, SECRETS, NODES, DEPLOYMENTS, REPLICASETS,
                 JOBS, CRONJOBS, IMAGECACHES, CRDS, SSARS, SSRRS, SSRS, TOKENREVIEWS, LEASES)
STORED_RESOURCES = tuple(r for r in ALL_RESOURCES if r.stored)
RESOURCES_BY_KEY = {r.key: r for r in ALL_RESOURCES}


def group_versions() -> dict[str, list[ResourceType]]:
    """Resources grouped by `apiVersion`, in a stable order."""
    grouped: dict[str, list[ResourceType]] = {}
    for resource in ALL_RESOURCES:
        grouped.setdefault(resource.api_version, []).append(resource)
    return grouped


def find_resource(group: str, version: str, plural: str) -> ResourceType | None:
    """The resource served at `group/version/plural`, if any."""
    for resource in ALL_RESOURCES:
        if resource.group == group and resource.version == version and resource.plural == plural:
            return resource
    return None
