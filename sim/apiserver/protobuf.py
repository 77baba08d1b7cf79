"""The Kubernetes protobuf that kubectl's typed clients send (`create namespace|deployment|configmap|secret|job|cronjob`,
`auth can-i`).

A schema-driven decoder for the few messages involved; fields outside these schemas are skipped.
"""

from __future__ import annotations

import base64

MAGIC = b"k8s\x00"

# A schema maps field numbers to (JSON name, type); a type is "string", "int", "int?" and "bool?" (omitted
# when zero, as Go's omitempty does for non-pointer fields), "bool" (a pointer: kept when false), "map"
# (map<string,string>), "bytes-map" (map<string,bytes>, base64 in JSON) or a nested schema;
# a repeated field's type stands in a list: ["string"]. Field numbers are those of Kubernetes' generated.proto.
Schema = dict[int, tuple[str, object]]

OBJECT_META: Schema = {
    1: ("name", "string"),
    2: ("generateName", "string"),
    3: ("namespace", "string"),
    11: ("labels", "map"),
    12: ("annotations", "map"),
    13: ("ownerReferences", [{1: ("kind", "string"), 3: ("name", "string"), 4: ("uid", "string"),
                              5: ("apiVersion", "string"), 6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool")}]),
    14: ("finalizers", ["string"]),
}
LABEL_SELECTOR: Schema = {
    1: ("matchLabels", "map"),
    2: ("matchExpressions", [{1: ("key", "string"), 2: ("operator", "string"), 3: ("values", ["string"])}]),
}
CONTAINER: Schema = {
    1: ("name", "string"),
    2: ("image", "string"),
    3: ("command", ["string"]),
    4: ("args", ["string"]),
    5: ("workingDir", "string"),
    6: ("ports", [{1: ("name", "string"), 2: ("hostPort", "int?"), 3: ("containerPort", "int"),
                   4: ("protocol", "string")}]),
    7: ("env", [{1: ("name", "string"), 2: ("value", "string")}]),
    14: ("imagePullPolicy", "string"),
}
POD_SPEC: Schema = {
    2: ("containers", [CONTAINER]),
    3: ("restartPolicy", "string"),
    7: ("nodeSelector", "map"),
    8: ("serviceAccountName", "string"),
    10: ("nodeName", "string"),
    20: ("initContainers", [CONTAINER]),
}
POD_TEMPLATE: Schema = {1: ("metadata", OBJECT_META), 2: ("spec", POD_SPEC)}
DEPLOYMENT: Schema = {
    1: ("metadata", OBJECT_META),
    2: ("spec", {
        1: ("replicas", "int"),
        2: ("selector", LABEL_SELECTOR),
        3: ("template", POD_TEMPLATE),
        4: ("strategy", {1: ("type", "string")}),
        5: ("minReadySeconds", "int?"),
        6: ("revisionHistoryLimit", "int"),
        7: ("paused", "bool?"),
        9: ("progressDeadlineSeconds", "int"),
    }),
}
JOB_SPEC: Schema = {
    1: ("parallelism", "int"), 2: ("completions", "int"), 3: ("activeDeadlineSeconds", "int"),
    4: ("selector", LABEL_SELECTOR), 5: ("manualSelector", "bool"), 6: ("template", POD_TEMPLATE),
    7: ("backoffLimit", "int"), 8: ("ttlSecondsAfterFinished", "int"), 9: ("completionMode", "string"),
    10: ("suspend", "bool"), 14: ("podReplacementPolicy", "string"),
}
CRONJOB_SPEC: Schema = {
    1: ("schedule", "string"), 2: ("startingDeadlineSeconds", "int"), 3: ("concurrencyPolicy", "string"),
    4: ("suspend", "bool"), 5: ("jobTemplate", {1: ("metadata", OBJECT_META), 2: ("spec", JOB_SPEC)}),
    6: ("successfulJobsHistoryLimit", "int"), 7: ("failedJobsHistoryLimit", "int"), 8: ("timeZone", "string"),
}
NAMESPACE: Schema = {1: ("metadata", OBJECT_META), 2: ("spec", {1: ("finalizers", ["string"])})}
SELF_SUBJECT_ACCESS_REVIEW: Schema = {
    1: ("metadata", OBJECT_META),
    2: ("spec", {
        1: ("resourceAttributes", {
            1: ("namespace", "string"), 2: ("verb", "string"), 3: ("group", "string"), 4: ("version", "string"),
            5: ("resource", "string"), 6: ("subresource", "string"), 7: ("name", "string")}),
        2: ("nonResourceAttributes", {1: ("path", "string"), 2: ("verb", "string")}),
    }),
}
DELETE_OPTIONS: Schema = {
    1: ("gracePeriodSeconds", "int"),
    2: ("preconditions", {1: ("uid", "string"), 2: ("resourceVersion", "string")}),
    3: ("orphanDependents", "bool?"),
    4: ("propagationPolicy", "string"),
    5: ("dryRun", ["string"]),
}
SCHEMAS: dict[str, Schema] = {
    "ConfigMap": {1: ("metadata", OBJECT_META), 2: ("data", "map"), 3: ("binaryData", "bytes-map"),
                  4: ("immutable", "bool")},
    "Secret": {1: ("metadata", OBJECT_META), 2: ("data", "bytes-map"), 3: ("type", "string"),
               4: ("stringData", "map"), 5: ("immutable", "bool")},
    "Namespace": NAMESPACE,
    "Deployment": DEPLOYMENT,
    "Job": {1: ("metadata", OBJECT_META), 2: ("spec", JOB_SPEC)},
    "CronJob": {1: ("metadata", OBJECT_META), 2: ("spec", CRONJOB_SPEC)},
    "SelfSubjectAccessReview": SELF_SUBJECT_ACCESS_REVIEW,
    "SelfSubjectRulesReview": {1: ("metadata", OBJECT_META), 2: ("spec", {1: ("namespace", "string")})},
    "SelfSubjectReview": {1: ("metadata", OBJECT_META)},
    "DeleteOptions": DELETE_OPTIONS,
    "Eviction": {1: ("metadata", OBJECT_META), 2: ("deleteOptions", DELETE_OPTIONS)},
}


class ProtobufError(ValueError):
    """A body that is not the protobuf we understand."""


def _varint(data: bytes, position: int) -> tuple[int, int]:
    """Decode a varint at `position`; returns (value, next position)."""
    value, shift = 0, 0
    while True:
        if position >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7


def fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of one message: ints for varints, bytes otherwise."""
    result: list[tuple[int, int | bytes]] = []
    position = 0
    while position < len(data):
        tag, position = _varint(data, position)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == 0:
            value, position = _varint(data, position)
        elif wire_type == 2:
            length, position = _varint(data, position)
            if position + length > len(data):
                raise ProtobufError("truncated field")
            value, position = data[position:position + length], position + length
        elif wire_type in (1, 5):
            size = 8 if wire_type == 1 else 4
            value, position = data[position:position + size], position + size
        else:
            raise ProtobufError(f"unsupported wire type {wire_type}")
        result.append((number, value))
    return result


def _scalar(value: int | bytes, kind: object) -> object:
    """One decoded scalar or nested message."""
    if kind == "string":
        return value.decode() if isinstance(value, bytes) else str(value)
    if kind in ("int", "int?"):
        number = value if isinstance(value, int) else 0
        return "" if kind == "int?" and number == 0 else number
    if kind == "bool?":
        return bool(value) or ""
    if kind == "bool":
        return bool(value)
    if isinstance(value, bytes) and isinstance(kind, dict):
        return decode_message(value, kind)
    raise ProtobufError(f"unexpected value for a {kind} field")


def decode_message(data: bytes, schema: Schema) -> dict:
    """A JSON-shaped dict of one message, by its schema."""
    result: dict = {}
    for number, value in fields(data):
        if number not in schema:
            continue
        name, kind = schema[number]
        if kind in ("map", "bytes-map"):
            entry = dict(fields(value)) if isinstance(value, bytes) else {}
            item = entry.get(2, b"")
            text = base64.b64encode(item).decode() if kind == "bytes-map" and isinstance(item, bytes) else \
                _scalar(item, "string")
            result.setdefault(name, {})[_scalar(entry.get(1, b""), "string")] = text
        elif isinstance(kind, list):
            result.setdefault(name, []).append(_scalar(value, kind[0]))
        elif (decoded := _scalar(value, kind)) != "":  # "" stands for an omitted empty value
            result[name] = decoded
    return result


def decode(body: bytes) -> dict:
    """A JSON-shaped object from a `k8s\\x00`-prefixed protobuf body (kinds of SCHEMAS only)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf prefix")
    unknown = dict(fields(body[len(MAGIC):]))
    type_meta = dict(fields(unknown[1])) if isinstance(unknown.get(1), bytes) else {}
    api_version, kind = _scalar(type_meta.get(1, b""), "string"), _scalar(type_meta.get(2, b""), "string")
    schema = SCHEMAS.get(kind)
    if schema is None:
        raise ProtobufError(f"protobuf bodies of kind {kind or 'unknown'} are not supported; send JSON")
    raw = unknown.get(2, b"")
    return {"apiVersion": api_version, "kind": kind, **decode_message(raw if isinstance(raw, bytes) else b"", schema)}
