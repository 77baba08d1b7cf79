"""The Job and CronJob controllers: pods per Job until its completions succeed, Jobs per CronJob schedule."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from core.timeutil import format_time, parse_time
from sim.apiserver.batch import (
    condition_true,
    finished_status,
    job_finished,
    job_from_template,
    job_status,
    pods_wanted,
    scheduled_job_name,
)
from sim.apiserver.cron import ScheduleError, parse_schedule, zone_of
from sim.apiserver.errors import ApiError
from sim.apiserver.object_api import ObjectApi
from sim.apiserver.resources import CRONJOBS, JOBS, PODS
from sim.apiserver.scheduling import Scheduler
from sim.apiserver.store import Change
from sim.controllers.deployments import BURST_REPLICAS, PASS_SECONDS, Controller, owner_name

log = logging.getLogger("imc.sim")
POD_RUN_SECONDS = 5.0  # how long (sim time) a Job's pod works once its containers are up
RUN_POLICIES = ("Never", "OnFailure")  # a pod with either runs to completion
MISSED_LIMIT = 100  # as upstream, at most this many missed schedules are looked at


class JobController(Controller):
    """Creates each Job's pods up to parallelism until its completions succeed; ends its pods' runs; counts."""

    KIND_KEY = JOBS.key
    POD_OWNER_KIND = "Job"

    def _on_other_change(self, change: Change, obj: dict, namespace: str) -> None:
        """Reconcile the Job behind a changed pod; a pod of a Job that came up runs for a while."""
        if change.resource == PODS.key and (job_name := owner_name(obj, "Job")):
            self.scheduler.after_once(PASS_SECONDS, self.reconcile, namespace, job_name, real=True)
            was = (change.previous.obj.get("status") or {}).get("phase") if change.previous else None
            if change.type != "DELETED" and was != "Running" and (obj.get("status") or {}).get("phase") == "Running" \
                    and obj["spec"].get("restartPolicy") in RUN_POLICIES:
                self.scheduler.after(POD_RUN_SECONDS, self.finish_pod, namespace, obj["metadata"]["name"],
                                     obj["metadata"]["uid"])

    def reconcile(self, namespace: str, name: str) -> None:
        """One pass of the controller for one Job."""
        job = self.live(namespace, name)
        if job is None:
            return
        uid = job["metadata"]["uid"]
        wanted = pods_wanted(job, self.tally(uid).job_counts)  # counts kept from every pod change: no look at each
        created = 0
        for _ in range(min(wanted, BURST_REPLICAS) if self.may_create(job) else 0):
            pod = self.create_pod(job, "job-controller")
            if pod is None:  # tried again once the backoff is over
                self.retry_after_backoff(job, namespace, name)
                wanted = created
                break
            self.api.record_event(job, "SuccessfulCreate", "Normal", f"Created pod: {pod['metadata']['name']}",
                                  "job-controller")
            created += 1
        if wanted > created and self.may_create(job):  # else the backoff's timer comes back
            self.scheduler.after_once(PASS_SECONDS, self.reconcile, namespace, name, real=True)
        status = job_status(job, self.tally(uid).job_counts, datetime.now(UTC))
        if status == job.get("status"):
            return
        updated = self.store.get(JOBS.key, namespace, name).copy()
        updated["status"] = status
        self.api.save(JOBS, updated)
        if not job_finished(job) and condition_true(updated, "Complete"):
            self.api.record_event(job, "Completed", "Normal", "Job completed", "job-controller")
            self._expire_later(updated)
        elif not job_finished(job) and condition_true(updated, "Failed"):
            self.api.record_event(job, "BackoffLimitExceeded", "Warning", "Job has reached the specified backoff "
                                  "limit", "job-controller")
            self._expire_later(updated)

    def _expire_later(self, job: dict) -> None:
        """A finished Job with `ttlSecondsAfterFinished` is deleted (with its pods) that long after."""
        ttl = job["spec"].get("ttlSecondsAfterFinished")
        if isinstance(ttl, int) and not isinstance(ttl, bool):
            self.scheduler.after(ttl, self._expire, job["metadata"]["namespace"], job["metadata"]["name"],
                                 job["metadata"]["uid"])

    def _expire(self, namespace: str, name: str, uid: str) -> None:
        """Delete a Job whose time to live after finishing has passed."""
        entry = self.store.get(JOBS.key, namespace, name)
        if entry is not None and entry.obj["metadata"]["uid"] == uid:
            self.api.delete(JOBS, namespace, name)

    def finish_pod(self, namespace: str, name: str, uid: str) -> None:
        """A Job's running pod has done its work: every container exits 0 (Completed), the pod Succeeded."""
        entry = self.store.get(PODS.key, namespace, name)
        if entry is None or entry.obj["metadata"].get("uid") != uid or entry.obj["metadata"].get("deletionTimestamp"):
            return
        pod = entry.copy()
        running = pod.get("status") or {}
        if running.get("phase") != "Running":
            return
        now = datetime.now(UTC)
        started_texts = [(s.get("state") or {}).get("running", {}).get("startedAt")
                         for s in running.get("containerStatuses") or []]
        started = parse_time(next((t for t in started_texts if t), None) or running.get("startTime")) or now
        created = parse_time(pod["metadata"]["creationTimestamp"]) or now
        status = finished_status(pod, created, started, now)
        for kept in ("hostIP", "podIP", "podIPs", "startTime"):
            if kept in running:
                status[kept] = running[kept]
        pod["status"] = status
        self.api.save(PODS, pod)


