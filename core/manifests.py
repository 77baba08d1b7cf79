"""Reading manifests: YAML or JSON text into Kubernetes objects, with limits and clear errors."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.resolver import Resolver

from core.errors import ManifestError, ManifestTooLarge
from core.findings import brief

MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # text imc reads; also what its documents may expand to, all together
# One document's expanded size: kube-apiserver refuses a request body past 3 MiB (its MaxRequestBodyBytes) and etcd
# stores an object of at most 1.5 MiB, so a document that expands past this can never be a Kubernetes object.
MAX_DOCUMENT_BYTES = 3 * 1024 * 1024
MAX_EXPANDED_NODES = 200_000
# deeper than any Kubernetes object; far below Python's recursion limit
MAX_NESTING = 100
# an int64 has 19 digits; a longer integer is no Kubernetes value, and Python refuses past 4,300
MAX_INTEGER_CHARS = 40


class _Refused(Exception):
    """A document past one of the limits, found while it is composed (the message says which)."""

    def __init__(self, message: str, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


@dataclass(frozen=True)
class _Expanded:
    """What an anchored node costs each time an alias repeats it."""

    size: int  # bytes: every scalar's UTF-8 length, plus one per node
    nodes: int
    height: int  # levels of nesting, the node's own included


class _BoundedComposer(Composer, SafeConstructor, Resolver):
    """A composer that measures each document as it is built: bytes, values and depth once every alias is expanded
    (an alias is charged what its anchored node cost), refusing past the limits before any object is constructed.

    Anchors and aliases still build one shared node, so nothing is copied; the measure is of what a serialiser
    (YAML, JSON, an API server's storage) would write out.
    """

    def __init__(self, max_document_bytes: int, max_stream_bytes: int) -> None:
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.max_document_bytes = max_document_bytes
        self.max_stream_bytes = max_stream_bytes
        self.stream_size = 0
        self._start_document()

    def _start_document(self) -> None:
        self.size, self.nodes, self.depth, self.deepest = 0, 0, 0, 0
        self.expanded: dict[str, _Expanded] = {}

    def compose_document(self) -> yaml.Node:
        """One document, measured from zero (anchors are per document)."""
        self._start_document()
        return super().compose_document()

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        """A node (or the one an alias names), charged as it is composed; an anchored node's cost is remembered."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise _Refused(f"nested more than {MAX_NESTING} deep")
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            node = super().compose_node(parent, index)  # an unknown alias is the composer's own error
            known = self.expanded.get(event.anchor)
            if known is None:
                raise _Refused(f"the alias *{event.anchor[:40]} is inside the node it names (a document that "
                               "contains itself)")
            self._charge(known.size, known.nodes, self.depth + known.height - 1)
        elif event.anchor is None:
            node = super().compose_node(parent, index)
        else:
            size, nodes, outer = self.size, self.nodes, self.deepest
            self.deepest = self.depth
            node = super().compose_node(parent, index)
            self.expanded[event.anchor] = _Expanded(self.size - size, self.nodes - nodes, self.deepest - self.depth + 1)
            self.deepest = max(outer, self.deepest)
        self.depth -= 1
        return node

    def compose_scalar_node(self, anchor: str | None) -> yaml.ScalarNode:
        """A scalar, charged its UTF-8 length; a lone surrogate (an escape such as \\ud800) is no text."""
        node = super().compose_scalar_node(anchor)
        value = node.value
        try:
            size = len(value) if value.isascii() else len(value.encode())
        except UnicodeEncodeError:
            raise _Refused(SURROGATE) from None
        self._charge(size + 1, 1, self.depth)
        return node

    def compose_sequence_node(self, anchor: str | None) -> yaml.SequenceNode:
        """A sequence, charged as one node before its items."""
        self._charge(1, 1, self.depth)
        return super().compose_sequence_node(anchor)

    def compose_mapping_node(self, anchor: str | None) -> yaml.MappingNode:
        """A mapping, charged as one node before its keys and values."""
        self._charge(1, 1, self.depth)
        return super().compose_mapping_node(anchor)

    def _charge(self, size: int, nodes: int, depth: int) -> None:
        self.size += size
        self.nodes += nodes
        self.stream_size += size
        self.deepest = max(self.deepest, depth)
        if depth > MAX_NESTING:
            raise _Refused(f"nested more than {MAX_NESTING} deep")
        if self.nodes > MAX_EXPANDED_NODES:
            raise _Refused(f"expands to more than {MAX_EXPANDED_NODES:,} values (a YAML alias bomb?); refused")
        if self.size > self.max_document_bytes:
            raise _Refused(f"expands to more than {_mib(self.max_document_bytes)} once its aliases are resolved "
                           "(a YAML alias bomb?); refused", too_large=True)
        if self.stream_size > self.max_stream_bytes:
            raise _Refused(f"with the documents before it, expands to more than {_mib(self.max_stream_bytes)} once "
                           "aliases are resolved; refused", too_large=True)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        """An integer of a bounded length: parsing a long one takes quadratic time, then fails."""
        if len(node.value) > MAX_INTEGER_CHARS:
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {len(node.value)} characters is out of range", node.start_mark
            )
        return super().construct_yaml_int(node)


