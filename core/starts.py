"""How long a pod took to start and to pull its images, and what an image cache saved it.

Read from what any cluster reports: the pod's status (creation, scheduling, container start times)
and the kubelet's `Pulled` events. Every reader here takes any JSON value and never raises.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from statistics import median

from core.errors import ImcError
from core.images import normalise_image
from core.timeutil import parse_time

PULLED = "pulled"
PRESENT = "present"
PULL_REASON = "Pulled"
PULLING_OUTCOMES = frozenset({"miss", "off"})  # outcomes whose pods pull every image from its registry
# waiting reasons of a container that is still on its way, as opposed to one that is stuck
STARTING_REASONS = frozenset({"ContainerCreating", "PodInitializing", ""})
_PULLED_MESSAGE = re.compile(
    r'^\s*Successfully pulled image "(?P<image>[^"]+)"'
    r"(?:\s+in\s+(?P<took>[0-9.]+[a-zµμ]+(?:[0-9.]+[a-zµμ]+)*))?"
    r"(?:\s*\((?P<waiting>[0-9.]+[a-zµμ]+(?:[0-9.]+[a-zµμ]+)*) including waiting\))?"
    r"(?:\.?\s*Image size:\s*(?P<size>\d+) bytes)?"
)
_PRESENT_MESSAGE = re.compile(r'^\s*Container image "(?P<image>[^"]+)" already present on machine')
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?)(h|ms|m|s|us|µs|μs|ns)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ns": 1e-9}
_EPOCH = datetime.min.replace(tzinfo=UTC)
_CONTAINER_FIELD = re.compile(r"^spec\.(?:initContainers|containers)\{(.+)\}$")
_EVENT_TIMES = ("firstTimestamp", "eventTime", "lastTimestamp")


@dataclass(frozen=True, slots=True)
class ImagePull:
    """One image of a pod: pulled from its registry (seconds it took) or already present (a mounted cache)."""

    image: str
    seconds: float | None
    source: str  # PULLED | PRESENT
    at: datetime | None = None
    size_bytes: int | None = None
    container: str | None = None


@dataclass(frozen=True, slots=True)
class PodStart:
    """A pod's start: seconds from creation to its last container's start, or why it has none yet."""

    start_seconds: float | None
    waiting_reason: str | None
    pulls: tuple[ImagePull, ...]
    created: datetime | None = None
    scheduled: datetime | None = None
    started: datetime | None = None
    waiting_message: str | None = None

    @property
    def pull_seconds(self) -> float | None:
        """Seconds spent pulling from registries (0 when every image was present); None when unknown."""
        if not self.pulls:
            return None
        total = 0  # an int when nothing was pulled, as sum() of none
        for pull in self.pulls:
            if pull.source == PULLED:
                if pull.seconds is None:
                    return None
                total += pull.seconds or 0.0
        return total

    @property
    def starting(self) -> bool:
        """True while the pod is on its way: no start figure and nothing stuck."""
        return self.start_seconds is None and self.waiting_reason is None


@dataclass(frozen=True, slots=True)
class PullEstimate:
    """What pulling one image from its registry costs in this cluster: the median of observed pulls."""

    image: str
    median_seconds: float
    observed: int


@dataclass(frozen=True, slots=True)
class Saving:
    """Pull time a hit did not pay, estimated from observed pulls of the same images; seconds None when unknown."""

    seconds: float | None
    observed: int
    unknown_images: tuple[str, ...] = ()


def go_duration_seconds(text: object) -> float | None:
    """Seconds of a Go duration as kubelets print it ('3.216s', '512ms', '1m2.5s'); None when it is not one."""
    if not isinstance(text, str) or not text:
        return None
    position = 0
    total = 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    return total if position == len(text) and position else None


def _image_name(text: str) -> str:
    """The normalised image, one string per image however many pulls name it (10,000 pods pull few images)."""
    try:
        return sys.intern(normalise_image(text))
    except (ImcError, ValueError, TypeError):
        return text


def _time(value: object) -> datetime | None:
    try:
        return parse_time(value)
    except (ImcError, ValueError, TypeError, OverflowError):
        return None


def _map(value: object) -> Mapping:
    if type(value) is dict:  # the common case, without the slower ABC check (~0.8M calls for 10k pods)
        return value
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def parse_pull_message(message: object) -> ImagePull | None:
    """The image and pull time a `Pulled` event's message tells, in any format kubelets write; else None."""
    return _message_pull(_str(message))


