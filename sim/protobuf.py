"""The Kubernetes protobuf that kubectl's typed clients send (`create namespace|deployment`, `auth can-i`).

A schema-driven decoder for the few messages involved; fields outside these schemas are skipped.
"""

from __future__ import annotations

MAGIC = b"k8s\x00"

# A schema maps field numbers to (JSON name, type, repeated); a type is "string", "int", "int?" and
# "bool?" (omitted when zero, as Go's omitempty does for non-pointer fields), "map" (map<string,string>)
# or a nested schema. Field numbers are those of Kubernetes' generated.proto.
Schema = dict[int, tuple[str, object, bool]]

OBJECT_META: Schema = {
    1: ("name", "string", False),
    2: ("generateName", "string", False),
    3: ("namespace", "string", False),
    11: ("labels", "map", False),
    12: ("annotations", "map", False),
    14: ("finalizers", "string", True),
}
LABEL_SELECTOR: Schema = {
    1: ("matchLabels", "map", False),
    2: ("matchExpressions", {1: ("key", "string", False), 2: ("operator", "string", False),
                             3: ("values", "string", True)}, True),
}
CONTAINER: Schema = {
    1: ("name", "string", False),
    2: ("image", "string", False),
    3: ("command", "string", True),
    4: ("args", "string", True),
    5: ("workingDir", "string", False),
    6: ("ports", {1: ("name", "string", False), 2: ("hostPort", "int?", False), 3: ("containerPort", "int", False),
                  4: ("protocol", "string", False)}, True),
    7: ("env", {1: ("name", "string", False), 2: ("value", "string", False)}, True),
    14: ("imagePullPolicy", "string", False),
}
POD_SPEC: Schema = {
    2: ("containers", CONTAINER, True),
    3: ("restartPolicy", "string", False),
    7: ("nodeSelector", "map", False),
    8: ("serviceAccountName", "string", False),
    10: ("nodeName", "string", False),
    20: ("initContainers", CONTAINER, True),
}
POD_TEMPLATE: Schema = {1: ("metadata", OBJECT_META, False), 2: ("spec", POD_SPEC, False)}
DEPLOYMENT: Schema = {
    1: ("metadata", OBJECT_META, False),
    2: ("spec", {
        1: ("replicas", "int", False),
        2: ("selector", LABEL_SELECTOR, False),
        3: ("template", POD_TEMPLATE, False),
        4: ("strategy", {1: ("type", "string", False)}, False),
        5: ("minReadySeconds", "int?", False),
        6: ("revisionHistoryLimit", "int", False),
        7: ("paused", "bool?", False),
        9: ("progressDeadlineSeconds", "int", False),
    }, False),
}
NAMESPACE: Schema = {1: ("metadata", OBJECT_META, False), 2: ("spec", {1: ("finalizers", "string", True)}, False)}
SELF_SUBJECT_ACCESS_REVIEW: Schema = {
    1: ("metadata", OBJECT_META, False),
    2: ("spec", {
        1: ("resourceAttributes", {
            1: ("namespace", "string", False), 2: ("verb", "string", False), 3: ("group", "string", False),
            4: ("version", "string", False), 5: ("resource", "string", False), 6: ("subresource", "string", False),
            7: ("name", "string", False)}, False),
        2: ("nonResourceAttributes", {1: ("path", "string", False), 2: ("verb", "string", False)}, False),
    }, False),
}
DELETE_OPTIONS: Schema = {
    1: ("gracePeriodSeconds", "int", False),
    2: ("preconditions", {1: ("uid", "string", False), 2: ("resourceVersion", "string", False)}, False),
    3: ("orphanDependents", "bool?", False),
    4: ("propagationPolicy", "string", False),
    5: ("dryRun", "string", True),
}
SCHEMAS: dict[str, Schema] = {
    "Namespace": NAMESPACE,
    "Deployment": DEPLOYMENT,
    "SelfSubjectAccessReview": SELF_SUBJECT_ACCESS_REVIEW,
    "SelfSubjectRulesReview": {1: ("metadata", OBJECT_META, False), 2: ("spec", {1: ("namespace", "string", False)},
                                                                        False)},
    "SelfSubjectReview": {1: ("metadata", OBJECT_META, False)},
    "DeleteOptions": DELETE_OPTIONS,
    "Eviction": {1: ("metadata", OBJECT_META, False), 2: ("deleteOptions", DELETE_OPTIONS, False)},
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
    if isinstance(value, bytes) and isinstance(kind, dict):
        return decode_message(value, kind)
    raise ProtobufError(f"unexpected value for a {kind} field")


def decode_message(data: bytes, schema: Schema) -> dict:
    """A JSON-shaped dict of one message, by its schema."""
    result: dict = {}
    for number, value in fields(data):
        if number not in schema:
            continue
        name, kind, repeated = schema[number]
        if kind == "map":
            entry = dict(fields(value)) if isinstance(value, bytes) else {}
            result.setdefault(name, {})[_scalar(entry.get(1, b""), "string")] = _scalar(entry.get(2, b""), "string")
        elif repeated:
            result.setdefault(name, []).append(_scalar(value, kind))
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