_BoundedComposer.add_constructor("tag:yaml.org,2002:int", _BoundedComposer.construct_yaml_int)
# Kubernetes reads YAML as JSON: a timestamp is a string, checked where it is used (2024-13-45 is no crash)
_BoundedComposer.add_constructor("tag:yaml.org,2002:timestamp", _BoundedComposer.construct_yaml_str)

if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _Loader(_BoundedComposer, CParser):
        """The bounded composer on libyaml's scanner and parser (C: a megabyte scalar is one event, not a loop)."""

        def __init__(self, stream: str, max_document_bytes: int, max_stream_bytes: int) -> None:
            CParser.__init__(self, stream)
            _BoundedComposer.__init__(self, max_document_bytes, max_stream_bytes)
else:  # pragma: no cover - PyYAML built without libyaml
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Loader(_BoundedComposer, Reader, Scanner, Parser):  # type: ignore[no-redef]
        """The bounded composer on PyYAML's own scanner and parser."""

        def __init__(self, stream: str, max_document_bytes: int, max_stream_bytes: int) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            _BoundedComposer.__init__(self, max_document_bytes, max_stream_bytes)


SURROGATE = "a string holds a lone surrogate (an escape such as \\ud800), which is not Unicode text"
# libyaml's own words for an escape that is no Unicode character (a lone surrogate, or past U+10FFFF)
_LIBYAML_BAD_ESCAPE = "found invalid Unicode character escape code"


_SURROGATE = re.compile("[\ud800-\udfff]")


def _mib(size: int) -> str:
    return f"{size / 2**20:g} MiB"


def _json_int(text: str) -> int:
    if len(text) > MAX_INTEGER_CHARS:
        raise ManifestError(f"a JSON integer of {len(text)} digits is out of range")
    return int(text)


def shape_problem(node: object, depth: int = 1) -> str | None:
    """Why a decoded JSON value is refused (nested more than MAX_NESTING deep, a lone surrogate), or None."""
    if depth > MAX_NESTING:  # any value, as the YAML composer counts them
        return f"nested more than {MAX_NESTING} deep"
    if isinstance(node, str):
        return SURROGATE if _SURROGATE.search(node) else None
    if not isinstance(node, Mapping | list):
        return None
    children = [*node.keys(), *node.values()] if isinstance(node, Mapping) else node
    for child in children:
        problem = shape_problem(child, depth + 1)
        if problem:
            return problem
    return None


def _problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if problem == _LIBYAML_BAD_ESCAPE:
        problem += " (a lone surrogate such as \\ud800, or past U+10FFFF)"
    if mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return problem