@lru_cache(maxsize=8192)  # a node's image writes one "already present" message per pod using it: 10k pods, ~3k texts
def _message_pull(text: str) -> ImagePull | None:
    found = _PULLED_MESSAGE.match(text)
    if found:
        size = found.group("size")
        return ImagePull(
            image=_image_name(found.group("image")),
            seconds=go_duration_seconds(found.group("took")),
            source=PULLED,
            size_bytes=int(size) if size else None,
        )
    found = _PRESENT_MESSAGE.match(text)
    if found:
        return ImagePull(image=_image_name(found.group("image")), seconds=0.0, source=PRESENT)
    return None


def event_time(event: Mapping) -> datetime | None:
    """When an event first happened (firstTimestamp, else eventTime, else lastTimestamp, else its creation)."""
    for name in _EVENT_TIMES:
        moment = _time(event.get(name))
        if moment is not None:
            return moment
    return _time(_map(event.get("metadata")).get("creationTimestamp"))


@lru_cache(maxsize=1024)
def _container(field_path: str) -> str | None:
    """The container a `spec.containers{NAME}` field path names (one string per name), or None."""
    found = _CONTAINER_FIELD.match(field_path)
    return sys.intern(found.group(1)) if found else None


def pull_from_event(event: object) -> ImagePull | None:
    """The pull a kubelet's `Pulled` event reports, with its time and container; None for any other event."""
    event = _map(event)
    if event.get("reason") != PULL_REASON:
        return None
    pull = parse_pull_message(event.get("message"))
    if pull is None:
        return None
    involved = _map(event.get("involvedObject") or event.get("regarding"))
    container = _container(_str(involved.get("fieldPath")))
    return ImagePull(pull.image, pull.seconds, pull.source, event_time(event), pull.size_bytes, container)


def image_pulls(pulls: Iterable[ImagePull]) -> tuple[ImagePull, ...]:
    """One pull per image, in time order: a registry pull beats 'already present' (a second container
    of the same image finds it present), and the first of each kind counts (a restart pulls again)."""
    chosen: dict[str, ImagePull] = {}
    for pull in pulls:
        if not isinstance(pull, ImagePull):
            continue
        held = chosen.get(pull.image)
        if held is None or _better(pull, held):
            chosen[pull.image] = pull
    return tuple(sorted(chosen.values(), key=lambda p: (p.at is None, p.at or _EPOCH)))


def _better(pull: ImagePull, held: ImagePull) -> bool:
    if pull.source != held.source:
        return pull.source == PULLED
    if pull.at is None or held.at is None:
        return held.at is None and pull.at is not None
    return pull.at < held.at


def _first_start(status: Mapping) -> datetime | None:
    """The earliest start a container status tells: its last run's, else its current run's."""
    first = None
    for state in ("lastState", "state"):
        runs = status.get(state)
        if not runs:  # most containers have no lastState (an empty or missing value tells no start)
            continue
        runs = _map(runs)
        for phase in ("terminated", "running"):
            run = runs.get(phase)
            moment = _time(_map(run).get("startedAt")) if run else None
            if moment is not None and (first is None or moment < first):
                first = moment
    return first


def _scheduled(status: Mapping) -> datetime | None:
    for condition in _list(status.get("conditions")):
        condition = _map(condition)
        if condition.get("type") == "PodScheduled" and condition.get("status") == "True":
            return _time(condition.get("lastTransitionTime"))
    return None


def _stuck(status: Mapping, statuses: list[Mapping]) -> tuple[str | None, str | None]:
    """Why a pod's containers do not start, or (None, None) while they are just on their way."""
    for container in statuses:
        waiting = _map(_map(container.get("state")).get("waiting"))
        reason = _str(waiting.get("reason"))
        if reason not in STARTING_REASONS:
            return reason, _str(waiting.get("message")) or None
    if status.get("phase") in ("Failed", "Succeeded"):
        return _str(status.get("reason")) or str(status.get("phase")), _str(status.get("message")) or None
    return None, None


def pod_start(pod: object, pulls: Iterable[ImagePull] = ()) -> PodStart | None:
    """A pod's start from its status and its pulls; None when it is not a pod with a creation time."""
    if type(pod) is not dict and not isinstance(pod, Mapping):
        return None
    created = _time(_map(pod.get("metadata")).get("creationTimestamp"))
    if created is None:
        return None
    status = _map(pod.get("status"))
    statuses = [_map(s) for s in _list(status.get("containerStatuses"))]
    names = {_str(_map(c).get("name")) for c in _list(_map(pod.get("spec")).get("containers"))}
    names.discard("")
    started_by_name = {_str(s.get("name")): _first_start(s) for s in statuses}
    starts = [started_by_name.get(name) for name in names] if names else list(started_by_name.values())
    started = max(starts) if starts and None not in starts else None  # type: ignore[type-var]
    reason, message = (None, None) if started is not None else _stuck(status, statuses)
    return PodStart(
        start_seconds=(started - created).total_seconds() if started is not None else None,
        waiting_reason=reason,
        pulls=image_pulls(pulls),
        created=created,
        scheduled=_scheduled(status),
        started=started,
        waiting_message=message,
    )


