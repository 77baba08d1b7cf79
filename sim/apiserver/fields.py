"""Field ownership for server-side apply: field sets as `managedFields` (FieldsV1) write them, merge and removal.

A field path is a tuple of FieldsV1 keys: `f:<field>` for a map field, `k:{"<key>":<value>}` for an item of a
list merged by key (lists of containers, env, ports...; see `MERGE_KEYS`), and `.` for such an item itself.
Every other list is atomic: owned and replaced as a whole.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import orjson

from sim.apiserver.patching import MERGE_KEYS

Path = tuple[str, ...]
MISSING = object()
ITEM = "."
# metadata the server owns: never part of a field set
SERVER_METADATA = frozenset({"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                             "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"})


def _item_key(field: str, item: object) -> str | None:
    """The `k:` path key of a list item merged by key, or None when the list is atomic."""
    key_field = MERGE_KEYS.get(field)
    if key_field is None or not isinstance(item, dict) or key_field not in item:
        return None
    return "k:" + orjson.dumps({key_field: item[key_field]}).decode()


def _keyed(field: str, items: list) -> bool:
    """Whether a list merges by key (every item carries the key)."""
    return bool(items) and all(_item_key(field, item) is not None for item in items)


def _walk(value: object, path: Path, field: str, out: dict[Path, object]) -> None:
    if isinstance(value, dict) and value:
        for key, child in value.items():
            _walk(child, path + (f"f:{key}",), key, out)
    elif isinstance(value, list) and _keyed(field, value):
        for item in value:
            item_path = path + (_item_key(field, item),)
            out[item_path + (ITEM,)] = MISSING
            for key, child in item.items():
                _walk(child, item_path + (f"f:{key}",), key, out)
    else:
        out[path] = value


def leaves(obj: dict, section: str = "") -> dict[Path, object]:
    """The owned leaves of an object and their values: its fields outside `status`, or only `status`'s."""
    out: dict[Path, object] = {}
    for key, value in obj.items():
        if key in ("kind", "apiVersion") or (key == "status") != (section == "status"):
            continue
        if key == "metadata" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in SERVER_METADATA}
            if not value:
                continue
        _walk(value, (f"f:{key}",), key, out)
    return out


def to_fields_v1(paths: set[Path]) -> dict:
    """A field set as the FieldsV1 trie of `managedFields`."""
    trie: dict = {}
    for path in sorted(paths):
        node = trie
        for key in path:
            node = node.setdefault(key, {})
    return trie


def from_fields_v1(trie: object, prefix: Path = ()) -> set[Path]:
    """The field set of a FieldsV1 trie."""
    paths: set[Path] = set()
    if not isinstance(trie, dict):
        return paths
    for key, child in trie.items():
        if isinstance(child, dict) and child:
            paths |= from_fields_v1(child, prefix + (key,))
        else:
            paths.add(prefix + (key,))
    return paths


def _step(container: object, key: str) -> object:
    """One step down a path."""
    if key.startswith("f:") and isinstance(container, dict):
        return container.get(key[2:], MISSING)
    if key.startswith("k:") and isinstance(container, list):
        wanted = orjson.loads(key[2:])
        (field, value), = wanted.items()
        return next((item for item in container if isinstance(item, dict) and item.get(field) == value), MISSING)
    return MISSING


def value_at(obj: dict, path: Path) -> object:
    """The value at a path (MISSING when absent; an item marker gives the item)."""
    value: object = obj
    for key in path:
        if key == ITEM:
            break
        value = _step(value, key)
        if value is MISSING:
            break
    return value


def remove(obj: dict, path: Path) -> None:
    """Remove the field (or list item, for an item marker) at a path, if it is there."""
    if path and path[-1] == ITEM:
        path = path[:-1]
    parent = value_at(obj, path[:-1])
    last = path[-1]
    if last.startswith("f:") and isinstance(parent, dict):
        parent.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(parent, list):
        item = _step(parent, last)
        if item is not MISSING:
            parent.remove(item)


def merge(live: object, applied: object, field: str = "") -> object:
    """The applied configuration merged into the live value: maps recursively, keyed lists by key, else replaced."""
    if isinstance(live, dict) and isinstance(applied, dict):
        result = dict(live)
        for key, value in applied.items():
            result[key] = merge(live.get(key, MISSING), value, key)
        return result
    if isinstance(live, list) and isinstance(applied, list) and _keyed(field, applied) and _keyed(field, live):
        result = list(live)
        positions = {_item_key(field, item): index for index, item in enumerate(live)}
        for item in applied:
            index = positions.get(_item_key(field, item))
            if index is None:
                result.append(copy.deepcopy(item))
            else:
                result[index] = merge(live[index], item)
        return result
    return copy.deepcopy(applied)


