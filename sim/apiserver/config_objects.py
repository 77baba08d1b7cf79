"""ConfigMaps and Secrets as kube-apiserver v1.32 has them: base64 data, config keys, defaults and validation."""

from __future__ import annotations

import base64
import binascii

import orjson

Causes = list[tuple[str, str]]

OPAQUE = "Opaque"
DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
MAX_DATA_BYTES = 1024 * 1024  # core.MaxSecretSize, the bound of a Secret's and a ConfigMap's data alike
MAX_KEY_LENGTH = 253
_BASE64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_NEWLINES = b"\r\n"
_KEY_CHARACTERS = frozenset("-._abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
KEY_MESSAGE = ("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
               "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")
IMMUTABLE_MESSAGE = "Forbidden: field is immutable when `immutable` is set"
# Secret type -> the data keys it needs (all of them, or, for basic-auth, either one)
REQUIRED_KEYS = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    DOCKER_CONFIG_JSON: (".dockerconfigjson",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}
JSON_KEYS = {"kubernetes.io/dockercfg": ".dockercfg", DOCKER_CONFIG_JSON: ".dockerconfigjson"}
BASIC_AUTH = "kubernetes.io/basic-auth"
BASIC_AUTH_KEYS = ("username", "password")
SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"
SERVICE_ACCOUNT_NAME = "kubernetes.io/service-account.name"


def base64_error_offset(text: str) -> int | None:
    """Where Go's base64.StdEncoding rejects `text` (its CorruptInputError offset), or None when it decodes."""
    src, position = text.encode(), 0
    while position < len(src):
        quantum = 0
        while quantum < 4:
            if position == len(src):
                return None if quantum == 0 else position - quantum  # padding is required
            byte = src[position]
            position += 1
            if byte in _BASE64_ALPHABET:
                quantum += 1
            elif byte in _NEWLINES:
                continue
            elif byte != ord("=") or quantum < 2:
                return position - 1
            else:
                return _after_padding(src, position, quantum)
    return None


def _after_padding(src: bytes, position: int, quantum: int) -> int | None:
    """The rest of a base64 text after its first `=`: a second `=` when two characters came before, then nothing."""
    if quantum == 2:
        while position < len(src) and src[position] in _NEWLINES:
            position += 1
        if position == len(src):
            return len(src)
        if src[position] != ord("="):
            return position - 1
        position += 1
    while position < len(src) and src[position] in _NEWLINES:
        position += 1
    return position if position < len(src) else None


def decoded_size(text: object) -> int:
    """The bytes a base64 value stands for (0 for what is not valid base64: decoding refused it already)."""
    try:
        return len(base64.b64decode(text, validate=False)) if isinstance(text, str) else 0
    except (binascii.Error, ValueError):
        return 0


def check_key(key: str, where: str) -> Causes:
    """A data key must be a config key: `[-._a-zA-Z0-9]+`, at most 253 characters, not `.`, `..` or `..*`."""
    problems = []
    if len(key) > MAX_KEY_LENGTH:
        problems.append(f"must be no more than {MAX_KEY_LENGTH} characters")
    if not key or not set(key) <= _KEY_CHARACTERS:
        problems.append(KEY_MESSAGE)
    if key in (".", ".."):
        problems.append(f"must not be '{key}'")
    elif key.startswith(".."):
        problems.append("must not start with '..'")
    quoted = orjson.dumps(key).decode()
    return [(f"{where}[{key}]", f"Invalid value: {quoted}: {problem}") for problem in problems]


def merge_string_data(secret: dict) -> None:
    """Move a Secret's `stringData` into `data` (base64, overwriting), as decoding does: it is never stored."""
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = secret.get("data") if isinstance(secret.get("data"), dict) else {}
        secret["data"] = {**data, **{key: base64.b64encode(str(value).encode()).decode()
                                     for key, value in string_data.items()}}


def default_secret(secret: dict) -> None:
    """stringData merged into data, empty maps dropped (omitempty) and `type` defaulted to Opaque, in place."""
    merge_string_data(secret)
    drop_empty(secret, ("data",))
    if not secret.get("type"):
        secret["type"] = OPAQUE


def drop_empty(obj: dict, names: tuple[str, ...]) -> None:
    """Remove empty maps as the API's omitempty encoding does."""
    for name in names:
        if name in obj and not obj[name]:
            del obj[name]


def _keys(obj: dict, name: str) -> dict:
    value = obj.get(name)
    return value if isinstance(value, dict) else {}


def check_secret(secret: dict) -> Causes:
    """ValidateSecret: config keys, at most 1 MiB of data, and the keys its type needs."""
    data = _keys(secret, "data")
    causes: Causes = [cause for key in sorted(data) for cause in check_key(key, "data")]
    if sum(decoded_size(value) for value in data.values()) > MAX_DATA_BYTES:
        causes.append(("data", f"Too long: must have at most {MAX_DATA_BYTES} bytes"))
    kind = secret.get("type") or OPAQUE
    annotations = _keys(secret.get("metadata") or {}, "annotations")
    if kind == SERVICE_ACCOUNT_TOKEN and not annotations.get(SERVICE_ACCOUNT_NAME):
        causes.append((f"metadata.annotations[{SERVICE_ACCOUNT_NAME}]", "Required value"))
    if kind == BASIC_AUTH and not any(key in data for key in BASIC_AUTH_KEYS):
        causes += [(f"data[{key}]", "Required value") for key in BASIC_AUTH_KEYS]
    missing = [key for key in REQUIRED_KEYS.get(kind, ()) if key not in data]
    causes += [(f"data[{key}]", "Required value") for key in missing]
    json_key = JSON_KEYS.get(kind)
    if json_key and not missing:
        problem = _json_object_problem(data[json_key])
        if problem:
            causes.append((f"data[{json_key}]", f'Invalid value: "<secret contents redacted>": {problem}'))
    return causes


def _json_object_problem(value: object) -> str:
    """Why a base64 value does not hold a JSON object ("" when it does)."""
    try:
        parsed = orjson.loads(base64.b64decode(value)) if isinstance(value, str) else None
    except (binascii.Error, ValueError) as exc:
        return f"invalid JSON: {exc}"
    return "" if isinstance(parsed, dict) else "json: cannot unmarshal into Go value of type map[string]interface {}"


def check_configmap(configmap: dict) -> Causes:
    """ValidateConfigMap: config keys, no key in both data and binaryData, at most 1 MiB in all."""
    data, binary = _keys(configmap, "data"), _keys(configmap, "binaryData")
    causes: Causes = []
    for where, keys, other, other_name in (("data", data, binary, "binaryData"), ("binaryData", binary, data, "data")):
        for key in sorted(keys):
            causes += check_key(key, where)
            if key in other:
                causes.append((f"{where}[{key}]", f"Invalid value: {orjson.dumps(key).decode()}: duplicate of key "
                                                  f"present in {other_name}"))
    size = sum(len(v.encode()) for v in data.values() if isinstance(v, str)) + \
        sum(decoded_size(v) for v in binary.values())
    if size > MAX_DATA_BYTES:
        causes.append(("", f"Too long: must have at most {MAX_DATA_BYTES} bytes"))
    return causes


def check_config_update(old: dict, new: dict, data_fields: tuple[str, ...]) -> Causes:
    """Once `immutable` is true it stays true and the data fields stay as they are."""
    if old.get("immutable") is not True:
        return []
    causes: Causes = [] if new.get("immutable") is True else [("immutable", IMMUTABLE_MESSAGE)]
    return causes + [(name, IMMUTABLE_MESSAGE) for name in data_fields if old.get(name) != new.get(name)]


def check_secret_update(old: dict, new: dict) -> Causes:
    """ValidateSecretUpdate: `type` never changes; `immutable` as for ConfigMaps."""
    causes: Causes = []
    if (new.get("type") or OPAQUE) != (old.get("type") or OPAQUE):
        causes.append(("type", f"Invalid value: {orjson.dumps(new.get('type')).decode()}: field is immutable"))
    return causes + check_config_update(old, new, ("data",))
