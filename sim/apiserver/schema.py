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


_JSON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int, "number": (int, float)}


def _json_type(value: object) -> str:
    """The JSON type name of a value, as the API server's validation messages name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    for name in ("object", "array", "string", "integer"):
        if isinstance(value, _JSON_TYPES[name]):
            return name
    return "number"


def type_errors(value: object, schema: object, path: str = "") -> list[tuple[str, str]]:
    """(field, message) wherever a value has another type than its structural schema declares."""
    if not isinstance(schema, dict):
        return []
    wanted = schema.get("type")
    found = _json_type(value)
    if schema.get("x-kubernetes-int-or-string"):
        fits = found in ("integer", "string")
    elif wanted is None or (value is None and schema.get("nullable")):
        fits = True
    else:
        fits = found == wanted or (wanted == "number" and found == "integer")
    if not fits:
        where = path or "<root>"
        return [(where, f'Invalid value: "{found}": {where} in body must be of type {wanted}: "{found}"')]
    errors: list[tuple[str, str]] = []
    properties = schema.get("properties")
    if isinstance(value, dict) and isinstance(properties, dict):
        for key, child in value.items():
            if key in properties:
                errors += type_errors(child, properties[key], f"{path}.{key}" if path else key)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for position, item in enumerate(value):
            errors += type_errors(item, schema["items"], f"{path}[{position}]")
    return errors


def crd_status(crd: dict, now: str) -> dict:
    """The status the API server gives a CRD it serves: names accepted, established, its stored versions."""
    spec = crd.get("spec") if isinstance(crd.get("spec"), dict) else {}
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    stored = [v.get("name") for v in spec.get("versions") or [] if isinstance(v, dict) and v.get("storage")]
    conditions = [
        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found",
         "lastTransitionTime": now},
        {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
         "message": "the initial names have been accepted", "lastTransitionTime": now},
    ]
    return {"conditions": conditions, "acceptedNames": names, "storedVersions": stored}
