"""Jobs and CronJobs as kube-apiserver v1.32 has them (pure): defaults, validation, a Job's status from its pods."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import orjson

from core.timeutil import format_time
from sim.apiserver.cron import schedule_problem, time_zone_problem
from sim.apiserver.errors import unsupported

Causes = list[tuple[str, str]]

CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"
CRONJOB_SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
INSTANTIATE_ANNOTATION = "cronjob.kubernetes.io/instantiate"  # `manual` on a Job `kubectl create job --from` made
RESTART_POLICIES = ("OnFailure", "Never")
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
MAX_CRONJOB_NAME = 52  # 63 less the 11 characters of the `-<minutes>` suffix of its Jobs
COMPLETE_MESSAGE = "Reached expected number of succeeded pods"
BACKOFF_MESSAGE = "Job has reached the specified backoff limit"
FINISHED_PHASES = ("Succeeded", "Failed")


def _spec(obj: dict) -> dict:
    """An object's spec, or an empty one when it has none."""
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def default_job_spec(spec: dict, default_pod_spec: Callable[[dict], None]) -> None:
    """SetDefaults_Job's fields of a JobSpec (a Job's own, not a CronJob's template), in place."""
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    spec.setdefault("manualSelector", False)


def default_template(template: object, default_pod_spec: Callable[[dict], None]) -> None:
    """The pod defaults of a pod template's spec, in place."""
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        default_pod_spec(template["spec"])


def default_job(obj: dict, default_pod_spec: Callable[[dict], None]) -> None:
    """A Job's defaults and, unless `manualSelector`, its generated selector and template labels (by uid)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    default_job_spec(spec, default_pod_spec)
    default_template(spec.get("template"), default_pod_spec)
    metadata = obj.get("metadata") or {}
    uid, name = metadata.get("uid"), metadata.get("name")
    template = spec.get("template")
    if spec.get("manualSelector") is True or not uid or not isinstance(template, dict):
        return
    template_metadata = template.setdefault("metadata", {})
    if not isinstance(template_metadata, dict):
        return
    labels = template_metadata.get("labels") if isinstance(template_metadata.get("labels"), dict) else {}
    generated = {CONTROLLER_UID_LABEL: uid, JOB_NAME_LABEL: name, LEGACY_CONTROLLER_UID_LABEL: uid,
                 LEGACY_JOB_NAME_LABEL: name}
    template_metadata["labels"] = {**generated, **labels}  # labels the user set win, and validation judges them
    if spec.get("selector") is None:
        spec["selector"] = {"matchLabels": {CONTROLLER_UID_LABEL: uid}}


def default_cronjob(obj: dict, default_pod_spec: Callable[[dict], None]) -> None:
    """SetDefaults_CronJob, and the pod defaults of its job template, in place."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, dict) and isinstance(job_template.get("spec"), dict):
        default_template(job_template["spec"].get("template"), default_pod_spec)


def _non_negative(spec: dict, names: tuple[str, ...], path: str) -> Causes:
    """Each named integer field, when set, must be a whole number >= 0."""
    causes: Causes = []
    for name in names:
        value = spec.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            causes.append((f"{path}.{name}", f"Invalid value: {value!r}: must be greater than or equal to 0"))
    return causes


def check_job_spec(spec: object, path: str, check_pod_spec: Callable[[object, str], Causes],
                   matches: Callable[[dict, dict], tuple[str, str] | None] | None = None) -> Causes:
    """A JobSpec: counts >= 0, restartPolicy OnFailure or Never, a pod spec, a selector matching the template."""
    if not isinstance(spec, dict):
        return [(path, "Required value")]
    causes = _non_negative(spec, ("parallelism", "completions", "backoffLimit", "activeDeadlineSeconds",
                                  "ttlSecondsAfterFinished"), path)
    if spec.get("completionMode", "NonIndexed") not in ("NonIndexed", "Indexed"):
        causes.append((f"{path}.completionMode", unsupported(str(spec["completionMode"]), ("NonIndexed", "Indexed"))))
    template = spec.get("template")
    if not isinstance(template, dict):
        return [*causes, (f"{path}.template", "Required value")]
    pod_spec = template.get("spec")
    restart = pod_spec.get("restartPolicy") if isinstance(pod_spec, dict) else None
    if restart not in RESTART_POLICIES:
        where = f"{path}.template.spec.restartPolicy"
        causes.append((where, "Required value: valid values: \"OnFailure\", \"Never\"" if restart is None else
                       unsupported(str(restart), RESTART_POLICIES)))
    selector = spec.get("selector")
    if matches is not None and isinstance(selector, dict):
        labels = (template.get("metadata") or {}).get("labels") or {}
        problem = matches(selector, labels if isinstance(labels, dict) else {})
        if problem:
            causes.append(problem)
    return causes + check_pod_spec(pod_spec, f"{path}.template.spec")


