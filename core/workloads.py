"""Pod templates out of Pods and workload objects, with what is wrong about them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from core.errors import ImcError, ManifestError
from core.findings import Finding, info, warning
from core.findings import error as error_finding
from core.images import ImageRef, parse_image
from core.policy import POLICY_ANNOTATIONS, MatchPolicy, read_policy
from core.timeutil import parse_time

ECI_LABEL = "alibabacloud.com/eci"
VIRTUAL_KUBELET_PREFIX = "virtual-kubelet"
CONTAINER_LISTS = ("initContainers", "containers")
# kind -> path from the object to its pod template
TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
WORKLOAD_KINDS = ("Pod", *TEMPLATE_PATHS)


@dataclass(frozen=True)
class PodTemplate:
    """A pod as ECI would see it at creation: metadata, spec, images and policy."""

    kind: str
    namespace: str
    name: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    spec: Mapping
    images: tuple[str, ...]
    image_refs: tuple[ImageRef, ...]
    policy: MatchPolicy
    eci: bool
    node_name: str | None = None
    created: datetime | None = None
    findings: tuple[Finding, ...] = field(default=())

    @property
    def workload(self) -> str:
        """Kind/namespace/name, as `imc explain` names it."""
        return f"{self.kind}/{self.namespace}/{self.name}"

    def decided_at(self, now: datetime) -> datetime:
        """The instant ECI decides this pod: its creation; `now` for a pod not created yet."""
        return self.created or now


def _mapping(value: object) -> Mapping:
    if type(value) is dict:  # the common case, without the slower ABC check
        return value
    return value if isinstance(value, Mapping) else {}


def _dig(obj: Mapping, path: tuple[str, ...]) -> Mapping | None:
    for key in path:
        value = obj.get(key) if isinstance(obj, Mapping) else None
        if not isinstance(value, Mapping):
            return None
        obj = value
    return obj


def is_eci_pod(labels: Mapping, node_name: object) -> bool:
    """An ECI pod: label alibabacloud.com/eci: "true", or scheduled on a virtual-kubelet node."""
    if labels.get(ECI_LABEL) == "true":
        return True
    return isinstance(node_name, str) and node_name.startswith(VIRTUAL_KUBELET_PREFIX)


def _images(spec: Mapping, findings: list[Finding]) -> tuple[tuple[str, ...], tuple[ImageRef, ...]]:
    """The pod's images, normalised and de-duplicated, in container order."""
    refs: dict[str, ImageRef] = {}
    for list_name in CONTAINER_LISTS:
        containers = spec.get(list_name)
        if not containers:
            continue
        if not isinstance(containers, list):
            findings.append(error_finding("invalid-spec", f"spec.{list_name} is not a list"))
            continue
        for position, container in enumerate(containers):
            container = _mapping(container)
            cname = container.get("name") or f"{list_name}[{position}]"
            image = container.get("image")
            if not image:
                findings.append(error_finding("missing-image", f"container {cname} has no image"))
                continue
            try:
                ref = parse_image(image)
            except ImcError as exc:
                findings.append(error_finding("invalid-image", f"container {cname}: {exc}"))
                continue
            refs.setdefault(ref.normalised, ref)
            _pull_policy(container, cname, ref, findings)
    return tuple(refs), tuple(refs.values())


def _pull_policy(container: Mapping, cname: str, ref: ImageRef, findings: list[Finding]) -> None:
    """Flag pull policies under which the kubelet pulls even with a cache."""
    policy = container.get("imagePullPolicy")
    if policy == "Always":
        findings.append(
            warning(
                "pull-always",
                f"container {cname} has imagePullPolicy: Always, so the image is pulled even from a cache; "
                "use IfNotPresent",
            )
        )
    elif policy is None and ref.tag == "latest" and not ref.digest:
        findings.append(
            info(
                "latest-pulls-always",
                f"container {cname} uses {ref.familiar} without imagePullPolicy, which Kubernetes "
                "defaults to Always for :latest; set IfNotPresent",
            )
        )


