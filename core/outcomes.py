"""What ECI actually did with a pod, read from its events and annotation, beside the engine's prediction."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.matching import ECI_EVENT_REASONS, EVENT_OUTCOMES, Decision
from core.policy import MATCHED_CACHE

ECI_REASONS = frozenset(ECI_EVENT_REASONS)
_CACHE_ID = re.compile(r"\bimc-[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")


@dataclass(frozen=True)
class ReportedEvent:
    """One image-cache event ECI wrote on a pod, as it wrote it."""

    reason: str
    type: str
    message: str
    time: str


@dataclass(frozen=True)
class ActualOutcome:
    """What ECI reported for a pod: its annotation and its events."""

    outcome: str  # "hit" | "miss" | "fail"
    cache_id: str | None
    reasons: tuple[str, ...]
    # the events themselves, to quote ECI's words; the outcome is what compares
    events: tuple[ReportedEvent, ...] = field(default=(), compare=False)


def event_pod_key(event: Mapping[str, Any]) -> str | None:
    """The 'ns/name' of the pod an event is about, or None when it is not about a pod."""
    involved = event.get("involvedObject") or event.get("regarding") or {}
    if involved.get("kind") != "Pod" or not involved.get("name"):
        return None
    namespace = involved.get("namespace") or (event.get("metadata") or {}).get("namespace") or "default"
    return f"{namespace}/{involved['name']}"


def is_eci_event(event: Mapping[str, Any]) -> bool:
    """True for ECI's image-cache events about a pod."""
    return event.get("reason") in ECI_REASONS and event_pod_key(event) is not None


def _event_time(event: Mapping[str, Any]) -> str:
    meta = event.get("metadata") or {}
    return (
        event.get("lastTimestamp")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or meta.get("creationTimestamp")
        or ""
    )


def actual_outcome(pod: Mapping[str, Any], events: Iterable[Mapping[str, Any]]) -> ActualOutcome | None:
    """What ECI did for a pod: the latest of its ECI events decides; else the matched-cache annotation."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    matched = annotations.get(MATCHED_CACHE) or None
    uid = (pod.get("metadata") or {}).get("uid")
    mine = [
        e
        for e in events
        if e.get("reason") in ECI_REASONS
        and not (uid and (e.get("involvedObject") or {}).get("uid") not in (None, "", uid))
    ]
    mine.sort(key=lambda e: (_event_time(e), (e.get("metadata") or {}).get("name") or ""))
    reasons = tuple(dict.fromkeys(e["reason"] for e in mine))
    if not mine:
        return ActualOutcome("hit", matched, ()) if matched else None
    reported = tuple(
        ReportedEvent(e["reason"], e.get("type") or "", e.get("message") or "", _event_time(e)) for e in mine
    )
    outcome = EVENT_OUTCOMES[mine[-1]["reason"]]
    cache_id = None
    for event in reversed(mine):  # the latest ID among the events of the outcome (Missed has none)
        found = _CACHE_ID.search(event.get("message") or "")
        if found and EVENT_OUTCOMES[event["reason"]] == outcome:
            cache_id = found.group(0)
            break
    if outcome == "hit" and matched:
        cache_id = matched
    return ActualOutcome(outcome, cache_id, reasons, reported)


def prediction_disagrees(decision: Decision, actual: ActualOutcome | None) -> bool:
    """True when ECI reported something other than what the engine predicted."""
    if actual is None or decision.outcome == "not-eci":
        return False
    if decision.outcome == "off":
        # Off: no cache and no auto-created one; a plain "missed" is what off looks like.
        return actual.outcome != "miss" or "ImageCacheAutoCreated" in actual.reasons
    if decision.outcome != actual.outcome:
        return True
    if decision.outcome == "hit" and actual.cache_id and decision.cache is not None:
        predicted_id = decision.cache.id
        return bool(predicted_id) and predicted_id != actual.cache_id
    return False
