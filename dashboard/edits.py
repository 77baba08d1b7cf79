"""Pure edits the write pages prepare: policy annotations, pull policy, ImageCache objects, diffs."""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from core.caches import API_VERSION, FLASH_ANNOTATION, KIND, MAX_IMAGES, REUSE_ANNOTATION
from core.policy import AUTO_IMC, IMC_ID, LEGACY_AUTO, LEGACY_PIN, MATCH_COUNT, PERFECT_MATCH, read_policy
from core.workloads import CONTAINER_LISTS, TEMPLATE_PATHS

MODES = ("automatic", "perfect match", "match count", "pin", "off")
MODE_LABELS = {
    "automatic": "Automatic",
    "perfect match": "Perfect match",
    "match count": "Match count",
    "pin": "Pin",
    "off": "Off",
}
# Every annotation a mode may set or clear, in the order they are shown.
MODE_ANNOTATIONS = (AUTO_IMC, PERFECT_MATCH, MATCH_COUNT, IMC_ID, LEGACY_AUTO, LEGACY_PIN)

def mapping(value: Any) -> Mapping[str, Any]:
    """The value when it is a mapping, else {} (manifests can hold anything where a map belongs)."""
    return value if isinstance(value, Mapping) else {}


def template_dict(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The pod template dict of a workload (the object itself for a Pod); {} when absent."""
    node: Any = obj
    kind = str(obj.get("kind"))
    for key in () if kind == "Pod" else TEMPLATE_PATHS.get(kind, ("spec", "template")):
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if isinstance(node, dict) else {}


def template_annotations(obj: Mapping[str, Any]) -> dict[str, str]:
    """The annotations on a workload's pod template, as strings."""
    annotations = mapping(mapping(template_dict(obj).get("metadata")).get("annotations"))
    return {str(key): str(value) for key, value in annotations.items()}


def workload_level_policy(obj: Mapping[str, Any]) -> dict[str, str]:
    """Image-cache annotations put on a workload's own metadata, where they have no effect."""
    if obj.get("kind") == "Pod":
        return {}
    annotations = mapping(mapping(obj.get("metadata")).get("annotations"))
    return {str(k): str(v) for k, v in annotations.items() if k in MODE_ANNOTATIONS}


def policy_annotations(mode: str, count: int | None = None, pin: str | None = None) -> dict[str, str | None]:
    """The annotation changes for one mode: a value sets, None removes."""
    changes: dict[str, str | None] = dict.fromkeys(MODE_ANNOTATIONS)
    if mode == "automatic":
        changes[AUTO_IMC] = "true"
    elif mode == "perfect match":
        changes[AUTO_IMC] = "true"
        changes[PERFECT_MATCH] = "true"
    elif mode == "match count":
        changes[AUTO_IMC] = "true"
        changes[MATCH_COUNT] = str(count if count is not None else 1)
    elif mode == "pin":
        changes[IMC_ID] = pin or ""
    elif mode == "off":
        changes[AUTO_IMC] = "false"
    else:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    return changes


def policy_changes(current: Mapping[str, str], mode: str, count: int | None = None, pin: str | None = None
                   ) -> dict[str, str | None]:
    """The smallest set of annotation changes that puts a template in this mode (None removes)."""
    wanted = policy_annotations(mode, count, pin)
    if wanted.get(AUTO_IMC) == "true" and AUTO_IMC not in current:
        wanted.pop(AUTO_IMC)  # "true" is ECI's default: leave it unwritten
    return {key: value for key, value in wanted.items() if current.get(key) != value}


def mode_of(annotations: Mapping[str, str]) -> str:
    """The mode a set of template annotations amounts to, as ECI reads them, for the form's starting value."""
    policy = read_policy(annotations, 0)
    if policy.mode in ("pin", "off"):
        return policy.mode
    if policy.perfect_match:
        return "perfect match"
    return "automatic" if policy.match_count is None else "match count"


def merged(annotations: Mapping[str, str], changes: Mapping[str, str | None]) -> dict[str, str]:
    """Annotations after applying changes (None removes a key)."""
    result = dict(annotations)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def with_template(obj: Mapping[str, Any], annotations: Mapping[str, str], if_not_present: bool = False
                  ) -> dict[str, Any]:
    """A copy of the workload with these pod-template annotations (and optionally IfNotPresent)."""
    result = copy.deepcopy(dict(obj))
    template = template_dict(result)
    if not template and result.get("kind") != "Pod":
        return result
    if not isinstance(template.get("metadata"), dict):
        template["metadata"] = {}
    metadata = template["metadata"]
    if annotations or "annotations" in metadata:
        metadata["annotations"] = dict(annotations)
    if if_not_present:
        spec = mapping(template.get("spec"))
        for group in CONTAINER_LISTS:
            containers = spec.get(group)
            for container in containers if isinstance(containers, list) else []:
                if isinstance(container, dict):
                    container["imagePullPolicy"] = "IfNotPresent"
    return result


def corrected(obj: Mapping[str, Any], annotations: Mapping[str, str], if_not_present: bool = False
              ) -> dict[str, Any]:
    """The workload with these template annotations, and none of them left on its own metadata."""
    result = with_template(obj, annotations, if_not_present)
    if result.get("kind") != "Pod":
        own = mapping(result.get("metadata")).get("annotations")
        if isinstance(own, dict) and any(key in own for key in MODE_ANNOTATIONS):
            for key in MODE_ANNOTATIONS:
                own.pop(key, None)
            if not own:
                result["metadata"].pop("annotations")
    return result


SERVER_FIELDS = ("resourceVersion", "uid", "generation", "creationTimestamp", "managedFields", "selfLink")


def clean_object(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A live object as a user would write it: no status, no server-set metadata."""
    result = copy.deepcopy(dict(obj))
    result.pop("status", None)
    metadata = result.get("metadata") or {}
    for key in SERVER_FIELDS:
        metadata.pop(key, None)
    annotations = metadata.get("annotations") or {}
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    annotations.pop("deployment.kubernetes.io/revision", None)
    if "annotations" in metadata and not annotations:
        metadata.pop("annotations")
    return result


# libyaml's emitter where PyYAML has it: the pure-Python one takes seconds on a megabyte (what it writes is the same)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def as_yaml(obj: Any) -> str:
    """Block-style YAML in the object's own key order (the objects shown come from bounded manifests: see
    core.manifests.MAX_DOCUMENT_BYTES)."""
    return yaml.dump(obj, Dumper=_DUMPER, sort_keys=False, default_flow_style=False, allow_unicode=True)


def yaml_diff(before: Any, after: Any, before_name: str = "current", after_name: str = "proposed") -> str:
    """A unified diff of two objects' YAML; empty when they are the same."""
    return "".join(difflib.unified_diff(
        as_yaml(before).splitlines(keepends=True), as_yaml(after).splitlines(keepends=True),
        fromfile=before_name, tofile=after_name, n=3,
    ))


@dataclass
class CacheForm:
    """What the create-cache form holds, before it is an ImageCache object."""

    name: str = ""
    images: str = ""
    size_gib: int | None = 20  # None: left empty, which the form refuses
    retention_days: int | None = None
    pull_secrets: str = ""
    reuse: bool = False
    flash: bool = False

    def image_list(self) -> list[str]:
        """One image per non-empty line."""
        return [line.strip() for line in self.images.splitlines() if line.strip()]

    def secret_list(self) -> list[str]:
        """`namespace:secret` entries, split by lines or commas."""
        return [part.strip() for part in self.pull_secrets.replace(",", "\n").splitlines() if part.strip()]

    def to_object(self) -> dict[str, Any]:
        """The ImageCache object the form describes."""
        annotations = {}
        if self.reuse:
            annotations[REUSE_ANNOTATION] = "true"
        if self.flash:
            annotations[FLASH_ANNOTATION] = "true"
        metadata: dict[str, Any] = {"name": self.name.strip()}
        if annotations:
            metadata["annotations"] = annotations
        spec: dict[str, Any] = {"images": self.image_list()}
        if self.size_gib is not None:
            spec["imageCacheSize"] = self.size_gib
        if self.retention_days is not None:  # 0 too: out of range is refused, never dropped
            spec["retentionDays"] = self.retention_days
        if self.secret_list():
            spec["imagePullSecrets"] = self.secret_list()
        return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}


# Which form field shows an error about which part of the object.
FIELD_OF_PATH = {
    "metadata.name": "Name",
    "spec.images": "Images",
    "spec.imageCacheSize": "Size (GiB)",
    "spec.retentionDays": "Retention (days)",
    "spec.imagePullSecrets": "Image pull secrets",
}


def form_field(path: str) -> str:
    """The form field label an object path belongs to ("spec.images[2]" → "Images")."""
    for prefix, label in FIELD_OF_PATH.items():
        if path == prefix or path.startswith((prefix + "[", prefix + ".")):
            return label
    return "Name" if path.startswith("metadata") else "Images"


MAX_IMAGE_FIELD_CHARS = MAX_IMAGES * 300  # the Images text area's max_chars


def images_from_link(text: str, max_chars: int = MAX_IMAGE_FIELD_CHARS) -> str:
    """The Images field from a link's comma-separated ?images=: one per line, duplicates and blanks dropped,
    whole images only up to the field's length (the form's validation then names any other problem)."""
    field = ""
    for image in dict.fromkeys(part.strip() for part in text.split(",") if part.strip()):
        longer = f"{field}\n{image}" if field else image
        if len(longer) > max_chars:
            break
        field = longer
    return field