def check_job(obj: dict, check_pod_spec: Callable[[object, str], Causes],
              matches: Callable[[dict, dict], str | None]) -> Causes:
    """A Job: its spec, and a generated selector unless `manualSelector` (`matches`: a selector's problem with
    labels, "mismatch" when it does not select them, None when it does)."""
    spec = obj.get("spec")
    causes = check_job_spec(spec, "spec", check_pod_spec, lambda s, labels: _selector_cause(s, labels, matches))
    if not isinstance(spec, dict):
        return causes
    selector = spec.get("selector")
    if spec.get("manualSelector") is True:
        if not isinstance(selector, dict) or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            causes.insert(0, ("spec.selector", "Required value"))
    elif selector is not None:
        uid = (obj.get("metadata") or {}).get("uid")
        if selector != {"matchLabels": {CONTROLLER_UID_LABEL: uid}}:
            causes.insert(0, ("spec.selector", "Invalid value: `selector` not auto-generated"))
    return causes


def _selector_cause(selector: dict, labels: dict, matches: Callable[[dict, dict], str | None]) -> tuple[str, str] | None:
    """The cause of a selector that does not select the template's labels, or of one that does not parse."""
    problem = matches(selector, labels)
    if problem is None:
        return None
    if problem == "mismatch":
        return ("spec.template.metadata.labels", "Invalid value: `selector` does not match template `labels`")
    return ("spec.selector", f"Invalid value: {problem}")


def check_cronjob(obj: dict, check_pod_spec: Callable[[object, str], Causes]) -> Causes:
    """A CronJob: a name short enough for its Jobs', a schedule that parses, a known time zone, a job template."""
    causes: Causes = []
    name = (obj.get("metadata") or {}).get("name")
    if isinstance(name, str) and len(name) > MAX_CRONJOB_NAME:
        causes.append(("metadata.name", f'Invalid value: "{name}": must be no more than {MAX_CRONJOB_NAME} '
                                        "characters"))
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [*causes, ("spec", "Required value")]
    problem = schedule_problem(spec.get("schedule"))
    if problem:
        causes.append(("spec.schedule", problem))
    time_zone = spec.get("timeZone")
    if isinstance(time_zone, str) and (zone_problem := time_zone_problem(time_zone)):
        causes.append(("spec.timeZone", f'Invalid value: "{time_zone}": {zone_problem}'))
    policy = spec.get("concurrencyPolicy")
    if policy not in CONCURRENCY_POLICIES:
        causes.append(("spec.concurrencyPolicy", unsupported(str(policy), CONCURRENCY_POLICIES)))
    causes += _non_negative(spec, ("startingDeadlineSeconds", "successfulJobsHistoryLimit",
                                   "failedJobsHistoryLimit"), "spec")
    job_template = spec.get("jobTemplate")
    if not isinstance(job_template, dict):
        return [*causes, ("spec.jobTemplate", "Required value")]
    return causes + check_job_spec(job_template.get("spec"), "spec.jobTemplate.spec", check_pod_spec)


def check_job_update(old: dict, new: dict) -> Causes:
    """What a Job update may not change: its selector, its pod template, its completions."""
    old_spec, new_spec = _spec(old), _spec(new)
    return [(f"spec.{name}", "Invalid value: field is immutable") for name in ("selector", "template", "completions")
            if old_spec.get(name) != new_spec.get(name)]


def condition_true(obj: dict, kind: str) -> bool:
    """Whether an object's status has a condition of this type that is True."""
    return any(c.get("type") == kind and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [] if isinstance(c, dict))


def job_finished(job: dict) -> bool:
    """Whether a Job is Complete or Failed."""
    return condition_true(job, "Complete") or condition_true(job, "Failed")