def _workload_metadata_findings(kind: str, meta: Mapping, pod_labels: Mapping) -> list[Finding]:
    """Image-cache annotations or the ECI label on a workload's own metadata have no effect."""
    findings = []
    misplaced = [key for key in _mapping(meta.get("annotations")) if key in POLICY_ANNOTATIONS]
    if misplaced:
        findings.append(
            warning(
                "annotations-on-workload",
                f"{', '.join(misplaced)} {'is' if len(misplaced) == 1 else 'are'} on the {kind}'s own "
                "metadata, where ECI never sees it; move to spec.template.metadata.annotations",
            )
        )
    if _mapping(meta.get("labels")).get(ECI_LABEL) == "true" and pod_labels.get(ECI_LABEL) != "true":
        findings.append(
            warning(
                "label-on-workload",
                f"label {ECI_LABEL} is on the {kind}'s own metadata; pods get only spec.template.metadata.labels",
            )
        )
    return findings


def _template(kind: str, meta: Mapping, pod_meta: Mapping, pod_spec: Mapping, extra: list[Finding]) -> PodTemplate:
    """A template named by the object's metadata, with the pod's labels, annotations and spec."""
    findings = list(extra)
    labels = {k: v for k, v in _mapping(pod_meta.get("labels")).items() if isinstance(k, str)}
    annotations = dict(_mapping(pod_meta.get("annotations")))
    images, refs = _images(pod_spec, findings)
    node_name = pod_spec.get("nodeName") if isinstance(pod_spec.get("nodeName"), str) else None
    eci = is_eci_pod(labels, node_name)
    label_value = labels.get(ECI_LABEL)
    if label_value is not None and label_value != "true":
        findings.append(warning("eci-label-value", f'label {ECI_LABEL} is {label_value!r}; only "true" counts'))
    policy = read_policy(annotations, len(images))
    if not eci and any(key in annotations for key in POLICY_ANNOTATIONS):
        findings.append(info("not-eci", "image-cache annotations apply to ECI pods only; this pod does not run on ECI"))
    try:
        created = parse_time(meta.get("creationTimestamp"))
    except ImcError:
        created = None
    name = meta.get("name") or meta.get("generateName") or "<unnamed>"
    namespace = meta.get("namespace") or "default"
    return PodTemplate(
        kind=kind,
        namespace=str(namespace),
        name=str(name),
        labels=labels,
        annotations=annotations,
        spec=pod_spec,
        images=images,
        image_refs=refs,
        policy=policy,
        eci=eci,
        node_name=node_name,
        created=created,
        findings=tuple(findings),
    )


def templates_from(obj: object) -> list[PodTemplate]:
    """The pod templates an object holds: one for a Pod or workload, all for a List."""
    if not isinstance(obj, Mapping):
        raise ManifestError(f"expected a Kubernetes object, got {type(obj).__name__}")
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        raise ManifestError("object has no kind")
    if kind == "List" or (kind.endswith("List") and isinstance(obj.get("items"), list)):
        items = obj.get("items") or []
        if not isinstance(items, list):
            raise ManifestError(f"{kind}.items is not a list")
        templates: list[PodTemplate] = []
        for item in items:
            if isinstance(item, Mapping) and "kind" not in item and kind.endswith("List"):
                item = {**item, "kind": kind.removesuffix("List")}
            templates.extend(templates_from(item))
        return templates
    meta = _mapping(obj.get("metadata"))
    if kind == "Pod":
        return [_template(kind, meta, meta, _mapping(obj.get("spec")), [])]
    path = TEMPLATE_PATHS.get(kind)
    if path is None:
        raise ManifestError(f"kind {kind} holds no pod template (supported: {', '.join(WORKLOAD_KINDS)})")
    template = _dig(obj, path)
    if template is None:
        raise ManifestError(f"{kind} {meta.get('name', '')} has no {'.'.join(path)}")
    pod_meta = _mapping(template.get("metadata"))
    extra = _workload_metadata_findings(kind, meta, _mapping(pod_meta.get("labels")))
    return [_template(kind, meta, pod_meta, _mapping(template.get("spec")), extra)]


def pod_template(obj: object) -> PodTemplate:
    """The pod template of one Pod or workload; ManifestError when the object holds none or several."""
    templates = templates_from(obj)
    if len(templates) != 1:
        raise ManifestError(f"expected one Pod or workload, found {len(templates)} pod templates")
    return templates[0]
