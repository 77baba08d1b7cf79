"""How long a simulated pod takes to start: scheduling, its instance, each container's image (pulled or present),
then its containers' start, reading a hit's image layers from the cache disk.

Pure: the sim schedules what `start_plan` says, and tests compare a pod's measured start with it. Every phase varies
per pod, the same for the same key (pod uid, or a past pod's namespace/name). The numbers and their sources are in
docs/eci-model.md section 7.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.errors import ImcError
from core.images import normalise_image, parse_image
from core.starts import PRESENT, PULLED
from sim.eci.catalog import look_up

# [Overview]: the flink image, 386.26 MB, takes about 50 s to pull from Docker Hub: 368 MiB in 49.6 s
REGISTRY_MIB_PER_SECOND = 7.4
PULL_JITTER = 0.2  # each pull is up to 20 % faster or slower than the size says
PULL_OVERHEAD_SECONDS = 0.4  # resolving the manifest and unpacking, whatever the size
MANIFEST_CHECK_SECONDS = 0.6  # imagePullPolicy Always on an image already there: the registry is still asked
# Model: ECI places the pod (a zone with stock, its network interface): at least this, plus a tail with this mean
SCHEDULING_MIN_SECONDS = 0.3
SCHEDULING_TAIL_SECONDS = 0.8
MAX_SCHEDULING_SECONDS = 10.0
INSTANCE_SECONDS = 1.0  # Model: the instance boots (on a hit, with a disk made from the cache's snapshot attached)
CONTAINER_START_SECONDS = 0.5  # Model: the runtime creates and starts the containers
PHASE_JITTER = 0.2  # the instance and the container start are up to 20 % faster or slower
# ESSD PL1 baseline throughput, MB/s: min(120 + 0.5 x capacity GiB, 350) ([ESSD]); a hit reads its image layers
# from a disk made from the cache's snapshot, as large as the cache
DISK_BASE_MB_PER_SECOND = 120.0
DISK_MB_PER_SECOND_PER_GIB = 0.5
DISK_MAX_MB_PER_SECOND = 350.0
MIB = 1024 * 1024
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
    """A pod's start: scheduling and its instance, its pulls one after another, then its containers' start."""

    scheduling_seconds: float
    instance_seconds: float
    pulls: tuple[PlannedPull, ...]
    launch_seconds: float  # starting the containers, with a hit's layers read from the cache disk

    @property
    def setup_seconds(self) -> float:
        """Seconds from creation to the first pull."""
        return self.scheduling_seconds + self.instance_seconds

    @property
    def total_seconds(self) -> float:
        """Seconds from creation to the containers' start."""
        return self.setup_seconds + sum(p.seconds for p in self.pulls) + self.launch_seconds


def fraction(key: str) -> float:
    """A number in [0, 1], the same for the same key."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") / 0xFFFFFFFF


def jitter(key: str, width: float = PULL_JITTER) -> float:
    """A factor in [1 - width, 1 + width], the same for the same key (pod uid and what varies)."""
    return 1.0 - width + 2 * width * fraction(key)


def scheduling_seconds(key: str) -> float:
    """Seconds ECI takes to place a pod: a floor and an exponential tail, so a few pods wait much longer."""
    tail = -SCHEDULING_TAIL_SECONDS * math.log(1.0 - min(fraction(f"{key}/scheduling"), 0.999999))
    return min(MAX_SCHEDULING_SECONDS, SCHEDULING_MIN_SECONDS + tail)


def disk_mib_per_second(size_gib: int) -> float:
    """What a cache disk of this size reads per second (ESSD PL1 baseline)."""
    mb_per_second = min(DISK_MAX_MB_PER_SECOND, DISK_BASE_MB_PER_SECOND + DISK_MB_PER_SECOND_PER_GIB * size_gib)
    return mb_per_second * 1_000_000 / MIB


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


def start_plan(containers: Iterable[Mapping], cached: Iterable[str], cache_gib: int | None, key: str) -> StartPlan:
    """The start of a pod whose containers (init first) pull in turn; on a hit, `cached` images (normalised) are on
    the cache's disk of `cache_gib` GiB (None: no cache), and the layers of those it uses are read at its start."""
    on_cache_disk = set(cached) if cache_gib is not None else set()
    on_disk, read = set(on_cache_disk), set()
    pulls, read_mib = [], 0.0
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
        if name in on_cache_disk and name not in read:
            read.add(name)
            read_mib += size_mib  # on the cache disk: read once when the containers start
        on_disk.add(name)
        pulls.append(PlannedPull(str(container.get("name") or ""), image, seconds, source, size_mib * MIB))
    read_seconds = read_mib / disk_mib_per_second(cache_gib) * jitter(f"{key}/read") if cache_gib is not None else 0.0
    return StartPlan(
        scheduling_seconds=scheduling_seconds(key),
        instance_seconds=INSTANCE_SECONDS * jitter(f"{key}/instance", PHASE_JITTER),
        pulls=tuple(pulls),
        launch_seconds=CONTAINER_START_SECONDS * jitter(f"{key}/launch", PHASE_JITTER) + read_seconds,
    )


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
