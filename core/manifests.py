"""Reading manifests: YAML or JSON text into Kubernetes objects, with limits and clear errors."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

import yaml

from core.errors import ManifestError

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_EXPANDED_NODES = 200_000
# deeper than any Kubernetes object; far below Python's recursion limit
MAX_NESTING = 100
# an int64 has 19 digits; a longer integer is no Kubernetes value, and Python refuses past 4,300
MAX_INTEGER_CHARS = 40


class _Nested(Exception):
    """A document nested deeper than MAX_NESTING."""


class _Surrogate(Exception):
    """A string with a lone UTF-16 surrogate (an escape such as \\ud800): text no terminal or page can show."""


_SURROGATE = re.compile("[\ud800-\udfff]")


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps anchors (their expansion is measured), bounds integers and keeps timestamps as text."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        """An integer of a bounded length: parsing a long one takes quadratic time, then fails."""
        if len(node.value) > MAX_INTEGER_CHARS:
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {len(node.value)} characters is out of range", node.start_mark
            )
        return super().construct_yaml_int(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
# Kubernetes reads YAML as JSON: a timestamp is a string, checked where it is used (2024-13-45 is no crash)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_str)


def _json_int(text: str) -> int:
    if len(text) > MAX_INTEGER_CHARS:
        raise ManifestError(f"a JSON integer of {len(text)} digits is out of range")
    return int(text)


def _expanded_size(node: object, memo: dict[int, int], budget: int, depth: int = 0) -> int:
    """How many values the document holds once every alias is expanded (stops counting past budget)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if isinstance(node, Mapping):
        children = list(node.keys()) + list(node.values())
    elif isinstance(node, list):
        children = node
    else:
        if isinstance(node, str) and _SURROGATE.search(node):
            raise _Surrogate
        return 1
    if depth >= MAX_NESTING:
        raise _Nested
    memo[key] = 1
    total = 1
    for child in children:
        total += _expanded_size(child, memo, budget, depth + 1)
        if total > budget:
            break
    memo[key] = total
    return total


def _problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return problem


def load_documents(text: str | bytes, source: str = "<input>") -> list[dict]:
    """Kubernetes objects of a YAML or JSON text: multi-document, `kind: List` items expanded."""
    return [obj for _, obj in load_numbered(text, source)]


def load_numbered(text: str | bytes, source: str = "<input>") -> list[tuple[int, dict]]:
    """Like load_documents, each object with the number of the document it came from."""
    if isinstance(text, bytes):
        if len(text) > MAX_MANIFEST_BYTES:
            raise ManifestError(
                f"{source}: {len(text) / 2**20:.1f} MiB is more than the {MAX_MANIFEST_BYTES // 2**20} MiB imc reads"
            )
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ManifestError(f"{source}: not UTF-8 text") from None
    if len(text) > MAX_MANIFEST_BYTES:
        raise ManifestError(
            f"{source}: {len(text) / 2**20:.1f} MiB is more than the {MAX_MANIFEST_BYTES // 2**20} MiB imc reads"
        )
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            parsed = json.loads(text, parse_int=_json_int)
        except ManifestError as exc:
            raise ManifestError(f"{source}: {exc}") from None
        except RecursionError:
            raise ManifestError(f"{source}: document 1: nested too deeply") from None
        except ValueError:
            parsed = None
        else:
            return _objects([parsed] if not isinstance(parsed, list) else parsed, source)
    documents = []
    try:
        for document in yaml.load_all(text, Loader=_Loader):
            documents.append(document)
    except yaml.YAMLError as exc:
        raise ManifestError(f"{source}: document {len(documents) + 1}: YAML does not parse: {_problem(exc)}") from None
    except RecursionError:
        raise ManifestError(f"{source}: document {len(documents) + 1}: nested more than {MAX_NESTING} deep") from None
    return _objects(documents, source)


def _objects(documents: list, source: str) -> list[tuple[int, dict]]:
    """Check each document is an object with a kind; expand Lists."""
    objects: list[tuple[int, dict]] = []
    for number, document in enumerate(documents, start=1):
        if document is None:
            continue
        try:
            size = _expanded_size(document, {}, MAX_EXPANDED_NODES)
        except (_Nested, RecursionError):
            raise ManifestError(f"{source}: document {number}: nested more than {MAX_NESTING} deep") from None
        except _Surrogate:
            raise ManifestError(
                f"{source}: document {number}: a string holds a lone surrogate (an escape such as \\ud800), "
                "which is not Unicode text"
            ) from None
        if size > MAX_EXPANDED_NODES:
            raise ManifestError(
                f"{source}: document {number}: expands to more than {MAX_EXPANDED_NODES:,} values "
                "(a YAML alias bomb?); refused"
            )
        if not isinstance(document, Mapping):
            raise ManifestError(f"{source}: document {number}: a {type(document).__name__}, not a Kubernetes object")
        kind = document.get("kind")
        if not isinstance(kind, str) or not kind:
            raise ManifestError(f"{source}: document {number}: has no kind")
        if kind == "List" or (kind.endswith("List") and isinstance(document.get("items"), list)):
            items = document.get("items") or []
            for position, item in enumerate(items):
                if not isinstance(item, Mapping):
                    raise ManifestError(f"{source}: document {number}: items[{position}] is not an object")
                if "kind" not in item and kind != "List":
                    item = {**item, "kind": kind.removesuffix("List")}
                objects.append((number, dict(item)))
            continue
        objects.append((number, dict(document)))
    return objects
