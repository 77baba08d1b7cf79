"""ECI's image-cache behaviour: cache builds, decisions at pod creation (by the shared engine), pod starts."""

from __future__ import annotations

import logging
import secrets
import string
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from core.caches import AUTO_CREATED_PREFIX, READY, CacheView, cache_from_object
from core.matching import CacheIndex, Decision, decide, eci_event
from core.policy import INSTANCE_ID, MATCHED_CACHE
from core.starts import PULLED
from core.timeutil import format_time, parse_time
from core.workloads import pod_template
from sim.apiserver.errors import webhook_denied
from sim.apiserver.object_api import ObjectApi, now_timestamp
from sim.apiserver.resources import EVENTS, IMAGECACHES, NODES, PODS
from sim.apiserver.scheduling import Scheduler
from sim.apiserver.store import Change, Entry
from sim.eci.catalog import look_up
from sim.eci.pulls import StartPlan, pulled_message, pulling_message, start_plan

log = logging.getLogger("imc.sim.eci")
ZONE = "cn-hangzhou-k"
VIRTUAL_NODE = f"virtual-kubelet-{ZONE}"
ECS_NODE = "cn-hangzhou.192.168.0.10"
ECI_COMPONENT = "EciService"
FAILED_CACHE_TTL = timedelta(hours=24)
AUTO_CACHE_UNUSED_TTL = timedelta(days=7)
AUTO_CACHE_USED_TTL = timedelta(days=30)
EVENT_TTL = timedelta(hours=1)
EVENT_SWEEP_INTERVAL = timedelta(minutes=1)  # an event outlives the TTL by a minute at most
PREPARE_SECONDS = 1.0  # Preparing, then Creating
CACHE_BUILD_SECONDS = 6.0  # spread over the images, plus PER_IMAGE_SECONDS each: Ready within ~10 s
PER_IMAGE_SECONDS = 0.2
PREPARING, CREATING, UPDATING, FAILED, UPDATE_FAILED = "Preparing", "Creating", "Updating", "Failed", "UpdateFailed"
UPDATABLE_PHASES = (READY, UPDATE_FAILED)  # [Create] UpdateImageCache: only a Ready or UpdateFailed cache
MAX_STATUS_EVENTS = 50  # status.events keeps the latest 50 ([CRD])
# Model: ECI refuses a spec change as a validating webhook would; the name of ACK's own webhook is not published
WEBHOOK = "imagecaches.eci.alibabacloud.com"
REBUILD, RETENTION = "rebuild", "retention"
FINISHED = ("Succeeded", "Failed")
KUBELET_COMPONENT = "kubelet"
_ID_ALPHABET = string.digits + string.ascii_lowercase


@dataclass(frozen=True)
class Build:
    """One build of a cache's images: its creation, or an update of its spec (UpdateImageCache)."""

    name: str
    uid: str
    generation: int | None
    images: tuple[str, ...]
    update: bool

    @property
    def phase(self) -> str:
        """The phase while it pulls."""
        return UPDATING if self.update else CREATING

    @property
    def phases(self) -> tuple[str, ...]:
        """The phases in which the build is still going on."""
        return (UPDATING,) if self.update else (PREPARING, CREATING)

    @property
    def failed_phase(self) -> str:
        """The phase after an image could not be pulled."""
        return UPDATE_FAILED if self.update else FAILED


def build_of(cache: dict, update: bool) -> Build:
    """The build of a stored cache's current spec."""
    metadata, spec = cache["metadata"], cache.get("spec") or {}
    return Build(metadata["name"], metadata["uid"], metadata.get("generation"), tuple(spec.get("images") or ()), update)


def spec_change(old: dict, new: dict) -> str | None:
    """What an update asks of ECI: REBUILD (anything in the spec but its retention changed), RETENTION, or None."""
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if old_spec == new_spec:
        return None
    if {**old_spec, "retentionDays": None} == {**new_spec, "retentionDays": None}:
        return RETENTION
    return REBUILD


