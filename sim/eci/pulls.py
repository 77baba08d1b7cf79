"""How long a simulated pod takes to start: its instance, then each container's image, pulled or present.

Pure: the sim schedules what `start_plan` says, and tests compare a pod's measured start with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.errors import ImcError
from core.images import normalise_image, parse_image
from core.starts import PRESENT, PULLED
from sim.eci.catalog import look_up

REGISTRY_MIB_PER_SECOND = 40.0  # a registry pull over the internet or a VPC: tens of MB/s
PULL_JITTER = 0.2  # each pull is up to 20 % faster or slower than the size says
PULL_OVERHEAD_SECONDS = 0.4  # resolving the manifest and unpacking, whatever the size
MANIFEST_CHECK_SECONDS = 0.6  # imagePullPolicy Always on an image already there: the registry is still asked
INSTANCE_SECONDS = 2.0  # an ECI instance (or a pod sandbox) comes up before any image is pulled
CACHE_MOUNT_SECONDS = 3.0  # a hit: the instance comes up with the cache's snapshot as a disk
MAX_PULL_SECONDS = 600.0
ALWAYS = "Always"


@dataclass(frozen=True)
class PlannedPull:
    """One container's image: from the registry, a manifest check, or already present (seconds 0)."""

    container: str
    image: str
    seconds: float
    source: str  # core.starts.PULLED | PRESENT
    size_bytes: int


@dataclass(frozen=True)
class StartPlan:
    """A pod's start: setup (instance, cache mount), then its pulls one after another."""

    setup_seconds: float
    pulls: tuple[PlannedPull, ...]

    @property
    def total_seconds(self) -> float:
        """Seconds from creation to the containers' start."""
        return self.setup_seconds + sum(p.seconds for p in self.pulls)


def jitter(key: str) -> float:
    """A factor in [1 - PULL_JITTER, 1 + PULL_JITTER], the same for the same key (pod uid and image)."""
    fraction = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") / 0xFFFFFFFF
    return 1.0 - PULL_JITTER + 2 * PULL_JITTER * fraction


def registry_pull_seconds(size_mib: float, key: str) -> float:
    """Seconds to pull an image of this size from its registry."""
    return min(MAX_PULL_SECONDS, (PULL_OVERHEAD_SECONDS + size_mib / REGISTRY_MIB_PER_SECOND) * jitter(key))


def pull_policy(container: Mapping) -> str:
    """The container's imagePullPolicy, or Kubernetes' default: Always for `latest` or no tag, else IfNotPresent."""
    policy = container.get("imagePullPolicy")
    if isinstance(policy, str) and policy:
        return policy
    try:
        ref = parse_image(str(container.get("image") or ""))
    except ImcError:
        return "IfNotPresent"
    return ALWAYS if not ref.digest and ref.tag in ("", "latest") else "IfNotPresent"


def _normalised(image: str) -> str:
    try:
        return normalise_image(image)
    except ImcError:
        return image


def start_plan(containers: Iterable[Mapping], cached: Iterable[str], hit: bool, key: str) -> StartPlan:
    """The start of a pod whose containers (init first) pull in turn; `cached` images (normalised) are on its disk."""
    on_disk = set(cached)
    pulls = []
    for container in containers:
        image = str(container.get("image") or "")
        name = _normalised(image)
        size_mib = look_up(image).size_mib
        if name in on_disk and pull_policy(container) == ALWAYS:
            seconds, source = MANIFEST_CHECK_SECONDS * jitter(f"{key}/{image}/check"), PULLED
        elif name in on_disk:
            seconds, source = 0.0, PRESENT
        else:
            seconds, source = registry_pull_seconds(size_mib, f"{key}/{image}"), PULLED
        on_disk.add(name)
        pulls.append(PlannedPull(str(container.get("name") or ""), image, seconds, source, size_mib * 1024 * 1024))
    return StartPlan(CACHE_MOUNT_SECONDS if hit else INSTANCE_SECONDS, tuple(pulls))


def go_duration(seconds: float) -> str:
    """A duration as Go prints it in kubelet messages: '812.5ms', '12.345s', '1m2.5s'."""
    if seconds < 1:
        return f"{seconds * 1000:.1f}".rstrip("0").rstrip(".") + "ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


def pulling_message(image: str) -> str:
    """The kubelet's `Pulling` event message."""
    return f'Pulling image "{image}"'


def pulled_message(pull: PlannedPull) -> str:
    """The kubelet's `Pulled` event message (v1.30+ format), or 'already present' for an image on disk."""
    if pull.source == PRESENT:
        return f'Container image "{pull.image}" already present on machine'
    took = go_duration(pull.seconds)
    return f'Successfully pulled image "{pull.image}" in {took} ({took} including waiting). Image size: {pull.size_bytes} bytes.'