@dataclass(frozen=True)
class PodCounts:
    """A Job's pods as its controller counts them."""

    active: int
    ready: int
    succeeded: int
    failed: int
    terminating: int

    @staticmethod
    def figures(pod: dict) -> tuple[int, int, int, int, int]:
        """What one pod counts for, field by field: finished by phase; the rest active unless Terminating."""
        phase = (pod.get("status") or {}).get("phase")
        gone = bool(pod["metadata"].get("deletionTimestamp"))
        finished = phase in FINISHED_PHASES
        active = not finished and not gone
        return (int(active), int(active and _ready(pod)), int(phase == "Succeeded"), int(phase == "Failed"),
                int(gone and not finished))

    @classmethod
    def of(cls, pods: list[dict]) -> PodCounts:
        """Count pods (the sum of their `figures`)."""
        totals = [0, 0, 0, 0, 0]
        for pod in pods:
            totals = [a + b for a, b in zip(totals, cls.figures(pod), strict=True)]
        return cls(*totals)


def _ready(pod: dict) -> bool:
    """Whether a pod's Ready condition is True."""
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def pods_wanted(job: dict, counts: PodCounts) -> int:
    """How many new pods the Job controller creates now (none once finished or while suspended)."""
    spec = _spec(job)
    if job_finished(job) or spec.get("suspend"):
        return 0
    parallelism = spec.get("parallelism", 1)
    completions = spec.get("completions")
    if counts.failed > spec.get("backoffLimit", 6):
        return 0
    if completions is None:  # a work queue: done once one pod succeeded
        wanted = parallelism if counts.succeeded == 0 else 0
    else:
        wanted = min(parallelism, max(0, completions - counts.succeeded))
    return max(0, wanted - counts.active)


def _condition(kind: str, reason: str, message: str, now: str) -> dict:
    """A JobCondition as the controller writes one."""
    return {"type": kind, "status": "True", "reason": reason, "message": message, "lastProbeTime": now,
            "lastTransitionTime": now}


def job_status(job: dict, counts: PodCounts, now: datetime) -> dict:
    """The Job's status for these pods: counters, startTime, and the conditions 1.32 writes when it finishes."""
    previous = job.get("status") or {}
    spec = _spec(job)
    stamp = format_time(now)
    status: dict = {}
    if previous.get("startTime") or not spec.get("suspend"):
        status["startTime"] = previous.get("startTime") or stamp
    for name in ("active", "succeeded", "failed"):
        if getattr(counts, name):
            status[name] = getattr(counts, name)
    status["ready"] = counts.ready
    status["terminating"] = counts.terminating
    status["uncountedTerminatedPods"] = {}
    conditions = list(previous.get("conditions") or [])
    kinds = {c.get("type") for c in conditions}
    completions = spec.get("completions")
    done = counts.succeeded >= completions if completions is not None else counts.succeeded > 0 and not counts.active
    if "Complete" not in kinds and "Failed" not in kinds:
        if done:
            conditions += [_condition("SuccessCriteriaMet", "CompletionsReached", COMPLETE_MESSAGE, stamp),
                           _condition("Complete", "CompletionsReached", COMPLETE_MESSAGE, stamp)]
        elif counts.failed > spec.get("backoffLimit", 6):
            conditions += [_condition("FailureTarget", "BackoffLimitExceeded", BACKOFF_MESSAGE, stamp),
                           _condition("Failed", "BackoffLimitExceeded", BACKOFF_MESSAGE, stamp)]
    if conditions:
        status["conditions"] = conditions
    if previous.get("completionTime"):
        status["completionTime"] = previous["completionTime"]
    elif any(c.get("type") == "Complete" for c in conditions):
        status["completionTime"] = stamp
    return status


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


def job_from_template(cronjob: dict, name: str, scheduled: datetime | None) -> dict:
    """The body of a Job a CronJob makes from its jobTemplate (scheduled at `scheduled`; None: by hand)."""
    job_template = _spec(cronjob).get("jobTemplate") or {}
    template_metadata = job_template.get("metadata") or {}
    annotations = dict(template_metadata.get("annotations") or {})
    if scheduled is None:
        annotations[INSTANTIATE_ANNOTATION] = "manual"
    else:
        annotations[CRONJOB_SCHEDULED_ANNOTATION] = scheduled.isoformat().replace("+00:00", "Z")
    metadata = cronjob["metadata"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": metadata.get("namespace"),
            "labels": dict(template_metadata.get("labels") or {}),
            "annotations": annotations,
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": metadata["name"],
                                 "uid": metadata["uid"], "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": orjson.loads(orjson.dumps(job_template.get("spec") or {})),  # a private copy, as the sim makes them
    }


def scheduled_job_name(cronjob_name: str, scheduled: datetime) -> str:
    """`<cronjob>-<minutes since the epoch>`, the name the CronJob controller gives a scheduled Job."""
    return f"{cronjob_name}-{int(scheduled.timestamp()) // 60}"
