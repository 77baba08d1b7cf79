"""Request bodies within bounds: size (413, as kube-apiserver's 3 MiB), nesting depth and what YAML expands to."""

from __future__ import annotations

import orjson

from core.errors import ManifestError, ManifestTooLarge
from core.manifests import MAX_NESTING, load_yaml, shape_problem
from sim.apiserver import protobuf
from sim.apiserver.errors import ApiError
from sim.apiserver.protobuf import ProtobufError

MAX_BODY_BYTES = 3 * 1024 * 1024  # kube-apiserver's limit of a request body (its MaxRequestBodyBytes)


def too_large(message: str = f"limit is {MAX_BODY_BYTES}") -> ApiError:
    """413 as kube-apiserver words it."""
    return ApiError(413, f"Request entity too large: {message}", reason="RequestEntityTooLarge")


def decode_yaml(raw: bytes) -> object:
    """A YAML body, bounded while it is read (core.manifests.load_yaml), refused as kube-apiserver refuses it.

    kube-apiserver's serializer (apimachinery runtime/serializer/json, Decode) converts YAML with sigs.k8s.io/yaml,
    whose goyaml refuses a billion-laughs bomb past 1,000 decodes as "yaml: document contains excessive aliasing"
    (decode.go, allowedAliasRatio): a 400 Bad Request, as here for more than MAX_EXPANDED_NODES values. A few
    hundred aliases of one long string pass that ratio; the object they make is then refused by etcd (1.5 MiB,
    "request is too large", 413), which the sim answers while reading: 413 past MAX_BODY_BYTES once expanded.
    """
    try:
        documents = load_yaml(raw, "yaml", max_document_bytes=MAX_BODY_BYTES)
    except ManifestTooLarge as exc:
        raise too_large(f"error converting YAML to JSON: {exc}") from None
    except ManifestError as exc:
        raise ApiError(400, f"error converting YAML to JSON: {exc}") from None
    if len(documents) > 1:
        raise ApiError(400, "error converting YAML to JSON: yaml: the request body holds "
                            f"{len(documents)} documents; send one")
    return documents[0] if documents else None


def decode(raw: bytes, content_type: str) -> object:
    """A request body decoded by its media type (JSON, YAML, Kubernetes protobuf); 400/413/415 when it cannot be."""
    if len(raw) > MAX_BODY_BYTES:
        raise too_large()
    if "protobuf" in content_type:
        try:
            return protobuf.decode(raw)
        except (ProtobufError, UnicodeDecodeError) as exc:
            raise ApiError(415, f"{exc}", reason="UnsupportedMediaType") from None
    if "yaml" in content_type:
        return decode_yaml(raw)
    try:
        value = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"the request body is not valid: {exc}") from None
    except RecursionError:
        raise ApiError(400, f"the request body is nested more than {MAX_NESTING} levels deep") from None
    problem = shape_problem(value)
    if problem:
        raise ApiError(400, f"the request body is not valid: {problem}")
    return value
