"""Kubernetes v1.32's OpenAPI definitions of the built-in kinds served: decoding checks, unknown fields, OpenAPI.

The definitions live in `openapi-definitions.json` (OpenAPI v2 form, `#/definitions/` references), cut from
the upstream v1.32 definitions to what the served kinds reach. `python -m sim.apiserver.definitions` writes it again from
the copy the `kubernetes-validate` package (a test extra) carries.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from pathlib import Path

import orjson

from sim.apiserver.config_objects import base64_error_offset

DEFINITIONS_PATH = Path(__file__).resolve().parent / "openapi-definitions.json"
KUBERNETES_VERSION = "v1.32.0"
REF_PREFIX = "#/definitions/"
V3_REF_PREFIX = "#/components/schemas/"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
# The kinds the sim serves or answers with, by apiVersion; each one's definition is the one whose
# x-kubernetes-group-version-kind names it.
SERVED_KINDS = {
    "v1": ("Pod", "Namespace", "Node", "Event", "Service", "Binding", "ConfigMap", "Secret"),
    "apps/v1": ("Deployment", "ReplicaSet"),
    "batch/v1": ("Job", "CronJob"),
    "apiextensions.k8s.io/v1": ("CustomResourceDefinition",),
    "authorization.k8s.io/v1": ("SelfSubjectAccessReview", "SelfSubjectRulesReview"),
    "authentication.k8s.io/v1": ("SelfSubjectReview", "TokenReview"),
    "policy/v1": ("Eviction",),
    "autoscaling/v1": ("Scale",),
    "coordination.k8s.io/v1": ("Lease",),
}
EXTRA_ROOTS = ("io.k8s.apimachinery.pkg.apis.meta.v1.Status", "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions")
LISTED = ("Pod", "Namespace", "Node", "Event", "Service", "ConfigMap", "Secret", "Deployment", "ReplicaSet",
          "Job", "CronJob", "CustomResourceDefinition")
JSON_TYPES = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


# enum fields the sim validates, each in the order kube-apiserver's "Unsupported value" message lists it
RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
# v1.32's OpenAPI gives these fields an `enum` (openapi-gen's +enum types, values sorted), which kubectl explain lists;
# kubernetes-validate's copy of the definitions has none
ENUMS = {
    ("io.k8s.api.core.v1.PodSpec", "restartPolicy"): RESTART_POLICIES,
    ("io.k8s.api.core.v1.PodSpec", "dnsPolicy"): DNS_POLICIES,
    ("io.k8s.api.core.v1.Container", "imagePullPolicy"): PULL_POLICIES,
    ("io.k8s.api.core.v1.EphemeralContainer", "imagePullPolicy"): PULL_POLICIES,
    ("io.k8s.api.core.v1.ServiceSpec", "type"): SERVICE_TYPES,
}


@functools.cache
def definitions() -> dict[str, dict]:
    """Definition name → OpenAPI v2 schema (with v1.32's enums of `ENUMS`)."""
    known = orjson.loads(DEFINITIONS_PATH.read_bytes())
    for (name, field_name), values in ENUMS.items():
        field_schema = known.get(name, {}).get("properties", {}).get(field_name)
        if field_schema is not None:
            field_schema["enum"] = sorted(values)
    return known


def served_roots(known: dict[str, dict]) -> dict[tuple[str, str, str], str]:
    """(group, version, kind) → definition name of each kind served, as the definitions' GVK extension names them."""
    roots = {}
    for name, schema in known.items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or ():
            group, version, kind = gvk["group"], gvk["version"], gvk["kind"]
            if kind in SERVED_KINDS.get(f"{group}/{version}" if group else version, ()):
                roots[group, version, kind] = name
    return roots


@functools.cache
def root_kinds() -> dict[tuple[str, str, str], str]:
    """(group, version, kind) → definition name of each kind served."""
    return served_roots(definitions())


def definition_of(group: str, version: str, kind: str) -> str | None:
    """The definition name of a built-in kind, if the sim has it."""
    return root_kinds().get((group, version, kind))


@dataclass(frozen=True)
class Decoded:
    """What decoding an object by its definition found: type mismatches and fields the kind does not have."""

    mismatches: list[str]  # as Go's decoder words them (`json: cannot unmarshal ...`, `illegal base64 data ...`)
    unknown: list[str]


def _type_name(value: object) -> str:
    """The JSON type of a value, as Go's decoder names it."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "string"


def _fits(value: object, schema: dict, ref: str) -> bool:
    """Whether a non-null value has the type a schema declares."""
    if ref == INT_OR_STRING:
        return isinstance(value, str | int) and not isinstance(value, bool)
    if ref == QUANTITY:
        return isinstance(value, str | int | float) and not isinstance(value, bool)
    wanted = schema.get("type")
    if wanted is None:
        return True
    if isinstance(value, bool):
        return wanted == "boolean"
    if wanted == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, JSON_TYPES.get(wanted, (object,)))


def decode_check(value: object, definition: str, prefix: str = "") -> Decoded:
    """Type mismatches and unknown fields of an object against a definition (paths like `spec.containers[0].x`);
    `prefix` is where the object sits in a larger one (`metadata`), for the unknown fields' paths only: Go's decoder
    names fields from the value it decodes."""
    found = Decoded([], [])
    _walk(value, {"$ref": REF_PREFIX + definition}, prefix, "", "", found, definitions())
    return found


def _mismatch(value: object, field: str, struct: str, go_type: str) -> str:
    """Go's UnmarshalTypeError for a value of the wrong JSON type: `field` lists struct fields only
    (spec.containers.name), `struct` is the Go type whose field it is (Container)."""
    target = f"Go struct field {struct}.{field}" if struct else "Go value"
    return f"json: cannot unmarshal {_type_name(value)} into {target} of type {go_type}"


def _go_type(schema: dict, ref: str, known: dict[str, dict]) -> str:
    """The Go type a schema is generated from, as Go's decoder names it (`v1.OwnerReference`, `map[string]string`)."""
    if ref:
        package, _, name = ref.rpartition(".")
        return f"{package.rpartition('.')[2]}.{name}" if ref != INT_OR_STRING else "intstr.IntOrString"
    wanted = schema.get("type")
    if wanted == "array":
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return "[]" + _go_type(*_resolved(items, known), known)
    if wanted == "object":
        extra = schema.get("additionalProperties")
        return "map[string]" + (_go_type(*_resolved(extra, known), known) if isinstance(extra, dict) else
                                "interface {}")
    if wanted == "integer":
        return schema.get("format", "int64") if schema.get("format") in ("int32", "int64") else "int"
    return {"boolean": "bool", "number": "float64"}.get(wanted, "string")


def _resolved(schema: dict, known: dict[str, dict]) -> tuple[dict, str]:
    """A schema with its references followed, and the last definition name reached ("" when none)."""
    ref = ""
    while "$ref" in schema:
        ref = schema["$ref"].removeprefix(REF_PREFIX)
        schema = known.get(ref, {})
    return schema, ref


def _walk(value: object, schema: dict, path: str, field: str, struct: str, found: Decoded,
          known: dict[str, dict]) -> None:
    """Check one value against its schema, then its children (`path` with list positions and map keys; `field` and
    `struct` as Go's decoder names them)."""
    schema, ref = _resolved(schema, known)
    if value is None:
        return
    if not _fits(value, schema, ref):
        found.mismatches.append(_mismatch(value, field, struct, _go_type(schema, ref, known)))
        return
    if schema.get("format") == "byte" and isinstance(value, str):
        offset = base64_error_offset(value)
        if offset is not None:
            found.mismatches.append(f"illegal base64 data at input byte {offset}")
    if isinstance(value, dict):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        own_struct = ref.rpartition(".")[2]
        for key, child in value.items():
            where = f"{path}.{key}" if path else key
            if isinstance(properties, dict) and key in properties:
                _walk(child, properties[key], where, f"{field}.{key}" if field else key, own_struct, found, known)
            elif isinstance(extra, dict):
                _walk(child, extra, where, field, struct, found, known)
            elif isinstance(properties, dict):
                found.unknown.append(where)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for position, item in enumerate(value):
            _walk(item, schema["items"], f"{path}[{position}]", field, struct, found, known)


def decodable_fields(value: dict, definition: str) -> dict:
    """The fields of an object that decode on their own, the others dropped: what kube-apiserver keeps of malformed
    metadata read back from storage (apiextensions-apiserver's GetObjectMetaWithOptions with DropMalformedFields)."""
    if not decode_check(value, definition).mismatches:
        return value
    return {key: child for key, child in value.items() if not decode_check({key: child}, definition).mismatches}


def prune_unknown(value: object, definition: str) -> object:
    """A copy of an object without the fields its definition does not have (what decoding drops)."""
    return _prune(value, {"$ref": REF_PREFIX + definition}, definitions())


def _prune(value: object, schema: dict, known: dict[str, dict]) -> object:
    while "$ref" in schema:
        schema = known.get(schema["$ref"].removeprefix(REF_PREFIX), {})
    properties = schema.get("properties")
    if isinstance(value, dict):
        extra = schema.get("additionalProperties")
        if isinstance(properties, dict):
            return {key: _prune(child, properties[key], known) for key, child in value.items() if key in properties}
        if isinstance(extra, dict):
            return {key: _prune(child, extra, known) for key, child in value.items()}
        return value
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_prune(item, schema["items"], known) for item in value]
    return value