def update_refusal(cache: dict) -> str | None:
    """Why ECI refuses to change this cache's spec now, or None: only a Ready or UpdateFailed cache may be updated."""
    status = cache.get("status") or {}
    phase = status.get("phase") or "without a phase"
    if phase in UPDATABLE_PHASES:
        return None
    return (f"image cache {status.get('imageCacheId') or cache['metadata']['name']} is {phase}: ECI updates an image "
            f"cache only when it is {' or '.join(UPDATABLE_PHASES)}")


def retention_expiry(cache: dict) -> datetime | None:
    """When a cache expires by its retentionDays, counted from its build's start; None when it has none."""
    retention = (cache.get("spec") or {}).get("retentionDays")
    if not retention:
        return None
    started = parse_time((cache.get("status") or {}).get("startTime")) or datetime.now(UTC)
    return started + timedelta(days=int(retention))


def with_retention(cache: dict) -> dict:
    """The cache with the expiry its retentionDays gives (none when unset; an auto-created cache keeps ECI's own)."""
    status = cache.setdefault("status", {})
    expires = retention_expiry(cache)
    if expires is not None:
        status["expireDateTime"] = format_time(expires)
    elif not cache["metadata"]["name"].startswith(AUTO_CREATED_PREFIX):
        status.pop("expireDateTime", None)
    return cache


def new_id(prefix: str) -> str:
    """An Alibaba-style resource id such as `imc-2ze8k3...` or `eci-2ze...` (17 random base-36 characters)."""
    number, digits = secrets.randbits(88), []
    for _ in range(17):
        number, digit = divmod(number, 36)
        digits.append(_ID_ALPHABET[digit])
    return prefix + "-2ze" + "".join(digits)


def cache_event(message: str, event_type: str = "Normal", reason: str = "PullImageSuccess") -> dict:
    """One entry of an ImageCache's status.events."""
    return {"type": event_type, "reason": reason, "message": message, "timestamp": now_timestamp()}


def ready_status(spec: dict, started: datetime, cache_id: str | None = None) -> dict:
    """The status of a cache build that started at `started` and finished CACHE_BUILD_SECONDS later."""
    finished = format_time(started + timedelta(seconds=PREPARE_SECONDS + CACHE_BUILD_SECONDS))
    status = {
        "imageCacheId": cache_id or new_id("imc"),
        "phase": READY,
        "progress": "100%",
        "startTime": format_time(started),
        "lastUpdatedTime": finished,
        "events": [{**cache_event(f"Success pull image {image}"), "timestamp": finished}
                   for image in spec.get("images", [])],
    }
    if spec.get("retentionDays"):
        status["expireDateTime"] = format_time(started + timedelta(days=int(spec["retentionDays"])))
    return status


def container_statuses(pod: dict, state: dict, ready: bool) -> list[dict]:
    """The status of every container of a pod, all in one state."""
    return [
        {
            "name": container["name"],
            "image": container["image"],
            "imageID": "",
            "ready": ready,
            "started": ready,
            "restartCount": 0,
            "state": state,
        }
        for container in pod["spec"].get("containers", [])
    ]


def containers_of(pod: dict) -> list[dict]:
    """Init containers, then containers, in the order a kubelet pulls their images (`_list` names the list)."""
    spec = pod.get("spec") or {}
    return [
        {**container, "_list": list_name}
        for list_name in ("initContainers", "containers")
        for container in spec.get(list_name) or ()
        if isinstance(container, dict)
    ]


def creating_status(pod: dict) -> dict:
    """Status fields of a scheduled pod whose containers are being created."""
    return {
        "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": now_timestamp()}],
        "containerStatuses": container_statuses(pod, {"waiting": {"reason": "ContainerCreating"}}, ready=False),
    }


