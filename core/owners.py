"""The workload a pod belongs to: its top owner, read from the pod alone (its ownerReferences and labels).

A pod names only its direct owner. The two owners above it that matter are inferred as their controllers name and
label what they create:
- a ReplicaSet named `<deployment>-<pod-template-hash>` whose pod carries that `pod-template-hash` label belongs to
  the Deployment (kubernetes pkg/controller/deployment/sync.go, getNewReplicaSet: `d.Name + "-" + podTemplateHash`;
  the hash is also the `pod-template-hash` label of the ReplicaSet's pod template);
- a Job named `<cronjob>-<scheduled time in minutes since the epoch>` whose pod carries the Job controller's
  `batch.kubernetes.io/job-name` (or legacy `job-name`) label with that name belongs to the CronJob
  (pkg/controller/cronjob/utils.go, getJobName: `fmt.Sprintf("%s-%d", cj.Name, getTimeHashInMinutes(t))`).
  The suffix must read as a minute between CRONJOB_EPOCH and CRONJOB_END, so a Job named by its date
  (`backup-20240101`: the year 2008 read as minutes) or epoch seconds stays a Job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

TEMPLATE_HASH_LABEL = "pod-template-hash"
JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")
MAX_CRONJOB_NAME = 52  # 63 less the 11 characters of `-<minutes>` (kubernetes.io docs, CronJob: "Writing a CronJob spec")
_SCHEDULED_SUFFIX = re.compile(r"(.+)-([0-9]{8})")
# CronJobs (ScheduledJobs) came with Kubernetes 1.4 (2016): no Job of one is named for an earlier minute
CRONJOB_EPOCH = int(datetime(2016, 1, 1, tzinfo=UTC).timestamp()) // 60
CRONJOB_END = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp()) // 60


@dataclass(frozen=True, slots=True)
class Owner:
    """A pod's owner as imc names it: its kind and name."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}" if self.kind else self.name


def _mapping(value: object) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def direct_owner(metadata: object) -> Owner | None:
    """The pod's controlling owner reference, else its first; None when it has none with a name."""
    owners = _mapping(metadata).get("ownerReferences")
    if not isinstance(owners, list):
        return None
    refs = [o for o in owners if isinstance(o, Mapping)]
    ref = next((o for o in refs if o.get("controller") is True), refs[0] if refs else None)
    if ref is None or not isinstance(ref.get("name"), str) or not ref["name"]:
        return None
    kind = ref.get("kind")
    return Owner(kind if isinstance(kind, str) else "", ref["name"])


def cronjob_of(job_name: str) -> str | None:
    """The CronJob a Job's name says it was scheduled by, else None."""
    found = _SCHEDULED_SUFFIX.fullmatch(job_name)
    if found is None or len(found.group(1)) > MAX_CRONJOB_NAME:
        return None
    return found.group(1) if CRONJOB_EPOCH <= int(found.group(2)) < CRONJOB_END else None


def top_owner(metadata: object) -> Owner | None:
    """The workload a pod belongs to: its Deployment or CronJob when its ReplicaSet or Job was made by one, else its
    direct owner; None for a pod without an owner."""
    owner = direct_owner(metadata)
    if owner is None:
        return None
    labels = _mapping(_mapping(metadata).get("labels"))
    if owner.kind == "ReplicaSet":
        template_hash = labels.get(TEMPLATE_HASH_LABEL)
        if isinstance(template_hash, str) and template_hash and owner.name.endswith(f"-{template_hash}"):
            return Owner("Deployment", owner.name[: -len(template_hash) - 1])
    elif owner.kind == "Job" and any(labels.get(label) == owner.name for label in JOB_NAME_LABELS):
        cronjob = cronjob_of(owner.name)
        if cronjob is not None:
            return Owner("CronJob", cronjob)
    return owner


def workload_name(metadata: Any) -> str:
    """The pod's top owner as Kind/name (the metrics' `workload` label); '' for a pod without an owner."""
    owner = top_owner(metadata)
    return str(owner) if owner is not None else ""
