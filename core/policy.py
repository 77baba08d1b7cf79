"""The pod's image-cache policy, read from its annotations (docs/eci-model.md section 2)."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from core.caches import MAX_SIZE_GIB
from core.errors import ImcError
from core.findings import Finding, brief, info, warning
from core.findings import error as error_finding

PREFIX = "k8s.aliyun.com/"
AUTO_IMC = PREFIX + "eci-auto-imc"
PERFECT_MATCH = PREFIX + "imc-perfect-match"
MATCH_COUNT = PREFIX + "imc-match-count-request"
IMC_ID = PREFIX + "eci-imc-id"
LEGACY_AUTO = PREFIX + "eci-image-cache"
LEGACY_PIN = PREFIX + "eci-image-snapshot-id"
EXTRA_STORAGE = PREFIX + "eci-extra-ephemeral-storage"
MATCHED_CACHE = PREFIX + "eci-matched-image-cache"
INSTANCE_ID = PREFIX + "eci-instance-id"

POLICY_ANNOTATIONS = (AUTO_IMC, PERFECT_MATCH, MATCH_COUNT, IMC_ID, LEGACY_AUTO, LEGACY_PIN, EXTRA_STORAGE)
AUTO_ANNOTATIONS = (AUTO_IMC, PERFECT_MATCH, MATCH_COUNT, LEGACY_AUTO)
ECI_WRITTEN_ANNOTATIONS = (MATCHED_CACHE, INSTANCE_ID)
BASE_STORAGE_GIB = 30

_QUANTITY = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:([eE][-+]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E))?")
MAX_QUANTITY_CHARS = 64
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_COUNT = re.compile(r"[0-9]{1,6}")
_LOOKS_RELEVANT = re.compile(r"aliyun|imc|image-?cache|snapshot|ephemeral", re.IGNORECASE)
_CACHE_ID = re.compile(r"imc-[0-9a-zA-Z*]+")


@dataclass(frozen=True)
class MatchPolicy:
    """What the annotations ask of ECI: pin, automatic matching with a requirement, or off."""

    mode: str  # "pin" | "auto" | "off"
    pin_id: str | None = None
    pin_annotation: str | None = None
    perfect_match: bool = False
    match_count: int | None = None
    extra_storage_gib: float = 0.0
    findings: tuple[Finding, ...] = field(default=())

    @property
    def storage_gib(self) -> float:
        """The instance's temporary storage: 30 GiB plus the extra ephemeral storage."""
        return BASE_STORAGE_GIB + self.extra_storage_gib

    @property
    def auto_cache_size_gib(self) -> int:
        """The size ECI gives a cache it auto-creates for this pod."""
        return math.ceil(self.storage_gib)

    def requirement(self, image_count: int) -> int:
        """How many of the pod's images a candidate must hold exactly."""
        if self.perfect_match:
            return max(image_count, 1)
        if self.match_count is not None:
            return self.match_count
        return 1

    def describe(self) -> str:
        """The policy in a few words."""
        if self.mode == "pin":
            return f"pinned to {self.pin_id}"
        if self.mode == "off":
            return "automatic matching off"
        if self.perfect_match:
            return "automatic, perfect match"
        if self.match_count is not None:
            return f"automatic, at least {self.match_count} exact"
        return "automatic, at least 1 exact"

    def to_dict(self) -> dict:
        """The policy as plain JSON."""
        return {
            "mode": self.mode,
            "pin_id": self.pin_id,
            "perfect_match": self.perfect_match,
            "match_count": self.match_count,
            "storage_gib": self.storage_gib,
            "summary": self.describe(),
        }