START_STATUS_FIELDS = ("conditions", "containerStatuses")  # what of a pod's status only `pod_start` reads


def without_start_fields(pod: dict) -> dict:
    """The pod without the status fields only its start is read from (the same dict when it has none of them): a
    store that keeps the start it read keeps the pod lighter (at 50,000 pods, ~100 MiB of container statuses)."""
    status = pod.get("status")
    if type(status) is not dict or not any(name in status for name in START_STATUS_FIELDS):
        return pod
    return {**pod, "status": {name: value for name, value in status.items() if name not in START_STATUS_FIELDS}}


def with_pulls(start: PodStart, pulls: Iterable[ImagePull]) -> PodStart:
    """The same start with other pulls: what `pod_start` gives for the same pod when only its events changed."""
    return replace(start, pulls=image_pulls(pulls))


def pod_start_from_events(pod: object, events: Iterable[object]) -> PodStart | None:
    """`pod_start` with the pulls of the pod's own events (any other event, or another pod's, is ignored)."""
    uid = _map(_map(pod).get("metadata")).get("uid") if isinstance(pod, Mapping) else None
    pulls = []
    for event in events if isinstance(events, Iterable) else ():
        if not isinstance(event, Mapping):
            continue
        involved_uid = _map(event.get("involvedObject") or event.get("regarding")).get("uid")
        if uid and involved_uid not in (None, "", uid):
            continue
        pull = pull_from_event(event)
        if pull is not None:
            pulls.append(pull)
    return pod_start(pod, pulls)


def pull_estimates(starts: Iterable[PodStart | None]) -> dict[str, PullEstimate]:
    """Per image, the median of the registry pulls observed (pass the starts of missed pods)."""
    observed: dict[str, list[float]] = {}
    for start in starts:
        if start is None:
            continue
        for pull in start.pulls:
            if pull.source == PULLED and pull.seconds is not None:
                observed.setdefault(pull.image, []).append(pull.seconds)
    return {image: PullEstimate(image, median(values), len(values)) for image, values in observed.items()}


def saves(outcome: str, start: PodStart | None) -> bool:
    """Whether a pod has a saving to estimate: a hit, once it started."""
    return outcome == "hit" and start is not None and start.start_seconds is not None


def paid_for(start: PodStart | None, images: Iterable[str]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """A hit's images, each once in order, and the seconds it paid pulling each (0 when present or unreported)."""
    images = tuple(images)  # the caller's own tuple when it has no repeats (10,000 pods keep theirs)
    if len(set(images)) != len(images):
        images = tuple(dict.fromkeys(images))
    paid = {p.image: p.seconds for p in start.pulls} if start is not None else {}
    return images, tuple(paid.get(image) or 0.0 for image in images)


def saving_of(images: tuple[str, ...], paid: tuple[float, ...], estimates: Mapping[str, PullEstimate]) -> Saving:
    """`saving` from a hit's `paid_for`: what the dashboard keeps per pod while only the estimates move."""
    unknown = tuple(image for image in images if image not in estimates)
    observed = sum(estimates[image].observed for image in images if image in estimates)
    if unknown or not images:
        return Saving(None, observed, unknown)
    return Saving(sum(estimates[image].median_seconds - cost for image, cost in zip(images, paid, strict=True)),
                  observed)


def saving(start: PodStart | None, images: Iterable[str], estimates: Mapping[str, PullEstimate]) -> Saving:
    """What a hit saved: per image, the median observed pull, less what this pod paid for it when its own
    pull is known (0 when present, a manifest check with imagePullPolicy Always).

    Unknown (seconds None) when an image was never seen pulled: never a zero that was not measured.
    """
    return saving_of(*paid_for(start, images), estimates)


def percentile(values: Iterable[float], fraction: float) -> float | None:
    """The value at a fraction (0..1) of the sorted values, interpolated linearly; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * min(max(fraction, 0.0), 1.0)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def savings(
    pods: Iterable[tuple[str, str, PodStart | None, Iterable[str]]],
) -> tuple[dict[str, PullEstimate], dict[str, Saving]]:
    """Per started hit pod, what it saved: pods are (key, outcome, start, images); misses' (and off pods') pulls
    make the estimates."""
    pods = list(pods)
    estimates = pull_estimates(start for _, outcome, start, _ in pods if outcome in PULLING_OUTCOMES)
    saved = {
        key: saving(start, images, estimates)
        for key, outcome, start, images in pods
        if saves(outcome, start)
    }
    return estimates, saved
