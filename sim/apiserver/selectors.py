"""Label and field selectors, parsed from query strings and matched against objects."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from sim.apiserver.errors import ApiError
from sim.apiserver.resources import EVENTS, NAMESPACES, NODES, PODS, REPLICASETS, SECRETS

_SET_REQUIREMENT = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_COMPARISON = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_./-]*)\s*$")

COMMON_FIELDS = ("metadata.name", "metadata.namespace")
FIELDS_BY_RESOURCE = {
    PODS.key: (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    EVENTS.key: (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    NAMESPACES.key: ("status.phase",),
    NODES.key: ("spec.unschedulable",),
    REPLICASETS.key: ("status.replicas",),
    SECRETS.key: ("type",),
}


@dataclass(frozen=True)
class Requirement:
    """One clause of a selector: `key op values`."""

    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: tuple[str, ...] = ()

    def matches(self, value: str | None) -> bool:
        """Whether a value (None when absent) satisfies this clause."""
        op = self.op
        if op == "=" or op == "in":
            return value is not None and value in self.values
        if op == "!=" or op == "notin":
            return value is None or value not in self.values
        if op == "exists":
            return value is not None
        return value is None  # !exists


def _split_top_level(text: str) -> list[str]:
    """Split a selector on commas that are not inside parentheses."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part.strip()]


def parse_label_selector(text: str | None) -> tuple[Requirement, ...]:
    """Parse a `labelSelector` query value; raise a 400 Status on bad syntax."""
    requirements = []
    for clause in _split_top_level(text or ""):
        comparison = _COMPARISON.match(clause)
        if comparison:
            key, op, value = comparison.groups()
            requirements.append(Requirement(key, "!=" if op == "!=" else "=", (value,)))
            continue
        set_based = _SET_REQUIREMENT.match(clause)
        if not set_based:
            raise ApiError(400, f"unable to parse requirement: invalid label selector: {clause.strip()!r}")
        negated, key, op, values = set_based.groups()
        if op:
            if negated:
                raise ApiError(400, f"unable to parse requirement: {clause.strip()!r}")
            items = tuple(v.strip() for v in values.split(",") if v.strip())
            requirements.append(Requirement(key, op, items))
        else:
            requirements.append(Requirement(key, "!exists" if negated else "exists"))
    return tuple(requirements)


def parse_field_selector(text: str | None, resource_key: str) -> tuple[Requirement, ...]:
    """Parse a `fieldSelector` for a resource; unsupported fields are a 400 as in Kubernetes."""
    allowed = COMMON_FIELDS + FIELDS_BY_RESOURCE.get(resource_key, ())
    requirements = []
    for clause in _split_top_level(text or ""):
        comparison = _COMPARISON.match(clause)
        if not comparison:
            raise ApiError(400, f"invalid selector: '{clause.strip()}'; can't understand '{clause.strip()}'")
        key, op, value = comparison.groups()
        if key not in allowed:
            raise ApiError(400, f'field label not supported: {key}')
        requirements.append(Requirement(key, "!=" if op == "!=" else "=", (value,)))
    return tuple(requirements)


def field_value(obj: dict, path: str) -> str:
    """The string value of a field path as field selectors compare it ("" when absent)."""
    value: object = obj
    for part in _parts(path):
        value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            return ""
    if type(value) is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@lru_cache(maxsize=256)
def _parts(path: str) -> tuple[str, ...]:
    """A field path's keys (each list of 40,000 events reads a few paths 40,000 times)."""
    return tuple(("source.component" if path == "source" else path).split("."))


def matches_labels(requirements: tuple[Requirement, ...], labels: dict | None) -> bool:
    """Whether labels satisfy every requirement."""
    labels = labels if isinstance(labels, dict) else {}  # malformed labels select as none, as storage reads them
    return all(req.matches(labels.get(req.key)) for req in requirements)


def matches_fields(requirements: tuple[Requirement, ...], obj: dict) -> bool:
    """Whether an object's fields satisfy every requirement."""
    values: dict[str, str] = {}  # each field read once, however many clauses name it (reason!=A,reason!=B)
    for req in requirements:
        value = values.get(req.key)
        if value is None:
            value = values[req.key] = field_value(obj, req.key)
        if not req.matches(value):
            return False
    return True


@dataclass(frozen=True)
class Selector:
    """A label selector and a field selector together, as a list or watch request carries them."""

    labels: tuple[Requirement, ...] = ()
    fields: tuple[Requirement, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether it selects everything."""
        return not self.labels and not self.fields

    def matches(self, obj: dict) -> bool:
        """Whether an object is selected."""
        if self.labels and not matches_labels(self.labels, obj.get("metadata", {}).get("labels")):
            return False
        return not self.fields or matches_fields(self.fields, obj)


def selector_from_query(label_selector: str | None, field_selector: str | None, resource_key: str) -> Selector:
    """A Selector from the `labelSelector` and `fieldSelector` query values."""
    return Selector(parse_label_selector(label_selector), parse_field_selector(field_selector, resource_key))


def requirements_from_label_selector(selector: dict | None) -> tuple[Requirement, ...]:
    """Requirements of a `metav1.LabelSelector` object (matchLabels and matchExpressions)."""
    selector = selector or {}
    requirements = [Requirement(k, "=", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}
    for expression in selector.get("matchExpressions") or []:
        op = ops.get(expression.get("operator", ""))
        if op is None:
            raise ValueError(f"unknown operator {expression.get('operator')!r}")
        requirements.append(Requirement(expression.get("key", ""), op, tuple(expression.get("values") or ())))
    return tuple(requirements)