def _text(data: str | bytes, source: str) -> str:
    """The text of a manifest within MAX_MANIFEST_BYTES, from UTF-8 bytes (a BOM dropped) or a string."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestTooLarge(
            f"{source}: {len(data) / 2**20:.1f} MiB is more than the {MAX_MANIFEST_BYTES // 2**20} MiB imc reads"
        )
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ManifestError(f"{source}: not UTF-8 text") from None


def load_yaml(data: str | bytes, source: str = "<input>", max_document_bytes: int = MAX_DOCUMENT_BYTES
              ) -> list[object]:
    """Every document of a YAML stream, bounded while it is composed: each expands (aliases resolved) to at most
    max_document_bytes, MAX_EXPANDED_NODES values and MAX_NESTING levels, and all to MAX_MANIFEST_BYTES.

    Raises ManifestError naming the source and the document; ManifestTooLarge for a size limit.
    """
    text = _text(data, source)
    documents: list[object] = []
    try:
        loader = _Loader(text, max_document_bytes, MAX_MANIFEST_BYTES)
    except UnicodeEncodeError:  # a str holding a lone surrogate: libyaml reads UTF-8
        raise ManifestError(f"{source}: document 1: {SURROGATE}") from None
    try:
        while loader.check_data():
            documents.append(loader.get_data())
    except _Refused as exc:
        error = ManifestTooLarge if exc.too_large else ManifestError
        raise error(f"{source}: document {len(documents) + 1}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"{source}: document {len(documents) + 1}: YAML does not parse: {_problem(exc)}") from None
    finally:
        loader.dispose()
    return documents


def load_documents(text: str | bytes, source: str = "<input>") -> list[dict]:
    """Kubernetes objects of a YAML or JSON text: multi-document, `kind: List` items expanded."""
    return [obj for _, obj in load_numbered(text, source)]


def load_numbered(text: str | bytes, source: str = "<input>") -> list[tuple[int, dict]]:
    """Like load_documents, each object with the number of the document it came from."""
    text = _text(text, source)
    if text.lstrip().startswith(("{", "[")):
        try:
            parsed = json.loads(text, parse_int=_json_int)
        except ManifestError as exc:
            raise ManifestError(f"{source}: {exc}") from None
        except RecursionError:
            raise ManifestError(f"{source}: document 1: nested more than {MAX_NESTING} deep") from None
        except ValueError:
            pass  # not JSON: YAML (a flow mapping) may still read it
        else:
            documents = [parsed] if not isinstance(parsed, list) else parsed
            for number, document in enumerate(documents, start=1):
                problem = shape_problem(document)
                if problem:
                    raise ManifestError(f"{source}: document {number}: {problem}")
            return _objects(documents, source)
    return _objects(load_yaml(text, source), source)


def _objects(documents: list, source: str) -> list[tuple[int, dict]]:
    """Check each document is an object with a kind; expand Lists."""
    objects: list[tuple[int, dict]] = []
    for number, document in enumerate(documents, start=1):
        if document is None:
            continue
        if not isinstance(document, Mapping):
            raise ManifestError(f"{source}: document {number}: a {type(document).__name__}, not a Kubernetes object")
        kind = document.get("kind")
        if not isinstance(kind, str) or not kind:
            raise ManifestError(f"{source}: document {number}: has no kind")
        items = document.get("items")
        if kind == "List" and items is not None and not isinstance(items, list):
            raise ManifestError(f"{source}: document {number}: a List whose items are {brief(items)}, not a list")
        if kind == "List" or (kind.endswith("List") and isinstance(items, list)):
            for position, item in enumerate(items or ()):
                if not isinstance(item, Mapping):
                    raise ManifestError(f"{source}: document {number}: items[{position}] is not an object")
                if "kind" not in item and kind != "List":
                    item = {**item, "kind": kind.removesuffix("List")}
                objects.append((number, dict(item)))
            continue
        objects.append((number, dict(document)))
    return objects
