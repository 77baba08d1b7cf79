"""`/openapi/v2` in the protobuf kubectl asks for (gnostic's openapi.v2.Document), from a Swagger 2.0 dict.

kubectl only reads this encoding: it needs the definitions (client-side validation of `kind: List` files,
`explain`'s fallback) and the PATCH operations with their parameters and x-kubernetes-group-version-kind.
Field numbers are those of gnostic's OpenAPIv2.proto; vendor extensions carry their value as YAML (JSON is YAML).
"""

from __future__ import annotations

import struct

import orjson

PRESERVE_UNKNOWN = "x-kubernetes-preserve-unknown-fields"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _bytes(number: int, data: bytes) -> bytes:
    """A length-delimited field."""
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _string(number: int, text: str) -> bytes:
    return _bytes(number, text.encode()) if text else b""


def _bool(number: int, value: bool) -> bytes:
    return _varint(number << 3) + b"\x01" if value else b""


def _int(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value) if value else b""


def _double(number: int, value: float) -> bytes:
    return _varint(number << 3 | 1) + struct.pack("<d", float(value))


def _any(value: object) -> bytes:
    """gnostic's Any: the value as YAML text."""
    return _string(2, orjson.dumps(value).decode())


def _extensions(number: int, node: dict) -> bytes:
    """Vendor extensions (`x-...` keys) as repeated NamedAny."""
    return b"".join(_bytes(number, _string(1, key) + _bytes(2, _any(value)))
                    for key, value in node.items() if key.startswith("x-"))


def schema(node: dict) -> bytes:
    """An openapi.v2.Schema."""
    if node.get(PRESERVE_UNKNOWN):  # anything goes below: a map of anything, as kubectl validates it
        node = {key: value for key, value in node.items() if key not in ("properties", "required")}
    out = [_string(1, node.get("$ref", "")), _string(2, node.get("format", "")), _string(4, node.get("description", ""))]
    if "default" in node:
        out.append(_bytes(5, _any(node["default"])))
    for number, key in ((7, "maximum"), (9, "minimum")):
        if isinstance(node.get(key), int | float) and not isinstance(node.get(key), bool):
            out.append(_double(number, node[key]))
    for number, key in ((14, "maxItems"), (15, "minItems")):
        if isinstance(node.get(key), int) and node[key] >= 0:
            out.append(_int(number, node[key]))
    out += [_string(19, name) for name in node.get("required") or [] if isinstance(name, str)]
    out += [_bytes(20, _any(value)) for value in node.get("enum") or []]
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        out.append(_bytes(21, _bytes(1, schema(extra))))
    elif isinstance(extra, bool):
        out.append(_bytes(21, _bool(2, extra) or _varint(2 << 3) + b"\x00"))
    if isinstance(node.get("type"), str):
        out.append(_bytes(22, _string(1, node["type"])))
    if isinstance(node.get("items"), dict):
        out.append(_bytes(23, _bytes(1, schema(node["items"]))))
    out += [_bytes(24, schema(part)) for part in node.get("allOf") or [] if isinstance(part, dict)]
    if isinstance(node.get("properties"), dict):
        out.append(_bytes(25, b"".join(_bytes(1, _string(1, name) + _bytes(2, schema(child)))
                                       for name, child in node["properties"].items() if isinstance(child, dict))))
    out.append(_bool(27, bool(node.get("readOnly"))))
    out.append(_extensions(31, node))
    return b"".join(out)


def _operation(operation: dict) -> bytes:
    """An openapi.v2.Operation with query parameters."""
    out = [_string(5, operation.get("operationId", ""))]
    out += [_string(7, media) for media in operation.get("consumes") or []]
    for parameter in operation.get("parameters") or []:
        query = (_string(2, parameter.get("in", "")) + _string(4, parameter.get("name", ""))
                 + _string(6, parameter.get("type", "")) + _bool(20, bool(parameter.get("uniqueItems"))))
        out.append(_bytes(8, _bytes(1, _bytes(2, _bytes(3, query)))))
    responses = b"".join(_bytes(1, _string(1, code) + _bytes(2, _bytes(1, _string(1, answer.get("description", "")))))
                         for code, answer in (operation.get("responses") or {}).items())
    out.append(_bytes(9, responses))
    out.append(_extensions(13, operation))
    return b"".join(out)


def document(swagger: dict) -> bytes:
    """An openapi.v2.Document of a Swagger 2.0 dict (info, PATCH operations, definitions)."""
    info = swagger.get("info") or {}
    paths = b"".join(
        _bytes(2, _string(1, path) + _bytes(2, _bytes(8, _operation(item["patch"])) if "patch" in item else b""))
        for path, item in (swagger.get("paths") or {}).items())
    definitions = b"".join(_bytes(1, _string(1, name) + _bytes(2, schema(node)))
                           for name, node in (swagger.get("definitions") or {}).items())
    return (_string(1, swagger.get("swagger", "2.0")) + _bytes(2, _string(1, info.get("title", ""))
            + _string(2, info.get("version", ""))) + _bytes(8, paths) + _bytes(9, definitions))
