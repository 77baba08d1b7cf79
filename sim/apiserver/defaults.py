"""Server-side defaults of the built-in kinds, as kube-apiserver fills them in."""

from __future__ import annotations

from core.caches import DEFAULT_SIZE_GIB
from core.errors import ImcError
from core.images import parse_image
from core.workloads import CONTAINER_LISTS
from sim.apiserver.batch import default_cronjob, default_job
from sim.apiserver.config_objects import default_secret, drop_empty
from sim.apiserver.resources import (
    CONFIGMAPS,
    CRONJOBS,
    DEPLOYMENTS,
    IMAGECACHES,
    JOBS,
    NAMESPACES,
    PODS,
    REPLICASETS,
    SECRETS,
)

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set on every namespace, as the API server does


def default_pull_policy(image: str) -> str:
    """`Always` for `:latest` or no tag, else `IfNotPresent` (Kubernetes' rule)."""
    try:
        ref = parse_image(image)
    except ImcError:
        return "IfNotPresent"
    return "Always" if not ref.digest and ref.tag == "latest" else "IfNotPresent"


def default_pod_spec(spec: dict) -> None:
    """Fill in a pod spec's defaults in place."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    for list_name in CONTAINER_LISTS:
        for container in spec.get(list_name) or []:
            if isinstance(container, dict) and isinstance(container.get("image"), str):
                container.setdefault("imagePullPolicy", default_pull_policy(container["image"]))
                container.setdefault("terminationMessagePath", "/dev/termination-log")
                container.setdefault("terminationMessagePolicy", "File")
            for port in container.get("ports") or [] if isinstance(container, dict) else []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")


def apply_defaults(resource_key: str, obj: dict) -> None:
    """Fill in the defaults of a new or updated object in place."""
    metadata = obj.get("metadata")
    if resource_key == NAMESPACES.key and isinstance(metadata, dict) and isinstance(metadata.get("name"), str):
        labels = metadata.get("labels") if isinstance(metadata.get("labels"), dict) else {}
        metadata["labels"] = {**labels, NAMESPACE_NAME_LABEL: metadata["name"]}
    if resource_key == SECRETS.key:
        default_secret(obj)
    elif resource_key == CONFIGMAPS.key:
        drop_empty(obj, ("data", "binaryData"))
    elif resource_key == JOBS.key:
        default_job(obj, default_pod_spec)
    elif resource_key == CRONJOBS.key:
        default_cronjob(obj, default_pod_spec)
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if resource_key == PODS.key:
        default_pod_spec(spec)
    elif resource_key in (DEPLOYMENTS.key, REPLICASETS.key):
        spec.setdefault("replicas", 1)
        template_spec = (spec.get("template") or {}).get("spec")
        if isinstance(template_spec, dict):
            default_pod_spec(template_spec)
        if resource_key == DEPLOYMENTS.key:
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
            strategy = spec.setdefault("strategy", {})
            strategy.setdefault("type", "RollingUpdate")
            if strategy["type"] == "RollingUpdate":
                strategy.setdefault("rollingUpdate", {"maxSurge": "25%", "maxUnavailable": "25%"})
    elif resource_key == IMAGECACHES.key:
        spec.setdefault("imageCacheSize", DEFAULT_SIZE_GIB)
