"""The demo's past: CronJob runs over the last hours, each decided by the engine against the caches of its moment.

Each pod is stored as it finished (Succeeded), with ECI's annotations and events, the kubelet's Pulling/Pulled
events and its containers' start times dated as the pull model (`sim.pulls`) says, so a fresh demo already shows
start times, hits against misses, and pulls from which a hit's saving is estimated.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.caches import AUTO_CREATED_PREFIX
from core.matching import decide, eci_event
from core.policy import AUTO_IMC, INSTANCE_ID, MATCH_COUNT, MATCHED_CACHE, PERFECT_MATCH
from core.starts import PULLED
from core.timeutil import format_time
from core.workloads import ECI_LABEL, pod_template
from sim.eci import AUTO_CACHE_UNUSED_TTL, ECI_COMPONENT, KUBELET_COMPONENT, VIRTUAL_NODE, containers_of, new_id
from sim.pulls import pulled_message, pulling_message, start_plan
from sim.resources import PODS
from sim.simulation import Simulation

PAST_HOURS = 6
LAST_RUN_BEFORE = timedelta(minutes=12)  # every past run has finished before the demo starts
RUN_SECONDS = (40, 400)  # how long a run's containers work once started
ACR = "registry.cn-hangzhou.aliyuncs.com/eci_open"
PYTORCH = "pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime"


@dataclass(frozen=True)
class PastJob:
    """A CronJob of the demo's past: every `every_minutes`, `parallelism` pods running `images`."""

    namespace: str
    name: str
    images: tuple[str, ...]
    every_minutes: int
    parallelism: int = 1
    annotations: dict = field(default_factory=dict)


# The images of the demo's caches and hits, so a hit's saving is estimated from misses pulling the same images.
PAST_JOBS = (
    PastJob("ml", "train-eval", ("python:3.12-slim", PYTORCH), 30, 3, {PERFECT_MATCH: "true"}),
    PastJob("ml", "embed", (PYTORCH, "redis:7.2"), 45, 2, {PERFECT_MATCH: "true"}),
    # matching off: it pulls nginx every run without auto-creating a cache that would rival nginx-base
    PastJob("default", "hello-probe", ("nginx:1.25",), 30, 1, {AUTO_IMC: "false"}),
    PastJob("shop", "web-canary", (f"{ACR}/nginx:1.14.2", f"{ACR}/busybox:1.30"), 30, 2, {PERFECT_MATCH: "true"}),
    PastJob("shop", "cart-sync", ("redis:7.2", "golang:1.23"), 40, 1, {MATCH_COUNT: "1"}),
    PastJob("data", "pg-backup", ("postgres:16",), 60, 1, {PERFECT_MATCH: "true"}),
    PastJob("data", "etl-hourly", ("python:3.12-slim", "node:22"), 60, 2),
    PastJob("data", "report-jvm", ("eclipse-temurin:21-jre",), 60, 1, {AUTO_IMC: "false"}),
)

CacheMaker = Callable[[str, list[str], int, datetime, datetime], dict]


def runs(now: datetime, rng: random.Random) -> list[tuple[datetime, PastJob]]:
    """Every past pod's creation time and job, oldest first (runs start within a minute of their schedule)."""
    first = now - timedelta(hours=PAST_HOURS)
    planned = []
    for job in PAST_JOBS:
        at = first + timedelta(minutes=rng.uniform(0, job.every_minutes))
        while at < now - LAST_RUN_BEFORE:
            planned += [(at + timedelta(seconds=rng.uniform(0, 3)), job) for _ in range(job.parallelism)]
            at += timedelta(minutes=job.every_minutes)
    return sorted(planned, key=lambda run: run[0])


def write_past(sim: Simulation, rng: random.Random, now: datetime, make_cache: CacheMaker) -> int:
    """Store the past's pods, their events, and the caches ECI auto-created for its misses; returns the pod count."""
    planned = runs(now, rng)
    auto_caches: dict[tuple[str, ...], str] = {}  # one cache per image set, as ECI builds one for a burst of misses
    for at, job in planned:
        write_pod(sim, rng, at, job, auto_caches, make_cache)
    return len(planned)


