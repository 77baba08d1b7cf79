"""What ECI actually did with a pod, read from its events and annotation, beside the engine's prediction
(docs/eci-model.md section 4)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from core.matching import ECI_EVENT_REASONS, EVENT_OUTCOMES, Decision
from core.policy import MATCHED_CACHE

ECI_REASONS = frozenset(ECI_EVENT_REASONS)
_CACHE_ID = re.compile(r"\bimc-[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")


@dataclass(frozen=True, slots=True)
class ReportedEvent:
    """One image-cache event ECI wrote on a pod, as it wrote it."""

    reason: str
    type: str
    message: str
    time: str


@dataclass(frozen=True, slots=True)
class ActualOutcome:
    """What ECI reported for a pod: its annotation and its events."""

    outcome: str  # "hit" | "miss" | "fail"
    cache_id: str | None
    reasons: tuple[str, ...]
    # the events themselves, to quote ECI's words; the outcome is what compares
    events: tuple[ReportedEvent, ...] = field(default=(), compare=False)


def _map(value: object) -> Mapping:
    if type(value) is dict:  # the common case, without the slower ABC check (~100,000 calls per 10k-pod report)
        return value
    return value if isinstance(value, Mapping) else {}


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _reason(event: Mapping) -> str:
    """The event's reason when it is one of ECI's image-cache reasons, else ""."""
    reason = _str(event.get("reason"))
    return reason if reason in ECI_REASONS else ""


def event_pod_key(event: Mapping[str, Any]) -> str | None:
    """The 'ns/name' of the pod an event is about, or None when it is not about a pod."""
    involved = _map(event.get("involvedObject") or event.get("regarding"))
    name = _str(involved.get("name"))
    if involved.get("kind") != "Pod" or not name:
        return None
    namespace = _str(involved.get("namespace")) or _str(_map(event.get("metadata")).get("namespace")) or "default"
    return f"{namespace}/{name}"


def is_eci_event(event: Mapping[str, Any]) -> bool:
    """True for ECI's image-cache events about a pod."""
    return bool(_reason(event)) and event_pod_key(event) is not None


def _event_time(event: Mapping[str, Any]) -> str:
    return (
        _str(event.get("lastTimestamp"))
        or _str(event.get("eventTime"))
        or _str(event.get("firstTimestamp"))
        or _str(_map(event.get("metadata")).get("creationTimestamp"))
    )


class EventFacts(NamedTuple):
    """What the actual outcome reads of one event: its reason ("" when not one of ECI's), type, message, time, name
    (ordering events of one second) and the uid of the object it is about (None when it names none)."""

    reason: str
    type: str
    message: str
    time: str
    name: str
    uid: Any


def event_facts(event: Mapping[str, Any]) -> EventFacts:
    """The facts `reported_outcome` reads of an event (a store keeps these instead of the event)."""
    return EventFacts(_reason(event), _str(event.get("type")), _str(event.get("message")), _event_time(event),
                      _str(_map(event.get("metadata")).get("name")), _map(event.get("involvedObject")).get("uid"))


def actual_outcome(pod: Mapping[str, Any], events: Iterable[Mapping[str, Any]]) -> ActualOutcome | None:
    """What ECI did for a pod: the latest of its ECI events decides; else the matched-cache annotation."""
    meta = _map(pod.get("metadata"))
    matched = _str(_map(meta.get("annotations")).get(MATCHED_CACHE)) or None
    return reported_outcome(matched, _str(meta.get("uid")), (event_facts(e) for e in events))


def reported_outcome(matched: str | None, uid: str, events: Iterable[EventFacts]) -> ActualOutcome | None:
    """`actual_outcome` of a pod whose matched-cache annotation is `matched` and uid `uid`, from its events' facts."""
    mine = [e for e in events if e.reason and not (uid and e.uid not in (None, "", uid))]
    mine.sort(key=lambda e: (e.time, e.name))
    reasons = tuple(dict.fromkeys(e.reason for e in mine))
    if not mine:
        return ActualOutcome("hit", matched, ()) if matched else None
    reported = tuple(ReportedEvent(e.reason, e.type, e.message, e.time) for e in mine)
    outcome = EVENT_OUTCOMES[mine[-1].reason]
    cache_id = None
    for event in reversed(mine):  # the latest ID among the events of the outcome (Missed has none)
        found = _CACHE_ID.search(event.message)
        if found and EVENT_OUTCOMES[event.reason] == outcome:
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


def unseen_cache(actual: ActualOutcome | None, knows: Callable[[str], bool]) -> str | None:
    """The cache ECI reports a hit on when imc never saw it (deleted before imc watched, e.g. `imc report` started
    after the deletion), else None: imc cannot have predicted it, so it is no disagreement (docs/eci-model.md 4.3)."""
    if actual is None or actual.outcome != "hit" or not actual.cache_id or knows(actual.cache_id):
        return None
    return actual.cache_id


def gone_label(cache_id: str) -> str:
    """A cache ID imc never saw, as its columns show it: "imc-… (no longer exists)"."""
    return f"{cache_id} (no longer exists)"


def unseen_text(cache_id: str) -> str:
    """How a hit on a cache imc never saw reads: "ECI used imc-… (no longer exists)"."""
    return f"ECI used {gone_label(cache_id)}"