def _as_v3(node: object) -> object:
    """A v2 schema in OpenAPI v3 form: references into components, a reference with siblings wrapped in allOf."""
    if isinstance(node, list):
        return [_as_v3(item) for item in node]
    if not isinstance(node, dict):
        return node
    if isinstance(node.get("$ref"), str):
        ref = {"$ref": V3_REF_PREFIX + node["$ref"].removeprefix(REF_PREFIX)}
        rest = {key: _as_v3(value) for key, value in node.items() if key != "$ref"}
        return {"allOf": [ref], **rest} if rest else ref
    return {key: _as_v3(value) for key, value in node.items()}


@functools.cache
def v3_schemas(names: tuple[str, ...]) -> dict[str, dict]:
    """The definitions these names reach, as OpenAPI v3 component schemas (shared: do not change them)."""
    known = definitions()
    return {name: _as_v3(known[name]) for name in closure(names, known)}


def closure(names: list[str], known: dict[str, dict]) -> list[str]:
    """The definitions `names` reach through references, sorted."""
    seen: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name in seen or name not in known:
            continue
        seen.add(name)
        text = orjson.dumps(known[name]).decode()
        for part in text.split('"$ref":"')[1:]:
            stack.append(part.split('"', 1)[0].removeprefix(REF_PREFIX))
    return sorted(seen)