def _pod_body(rng: random.Random, at: datetime, job: PastJob) -> dict:
    job_name = f"{job.name}-{int(at.timestamp() // 60)}"
    suffix = "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{job_name}-{suffix}",
            "namespace": job.namespace,
            "creationTimestamp": format_time(at),
            "labels": {ECI_LABEL: "true", "batch.kubernetes.io/job-name": job_name, "job-name": job_name},
            "annotations": dict(job.annotations),
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": job_name,
                                 "uid": f"00000000-0000-4000-8000-{int(at.timestamp()):012x}",
                                 "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": {
            "restartPolicy": "Never",
            "nodeName": VIRTUAL_NODE,
            "containers": [{"name": f"step-{i}", "image": image, "imagePullPolicy": "IfNotPresent"}
                           for i, image in enumerate(job.images)],
        },
    }


def write_pod(sim: Simulation, rng: random.Random, at: datetime, job: PastJob,
              auto_caches: dict[tuple[str, ...], str], make_cache: CacheMaker) -> None:
    """One past pod: ECI's decision as of `at`, its start as the pull model says, stored Succeeded, then its events."""
    body = _pod_body(rng, at, job)
    decision = decide(pod_template(body), sim.eci.index(), at)
    instance_id = new_id("eci")
    annotations = body["metadata"]["annotations"]
    annotations[INSTANCE_ID] = instance_id
    hit = decision.outcome == "hit" and decision.cache is not None
    if hit and decision.cache.id:
        annotations[MATCHED_CACHE] = decision.cache.id
    auto_id = None
    if decision.auto_create:
        auto_id = auto_caches.get(decision.images)
        if auto_id is None:
            cache = make_cache(AUTO_CREATED_PREFIX + instance_id, list(decision.images), decision.auto_cache_size_gib,
                               at, at + AUTO_CACHE_UNUSED_TTL)
            auto_id = auto_caches[decision.images] = cache["status"]["imageCacheId"]
    metadata = body["metadata"]
    plan = start_plan(containers_of(body), decision.cache.images if hit else (), hit,
                      f"{metadata['namespace']}/{metadata['name']}")
    moment = at + timedelta(seconds=plan.setup_seconds)
    kubelet = []  # (reason, message, field path, when)
    for container, pull in zip(containers_of(body), plan.pulls, strict=True):
        path = f"spec.{container['_list']}{{{container['name']}}}"
        if pull.source == PULLED:
            kubelet.append(("Pulling", pulling_message(pull.image), path, moment))
            moment += timedelta(seconds=pull.seconds)
        kubelet.append(("Pulled", pulled_message(pull), path, moment))
    started, finished = moment, moment + timedelta(seconds=rng.uniform(*RUN_SECONDS))
    body["status"] = finished_status(body, at, started, finished)
    stored = sim.api.create(PODS, job.namespace, body, internal=True)
    for event in decision.events:
        if event.reason == "ImageCacheAutoCreated" and auto_id:
            event = eci_event(event.reason, auto_id)
        sim.api.record_event(stored, event.reason, event.type, event.message, ECI_COMPONENT, at=at)
    for reason, message, path, when in kubelet:
        sim.api.record_event(stored, reason, "Normal", message, KUBELET_COMPONENT, path, at=when)


def finished_status(pod: dict, created: datetime, started: datetime, finished: datetime) -> dict:
    """A run that completed: scheduled at creation, containers started at `started`, all exited 0 at `finished`."""
    created_text, finished_text = format_time(created), format_time(finished)
    terminated = {"exitCode": 0, "reason": "Completed", "startedAt": format_time(started), "finishedAt": finished_text}
    return {
        "phase": "Succeeded",
        "qosClass": "BestEffort",
        "hostIP": "192.168.0.250",
        "startTime": created_text,
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": created_text},
            {"type": "Initialized", "status": "True", "lastTransitionTime": created_text},
            {"type": "ContainersReady", "status": "False", "reason": "PodCompleted", "lastTransitionTime": finished_text},
            {"type": "Ready", "status": "False", "reason": "PodCompleted", "lastTransitionTime": finished_text},
        ],
        "containerStatuses": [
            {"name": c["name"], "image": c["image"], "imageID": "", "ready": False, "started": False,
             "restartCount": 0, "state": {"terminated": terminated}}
            for c in pod["spec"]["containers"]
        ],
    }
