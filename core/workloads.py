"""Pod templates out of Pods and workload objects, with what is wrong about them (docs/eci-model.md section 2)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from core.errors import ImcError, ManifestError
from core.findings import Finding, brief, info, warning
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


@dataclass(frozen=True, slots=True)
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


def _object(parent: Mapping, key: str, where: str, findings: list[Finding]) -> Mapping:
    """A nested object; a value of another type is a finding and reads as empty."""
    value = parent.get(key)
    if type(value) is dict or isinstance(value, Mapping):  # the common case first, without the slower ABC check
        return value
    if value is not None:
        findings.append(
            error_finding(
                "invalid-field", f"{where}{key} is {brief(value)} ({type(value).__name__}), not an object; ignored"
            )
        )
    return {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


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
            if type(container) is not dict and not isinstance(container, Mapping):
                findings.append(error_finding("invalid-spec", f"spec.{list_name}[{position}] is not an object"))
                continue
            image = container.get("image")
            if not image:
                name = _name(container, list_name, position)
                findings.append(error_finding("missing-image", f"container {name} has no image"))
                continue
            try:
                ref = parse_image(image)
            except ImcError as exc:
                name = _name(container, list_name, position)
                findings.append(error_finding("invalid-image", f"container {name}: {exc}"))
                continue
            refs.setdefault(ref.normalised, ref)
            policy = container.get("imagePullPolicy")
            if policy is None or policy == "Always":
                _pull_policy(policy, _name(container, list_name, position), ref, findings)
    return tuple(refs), tuple(refs.values())


def _name(container: Mapping, list_name: str, position: int) -> str:
    """How findings name a container: its name, else its place."""
    return _text(container.get("name")) or f"{list_name}[{position}]"


def _pull_policy(policy: object, cname: str, ref: ImageRef, findings: list[Finding]) -> None:
    """Flag pull policies under which the kubelet pulls even with a cache."""
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


def _template(
    kind: str, meta: Mapping, pod: Mapping, pod_meta: Mapping, where: str, findings: list[Finding]
) -> PodTemplate:
    """A template named by the object's metadata, with the labels, annotations and spec of `pod` (at `where`)."""
    labels = {k: v for k, v in _object(pod_meta, "labels", where + "metadata.", findings).items() if isinstance(k, str)}
    annotations = dict(_object(pod_meta, "annotations", where + "metadata.", findings))
    pod_spec = _object(pod, "spec", where, findings)
    images, refs = _images(pod_spec, findings)
    node_name = _text(pod_spec.get("nodeName"))
    eci = is_eci_pod(labels, node_name)
    label_value = labels.get(ECI_LABEL)
    if label_value is not None and label_value != "true":
        findings.append(warning("eci-label-value", f'label {ECI_LABEL} is {brief(label_value)}; only "true" counts'))
    policy = read_policy(annotations, len(images))
    if not eci and any(key in annotations for key in POLICY_ANNOTATIONS):
        findings.append(info("not-eci", "image-cache annotations apply to ECI pods only; this pod does not run on ECI"))
    try:
        created = parse_time(meta.get("creationTimestamp"))
    except ImcError as exc:
        findings.append(error_finding("invalid-field", f"metadata.creationTimestamp: {exc}; ignored"))
        created = None
    return PodTemplate(
        kind=kind,
        namespace=_text(meta.get("namespace")) or "default",
        name=_text(meta.get("name")) or _text(meta.get("generateName")) or "<unnamed>",
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
    return _templates(obj, in_list=False)


def _templates(obj: object, in_list: bool) -> list[PodTemplate]:
    if not isinstance(obj, Mapping):
        raise ManifestError(f"expected a Kubernetes object, got {type(obj).__name__}")
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        raise ManifestError("object has no kind")
    if kind == "List" or (kind.endswith("List") and isinstance(obj.get("items"), list)):
        if in_list:
            raise ManifestError(f"a {kind} inside a List")
        items = obj.get("items") or []
        if not isinstance(items, list):
            raise ManifestError(f"{kind}.items is not a list")
        templates: list[PodTemplate] = []
        for item in items:
            if isinstance(item, Mapping) and "kind" not in item and kind.endswith("List"):
                item = {**item, "kind": kind.removesuffix("List")}
            templates.extend(_templates(item, in_list=True))
        return templates
    findings: list[Finding] = []
    meta = _object(obj, "metadata", "", findings)
    if kind == "Pod":
        return [_template(kind, meta, obj, meta, "", findings)]
    path = TEMPLATE_PATHS.get(kind)
    if path is None:
        raise ManifestError(f"kind {kind} holds no pod template (supported: {', '.join(WORKLOAD_KINDS)})")
    template = _dig(obj, path)
    if template is None:
        raise ManifestError(f"{kind} {_text(meta.get('name')) or ''} has no {'.'.join(path)}")
    where = ".".join(path) + "."
    pod_meta = _object(template, "metadata", where, findings)
    findings += _workload_metadata_findings(kind, meta, _mapping(pod_meta.get("labels")))
    return [_template(kind, meta, template, pod_meta, where, findings)]


def pod_template(obj: object) -> PodTemplate:
    """The pod template of one Pod or workload; ManifestError when the object holds none or several."""
    templates = templates_from(obj)
    if len(templates) != 1:
        raise ManifestError(f"expected one Pod or workload, found {len(templates)} pod templates")
    return templates[0]
