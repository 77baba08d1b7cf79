"""The three patch formats Kubernetes accepts: JSON merge, strategic merge and JSON patch."""

from __future__ import annotations

import copy

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"

# patchMergeKey of the list fields of the kinds we serve (pods, pod templates, metadata).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
    "conditions": "type",
    "hostAliases": "ip",
    "resourceClaims": "name",
}


class PatchError(ValueError):
    """A patch that cannot be applied."""


def merge_patch(target: object, patch: object) -> object:
    """RFC 7386 JSON merge patch: maps merge, `null` deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _strip_directives(value: object) -> object:
    """A copy of a patch value without `$patch`-style directive keys."""
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value if not (isinstance(v, dict) and "$patch" in v)]
    return copy.deepcopy(value)


def _merge_list(original: list, patch: list, merge_key: str) -> list:
    """Merge a list of maps by `merge_key`, honouring `$patch: delete|replace` items."""
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [_strip_directives(item) for item in patch if not (isinstance(item, dict) and "$patch" in item)]
    if not all(isinstance(item, dict) for item in patch + original):
        return [_strip_directives(item) for item in patch]
    result = [dict(item) for item in original]
    for item in patch:
        key_value = item.get(merge_key)
        position = next((i for i, existing in enumerate(result) if existing.get(merge_key) == key_value), None)
        if item.get("$patch") == "delete":
            result = [existing for existing in result if existing.get(merge_key) != key_value]
        elif position is None:
            result.append(_strip_directives(item))
        else:
            result[position] = strategic_merge(result[position], item)
    return result


def _order_by(items: list, order: list, merge_key: str) -> list:
    """Reorder merged list items as a `$setElementOrder` directive says; unlisted items keep their place after."""
    if not all(isinstance(item, dict) for item in items):
        return items
    wanted = [entry.get(merge_key) if isinstance(entry, dict) else entry for entry in order]
    ranked = {value: rank for rank, value in enumerate(wanted)}
    return sorted(items, key=lambda item: ranked.get(item.get(merge_key), len(ranked)))


def strategic_merge(original: object, patch: object) -> object:
    """Kubernetes strategic merge patch for the kinds we serve (lists of maps merge by their merge key)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return _strip_directives(patch)
    result = dict(original) if isinstance(original, dict) else {}
    orders = {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
        elif key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [item for item in result.get(field) or [] if item not in value]
        elif key.startswith("$"):
            continue
        elif value is None or (isinstance(value, dict) and value.get("$patch") == "delete"):
            result.pop(key, None)
        elif isinstance(value, dict):
            result[key] = strategic_merge(result.get(key), value)
        elif isinstance(value, list) and key in MERGE_KEYS and isinstance(result.get(key), list):
            result[key] = _merge_list(result[key], value, MERGE_KEYS[key])
        else:
            result[key] = _strip_directives(value)
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _order_by(result[field], order, MERGE_KEYS.get(field, "name"))
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _pointer(path: str) -> list[str]:
    """The reference tokens of a JSON pointer."""
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [token.replace("~1", "/").replace("~0", "~") for token in path[1:].split("/")]


def _resolve_parent(document: object, tokens: list[str]) -> tuple[object, str]:
    """The container holding the pointer's last token, and that token."""
    current = document
    for token in tokens[:-1]:
        current = _child(current, token)
    return current, tokens[-1]


def _child(container: object, token: str) -> object:
    """One step down a JSON pointer."""
    if isinstance(container, dict):
        if token not in container:
            raise PatchError(f"path element {token!r} not found")
        return container[token]
    if isinstance(container, list):
        index = _index(container, token, allow_end=False)
        return container[index]
    raise PatchError(f"cannot descend into a scalar at {token!r}")


def _index(items: list, token: str, allow_end: bool) -> int:
    """A list index from a pointer token."""
    if token == "-" and allow_end:
        return len(items)
    if not token.isdigit():
        raise PatchError(f"invalid list index {token!r}")
    index = int(token)
    if index > len(items) or (index == len(items) and not allow_end):
        raise PatchError(f"list index {index} out of range")
    return index


def _add(document: object, path: str, value: object) -> object:
    """JSON patch `add`."""
    tokens = _pointer(path)
    if not tokens:
        return value
    parent, last = _resolve_parent(document, tokens)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True), value)
    else:
        raise PatchError(f"cannot add to a scalar at {path!r}")
    return document


def _remove(document: object, path: str) -> tuple[object, object]:
    """JSON patch `remove`; returns the document and the removed value."""
    tokens = _pointer(path)
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent, last = _resolve_parent(document, tokens)
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"unable to remove nonexistent key: {last}")
        return document, parent.pop(last)
    if isinstance(parent, list):
        return document, parent.pop(_index(parent, last, allow_end=False))
    raise PatchError(f"cannot remove from a scalar at {path!r}")


def json_patch(document: object, operations: object) -> object:
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test)."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    document = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise PatchError(f"invalid operation {operation!r}")
        op, path = operation["op"], operation["path"]
        if op in ("add", "replace", "test") and "value" not in operation:
            raise PatchError(f"operation {op!r} needs a value")
        if op == "add":
            document = _add(document, path, copy.deepcopy(operation["value"]))
        elif op == "remove":
            document, _ = _remove(document, path)
        elif op == "replace":
            document, _ = _remove(document, path) if _pointer(path) else (document, None)
            document = _add(document, path, copy.deepcopy(operation["value"]))
        elif op in ("move", "copy"):
            source_tokens = _pointer(operation.get("from", ""))
            value = document
            for token in source_tokens:
                value = _child(value, token)
            if op == "move":
                document, value = _remove(document, operation["from"])
            document = _add(document, path, copy.deepcopy(value))
        elif op == "test":
            value = document
            for token in _pointer(path):
                value = _child(value, token)
            if value != operation["value"]:
                raise PatchError(f"testing value {path} failed")
        else:
            raise PatchError(f"unknown operation {op!r}")
    return document


def apply_patch(original: dict, content_type: str, patch: object) -> dict:
    """Apply a patch of the given content type to an object; the original is left untouched."""
    if content_type == JSON_PATCH:
        result = json_patch(original, patch)
    elif content_type == MERGE_PATCH:
        result = merge_patch(original, patch)
    elif content_type == STRATEGIC_MERGE_PATCH:
        result = strategic_merge(original, patch)
    else:
        raise PatchError(f"unsupported patch type {content_type!r}")
    if not isinstance(result, dict):
        raise PatchError("the patched object is not a JSON object")
    return result
