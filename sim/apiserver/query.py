"""Query parameters read as kube-apiserver's parameter codec reads them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def flag(query: Mapping[str, str], name: str) -> bool:
    """A boolean query parameter: absent is false; present, only `0` and `false` in any case are false (even an
    empty value is true), as apimachinery's runtime.Convert_Slice_string_To_bool (pkg/runtime/conversion.go)."""
    value = query.get(name)
    return value is not None and value != "0" and value.lower() != "false"


def first_values(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Each parameter's first value: the one apimachinery's conversions of a query string read (`(*in)[0]`)."""
    query: dict[str, str] = {}
    for name, value in items:
        query.setdefault(name, value)
    return query