def parse_quantity_gib(value: object, max_gib: float = MAX_SIZE_GIB) -> float:
    """A Kubernetes quantity ("20Gi", "21474836480", "20G") in GiB, at most max_gib; ImcError otherwise.

    Constant time whatever the text: its length is bounded and the exponent is read by float(),
    never as 10 ** exponent.
    """
    if isinstance(value, str) and len(value) > MAX_QUANTITY_CHARS:
        raise ImcError(f"{brief(value)} is longer than {MAX_QUANTITY_CHARS} characters: not a quantity")
    match = _QUANTITY.fullmatch(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ImcError(f"{brief(value)} is not a Kubernetes quantity such as 20Gi")
    number, suffix = float(match.group(1) + (match.group(2) or "")), match.group(3) or ""
    gib = number * _BINARY.get(suffix, 1) * _DECIMAL.get(suffix, 1) / 2**30
    if not gib <= max_gib:  # also inf
        raise ImcError(f"{brief(value)} is out of range (at most {max_gib:g} GiB)")
    return gib


def _text(annotations: Mapping, key: str, findings: list[Finding]) -> str | None:
    """An annotation's value as text, noting values that are not strings (a list or object counts as unset)."""
    value = annotations.get(key)
    if value is None or isinstance(value, str):
        return value
    scalar = isinstance(value, bool | float) or (isinstance(value, int) and value.bit_length() <= 64)
    shown = (str(value).lower() if isinstance(value, bool) else str(value)) if scalar else None
    hint = f', e.g. "{shown}"' if shown is not None else ""
    findings.append(
        error_finding(
            "annotation-not-string",
            f"{key} is {brief(value)} ({type(value).__name__}); annotation values must be quoted strings{hint}",
        )
    )
    return shown


def _boolean(annotations: Mapping, key: str, default: bool, findings: list[Finding]) -> bool | None:
    """A "true"/"false" annotation; an invalid value falls back to the default with a finding."""
    value = _text(annotations, key, findings)
    if value is None:
        return None
    if value.lower() == "true":
        return True
    if value.lower() == "false":
        return False
    findings.append(
        warning(
            "invalid-boolean",
            f'{key}: {value!r} is not "true" or "false"; ECI uses the default "{str(default).lower()}"',
        )
    )
    return default


def _unknown_keys(annotations: Mapping, findings: list[Finding]) -> None:
    """Flag annotation keys that look like a misspelt image-cache annotation."""
    known = POLICY_ANNOTATIONS + ECI_WRITTEN_ANNOTATIONS
    for key in annotations:
        if not isinstance(key, str) or key in known or not _LOOKS_RELEVANT.search(key):
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.85)
        bare = key.rsplit("/", 1)[-1]
        if not close and any(bare == k.removeprefix(PREFIX) for k in known):
            close = [PREFIX + bare]
        if close:
            findings.append(
                warning("unknown-annotation", f"{key!r} is not an ECI annotation; did you mean {close[0]}?")
            )


def _pin(annotations: Mapping, findings: list[Finding]) -> tuple[str | None, str | None]:
    """The pinned cache ID and the annotation that set it."""
    current = _text(annotations, IMC_ID, findings)
    legacy = _text(annotations, LEGACY_PIN, findings)
    if current is not None and legacy is not None and current.strip() != legacy.strip():
        findings.append(
            warning("conflicting-pins", f"{IMC_ID} ({current}) and {LEGACY_PIN} ({legacy}) differ; {IMC_ID} wins")
        )
    elif current is None and legacy is not None:
        findings.append(info("legacy-annotation", f"{LEGACY_PIN} is the old name of {IMC_ID}"))
    for key, value in ((IMC_ID, current), (LEGACY_PIN, legacy)):
        if value is None:
            continue
        pin = value.strip()
        if not pin:
            findings.append(warning("empty-pin", f"{key} is empty, so it pins nothing"))
            continue
        if not _CACHE_ID.fullmatch(pin):
            findings.append(warning("pin-format", f"{key}: {pin!r} does not look like an ImageCache ID (imc-...)"))
        return pin, key
    return None, None


def _count(annotations: Mapping, image_count: int, findings: list[Finding]) -> int | None:
    """The match-count request, or None when unset or invalid."""
    value = _text(annotations, MATCH_COUNT, findings)
    if value is None:
        return None
    if not _COUNT.fullmatch(value) or int(value) < 1:
        findings.append(
            warning("invalid-count", f"{MATCH_COUNT}: {value!r} is not a whole number of at least 1; ignored")
        )
        return None
    count = int(value)
    if image_count and count > image_count:
        findings.append(
            error_finding(
                "unsatisfiable-count",
                f"{MATCH_COUNT} asks for {count} exact images but the pod has only {image_count}: "
                "no cache can satisfy it",
            )
        )
    return count


