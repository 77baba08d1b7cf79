"""Kubernetes `Status` errors raised by the simulated API server."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

REASON_BY_CODE = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    500: "InternalError",
}


# a cause's reason by how its message starts, as field.ErrorType names them (apimachinery util/validation/field)
CAUSE_REASONS = {"Too long": "FieldValueTooLong", "Required value": "FieldValueRequired",
                 "Forbidden": "FieldValueForbidden", "Duplicate value": "FieldValueDuplicate",
                 "Unsupported value": "FieldValueNotSupported"}


@dataclass
class ApiError(Exception):
    """An API failure that is answered with a `Status` object."""

    code: int
    message: str
    reason: str | None = ""
    details: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        # None is metav1.StatusReasonUnknown: kube-apiserver's answer to an error it has no reason for (omitted)
        self.reason = "" if self.reason is None else self.reason or REASON_BY_CODE.get(self.code, "Unknown")
        super().__init__(self.message)

    def status(self) -> dict:
        """The `Status` object describing this error."""
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "code": self.code,
        }
        if self.reason:
            body["reason"] = self.reason
        if self.details:
            body["details"] = self.details
        return body


def qualified(kind_or_plural: str, group: str) -> str:
    """`plural.group` (or just `plural` in the core group), as Kubernetes names a resource in errors."""
    return f"{kind_or_plural}.{group}" if group else kind_or_plural


def not_found(plural: str, group: str, name: str) -> ApiError:
    """404 for a missing object."""
    return ApiError(
        404, f'{qualified(plural, group)} "{name}" not found', details={"name": name, "group": group, "kind": plural}
    )


def already_exists(plural: str, group: str, name: str) -> ApiError:
    """409 AlreadyExists for a create over an existing name."""
    return ApiError(
        409,
        f'{qualified(plural, group)} "{name}" already exists',
        reason="AlreadyExists",
        details={"name": name, "group": group, "kind": plural},
    )


def conflict(plural: str, group: str, name: str) -> ApiError:
    """409 Conflict for a stale resourceVersion or failed precondition."""
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        details={"name": name, "group": group, "kind": plural},
    )


def webhook_denied(plural: str, group: str, name: str, webhook: str, message: str) -> ApiError:
    """403 Forbidden for a write a validating admission webhook refused, worded as kube-apiserver words a refusal
    without a code of its own (apiserver/pkg/admission/plugin/webhook/errors/statuserror.go, ToStatusErr)."""
    return ApiError(
        403,
        f'{qualified(plural, group)} "{name}" is forbidden: admission webhook "{webhook}" denied the request: '
        f"{message}",
        reason="Forbidden",
        details={"name": name, "group": group, "kind": plural},
    )


def invalid(kind: str, group: str, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """422 Invalid with one cause per (field, message)."""
    summary = aggregate([f"{field_path}: {message}" for field_path, message in causes])
    return ApiError(
        422,
        f'{qualified(kind, group)} "{name}" is invalid: {summary}',
        details={
            "name": name,
            "group": group,
            "kind": kind,
            "causes": [
                {"reason": cause_reason(message), "message": message, "field": field_path}
                for field_path, message in causes
            ],
        },
    )


def go_quoted(value: str) -> str:
    """A string as Go's %q shows it."""
    return orjson.dumps(value).decode()


def unsupported(value: str, supported: tuple[str, ...]) -> str:
    """field.NotSupported's message (apimachinery pkg/util/validation/field/errors.go)."""
    return f"Unsupported value: {go_quoted(value)}: supported values: " + ", ".join(map(go_quoted, supported))


def aggregate(messages: list[str]) -> str:
    """Errors as apimachinery's aggregate words them: one alone, more (without repeats) as `[a, b]`
    (pkg/util/errors/errors.go)."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def cause_reason(message: str) -> str:
    """The reason of a validation cause, from its message's first words."""
    return next((reason for start, reason in CAUSE_REASONS.items() if message.startswith(start)), "FieldValueInvalid")


def expired(message: str) -> ApiError:
    """410 Expired, for too old a resourceVersion or continue token."""
    return ApiError(410, message, reason="Expired")
