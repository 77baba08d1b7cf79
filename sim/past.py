"""The demo's past: CronJob runs over the last hours, each decided by the engine against the caches of its moment.

Each pod is stored as it finished (Succeeded), with ECI's annotations and events, the kubelet's Pulling/Pulled
events and its containers' start times dated as the pull model (`sim.eci.pulls`) says, so a fresh demo already shows
start times, hits against misses, and pulls from which a hit's saving is estimated.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.caches import AUTO_CREATED_PREFIX
from core.matching import decide, eci_event
from core.policy import AUTO_IMC, INSTANCE_ID, MATCH_COUNT, MATCHED_CACHE, PERFECT_MATCH
from core.starts import PULLED
from core.timeutil import format_time
from core.workloads import ECI_LABEL, pod_template
from sim.apiserver.batch import PodCounts, finished_status, job_from_template, job_status, scheduled_job_name
from sim.apiserver.cron import parse_schedule
from sim.apiserver.resources import CRONJOBS, JOBS, PODS
from sim.controllers.deployments import owner_reference
from sim.eci.eci import AUTO_CACHE_UNUSED_TTL, ECI_COMPONENT, KUBELET_COMPONENT, VIRTUAL_NODE, containers_of, new_id
from sim.eci.pulls import pulled_message, pulling_message, start_plan
from sim.simulation import Simulation

PAST_HOURS = 6
LAST_RUN_BEFORE = timedelta(minutes=12)  # every past run has finished before the demo starts
RUN_SECONDS = (40, 400)
CRONJOBS_CREATED_BEFORE = timedelta(days=3)  # how long a run's containers work once started
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


@dataclass(frozen=True)
class PastRun:
    """One scheduled run of a past job: when the CronJob made its Job, and when each of its pods was created."""

    job: PastJob
    scheduled: datetime
    pods: tuple[datetime, ...]


def schedule_of(job: PastJob) -> str:
    """A cron schedule every `every_minutes`, at a minute of the hour of its own, so the jobs' runs spread out."""
    offset = zlib.crc32(job.name.encode()) % min(job.every_minutes, 60)
    if 60 % job.every_minutes == 0:
        return ",".join(str(minute) for minute in range(offset, 60, job.every_minutes)) + " * * * *"
    return f"{offset}/{job.every_minutes} * * * *"


def runs(now: datetime, rng: random.Random, jobs: tuple[PastJob, ...] = PAST_JOBS) -> list[PastRun]:
    """Every past run at its schedule time, oldest first (its pods are created within seconds of it)."""
    planned = []
    for job in jobs:
        schedule = parse_schedule(schedule_of(job))
        for scheduled in schedule.times_between(now - timedelta(hours=PAST_HOURS), now - LAST_RUN_BEFORE, 10_000):
            pods = sorted(scheduled + timedelta(seconds=rng.uniform(0.5, 3)) for _ in range(job.parallelism))
            planned.append(PastRun(job, scheduled, tuple(pods)))
    return sorted(planned, key=lambda run: (run.scheduled, run.job.name))


def cronjob_body(job: PastJob, created: datetime, past: list[PastRun]) -> dict:
    """The CronJob behind a past job, keeping as many finished Jobs as the past has runs of it."""
    return {
        "metadata": {"name": job.name, "creationTimestamp": format_time(created)},
        "spec": {
            "schedule": schedule_of(job),
            "successfulJobsHistoryLimit": max(3, len(past)),
            "jobTemplate": {"spec": {"parallelism": job.parallelism, "completions": job.parallelism, "template": {
                "metadata": {"labels": {ECI_LABEL: "true"}, "annotations": dict(job.annotations)},
                "spec": {"restartPolicy": "Never",
                         "containers": [{"name": f"step-{i}", "image": image, "imagePullPolicy": "IfNotPresent"}
                                        for i, image in enumerate(job.images)]},
            }}},
        },
    }