def _extra_storage(annotations: Mapping, findings: list[Finding]) -> float:
    """Extra ephemeral storage in GiB, 0 when unset or invalid."""
    value = _text(annotations, EXTRA_STORAGE, findings)
    if value is None:
        return 0.0
    try:
        gib = parse_quantity_gib(value)
    except ImcError as exc:
        findings.append(warning("invalid-storage", f"{EXTRA_STORAGE}: {exc}; ignored"))
        return 0.0
    return gib


def read_policy(annotations: Mapping | None, image_count: int) -> MatchPolicy:
    """The policy ECI follows for a pod with these annotations and this many images."""
    if type(annotations) is not dict and not isinstance(annotations, Mapping):
        annotations = {}
    # the policy reads only these (ECI's own annotations and unrelated keys never change it), so that the pods of a
    # workload, each with its own instance ID, share one reading
    relevant = tuple(
        (key, value)
        for key, value in annotations.items()
        if isinstance(key, str) and key not in ECI_WRITTEN_ANNOTATIONS and _LOOKS_RELEVANT.search(key)
    )
    if not relevant:
        return _DEFAULT_POLICY
    if all(type(value) is str for _, value in relevant):
        return _kept_policy(relevant, image_count)
    return _read_policy(relevant, image_count)  # a value of another type (True and 1 would share a key)


@lru_cache(maxsize=4096)
def _kept_policy(relevant: tuple[tuple[str, object], ...], image_count: int) -> MatchPolicy:
    """`_read_policy`, read once per workload's string annotations."""
    return _read_policy(relevant, image_count)


def _read_policy(relevant: tuple[tuple[str, object], ...], image_count: int) -> MatchPolicy:
    annotations = dict(relevant)
    findings: list[Finding] = []
    _unknown_keys(annotations, findings)
    extra = _extra_storage(annotations, findings)
    pin_id, pin_key = _pin(annotations, findings)
    auto = _boolean(annotations, AUTO_IMC, True, findings)
    legacy_auto = _boolean(annotations, LEGACY_AUTO, False, findings)
    perfect = _boolean(annotations, PERFECT_MATCH, False, findings)
    count = _count(annotations, image_count, findings)
    if legacy_auto is not None:
        findings.append(info("legacy-annotation", f"{LEGACY_AUTO} is the old form of {AUTO_IMC}"))
        if legacy_auto is False:
            findings.append(
                warning("legacy-false", f'{LEGACY_AUTO}: "false" does not turn matching off; use {AUTO_IMC}')
            )
    if pin_id is not None:
        set_auto = [key for key in AUTO_ANNOTATIONS if key in annotations]
        if set_auto:
            findings.append(
                info("pin-overrides-auto", f"pinned by {pin_key}, so {', '.join(set_auto)} {_are(set_auto)} ignored")
            )
        return MatchPolicy("pin", pin_id, pin_key, extra_storage_gib=extra, findings=tuple(findings))
    if auto is False and legacy_auto:
        findings.append(
            warning("contradictory-auto", f'{AUTO_IMC}: "false" contradicts {LEGACY_AUTO}: "true"; matching stays on')
        )
    if auto is False and not legacy_auto:
        ignored = [key for key in (PERFECT_MATCH, MATCH_COUNT) if key in annotations]
        if ignored:
            findings.append(
                warning("matching-off", f"automatic matching is off, so {', '.join(ignored)} {_are(ignored)} ignored")
            )
        return MatchPolicy("off", extra_storage_gib=extra, findings=tuple(findings))
    if perfect and count is not None:
        findings.append(info("perfect-overrides-count", f"{PERFECT_MATCH} overrides {MATCH_COUNT}"))
        count = None
    return MatchPolicy(
        "auto", perfect_match=bool(perfect), match_count=count, extra_storage_gib=extra, findings=tuple(findings)
    )


_DEFAULT_POLICY = MatchPolicy("auto")


def _are(keys: list[str]) -> str:
    return "is" if len(keys) == 1 else "are"
