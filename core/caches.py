"""ImageCache objects: a read-only view for matching, and validation of new ones (docs/eci-model.md section 1)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from core.errors import ImcError
from core.findings import Finding, brief, error, warning
from core.images import ImageRef, parse_image
from core.timeutil import format_day, format_time, micros, parse_time

GROUP = "eci.alibabacloud.com"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "ImageCache"
PLURAL = "imagecaches"
MAX_IMAGES = 20
MIN_SIZE_GIB, MAX_SIZE_GIB, DEFAULT_SIZE_GIB = 20, 32768, 20
MIN_RETENTION_DAYS, MAX_RETENTION_DAYS = 1, 65536
READY = "Ready"
PHASES = ("Preparing", "Creating", "Ready", "Failed", "Updating", "UpdateFailed")
AUTO_CREATED_PREFIX = "auto-create-for-"
REUSE_ANNOTATION = "k8s.aliyun.com/imc-enable-reuse"
FLASH_ANNOTATION = "k8s.aliyun.com/imc-enable-flash"
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DIGITS = re.compile(r"[0-9]{1,9}")
# a creation time after which adding the longest retention would pass the year 9999
_LATEST_EXPIRING = datetime(9800, 1, 1, tzinfo=UTC)
# window bounds past any instant's microseconds: usable since ever (no creation or Ready time), for ever (no expiry)
SINCE_EVER, FOR_EVER = -(2**63), 2**63


@dataclass(frozen=True)
class CacheView:
    """What matching needs to know of one ImageCache."""

    name: str
    id: str | None
    phase: str | None
    images: tuple[str, ...]
    image_refs: tuple[ImageRef, ...]
    size_gib: int = DEFAULT_SIZE_GIB
    retention_days: int | None = None
    created: datetime | None = None
    expires: datetime | None = None
    progress: str | None = None
    # when it became Ready (status.lastUpdatedTime of a Ready cache): a pod created before saw it not Ready
    ready_since: datetime | None = None
    # status.lastUpdatedTime in any phase: for a Failed cache, when it failed
    updated: datetime | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    findings: tuple[Finding, ...] = field(default=())
    # derived once per cache: an index over 1,000 caches is rebuilt whenever one of them changes
    image_set: frozenset[str] = field(init=False, repr=False, compare=False)
    families: frozenset[str] = field(init=False, repr=False, compare=False)
    # the creation instant as a number for ranking (-inf when unknown: oldest)
    created_seconds: float = field(init=False, repr=False, compare=False)
    # the later of creation and Ready: a pod created before it cannot have used the cache (None: neither known)
    usable_from: datetime | None = field(init=False, repr=False, compare=False)
    # in whole microseconds since 1970: usable (when Ready) after the first, up to and including the second (expiry)
    usable_window: tuple[int, int] = field(init=False, repr=False, compare=False)
    # each image is once in images and is one of the image_refs' (always, for a view made by cache_from_object)
    images_are_refs: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_set", frozenset(self.images))
        object.__setattr__(self, "families", frozenset(ref.family_key for ref in self.image_refs))
        object.__setattr__(self, "created_seconds", self.created.timestamp() if self.created else float("-inf"))
        known = [moment for moment in (self.created, self.ready_since) if moment is not None]
        usable_from = max(known) if known else None
        object.__setattr__(self, "usable_from", usable_from)
        window = (
            SINCE_EVER if usable_from is None else micros(usable_from),
            FOR_EVER if self.expires is None else micros(self.expires),
        )
        object.__setattr__(self, "usable_window", window)
        named = {ref.normalised for ref in self.image_refs}
        object.__setattr__(self, "images_are_refs", len(self.image_set) == len(self.images) and self.image_set <= named)

    @property
    def auto_created(self) -> bool:
        """Created by ECI for a pod that missed (auto-create-for-<instanceID>)."""
        return self.name.startswith(AUTO_CREATED_PREFIX)

    @property
    def label(self) -> str:
        """The name with the ID, for messages."""
        return f"{self.name} ({self.id})" if self.id else self.name

    def is_expired(self, at: datetime) -> bool:
        """Past its expireDateTime at this instant."""
        return self.expires is not None and self.expires < at

    def is_usable(self, at: datetime) -> bool:
        """Ready and not expired: the only state in which ECI uses a cache."""
        return self.phase == READY and not self.is_expired(at) and _before(self.ready_since, at)

    def existed_at(self, at: datetime) -> bool:
        """Created before this instant."""
        return _before(self.created, at)

    def unusable_reason(self, at: datetime) -> str | None:
        """Why ECI cannot use this cache at this instant, or None."""
        if self.phase != READY:
            return f"{self.phase}, not Ready" if self.phase else "no phase yet, not Ready"
        if self.is_expired(at):
            return f"expired {format_day(self.expires)}"
        if not _before(self.ready_since, at):
            return f"not Ready yet then (Ready since {format_time(self.ready_since)})"
        return None

    def to_ref(self) -> dict[str, str | None]:
        """{"name", "id"} as `imc explain` prints a cache."""
        return {"name": self.name, "id": self.id}


def _before(moment: datetime | None, at: datetime) -> bool:
    """Whether a recorded moment (or none) precedes `at`.

    Kubernetes timestamps have one-second precision, so something recorded in the same second as a
    pod's creation is taken as after it: ECI decided before the pod's own auto-created cache existed.
    """
    return moment is None or moment < at


def _whole(value: object, field: str, low: int, high: int, findings: list[Finding]) -> int | None:
    """A whole number within bounds (a string of digits counts), None when unset; a finding when out of range."""
    if value is None:
        return None
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value)
    if number is None or not low <= number <= high:
        findings.append(_invalid(field, value, f"a whole number from {low} to {high}"))
        return None
    return number


def _time(value: object, field: str, findings: list[Finding]) -> datetime | None:
    try:
        return parse_time(value)
    except ImcError as exc:
        findings.append(error("invalid-field", f"{field}: {exc}; ignored"))
        return None


def _text(value: object, field: str, findings: list[Finding]) -> str | None:
    """A string field; anything else is a finding and counts as unset."""
    if value is None or isinstance(value, str):
        return value or None
    findings.append(_invalid(field, value, "a string"))
    return None


def _object(parent: Mapping, key: str, field: str, findings: list[Finding]) -> Mapping:
    """A nested object field; anything else is a finding and counts as empty."""
    value = parent.get(key)
    if isinstance(value, Mapping):
        return value
    if value is not None:
        findings.append(_invalid(field, value, "an object"))
    return {}


def _invalid(field: str, value: object, expected: str) -> Finding:
    return error("invalid-field", f"{field} is {brief(value)} ({type(value).__name__}), not {expected}; ignored")


def cache_from_object(obj: object) -> CacheView:
    """A CacheView of an ImageCache object; never raises: a field of the wrong type or range is a finding."""
    findings: list[Finding] = []
    if not isinstance(obj, Mapping):
        findings.append(_invalid("the ImageCache", obj, "an object"))
        obj = {}
    meta = _object(obj, "metadata", "metadata", findings)
    spec = _object(obj, "spec", "spec", findings)
    status = _object(obj, "status", "status", findings)
    refs: dict[str, ImageRef] = {}
    images = spec.get("images")
    if images is not None and not isinstance(images, list):
        findings.append(_invalid("spec.images", images, "a list"))
        images = []
    elif images and len(images) > MAX_IMAGES:
        findings.append(
            error(
                "invalid-field",
                f"spec.images holds {len(images)} images, more than {MAX_IMAGES}; only the first {MAX_IMAGES} are read",
            )
        )
    for image in (images or [])[:MAX_IMAGES]:
        try:
            ref = parse_image(image)
        except ImcError as exc:
            findings.append(warning("invalid-image", str(exc)))
            continue
        refs.setdefault(ref.normalised, ref)
    created = _time(meta.get("creationTimestamp"), "metadata.creationTimestamp", findings)
    retention = _whole(
        spec.get("retentionDays"), "spec.retentionDays", MIN_RETENTION_DAYS, MAX_RETENTION_DAYS, findings
    )
    size = _whole(spec.get("imageCacheSize"), "spec.imageCacheSize", MIN_SIZE_GIB, MAX_SIZE_GIB, findings)
    expires = _time(status.get("expireDateTime"), "status.expireDateTime", findings)
    if expires is None and retention and created and created < _LATEST_EXPIRING:
        expires = created + timedelta(days=retention)
    phase = _text(status.get("phase"), "status.phase", findings)
    ready_since = _time(status.get("lastUpdatedTime"), "status.lastUpdatedTime", findings)
    annotations = _object(meta, "annotations", "metadata.annotations", findings)
    return CacheView(
        name=_text(meta.get("name"), "metadata.name", findings) or "",
        id=_text(status.get("imageCacheId"), "status.imageCacheId", findings),
        phase=phase,
        images=tuple(refs),
        image_refs=tuple(refs.values()),
        size_gib=size or DEFAULT_SIZE_GIB,
        retention_days=retention,
        created=created,
        expires=expires,
        progress=_text(status.get("progress"), "status.progress", findings),
        ready_since=ready_since if phase == READY else None,
        updated=ready_since,
        annotations={k: v for k, v in annotations.items() if isinstance(k, str) and isinstance(v, str)},
        findings=tuple(findings),
    )


@dataclass(frozen=True)
class FieldError:
    """One invalid field of an object, named by its path."""

    field: str
    message: str


def _check_int(spec: Mapping, key: str, low: int, high: int, errors: list[FieldError]) -> None:
    value = spec.get(key)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append(FieldError(f"spec.{key}", f"must be a whole number, not {value!r}"))
    elif not low <= value <= high:
        errors.append(FieldError(f"spec.{key}", f"must be between {low} and {high}, not {value}"))


def validate_imagecache(obj: object) -> list[FieldError]:
    """Every way this ImageCache breaks the CRD's rules; empty when it is valid."""
    if not isinstance(obj, Mapping):
        return [FieldError("", "an ImageCache must be an object")]
    errors: list[FieldError] = []
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    name = meta.get("name")
    if not name and not meta.get("generateName"):
        errors.append(FieldError("metadata.name", "is required"))
    elif name and (not isinstance(name, str) or len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name)):
        errors.append(
            FieldError(
                "metadata.name",
                f"{name!r} must be lowercase letters, digits, '-' and '.', start and end with a letter "
                "or digit, at most 253 characters",
            )
        )
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return errors + [FieldError("spec", "is required")]
    images = spec.get("images")
    if not isinstance(images, list) or not images:
        errors.append(FieldError("spec.images", "at least one image is required"))
    else:
        if len(images) > MAX_IMAGES:
            errors.append(FieldError("spec.images", f"at most {MAX_IMAGES} images, not {len(images)}"))
        seen: dict[str, int] = {}
        for position, image in enumerate(images):
            try:
                normalised = parse_image(image).normalised
            except ImcError as exc:
                errors.append(FieldError(f"spec.images[{position}]", str(exc)))
                continue
            if normalised in seen:
                errors.append(
                    FieldError(f"spec.images[{position}]", f"{image} repeats spec.images[{seen[normalised]}]")
                )
            seen.setdefault(normalised, position)
    _check_int(spec, "imageCacheSize", MIN_SIZE_GIB, MAX_SIZE_GIB, errors)
    _check_int(spec, "retentionDays", MIN_RETENTION_DAYS, MAX_RETENTION_DAYS, errors)
    secrets = spec.get("imagePullSecrets")
    if secrets is not None:
        if not isinstance(secrets, list):
            errors.append(FieldError("spec.imagePullSecrets", "must be a list of namespace:secretName"))
        else:
            for position, secret in enumerate(secrets):
                if not _valid_secret_ref(secret):
                    errors.append(
                        FieldError(
                            f"spec.imagePullSecrets[{position}]",
                            f"{secret!r} must be namespace:secretName, e.g. default:my-registry",
                        )
                    )
    return errors


def _valid_secret_ref(value: object) -> bool:
    if not isinstance(value, str) or value.count(":") != 1:
        return False
    namespace, name = value.split(":")
    return bool(_DNS_LABEL.fullmatch(namespace)) and bool(_DNS_SUBDOMAIN.fullmatch(name)) and len(name) <= 253
