"""The little of Kubernetes' protobuf encoding kubectl's typed clients send us (SSARs, namespaces)."""

from __future__ import annotations

MAGIC = b"k8s\x00"


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


def fields(data: bytes) -> dict[int, list]:
    """Field number → values (ints, or bytes for length-delimited fields) of one message."""
    result: dict[int, list] = {}
    position = 0
    while position < len(data):
        tag, position = _varint(data, position)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == 0:
            value, position = _varint(data, position)
        elif wire_type == 2:
            length, position = _varint(data, position)
            value, position = data[position:position + length], position + length
        elif wire_type in (1, 5):
            size = 8 if wire_type == 1 else 4
            value, position = data[position:position + size], position + size
        else:
            raise ProtobufError(f"unsupported wire type {wire_type}")
        result.setdefault(number, []).append(value)
    return result


def _text(message: dict[int, list], number: int) -> str:
    """A string field ("" when absent)."""
    values = message.get(number)
    return values[-1].decode() if values else ""


def _map(message: dict[int, list], number: int) -> dict[str, str]:
    """A map<string,string> field."""
    entries = {}
    for raw in message.get(number, []):
        entry = fields(raw)
        entries[_text(entry, 1)] = _text(entry, 2)
    return entries


def _object_meta(raw: bytes) -> dict:
    """ObjectMeta: name, generateName, namespace, labels, annotations."""
    meta = fields(raw)
    result: dict = {key: _text(meta, number) for key, number in (("name", 1), ("generateName", 2), ("namespace", 3))}
    result = {k: v for k, v in result.items() if v}
    for key, number in (("labels", 11), ("annotations", 12)):
        if meta.get(number):
            result[key] = _map(meta, number)
    return result


def _access_review_spec(raw: bytes) -> dict:
    """SelfSubjectAccessReviewSpec: resourceAttributes or nonResourceAttributes."""
    spec = fields(raw)
    if spec.get(1):
        attributes = fields(spec[1][-1])
        names = ("namespace", "verb", "group", "version", "resource", "subresource", "name")
        return {"resourceAttributes": {name: _text(attributes, i + 1) for i, name in enumerate(names)}}
    if spec.get(2):
        attributes = fields(spec[2][-1])
        return {"nonResourceAttributes": {"path": _text(attributes, 1), "verb": _text(attributes, 2)}}
    return {}


def decode(body: bytes) -> dict:
    """A JSON-shaped object from a protobuf request body (SelfSubjectAccessReview or Namespace only)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf prefix")
    unknown = fields(body[len(MAGIC):])
    type_meta = fields(unknown[1][-1]) if unknown.get(1) else {}
    api_version, kind = _text(type_meta, 1), _text(type_meta, 2)
    message = fields(unknown[2][-1]) if unknown.get(2) else {}
    result: dict = {"apiVersion": api_version, "kind": kind}
    if message.get(1):
        result["metadata"] = _object_meta(message[1][-1])
    if kind == "SelfSubjectAccessReview":
        result["spec"] = _access_review_spec(message[2][-1]) if message.get(2) else {}
    elif kind == "Namespace":
        result["spec"] = {}
    else:
        raise ProtobufError(f"protobuf bodies of kind {kind or 'unknown'} are not supported; send JSON")
    return result
