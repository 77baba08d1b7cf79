"""Request bodies within bounds: size (413, as kube-apiserver's 3 MiB), nesting depth and YAML alias expansion (400)."""

from __future__ import annotations

import orjson
import yaml

from sim import protobuf
from sim.errors import ApiError
from sim.protobuf import ProtobufError

MAX_BODY_BYTES = 3 * 1024 * 1024  # kube-apiserver's limit of a request body
MAX_DEPTH = 100  # objects are nested ~20 deep; orjson itself gives up encoding past 254
MAX_YAML_VALUES = 200_000  # values a YAML body may expand to once its aliases are resolved


def too_large() -> ApiError:
    """413 as kube-apiserver words it."""
    return ApiError(413, f"Request entity too large: limit is {MAX_BODY_BYTES}", reason="RequestEntityTooLarge")


class _OutOfBounds(Exception):
    """A body past one of the bounds (which one is in the message)."""


def _measure(node: object, depth: int, memo: dict[int, tuple[int, int] | None], budget: int) -> tuple[int, int]:
    """(values once aliases are expanded, height) of a decoded value; a shared node is measured once."""
    if depth > MAX_DEPTH:
        raise _OutOfBounds(f"the request body is nested more than {MAX_DEPTH} levels deep")
    if not isinstance(node, dict | list):
        return 1, 1
    key = id(node)
    if key in memo:
        known = memo[key]
        if known is None or depth + known[1] - 1 > MAX_DEPTH:  # None: the node contains itself
            raise _OutOfBounds(f"the request body is nested more than {MAX_DEPTH} levels deep")
        return known
    memo[key] = None
    size, height = 1 + (len(node) if isinstance(node, dict) else 0), 1
    for child in node.values() if isinstance(node, dict) else node:
        child_size, child_height = _measure(child, depth + 1, memo, budget)
        size, height = size + child_size, max(height, child_height + 1)
        if size > budget:
            raise _OutOfBounds(f"the YAML request body expands to more than {budget:,} values (an alias bomb?); "
                               "refused")
    memo[key] = (size, height)
    return size, height


def check_shape(value: object, yaml_body: bool) -> None:
    """400 when a decoded body is nested too deeply or (YAML) expands to too many values."""
    try:
        _measure(value, 1, {}, MAX_YAML_VALUES if yaml_body else MAX_BODY_BYTES)
    except _OutOfBounds as exc:
        raise ApiError(400, str(exc)) from None


def decode(raw: bytes, content_type: str) -> object:
    """A request body decoded by its media type (JSON, YAML, Kubernetes protobuf); 400/415 when it cannot be."""
    if len(raw) > MAX_BODY_BYTES:
        raise too_large()
    if "protobuf" in content_type:
        try:
            return protobuf.decode(raw)
        except (ProtobufError, UnicodeDecodeError) as exc:
            raise ApiError(415, f"{exc}", reason="UnsupportedMediaType") from None
    yaml_body = "yaml" in content_type
    try:
        if yaml_body:
            value = yaml.safe_load(raw)
        else:
            value = orjson.loads(raw) if raw else None
    except (orjson.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the request body is not valid: {exc}") from None
    except RecursionError:
        raise ApiError(400, f"the request body is nested more than {MAX_DEPTH} levels deep") from None
    check_shape(value, yaml_body)
    return value