UNSCHEDULABLE = ("0/2 nodes are available: 1 node(s) had untolerated taint {virtual-kubelet.io/provider: alibabacloud}, "
                 "1 node(s) were unschedulable. preemption: 0/2 nodes are available: 2 Preemption is not helpful for "
                 "scheduling.")


@dataclass(frozen=True)
class PlannedStart:
    """A pod's start plan and the wall-clock moment it began (steps fall due from there, scaled by --speed)."""

    plan: StartPlan
    began: datetime


class EciController:
    """What ECI does in the cluster: builds caches, decides pods at creation, starts them, sweeps expired caches."""

    def __init__(self, api: ObjectApi, scheduler: Scheduler) -> None:
        self.api = api
        self.store = api.store
        self.scheduler = scheduler
        self.event_ttl = EVENT_TTL  # kube-apiserver's --event-ttl; the demo keeps its past's events longer
        self._events_swept_at: datetime | None = None
        self._index: CacheIndex | None = None
        self._views: dict[str, tuple[int, CacheView]] = {}
        api.add_admitter(IMAGECACHES, self.admit_cache)
        api.add_update_admitter(IMAGECACHES, self.admit_cache_update)
        api.add_admitter(PODS, self.admit_pod)
        self.store.add_listener(self._on_change)

    def _on_change(self, change: Change) -> None:
        """Forget the cache index when a cache changes; bind waiting pods when the ECS node is uncordoned."""
        if change.resource == IMAGECACHES.key:
            self._index = None
        elif change.resource == NODES.key and change.previous is not None and \
                change.entry.obj["metadata"]["name"] == ECS_NODE and \
                change.previous.obj.get("spec", {}).get("unschedulable") and not self._ecs_node_cordoned():
            self.scheduler.soon_once(self.bind_waiting_pods)

    def _ecs_node_cordoned(self) -> bool:
        """Whether the ECS node is cordoned (spec.unschedulable), so new non-ECI pods wait."""
        node = self.store.get(NODES.key, "", ECS_NODE)
        return bool(node and node.obj.get("spec", {}).get("unschedulable"))

    def bind_waiting_pods(self) -> None:
        """The ECS node takes pods again: the non-ECI pods that waited for it are bound and start."""
        for entry in list(self.store.entries(PODS.key)):
            pod = entry.obj
            if pod["spec"].get("nodeName") or pod["metadata"].get("deletionTimestamp"):
                continue
            updated = entry.copy()
            updated["spec"]["nodeName"] = ECS_NODE
            updated["status"].update(creating_status(updated))
            self._schedule_start(self.api.save(PODS, updated), None)

    def index(self) -> CacheIndex:
        """The engine's index of the caches as they are now (views reused per resourceVersion)."""
        if self._index is None:
            views = {}
            for entry in self.store.entries(IMAGECACHES.key):
                name = entry.obj["metadata"]["name"]
                cached = self._views.get(name)
                if cached is None or cached[0] != entry.rv:
                    cached = (entry.rv, cache_from_object(entry.obj))
                views[name] = cached
            self._views = views
            self._index = CacheIndex([view for _, view in views.values()])
        return self._index

    def resume(self) -> None:
        """After a restart on stored objects: the cache builds, updates, failed caches' removal and pod starts that
        were under way begin again."""
        for entry in list(self.store.entries(IMAGECACHES.key)):
            phase = entry.obj.get("status", {}).get("phase")
            if phase in (PREPARING, CREATING, UPDATING):
                self._schedule_pull(build_of(entry.obj, update=phase == UPDATING), 0)
            elif phase == FAILED:
                self._remove_failed_later(entry.obj)
        caches = {view.id: view for view in self.index().caches if view.id}
        for entry in list(self.store.entries(PODS.key)):
            pod = entry.obj
            if pod["metadata"].get("deletionTimestamp") or (pod.get("status") or {}).get("phase") != "Pending" or \
                    not (pod.get("status") or {}).get("containerStatuses"):
                continue  # not started yet only when its containers are being created (else it waits or failed)
            self._schedule_start(entry, caches.get((pod["metadata"].get("annotations") or {}).get(MATCHED_CACHE)))

    # caches
    def admit_cache(self, obj: dict):
        """A new ImageCache gets its ID and starts building (unless a scenario stored it finished)."""
        status = obj.setdefault("status", {})
        if status.get("imageCacheId"):
            return (lambda entry: self._remove_failed_later(entry.obj)) if status.get("phase") == FAILED else None
        status.update(
            {
                "imageCacheId": new_id("imc"),
                "phase": PREPARING,
                "progress": "0%",
                "startTime": now_timestamp(),
                "lastUpdatedTime": now_timestamp(),
                "events": [],
            }
        )
        if obj["metadata"].get("name", "").startswith(AUTO_CREATED_PREFIX) and not obj.get("spec", {}).get(
            "retentionDays"
        ):
            status["expireDateTime"] = format_time(datetime.now(UTC) + AUTO_CACHE_UNUSED_TTL)
        return lambda entry: self._schedule_pull(build_of(entry.obj, update=False), 0)

    def admit_cache_update(self, old: dict, new: dict):
        """A change of an ImageCache's spec is ECI's UpdateImageCache: refused unless the cache is Ready or
        UpdateFailed; new images (or size, or pull secrets) are built again, a new retention moves the expiry."""
        change = spec_change(old, new)
        if change is None:
            return None
        refusal = update_refusal(old)
        if refusal is not None:
            raise webhook_denied(IMAGECACHES.plural, IMAGECACHES.group, old["metadata"]["name"], WEBHOOK, refusal)
        return self._start_update if change == REBUILD else self._retain

    def _start_update(self, stored: dict) -> None:
        """Ready (or UpdateFailed) → Updating, then the new images are pulled as in a build."""
        entry = self.store.get(IMAGECACHES.key, "", stored["metadata"]["name"])
        if entry is None:
            return
        obj = entry.copy()
        status = obj.setdefault("status", {})
        status.pop("reason", None)
        status.update({"phase": UPDATING, "progress": "0%", "lastUpdatedTime": now_timestamp()})
        saved = self.api.save(IMAGECACHES, with_retention(obj))
        self._schedule_pull(build_of(saved.obj, update=True), 0)

    def _retain(self, stored: dict) -> None:
        """A new retentionDays moves the expiry; the cache stays in its phase."""
        entry = self.store.get(IMAGECACHES.key, "", stored["metadata"]["name"])
        if entry is not None:
            self.api.save(IMAGECACHES, with_retention(entry.copy()))

    def _schedule_pull(self, build: Build, position: int) -> None:
        """Pull the next image of a build after its share of the build time (after preparing, a new cache's first)."""
        delay = CACHE_BUILD_SECONDS / max(len(build.images), 1) + PER_IMAGE_SECONDS
        if position == 0 and not build.update:
            delay += PREPARE_SECONDS
            self.scheduler.after(PREPARE_SECONDS, self._start_creating, build)
        self.scheduler.after(delay, self._pull, build, position)

    def _building(self, build: Build) -> Entry | None:
        """The cache if this build of it is still going on (not deleted, replaced, changed or finished)."""
        entry = self.store.get(IMAGECACHES.key, "", build.name)
        if entry is None or entry.obj["metadata"].get("uid") != build.uid or \
                entry.obj["metadata"].get("generation") != build.generation:
            return None
        return entry if entry.obj.get("status", {}).get("phase") in build.phases else None

    def _start_creating(self, build: Build) -> None:
        """Preparing → Creating."""
        entry = self._building(build)
        if entry is None or entry.obj["status"]["phase"] != PREPARING:
            return
        obj = entry.copy()
        obj["status"].update({"phase": CREATING, "lastUpdatedTime": now_timestamp()})
        self.api.save(IMAGECACHES, obj)

    def _pull(self, build: Build, position: int) -> None:
        """One step of a build: pull an image; Failed (UpdateFailed) on an unknown one, Ready after the last."""
        entry = self._building(build)
        if entry is None:
            return
        obj = entry.copy()
        status = obj["status"]
        status["phase"] = build.phase
        image = look_up(build.images[position]) if build.images else None
        status["lastUpdatedTime"] = now_timestamp()
        if image is not None and not image.exists:
            status["phase"] = build.failed_phase
            status["reason"] = f"Failed to pull image {image.reference}: {image.reason}"
            status["events"] = ((status.get("events") or []) + [
                cache_event(status["reason"], "Warning", "PullImageFailed")
            ])[-MAX_STATUS_EVENTS:]
            if not build.update:  # a cache that failed to be created is kept one day ([Create] RetentionDays)
                status["expireDateTime"] = format_time(datetime.now(UTC) + FAILED_CACHE_TTL)
            saved = self.api.save(IMAGECACHES, obj)
            if not build.update:
                self._remove_failed_later(saved.obj)
            return
        if image is not None:
            status["events"] = ((status.get("events") or []) + [cache_event(f"Success pull image {image.reference}")])[
                -MAX_STATUS_EVENTS:
            ]
        done = position + 1 >= len(build.images)
        status["progress"] = "100%" if done else f"{int(100 * (position + 1) / len(build.images))}%"
        if done:
            status["phase"] = READY
            if not build.update and retention_expiry(obj) is not None:
                with_retention(obj)
        self.api.save(IMAGECACHES, obj)
        if not done:
            self._schedule_pull(build, position + 1)

    def _remove_failed_later(self, cache: dict) -> None:
        """ECI removes a cache that failed to be created at its expireDateTime (FAILED_CACHE_TTL after it failed),
        counted in the sim's time: at --speed 1000 a day passes in 86.4 s (the sweep removes it by the wall clock)."""
        expires = parse_time(cache["status"].get("expireDateTime")) or datetime.now(UTC) + FAILED_CACHE_TTL
        seconds = max(0.0, (expires - datetime.now(UTC)).total_seconds())
        self.scheduler.after(seconds, self._remove_failed, cache["metadata"]["name"], cache["metadata"]["uid"])

    def _remove_failed(self, name: str, uid: str) -> None:
        """Remove a cache that is still the one that failed to be created."""
        entry = self.store.get(IMAGECACHES.key, "", name)
        if entry is not None and entry.obj["metadata"].get("uid") == uid and \
                entry.obj.get("status", {}).get("phase") == FAILED:
            self.api.delete(IMAGECACHES, "", name)

    def sweep(self) -> None:
        """Delete caches past their expireDateTime, and (once a minute) events older than the event TTL."""
        now = datetime.now(UTC)
        for view in [view for view in self.index().caches if view.is_expired(now)]:
            self.api.delete(IMAGECACHES, "", view.name)
        # every event is looked at: at 25,000 pods (100,000 events) a look each second was a tenth of a core, for a
        # TTL of an hour
        if self._events_swept_at is not None and now - self._events_swept_at < EVENT_SWEEP_INTERVAL:
            return
        self._events_swept_at = now
        cutoff = format_time(now - self.event_ttl)
        for entry in list(self.store.entries(EVENTS.key)):
            if (entry.obj.get("lastTimestamp") or "") < cutoff:
                self.api.delete(EVENTS, entry.obj["metadata"]["namespace"], entry.obj["metadata"]["name"])

    # pods
    def admit_pod(self, pod: dict):
        """Decide a new pod against the caches of this moment, as ECI does at creation."""
        spec, metadata = pod["spec"], pod["metadata"]
        status = pod.setdefault("status", {})
        if status.get("phase") in FINISHED and INSTANCE_ID in (metadata.get("annotations") or {}):
            return None  # a scenario's past: stored as it finished (only internal creates keep a status)
        template = pod_template(pod)
        status.update({"phase": "Pending", "qosClass": "BestEffort"})
        if not template.eci:
            if not spec.get("nodeName") and self._ecs_node_cordoned():
                status["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                         "message": UNSCHEDULABLE, "lastTransitionTime": now_timestamp()}]
                return None  # waits until the node is uncordoned
            spec.setdefault("nodeName", ECS_NODE)
            return lambda entry: self._schedule_start(self._creating(entry), None)
        spec.setdefault("nodeName", VIRTUAL_NODE)
        instance_id = new_id("eci")
        # ECI decides on its live state at the instant of creation: every cache in the index now exists and is in
        # its present phase, even one made Ready within this second (which creationTimestamp, rounded to the second,
        # could not order); the pod's own auto-created cache comes after, as it is not in the index yet.
        decision = decide(template, self.index(), datetime.now(UTC))
        annotations = metadata.setdefault("annotations", {})
        annotations[INSTANCE_ID] = instance_id
        if decision.outcome == "hit" and decision.cache is not None and decision.cache.id:
            annotations[MATCHED_CACHE] = decision.cache.id
        if decision.outcome == "fail":
            status["conditions"] = [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": decision.events[0].reason if decision.events else "ImageCacheFailed",
                    "message": decision.events[0].message if decision.events else "",
                    "lastTransitionTime": now_timestamp(),
                }
            ]
        return lambda entry: self._after_decision(entry, decision, instance_id)

    def _creating(self, entry: Entry) -> Entry:
        """The pod scheduled, its containers being created: written after the pod was created, so a watch sees it
        Pending first, as a real cluster's scheduler and kubelet update a created pod."""
        pod = entry.copy()
        pod.setdefault("status", {}).update(creating_status(pod))
        return self.api.save(PODS, pod)

    def _after_decision(self, entry: Entry, decision: Decision, instance_id: str) -> None:
        """Write ECI's events, auto-create a cache on a miss, and start the pod unless the pin failed."""
        auto_cache_id = None
        if decision.auto_create:
            auto_cache_id = self.auto_create(decision, instance_id)
        for event in decision.events:
            if event.reason == "ImageCacheAutoCreated" and auto_cache_id:
                event = eci_event(event.reason, auto_cache_id)
            self.api.record_event(entry.obj, event.reason, event.type, event.message, ECI_COMPONENT)
        if decision.outcome == "fail":
            return
        if decision.outcome == "hit" and decision.cache is not None and decision.cache.auto_created:
            self.extend_auto_cache(decision.cache.name)
        self._schedule_start(self._creating(entry), decision.cache if decision.outcome == "hit" else None)

    def auto_create(self, decision: Decision, instance_id: str) -> str | None:
        """The cache ECI creates for a pod that missed; returns its ID."""
        body = {
            "metadata": {"name": AUTO_CREATED_PREFIX + instance_id},
            "spec": {"images": list(decision.images), "imageCacheSize": decision.auto_cache_size_gib},
        }
        try:
            created = self.api.create(IMAGECACHES, "", body)
        except Exception:  # noqa: BLE001 - an invalid image list simply leaves the pod uncached
            log.exception("auto-creating a cache for %s failed", instance_id)
            return None
        return created["status"]["imageCacheId"]

    def extend_auto_cache(self, name: str) -> None:
        """An auto-created cache that was used lives 30 days after its last use.

        lastUpdatedTime stays: for a Ready cache it is the Ready time the engine reads.
        """
        entry = self.store.get(IMAGECACHES.key, "", name)
        if entry is None:
            return
        cache = entry.copy()
        cache["status"]["expireDateTime"] = format_time(datetime.now(UTC) + AUTO_CACHE_USED_TTL)
        self.api.save(IMAGECACHES, cache)

    def _schedule_start(self, entry: Entry, cache: CacheView | None) -> None:
        """Schedule the pod and bring its instance up (with the disk of the `cache` it hit), then pull its images in
        turn (those on the cache's disk are present), then start its containers."""
        metadata = entry.obj["metadata"]
        cached, cache_gib = (cache.images, cache.size_gib) if cache is not None else ((), None)
        plan = start_plan(containers_of(entry.obj), cached, cache_gib, metadata["uid"])
        start = PlannedStart(plan, datetime.now(UTC))
        self._at(start, plan.setup_seconds, self._pull_step, metadata["namespace"], metadata["name"], metadata["uid"],
                 start, 0)

    def _at(self, start: PlannedStart, sim_seconds: float, callback, *args: object) -> None:
        """Run `callback` when `sim_seconds` of the plan have passed since it began.

        Each step is due at its own moment of the plan, not a delay after the step before: on a busy machine a late
        timer does not push every later step (and the start the pod reports) back by as much."""
        due = start.began + timedelta(seconds=sim_seconds / self.scheduler.speed)
        self.scheduler.after(max(0.0, (due - datetime.now(UTC)).total_seconds()) * self.scheduler.speed, callback,
                             *args)

    def _pull_step(self, namespace: str, name: str, uid: str, start: PlannedStart, position: int) -> None:
        """Pull the image of container `position` as a kubelet does (Pulling, then Pulled), or start the pod."""
        entry = self.store.get(PODS.key, namespace, name)
        if entry is None or entry.obj["metadata"].get("uid") != uid:
            return
        plan = start.plan
        if position >= len(plan.pulls):
            self._at(start, plan.total_seconds, self.start_pod, namespace, name, uid, start)
            return
        pull = plan.pulls[position]
        if pull.source == PULLED:
            self._kubelet_event(entry.obj, position, "Pulling", pulling_message(pull.image))
            pulled_at = plan.setup_seconds + sum(p.seconds for p in plan.pulls[:position + 1])
            self._at(start, pulled_at, self._pulled, namespace, name, uid, start, position)
        else:
            self._pulled(namespace, name, uid, start, position)

    def _pulled(self, namespace: str, name: str, uid: str, start: PlannedStart, position: int) -> None:
        """The image of container `position` is there: the `Pulled` event, then the next container."""
        entry = self.store.get(PODS.key, namespace, name)
        if entry is None or entry.obj["metadata"].get("uid") != uid:
            return
        # a kubelet reports the time that passed: the model's seconds at --speed 1, fewer when the sim runs faster
        elapsed = replace(start.plan.pulls[position], seconds=start.plan.pulls[position].seconds / self.scheduler.speed)
        self._kubelet_event(entry.obj, position, "Pulled", pulled_message(elapsed))
        self._pull_step(namespace, name, uid, start, position + 1)

    def _kubelet_event(self, pod: dict, position: int, reason: str, message: str) -> None:
        containers = containers_of(pod)
        field = f"spec.{containers[position]['_list']}{{{containers[position]['name']}}}"
        self.api.record_event(pod, reason, "Normal", message, KUBELET_COMPONENT, field)

    def start_pod(self, namespace: str, name: str, uid: str, start: PlannedStart) -> None:
        """The pod's containers are up: Running and Ready, since the moment its plan says (a kubelet reports the
        time the containers started, whenever its status update lands)."""
        entry = self.store.get(PODS.key, namespace, name)
        if entry is None or entry.obj["metadata"].get("uid") != uid:
            return
        pod = entry.copy()
        now = format_time(min(datetime.now(UTC), start.began + timedelta(
            seconds=start.plan.total_seconds / self.scheduler.speed)))
        address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{1 + secrets.randbelow(250)}"
        pod["status"] = {
            **pod.get("status", {}),
            "phase": "Running",
            "podIP": address,
            "podIPs": [{"ip": address}],
            "hostIP": "192.168.0.10",
            "startTime": now,
            "conditions": [
                {"type": kind, "status": "True", "lastTransitionTime": now}
                for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
            ],
            "containerStatuses": container_statuses(pod, {"running": {"startedAt": now}}, ready=True),
        }
        self.api.save(PODS, pod)