def write_past(sim: Simulation, rng: random.Random, now: datetime, make_cache: CacheMaker,
               jobs: tuple[PastJob, ...] = PAST_JOBS) -> int:
    """Store the past's CronJobs (`jobs`), their Jobs and pods, the pods' events, and the caches ECI auto-created for
    its misses; returns the pod count."""
    planned = runs(now, rng, jobs)
    cronjobs = {}
    for job in jobs:
        own = [run for run in planned if run.job is job]
        body = cronjob_body(job, now - CRONJOBS_CREATED_BEFORE, own)
        if own:
            body["status"] = {"lastScheduleTime": format_time(own[-1].scheduled)}
        cronjobs[job.name] = sim.api.create(CRONJOBS, job.namespace, body, internal=True)
    auto_caches: dict[tuple[str, ...], str] = {}  # one cache per image set, as ECI builds one for a burst of misses
    successes: dict[str, str] = {}
    for run in planned:
        successes[run.job.name] = write_run(sim, rng, run, cronjobs[run.job.name], auto_caches, make_cache)
    for name, completed in successes.items():
        entry = sim.store.get(CRONJOBS.key, cronjobs[name]["metadata"]["namespace"], name)
        cronjob = entry.copy()
        cronjob["status"]["lastSuccessfulTime"] = completed
        sim.api.save(CRONJOBS, cronjob)
    return sum(len(run.pods) for run in planned)


def write_run(sim: Simulation, rng: random.Random, run: PastRun, cronjob: dict,
              auto_caches: dict[tuple[str, ...], str], make_cache: CacheMaker) -> str:
    """One run: its Job (made by the CronJob at the schedule time), its pods, then the Job's final status; returns
    the Job's completion time."""
    body = job_from_template(cronjob, scheduled_job_name(run.job.name, run.scheduled), run.scheduled)
    body["metadata"]["creationTimestamp"] = format_time(run.scheduled)
    body["status"] = {"startTime": format_time(run.scheduled), "active": len(run.pods), "ready": 0}
    job = sim.api.create(JOBS, run.job.namespace, body, internal=True)
    finished = max(write_pod(sim, rng, at, run.job, job, auto_caches, make_cache) for at in run.pods)
    entry = sim.store.get(JOBS.key, run.job.namespace, job["metadata"]["name"])
    done = entry.copy()
    done["status"] = job_status({**done, "status": {"startTime": done["status"]["startTime"]}},
                                PodCounts(0, 0, len(run.pods), 0, 0), finished)
    sim.api.save(JOBS, done)
    return done["status"]["completionTime"]


def _pod_body(rng: random.Random, at: datetime, job: PastJob, owner: dict) -> dict:
    """A pod of a past Job, from the Job's template, as the Job controller makes one."""
    template = owner["spec"]["template"]
    suffix = "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{owner['metadata']['name']}-{suffix}",
            "namespace": job.namespace,
            "creationTimestamp": format_time(at),
            "labels": dict(template["metadata"]["labels"]),
            "annotations": dict(template["metadata"].get("annotations") or {}),
            "ownerReferences": [owner_reference(owner)],
        },
        "spec": {
            "restartPolicy": "Never",
            "nodeName": VIRTUAL_NODE,
            "containers": [{"name": f"step-{i}", "image": image, "imagePullPolicy": "IfNotPresent"}
                           for i, image in enumerate(job.images)],
        },
    }


def write_pod(sim: Simulation, rng: random.Random, at: datetime, job: PastJob, owner: dict,
              auto_caches: dict[tuple[str, ...], str], make_cache: CacheMaker) -> datetime:
    """One past pod: ECI's decision as of `at`, its start as the pull model says, stored Succeeded, then its events;
    returns when it finished."""
    body = _pod_body(rng, at, job, owner)
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
    plan = start_plan(containers_of(body), decision.cache.images if hit else (), decision.cache.size_gib if hit else None,
                      f"{metadata['namespace']}/{metadata['name']}")
    moment = at + timedelta(seconds=plan.setup_seconds)
    kubelet = []  # (reason, message, field path, when)
    for container, pull in zip(containers_of(body), plan.pulls, strict=True):
        path = f"spec.{container['_list']}{{{container['name']}}}"
        if pull.source == PULLED:
            kubelet.append(("Pulling", pulling_message(pull.image), path, moment))
            moment += timedelta(seconds=pull.seconds)
        kubelet.append(("Pulled", pulled_message(pull), path, moment))
    started = moment + timedelta(seconds=plan.launch_seconds)
    finished = started + timedelta(seconds=rng.uniform(*RUN_SECONDS))
    body["status"] = finished_status(body, at, started, finished)
    stored = sim.api.create(PODS, job.namespace, body, internal=True)
    for event in decision.events:
        if event.reason == "ImageCacheAutoCreated" and auto_id:
            event = eci_event(event.reason, auto_id)
        sim.api.record_event(stored, event.reason, event.type, event.message, ECI_COMPONENT, at=at)
    for reason, message, path, when in kubelet:
        sim.api.record_event(stored, reason, "Normal", message, KUBELET_COMPONENT, path, at=when)
    return finished
