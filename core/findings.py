"""Findings: what the engine noticed about a pod, a policy or a cache."""

from __future__ import annotations

import reprlib
from dataclasses import asdict, dataclass

SEVERITIES = ("error", "warning", "info")
# codes of findings about a field of the wrong type or range: the object itself is malformed
FIELD_CODES = frozenset({"invalid-field", "invalid-spec", "annotation-not-string"})


@dataclass(frozen=True)
class Finding:
    """One thing worth telling the user, with a stable code for tools."""

    severity: str
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """The finding as plain JSON."""
        return asdict(self)


def error(code: str, message: str) -> Finding:
    """A finding that makes the outcome wrong or impossible."""
    return Finding("error", code, message)


def warning(code: str, message: str) -> Finding:
    """A finding that is probably a mistake."""
    return Finding("warning", code, message)


def info(code: str, message: str) -> Finding:
    """A finding that explains without blaming."""
    return Finding("info", code, message)


class _BriefRepr(reprlib.Repr):
    """reprlib's bounded repr, without Python's error on integers of thousands of digits."""

    def repr_int(self, value: int, level: int) -> str:
        if value.bit_length() > 200:
            return f"<an integer of about {value.bit_length() * 30103 // 100000 + 1} digits>"
        return super().repr_int(value, level)


_BRIEF = _BriefRepr()
_BRIEF.maxlevel, _BRIEF.maxstring, _BRIEF.maxother, _BRIEF.maxlist, _BRIEF.maxdict = 3, 60, 60, 4, 4


def brief(value: object) -> str:
    """A short repr of any value for a message: bounded in length and depth, whatever the input."""
    return _BRIEF.repr(value)