def _from_json_schema(node: object, in_properties: bool = False) -> object:
    """kubernetes-validate's JSON-schema form back to OpenAPI v2 (one type, no added kind/apiVersion enums)."""
    if isinstance(node, list):
        return [_from_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    if in_properties:
        return {key: _from_json_schema(value) for key, value in node.items()}
    result = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, list):
            value = next((t for t in value if t != "null"), "object")
        elif key == "$ref" and isinstance(value, str):
            value = REF_PREFIX + value.rsplit("/", 1)[-1]
        elif key == "properties":
            value = {name: _strip_enum(name, _from_json_schema(child)) for name, child in value.items()}
            result[key] = value
            continue
        result[key] = _from_json_schema(value)
    return result


def _strip_enum(name: str, schema: object) -> object:
    """Drop the kind/apiVersion enums the JSON-schema conversion added."""
    if name in ("kind", "apiVersion") and isinstance(schema, dict):
        schema = {k: v for k, v in schema.items() if k != "enum"}
    return schema


def build() -> dict[str, dict]:
    """The definitions file's content, from kubernetes-validate's copy of the v1.32 definitions."""
    import kubernetes_validate

    source = (Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"{KUBERNETES_VERSION}-local"
              / "_definitions.json")
    raw = orjson.loads(source.read_bytes())["$defs"]
    upstream = {name: _from_json_schema(schema) for name, schema in raw.items()}
    upstream[INT_OR_STRING] = {"description": raw[INT_OR_STRING].get("description", "IntOrString is a type that "
                               "can hold an int32 or a string."), "type": "string", "format": "int-or-string"}
    upstream[QUANTITY] = {"description": raw[QUANTITY].get("description", "Quantity is a fixed-point "
                          "representation of a number."), "type": "string"}
    roots = list(served_roots(upstream).values()) + list(EXTRA_ROOTS)
    roots += [name + "List" for name in roots if name.rsplit(".", 1)[-1] in LISTED]
    return {name: upstream[name] for name in closure(roots, upstream)}


if __name__ == "__main__":
    DEFINITIONS_PATH.write_bytes(orjson.dumps(build(), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n")
    print(f"wrote {DEFINITIONS_PATH}", file=sys.stderr)
