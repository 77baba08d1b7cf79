"""The Deployment controller: ReplicaSets per template, pods per ReplicaSet, rollouts and status counters."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, fields
from datetime import UTC, datetime

import orjson

from core.timeutil import parse_time
from sim.apiserver.batch import PodCounts
from sim.apiserver.errors import ApiError
from sim.apiserver.object_api import DeleteOptions, ObjectApi, now_timestamp
from sim.apiserver.resources import DEPLOYMENTS, PODS, REPLICASETS
from sim.apiserver.scheduling import Scheduler
from sim.apiserver.store import Change, Entry

TEMPLATE_HASH_LABEL = "pod-template-hash"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_LIMIT = 10
BURST_REPLICAS = 20  # pods created or deleted per pass, as the ReplicaSet controller's burstReplicas bounds it
PASS_SECONDS = 0.1  # real time between passes while pods change or more remain: the server answers between them
# after a refused pod create (the quota), the owner's creates wait this long, doubling up to CREATE_BACKOFF_MAX: the
# Job controller's DefaultJobApiBackOff and MaxJobApiBackOff (pkg/controller/job/job_controller.go)
CREATE_BACKOFF_FIRST = 1.0
CREATE_BACKOFF_MAX = 60.0
# annotations of a Deployment that its ReplicaSets do not copy (as the Deployment controller skips them)
NOT_COPIED = ("kubectl.kubernetes.io/last-applied-configuration", REVISION_ANNOTATION,
              "deployment.kubernetes.io/revision-history", "deployment.kubernetes.io/desired-replicas",
              "deployment.kubernetes.io/max-replicas")


def semantic(value: object) -> object:
    """A value without nulls and empty maps or lists, which Kubernetes treats as unset when comparing templates."""
    if isinstance(value, dict):
        kept = {k: semantic(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [semantic(item) for item in value]
    return value


def template_hash(template: dict) -> str:
    """A short stable hash of a pod template (the `pod-template-hash` label)."""
    digest = hashlib.sha256(orjson.dumps(semantic(template), option=orjson.OPT_SORT_KEYS)).hexdigest()
    return "".join(c for c in digest if c in "bcdf0123456789")[:10]


def pod_ready(pod: dict) -> bool:
    """Whether a pod is Running with its Ready condition true."""
    conditions = pod.get("status", {}).get("conditions") or []
    return pod.get("status", {}).get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in conditions
    )


def owner_reference(obj: dict) -> dict:
    """A controller ownerReference to an object."""
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owner_name(obj: dict, kind: str) -> str | None:
    """The name of an object's owner of a kind."""
    for owner in obj["metadata"].get("ownerReferences") or []:
        if owner.get("kind") == kind:
            return owner.get("name")
    return None


def controller_uid(obj: dict, kind: str | None = None) -> str | None:
    """The uid of an object's controlling owner (only if it is of `kind`, when given)."""
    for owner in obj["metadata"].get("ownerReferences") or []:
        if owner.get("controller"):
            return owner.get("uid") if kind is None or owner.get("kind") == kind else None
    return None


