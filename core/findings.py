"""Findings: what the engine noticed about a pod, a policy or a cache."""

from __future__ import annotations

from dataclasses import asdict, dataclass

SEVERITIES = ("error", "warning", "info")


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