class CronJobController(Controller):
    """Creates a Job at each schedule time of each CronJob, keeps its status and only its history limits of Jobs.

    Schedules run on the sim's clock: at `--speed X`, X minutes of schedule pass in a minute (the time written in
    lastScheduleTime is the wall time a Job was made; its name carries the scheduled minute, as upstream).
    """

    KIND_KEY = CRONJOBS.key

    def __init__(self, api: ObjectApi, scheduler: Scheduler) -> None:
        super().__init__(api, scheduler)
        self.origin = datetime.now(UTC)
        self._last: dict[str, datetime] = {}  # CronJob uid -> the last schedule time acted on (sim clock)
        self._wakes: dict[str, datetime] = {}  # CronJob uid -> the schedule time a timer waits for

    def sim_now(self) -> datetime:
        """The schedules' clock: wall time since the sim started, run `speed` times faster."""
        return self.to_sim(datetime.now(UTC))

    def to_sim(self, wall: datetime) -> datetime:
        """A wall time on the schedules' clock (which ran at wall speed before the sim started)."""
        return wall if wall <= self.origin else self.origin + (wall - self.origin) * self.scheduler.speed

    def _on_other_change(self, change: Change, obj: dict, namespace: str) -> None:
        """Forget a deleted CronJob; reconcile the CronJob behind a changed Job."""
        if change.resource == CRONJOBS.key and change.type == "DELETED":
            self._last.pop(obj["metadata"].get("uid"), None)
            self._wakes.pop(obj["metadata"].get("uid"), None)
        elif change.resource == JOBS.key and (cronjob := owner_name(obj, "CronJob")):
            self.scheduler.after_once(PASS_SECONDS, self.reconcile, namespace, cronjob, real=True)

    def reconcile(self, namespace: str, name: str) -> None:
        """One pass for one CronJob: its status, its history, and a Job when a schedule time has come."""
        cronjob = self.live(namespace, name)
        if cronjob is None:
            return
        jobs = self.controlled(JOBS.key, cronjob)
        jobs = self._clean_history(cronjob, jobs)
        status = dict(cronjob.get("status") or {})
        finished = [job for job in jobs if condition_true(job, "Complete")]
        completed = [t for job in finished if (t := (job.get("status") or {}).get("completionTime"))]
        if completed and max(completed) > status.get("lastSuccessfulTime", ""):
            status["lastSuccessfulTime"] = max(completed)
        active = [job for job in jobs if not job_finished(job) and not job["metadata"].get("deletionTimestamp")]
        created = self._run_if_due(cronjob, active)
        if created is not None:
            active.append(created)
            status["lastScheduleTime"] = format_time(datetime.now(UTC))
        refs = {ref.get("uid"): ref for ref in status.get("active") or []}
        status["active"] = [refs.get(job["metadata"]["uid"]) or _reference(job) for job in active]
        if not status["active"]:
            del status["active"]
        if status != (cronjob.get("status") or {}):
            current = self.store.get(CRONJOBS.key, namespace, name)
            if current is not None:
                updated = current.copy()
                updated["status"] = status
                self.api.save(CRONJOBS, updated)

    def _clean_history(self, cronjob: dict, jobs: list[dict]) -> list[dict]:
        """Delete the oldest finished Jobs beyond the history limits; the Jobs left."""
        spec = cronjob.get("spec") or {}
        going = []
        for kind, limit in (("Complete", spec.get("successfulJobsHistoryLimit", 3)),
                            ("Failed", spec.get("failedJobsHistoryLimit", 1))):
            done = sorted((job for job in jobs if condition_true(job, kind)),
                          key=lambda job: ((job.get("status") or {}).get("startTime") or "",
                                           job["metadata"]["name"]))
            going += done[:max(0, len(done) - (limit or 0))]
        for job in going:
            self.api.delete(JOBS, job["metadata"]["namespace"], job["metadata"]["name"])
            self.api.record_event(cronjob, "SuccessfulDelete", "Normal", f"Deleted job {job['metadata']['name']}",
                                  "cronjob-controller")
        gone = {job["metadata"]["uid"] for job in going}
        return [job for job in jobs if job["metadata"]["uid"] not in gone]

    def _run_if_due(self, cronjob: dict, active: list[dict]) -> dict | None:
        """Create the Job of the most recent schedule time not acted on yet, as the concurrency policy allows."""
        spec = cronjob.get("spec") or {}
        uid = cronjob["metadata"]["uid"]
        zone = zone_of(spec.get("timeZone"))
        try:
            schedule = parse_schedule(spec.get("schedule", ""))
        except ScheduleError:
            return None
        if zone is None:
            return None
        now = self.sim_now()
        last = self._last.get(uid)
        if last is None:
            last_text = (cronjob.get("status") or {}).get("lastScheduleTime") or cronjob["metadata"]["creationTimestamp"]
            last = self.to_sim(parse_time(last_text) or datetime.now(UTC))
            self._last[uid] = last
        self._wake_at(cronjob, schedule.next_after(now.astimezone(zone)))
        if spec.get("suspend"):
            return None
        due = schedule.times_between(last.astimezone(zone), now.astimezone(zone), MISSED_LIMIT)
        if not due:
            return None
        scheduled = due[-1]
        deadline = spec.get("startingDeadlineSeconds")
        self._last[uid] = scheduled
        if deadline is not None and (now - scheduled).total_seconds() > deadline:
            self.api.record_event(cronjob, "MissSchedule", "Warning", "Missed scheduled time to start a job: "
                                  f"{format_time(scheduled.astimezone(UTC))}", "cronjob-controller")
            return None
        policy = spec.get("concurrencyPolicy", "Allow")
        if active and policy == "Forbid":
            self.api.record_event(cronjob, "JobAlreadyActive", "Normal", "Not starting job because prior execution "
                                  "is running and concurrency policy is Forbid", "cronjob-controller")
            return None
        if active and policy == "Replace":
            for job in active:
                self.api.delete(JOBS, job["metadata"]["namespace"], job["metadata"]["name"])
                self.api.record_event(cronjob, "SuccessfulDelete", "Normal",
                                      f"Deleted job {job['metadata']['name']}", "cronjob-controller")
            active.clear()
        body = job_from_template(cronjob, scheduled_job_name(cronjob["metadata"]["name"], scheduled), scheduled)
        try:
            job = self.api.create(JOBS, cronjob["metadata"]["namespace"], body)
        except ApiError as error:
            if error.code != 409:
                self.api.record_event(cronjob, "FailedCreate", "Warning", f"Error creating job: {error.message}",
                                      "cronjob-controller")
            return None
        self.api.record_event(cronjob, "SuccessfulCreate", "Normal", f"Created job {job['metadata']['name']}",
                              "cronjob-controller")
        return job

    def _wake_at(self, cronjob: dict, moment: datetime | None) -> None:
        """Reconcile the CronJob again at its next schedule time (one timer per CronJob and time)."""
        uid = cronjob["metadata"]["uid"]
        if moment is None or self._wakes.get(uid) == moment:
            return
        self._wakes[uid] = moment
        delay = max(0.0, (moment - self.sim_now()).total_seconds()) + 0.05
        self.scheduler.after(delay, self._wake, cronjob["metadata"]["namespace"], cronjob["metadata"]["name"], uid,
                             moment)

    def _wake(self, namespace: str, name: str, uid: str, moment: datetime) -> None:
        """A schedule time has come: reconcile, unless the timer is stale."""
        if self._wakes.get(uid) == moment:
            del self._wakes[uid]
            self.reconcile(namespace, name)


def _reference(job: dict) -> dict:
    """An ObjectReference to a Job, as a CronJob's status.active lists it."""
    metadata = job["metadata"]
    return {"kind": "Job", "namespace": metadata["namespace"], "name": metadata["name"], "uid": metadata["uid"],
            "apiVersion": "batch/v1", "resourceVersion": metadata.get("resourceVersion", "")}