def dotted(path: Path) -> str:
    """A path as conflict messages print it: `.spec.containers[name="main"].image`."""
    text = ""
    for key in path:
        if key.startswith("f:"):
            text += "." + key[2:]
        elif key.startswith("k:"):
            (field, value), = orjson.loads(key[2:]).items()
            text += f"[{field}={orjson.dumps(value).decode()}]"
    return text


@dataclass
class ManagedEntry:
    """One `managedFields` entry with its field set."""

    manager: str
    operation: str
    api_version: str
    time: str
    paths: set[Path]
    subresource: str = ""

    @classmethod
    def parse(cls, entry: dict) -> ManagedEntry:
        """An entry read from an object's metadata."""
        return cls(str(entry.get("manager", "")), str(entry.get("operation", "Update")),
                   str(entry.get("apiVersion", "")), str(entry.get("time", "")),
                   from_fields_v1(entry.get("fieldsV1")), str(entry.get("subresource", "")))

    def same_owner(self, manager: str, operation: str, subresource: str) -> bool:
        """Whether this entry belongs to that manager, operation and subresource."""
        return (self.manager, self.operation, self.subresource) == (manager, operation, subresource)

    def encode(self) -> dict:
        """The entry as metadata.managedFields holds it."""
        entry = {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version,
                 "time": self.time, "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(self.paths)}
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry


def entries_of(obj: dict) -> list[ManagedEntry]:
    """The managedFields entries of an object."""
    entries = obj.get("metadata", {}).get("managedFields")
    return [ManagedEntry.parse(e) for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


@dataclass(frozen=True)
class Conflict:
    """An applied field that another manager owns with a different value."""

    manager: str
    api_version: str
    path: Path


def conflicts(live: dict, applied: dict[Path, object], entries: list[ManagedEntry], manager: str) -> list[Conflict]:
    """The applied fields whose live value differs and that another manager owns."""
    found = []
    for entry in entries:
        if entry.same_owner(manager, "Apply", "") or entry.subresource:
            continue
        for path in sorted(entry.paths & applied.keys()):
            if path[-1] == ITEM:
                continue
            live_value = value_at(live, path)
            if live_value is not MISSING and live_value != applied[path]:
                found.append(Conflict(entry.manager, entry.api_version, path))
    return found


def conflict_message(found: list[Conflict]) -> str:
    """The message of a 409 for apply conflicts, as Kubernetes words it."""
    by_manager: dict[tuple[str, str], list[str]] = {}
    for conflict in found:
        by_manager.setdefault((conflict.manager, conflict.api_version), []).append(dotted(conflict.path))
    parts = []
    for (manager, api_version), paths in by_manager.items():
        if len(paths) == 1:
            parts.append(f'conflict with "{manager}" using {api_version}: {paths[0]}')
        else:
            parts.append(f'conflicts with "{manager}" using {api_version}:\n' + "\n".join(f"- {p}" for p in paths))
    count = len(found)
    return f"Apply failed with {count} conflict{'s' if count != 1 else ''}: " + "\n".join(parts)


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
CLIENT_SIDE_UPGRADER = "kubectl"  # the one manager whose apply may take over fields client-side apply set


def last_applied_fields(live: dict) -> set[Path]:
    """The fields of a live object's last-applied-configuration annotation that still hold the applied value."""
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    try:
        last_applied = orjson.loads(text) if isinstance(text, str) and text else None
    except orjson.JSONDecodeError:
        return set()
    if not isinstance(last_applied, dict) or last_applied.get("apiVersion") != live.get("apiVersion"):
        return set()
    return {path for path, value in leaves(last_applied).items()
            if path[-1] == ITEM or value_at(live, path) == value}


def unexcused_conflicts(live: dict, found: list[Conflict], manager: str) -> list[Conflict]:
    """The conflicts an apply must still answer 409 for: kubectl's server-side apply may take over, as if forced,
    the fields its client-side apply set and that still hold the last-applied value (apimachinery
    pkg/util/managedfields/internal/lastappliedmanager.go)."""
    if manager != CLIENT_SIDE_UPGRADER or not found:
        return found
    excused = last_applied_fields(live)
    return [conflict for conflict in found if conflict.path not in excused]
