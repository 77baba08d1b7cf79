"""Unknown-field handling of custom resources by their CRD's structural schema (prune, or reject when Strict)."""

from __future__ import annotations


def unknown_fields(value: object, schema: object, path: str = "") -> list[str]:
    """Paths of fields the schema does not declare (below `x-kubernetes-preserve-unknown-fields` nothing is)."""
    if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    properties = schema.get("properties")
    found: list[str] = []
    if isinstance(value, dict) and isinstance(properties, dict):
        for key, child in value.items():
            where = f"{path}.{key}" if path else key
            if key in properties:
                found += unknown_fields(child, properties[key], where)
            else:
                found.append(where)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for position, item in enumerate(value):
            found += unknown_fields(item, schema["items"], f"{path}[{position}]")
    return found


def prune(value: object, schema: object) -> object:
    """A copy of `value` without the fields the schema does not declare."""
    if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return value
    properties = schema.get("properties")
    if isinstance(value, dict) and isinstance(properties, dict):
        return {key: prune(child, properties[key]) for key, child in value.items() if key in properties}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prune(item, schema["items"]) for item in value]
    return value


def crd_schema(crd: dict | None, version: str) -> dict | None:
    """The openAPIV3Schema of one version of a CRD object."""
    for entry in (crd or {}).get("spec", {}).get("versions") or []:
        if entry.get("name") == version:
            return (entry.get("schema") or {}).get("openAPIV3Schema")
    return None