def revision_of(replica_set: dict) -> int:
    """The rollout revision of a ReplicaSet (its `deployment.kubernetes.io/revision` annotation)."""
    value = (replica_set["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION, "0")
    return int(value) if value.isdigit() else 0


def copied_annotations(deployment: dict) -> dict:
    """The Deployment's annotations a ReplicaSet of it carries (kubernetes.io/change-cause among them)."""
    annotations = deployment["metadata"].get("annotations") or {}
    return {k: v for k, v in annotations.items() if k not in NOT_COPIED}


def same_template(replica_set: dict, template: dict, pod_hash: str) -> bool:
    """Whether a ReplicaSet runs this pod template (its hash label aside, as after a rollback)."""
    if (replica_set["metadata"].get("labels") or {}).get(TEMPLATE_HASH_LABEL) == pod_hash:
        return True
    theirs = orjson.loads(orjson.dumps(replica_set["spec"].get("template", {})))
    (theirs.get("metadata") or {}).get("labels", {}).pop(TEMPLATE_HASH_LABEL, None)
    return semantic(theirs) == semantic(template)


@dataclass(frozen=True)
class PodTally:
    """Counts of the pods one owner controls: as a ReplicaSet counts them, and as a Job does."""

    live: int  # not Terminating
    live_ready: int  # of those, Running and Ready
    job_counts: PodCounts

    @staticmethod
    def figures(pod: dict) -> tuple[int, ...]:
        """What one pod counts for, as the figures a tally adds up."""
        live = not pod["metadata"].get("deletionTimestamp")
        return int(live), int(live and pod_ready(pod)), *PodCounts.figures(pod)

    @classmethod
    def of_figures(cls, figures: tuple[int, ...]) -> PodTally:
        """A tally from its added-up figures."""
        return cls(figures[0], figures[1], PodCounts(*figures[2:]))


NO_FIGURES = (0,) * (2 + len(fields(PodCounts)))
NO_PODS = PodTally.of_figures(NO_FIGURES)


class Controller:
    """A controller of one kind: it writes through the API, hears every change of the store, reconciles by name."""

    KIND_KEY = ""  # the resource key of the objects it reconciles
    POD_OWNER_KIND = ""  # the kind of the pods' controlling owner it counts pods for ("": it counts none)

    def __init__(self, api: ObjectApi, scheduler: Scheduler) -> None:
        self.api = api
        self.store = api.store
        self.scheduler = scheduler
        self._backoff: dict[str, tuple[float, float]] = {}  # owner uid -> (delay, until) after a refused create
        self._tallies: dict[str, tuple[int, ...]] = {}  # controlling owner uid -> PodTally.figures of its pods
        self.store.add_listener(self._on_change)

    def reconcile(self, namespace: str, name: str) -> None:
        """One pass for one object of the kind."""
        raise NotImplementedError

    def _on_change(self, change: Change) -> None:
        """Reconcile an object of the kind that changed (and was not deleted) on the next loop turn; then
        `_on_other_change`."""
        obj = change.entry.obj
        namespace = obj["metadata"].get("namespace", "")
        if change.resource == PODS.key and self.POD_OWNER_KIND:
            if change.previous is not None:
                self._count_pod(change.previous, -1)
            if change.type != "DELETED":
                self._count_pod(change.entry, 1)
        if change.resource == self.KIND_KEY and change.type != "DELETED":
            self.scheduler.soon_once(self.reconcile, namespace, obj["metadata"]["name"])
        self._on_other_change(change, obj, namespace)

    def _on_other_change(self, change: Change, obj: dict, namespace: str) -> None:
        """What a change means to the controller besides a change of its own kind."""

    def live(self, namespace: str, name: str) -> dict | None:
        """The object of the kind to reconcile, or None when it is gone or being deleted (which makes nothing new)."""
        entry = self.store.get(self.KIND_KEY, namespace, name)
        return None if entry is None or entry.obj["metadata"].get("deletionTimestamp") else entry.obj

    def may_create(self, owner: dict) -> bool:
        """Whether the owner's pod creates are not backing off after a refusal."""
        backoff = self._backoff.get(owner["metadata"]["uid"])
        return backoff is None or time.monotonic() >= backoff[1]

    def create_pod(self, owner: dict, component: str) -> dict | None:
        """A pod from its owner's template (ECI decides it at this moment); None when the API refuses it (the pod
        quota): reported once until a create succeeds again, and the owner's creates back off
        (`backoff_seconds`)."""
        template = orjson.loads(orjson.dumps(owner["spec"]["template"]))
        metadata = template.get("metadata") or {}
        body = {
            "metadata": {
                "generateName": f"{owner['metadata']['name']}-",  # the API server draws a free name (KEP-4420)
                "labels": metadata.get("labels") or {},
                "annotations": metadata.get("annotations") or {},
                "ownerReferences": [owner_reference(owner)],
            },
            "spec": template.get("spec") or {},
        }
        uid = owner["metadata"]["uid"]
        try:
            pod = self.api.create(PODS, owner["metadata"]["namespace"], body, trusted=True)
        except ApiError as error:
            delay = self._backoff[uid][0] * 2 if uid in self._backoff else CREATE_BACKOFF_FIRST
            if uid not in self._backoff:
                self.api.record_event(owner, "FailedCreate", "Warning", f"Error creating: {error.message}", component)
            delay = min(delay, CREATE_BACKOFF_MAX)
            self._backoff[uid] = (delay, time.monotonic() + delay)
            return None
        self._backoff.pop(uid, None)
        return pod

    def retry_after_backoff(self, owner: dict, namespace: str, name: str) -> None:
        """Reconcile `name` again once the owner's creates may go on after a refusal."""
        backoff = self._backoff.get(owner["metadata"]["uid"])
        if backoff is not None:
            self.scheduler.after_once(backoff[0], self.reconcile, namespace, name, real=True)

    def _count_pod(self, entry: Entry, sign: int) -> None:
        """Add (sign 1) or take away (-1) what one pod counts for its controlling owner."""
        uid = controller_uid(entry.obj, self.POD_OWNER_KIND)  # another controller's pods are none of its business
        if uid is None:
            return
        before = self._tallies.get(uid, NO_FIGURES)
        figures = tuple(a + sign * b for a, b in zip(before, PodTally.figures(entry.obj), strict=True))
        if any(figures):
            self._tallies[uid] = figures
        else:
            self._tallies.pop(uid, None)

    def tally(self, owner_uid: str) -> PodTally:
        """The counts of the pods an owner controls, as of now."""
        figures = self._tallies.get(owner_uid)
        return NO_PODS if figures is None else PodTally.of_figures(figures)

    def live_pods(self, owner: dict) -> list[dict]:
        """The pods an owner controls that are not Terminating."""
        return [pod for pod in self.controlled(PODS.key, owner) if not pod["metadata"].get("deletionTimestamp")]

    def controlled(self, resource_key: str, owner: dict) -> list[dict]:
        """The objects of a resource an owner controls (found through the ownerReference index)."""
        uid = owner["metadata"]["uid"]
        found = (self.store.get(key, namespace, name) for key, namespace, name in self.api.dependents.get(uid, ())
                 if key == resource_key)
        return [entry.obj for entry in found if entry is not None and any(
            o.get("uid") == uid and o.get("controller") for o in entry.obj["metadata"].get("ownerReferences") or [])]


class DeploymentController(Controller):
    """Keeps each Deployment's pods at `replicas` from its current template, rolling old ones out."""

    KIND_KEY = DEPLOYMENTS.key
    POD_OWNER_KIND = "ReplicaSet"

    def _on_other_change(self, change: Change, obj: dict, namespace: str) -> None:
        """Reconcile the Deployment behind a changed pod."""
        if change.resource == PODS.key and (replica_set_name := owner_name(obj, "ReplicaSet")):
            replica_set = self.store.get(REPLICASETS.key, namespace, replica_set_name)
            deployment_name = owner_name(replica_set.obj, "Deployment") if replica_set else None
            if deployment_name:  # a pass over all its pods at most every PASS_SECONDS, however many pods change
                self.scheduler.after_once(PASS_SECONDS, self.reconcile, namespace, deployment_name, real=True)

    def reconcile(self, namespace: str, name: str) -> None:
        """One pass of the controller for one Deployment."""
        deployment = self.live(namespace, name)
        if deployment is None:
            return
        spec = deployment.get("spec", {})
        desired = spec.get("replicas", 1)
        uid = deployment["metadata"]["uid"]
        replica_sets = [rs.obj for rs in self.store.entries(REPLICASETS.key, namespace) if controller_uid(rs.obj) == uid]
        template = spec.get("template", {})
        pod_hash = template_hash(template)
        current = next((rs for rs in replica_sets if same_template(rs, template, pod_hash)), None)
        rolled_out = current is not None or not spec.get("paused") or not replica_sets
        if not rolled_out:
            # a paused Deployment rolls nothing out: it keeps its newest ReplicaSet's pods, none of them updated
            # (kube-controller-manager's sync without a new ReplicaSet; calculateStatus counts newRS's only)
            current = max(replica_sets, key=revision_of)
        elif current is None:
            current = self._create_replica_set(deployment, pod_hash, replica_sets)
            replica_sets.append(current)
        else:
            current = self._sync_revision(deployment, current, replica_sets)
        # the counts of each ReplicaSet's pods are kept from every pod change: a pass costs its own work (at most
        # BURST_REPLICAS creates or deletes), not a look at every pod; the pods themselves are looked up only to
        # choose which ones go
        current_uid = current["metadata"]["uid"]
        missing = desired - self.tally(current_uid).live if self.may_create(current) else 0  # else: the backoff's timer
        for _ in range(min(missing, BURST_REPLICAS)):
            if self.create_pod(current, "replicaset-controller") is None:  # tried again once the backoff is over
                self.retry_after_backoff(current, namespace, name)
                missing = 0
                break
        surplus = self.tally(current_uid).live - desired
        if surplus > 0:
            ordered = sorted(self.live_pods(current), key=lambda p: (pod_ready(p), p["metadata"]["creationTimestamp"]))
            for pod in ordered[:min(surplus, BURST_REPLICAS)]:
                self.api.delete(PODS, namespace, pod["metadata"]["name"])
        if missing > BURST_REPLICAS or surplus > BURST_REPLICAS:
            self.scheduler.after_once(PASS_SECONDS, self.reconcile, namespace, name, real=True)
        keep_old = max(0, desired - self.tally(current_uid).live_ready)
        old_sets = [rs for rs in replica_sets if rs is not current and self.tally(rs["metadata"]["uid"]).live]
        if old_sets:
            old_pods = sorted((pod for rs in old_sets for pod in self.live_pods(rs)),
                              key=lambda p: (not pod_ready(p), p["metadata"]["creationTimestamp"]), reverse=True)
            old_going = old_pods[: min(max(0, len(old_pods) - keep_old), BURST_REPLICAS)]
            for pod in old_going:
                self.api.delete(PODS, namespace, pod["metadata"]["name"])
            if len(old_pods) - len(old_going) > keep_old:
                self.scheduler.after_once(PASS_SECONDS, self.reconcile, namespace, name, real=True)
        old = (0, 0)
        for rs in replica_sets:
            tally = self.tally(rs["metadata"]["uid"])
            self._update_replica_set(deployment, rs, desired if rs is current else tally.live, tally.live,
                                     tally.live_ready)
            if rs is not current:
                old = (old[0] + tally.live, old[1] + tally.live_ready)
        new = self.tally(current_uid)
        updated = (new.live, new.live_ready)
        if not rolled_out:  # a paused Deployment's pods are all outdated: none is of the changed template
            updated, old = (0, 0), (old[0] + new.live, old[1] + new.live_ready)
        self._update_status(deployment, desired, updated, old)

    def _create_replica_set(self, deployment: dict, pod_hash: str, existing: list[dict]) -> dict:
        """The ReplicaSet of a new template revision."""
        template = orjson.loads(orjson.dumps(deployment["spec"].get("template", {})))
        template.setdefault("metadata", {}).setdefault("labels", {})[TEMPLATE_HASH_LABEL] = pod_hash
        selector = orjson.loads(orjson.dumps(deployment["spec"].get("selector", {})))
        selector.setdefault("matchLabels", {})[TEMPLATE_HASH_LABEL] = pod_hash
        revision = 1 + max((revision_of(rs) for rs in existing), default=0)
        body = {
            "metadata": {
                "name": f"{deployment['metadata']['name']}-{pod_hash}",
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {**copied_annotations(deployment), REVISION_ANNOTATION: str(revision)},
                "ownerReferences": [owner_reference(deployment)],
            },
            "spec": {"replicas": 0, "selector": selector, "template": template},
        }
        created = self.api.create(REPLICASETS, deployment["metadata"]["namespace"], body)
        self._set_deployment_revision(deployment, revision)
        old = sorted(existing, key=lambda rs: rs["metadata"]["creationTimestamp"])
        for rs in old[: max(0, len(old) + 1 - REVISION_HISTORY_LIMIT)]:
            if not rs.get("status", {}).get("replicas"):
                self.api.delete(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"],
                                    DeleteOptions(propagation="Orphan"))
        return created

    def _sync_revision(self, deployment: dict, current: dict, replica_sets: list[dict]) -> dict:
        """The current ReplicaSet carries the Deployment's annotations; an older one rolled back to is the newest."""
        newest = max(revision_of(rs) for rs in replica_sets)
        revision = revision_of(current) if revision_of(current) == newest else newest + 1
        annotations = {**(current["metadata"].get("annotations") or {}), **copied_annotations(deployment),
                       REVISION_ANNOTATION: str(revision)}
        if annotations == current["metadata"].get("annotations"):
            return current
        entry = self.store.get(REPLICASETS.key, current["metadata"]["namespace"], current["metadata"]["name"])
        if entry is None:
            return current
        updated = entry.copy()
        updated["metadata"]["annotations"] = annotations
        self._set_deployment_revision(deployment, revision)
        return self.api.save(REPLICASETS, updated).obj

    def _set_deployment_revision(self, deployment: dict, revision: int) -> None:
        """Write the revision annotation of the Deployment when it changed."""
        if (deployment["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION) == str(revision):
            return
        updated = self.store.get(DEPLOYMENTS.key, deployment["metadata"]["namespace"],
                                 deployment["metadata"]["name"]).copy()
        updated["metadata"].setdefault("annotations", {})[REVISION_ANNOTATION] = str(revision)
        self.api.save(DEPLOYMENTS, updated)

    def _update_replica_set(self, deployment: dict, replica_set: dict, replicas: int, pods: int, ready: int) -> None:
        """Store a ReplicaSet's replicas and counters (of its `pods`, `ready` of them) when they changed."""
        status = {
            "replicas": pods,
            "fullyLabeledReplicas": pods,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": replica_set["metadata"].get("generation", 1),
        }
        if replica_set["spec"].get("replicas") == replicas and replica_set.get("status") == status:
            return
        entry = self.store.get(REPLICASETS.key, replica_set["metadata"]["namespace"], replica_set["metadata"]["name"])
        if entry is None:
            return
        updated = entry.copy()
        before = updated["spec"].get("replicas", 0)
        updated["spec"]["replicas"] = replicas
        updated["status"] = status
        self.api.save(REPLICASETS, updated)
        if before != replicas:
            direction = "up" if replicas > before else "down"
            self.api.record_event(deployment, "ScalingReplicaSet", "Normal",
                                      f"Scaled {direction} replica set {replica_set['metadata']['name']} "
                                      f"from {before} to {replicas}", "deployment-controller")

    def _progressing(self, deployment: dict, old: dict | None, complete: bool, progressed: bool) -> tuple[str, ...]:
        """The Progressing condition: done, progressing, or stuck past spec.progressDeadlineSeconds (sim time)."""
        if deployment.get("spec", {}).get("paused"):
            return "Unknown", "DeploymentPaused", "Deployment is paused"
        if complete:
            return "True", "NewReplicaSetAvailable", "ReplicaSet has successfully progressed."
        deadline = deployment.get("spec", {}).get("progressDeadlineSeconds", 600)
        name = deployment["metadata"]["name"]
        exceeded = ("False", "ProgressDeadlineExceeded", f'Deployment "{name}" has timed out progressing.')
        if old is not None and old.get("reason") == exceeded[1] and not progressed:
            return exceeded
        since = parse_time(old.get("lastUpdateTime")) if old and old.get("reason") == "ReplicaSetUpdated" else None
        if since is not None and not progressed:
            waited = (datetime.now(UTC) - since).total_seconds() * self.scheduler.speed
            if waited >= deadline:
                return exceeded
        # look again once the deadline may have passed
        self.scheduler.after_once(deadline + 1.0, self.reconcile, deployment["metadata"]["namespace"], name)
        return "True", "ReplicaSetUpdated", "ReplicaSet is progressing."

    def _update_status(self, deployment: dict, desired: int, new: tuple[int, int], old: tuple[int, int]) -> None:
        """Store the Deployment's status counters and conditions (as kubectl rollout status reads them), from the
        (pods, ready pods) of its current ReplicaSet and of the older ones."""
        entry = self.store.get(DEPLOYMENTS.key, deployment["metadata"]["namespace"], deployment["metadata"]["name"])
        if entry is None:
            return
        ready = new[1] + old[1]
        total = new[0] + old[0]
        complete = new[0] == desired and not old[0] and ready >= desired
        previous = entry.obj.get("status", {})
        status = {
            "observedGeneration": entry.obj["metadata"].get("generation", 1),
            "replicas": total,
            "updatedReplicas": new[0],
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": max(0, total - ready),
        }
        old_conditions = {c["type"]: c for c in previous.get("conditions") or []}
        progressed = (status["updatedReplicas"], ready) != (previous.get("updatedReplicas"), previous.get(
            "readyReplicas")) or status["observedGeneration"] != previous.get("observedGeneration")
        conditions = {
            "Available": ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
            if ready >= desired
            else ("False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability."),
            "Progressing": self._progressing(entry.obj, old_conditions.get("Progressing"), complete, progressed),
        }
        status["conditions"] = []
        for kind, (state, reason, message) in conditions.items():
            old = old_conditions.get(kind)
            if old is not None and (old.get("status"), old.get("reason")) == (state, reason):
                touched = kind == "Progressing" and progressed and reason == "ReplicaSetUpdated"
                status["conditions"].append({**old, "lastUpdateTime": now_timestamp()} if touched else old)
                continue
            status["conditions"].append(
                {
                    "type": kind,
                    "status": state,
                    "reason": reason,
                    "message": message,
                    "lastUpdateTime": now_timestamp(),
                    "lastTransitionTime": now_timestamp(),
                }
            )
        if status == previous:
            return
        updated = entry.copy()
        updated["status"] = status
        self.api.save(DEPLOYMENTS, updated)
