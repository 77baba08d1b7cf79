"""The Deployment controller: ReplicaSets per template, pods per ReplicaSet, rollouts and status counters."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import orjson

from core.timeutil import parse_time
from sim.cluster import Cluster, DeleteOptions, now_timestamp, random_suffix
from sim.resources import DEPLOYMENTS, PODS, REPLICASETS
from sim.scheduling import Scheduler
from sim.store import Change

TEMPLATE_HASH_LABEL = "pod-template-hash"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_LIMIT = 10


def template_hash(template: dict) -> str:
    """A short stable hash of a pod template (the `pod-template-hash` label)."""
    digest = hashlib.sha256(orjson.dumps(template, option=orjson.OPT_SORT_KEYS)).hexdigest()
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


def controller_uid(obj: dict) -> str | None:
    """The uid of an object's controlling owner."""
    for owner in obj["metadata"].get("ownerReferences") or []:
        if owner.get("controller"):
            return owner.get("uid")
    return None


class DeploymentController:
    """Keeps each Deployment's pods at `replicas` from its current template, rolling old ones out."""

    def __init__(self, cluster: Cluster, scheduler: Scheduler) -> None:
        self.cluster = cluster
        self.store = cluster.store
        self.scheduler = scheduler
        self.store.add_listener(self._on_change)

    def _on_change(self, change: Change) -> None:
        """Reconcile the Deployment behind a changed Deployment, ReplicaSet or pod."""
        obj = change.entry.obj
        namespace = obj["metadata"].get("namespace", "")
        if change.resource == DEPLOYMENTS.key and change.type != "DELETED":
            self.scheduler.soon_once(self.reconcile, namespace, obj["metadata"]["name"])
        elif change.resource == PODS.key and (replica_set_name := owner_name(obj, "ReplicaSet")):
            replica_set = self.store.get(REPLICASETS.key, namespace, replica_set_name)
            deployment_name = owner_name(replica_set.obj, "Deployment") if replica_set else None
            if deployment_name:
                self.scheduler.soon_once(self.reconcile, namespace, deployment_name)

    def reconcile(self, namespace: str, name: str) -> None:
        """One pass of the controller for one Deployment."""
        entry = self.store.get(DEPLOYMENTS.key, namespace, name)
        if entry is None or entry.obj["metadata"].get("deletionTimestamp"):
            return  # a Deployment being deleted makes nothing new
        deployment = entry.obj
        spec = deployment.get("spec", {})
        desired = spec.get("replicas", 1)
        uid = deployment["metadata"]["uid"]
        replica_sets = [rs.obj for rs in self.store.entries(REPLICASETS.key, namespace) if controller_uid(rs.obj) == uid]
        template = spec.get("template", {})
        pod_hash = template_hash(template)
        current = next((rs for rs in replica_sets if rs["metadata"].get("labels", {}).get(TEMPLATE_HASH_LABEL) ==
                        pod_hash), None)
        if current is None:
            current = self._create_replica_set(deployment, pod_hash, replica_sets)
            replica_sets.append(current)
        pods_by_rs: dict[str, list[dict]] = {rs["metadata"]["uid"]: [] for rs in replica_sets}
        for pod in self.store.objects(PODS.key, namespace):
            if pod["metadata"].get("deletionTimestamp"):
                continue  # Terminating pods no longer count
            owner = controller_uid(pod)
            if owner in pods_by_rs:
                pods_by_rs[owner].append(pod)
        new_pods = pods_by_rs[current["metadata"]["uid"]]
        for _ in range(desired - len(new_pods)):
            new_pods.append(self._create_pod(current))
        surplus = sorted(new_pods, key=lambda p: (pod_ready(p), p["metadata"]["creationTimestamp"]))
        for pod in surplus[: max(0, len(new_pods) - desired)]:
            self.cluster.delete(PODS, namespace, pod["metadata"]["name"])
            new_pods.remove(pod)
        ready_new = sum(1 for pod in new_pods if pod_ready(pod))
        keep_old = max(0, desired - ready_new)
        old_pods = sorted(
            (pod for rs in replica_sets if rs is not current for pod in pods_by_rs[rs["metadata"]["uid"]]),
            key=lambda p: (not pod_ready(p), p["metadata"]["creationTimestamp"]),
            reverse=True,
        )
        for pod in old_pods[: max(0, len(old_pods) - keep_old)]:
            self.cluster.delete(PODS, namespace, pod["metadata"]["name"])
        old_pods = old_pods[max(0, len(old_pods) - keep_old):]
        for rs in replica_sets:
            pods = new_pods if rs is current else [p for p in old_pods if controller_uid(p) == rs["metadata"]["uid"]]
            self._update_replica_set(deployment, rs, desired if rs is current else len(pods), pods)
        self._update_status(deployment, desired, new_pods, old_pods)

    def _create_replica_set(self, deployment: dict, pod_hash: str, existing: list[dict]) -> dict:
        """The ReplicaSet of a new template revision."""
        template = orjson.loads(orjson.dumps(deployment["spec"].get("template", {})))
        template.setdefault("metadata", {}).setdefault("labels", {})[TEMPLATE_HASH_LABEL] = pod_hash
        selector = orjson.loads(orjson.dumps(deployment["spec"].get("selector", {})))
        selector.setdefault("matchLabels", {})[TEMPLATE_HASH_LABEL] = pod_hash
        revision = 1 + max(
            (int(rs["metadata"].get("annotations", {}).get(REVISION_ANNOTATION, "0")) for rs in existing), default=0
        )
        body = {
            "metadata": {
                "name": f"{deployment['metadata']['name']}-{pod_hash}",
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {REVISION_ANNOTATION: str(revision)},
                "ownerReferences": [owner_reference(deployment)],
            },
            "spec": {"replicas": 0, "selector": selector, "template": template},
        }
        created = self.cluster.create(REPLICASETS, deployment["metadata"]["namespace"], body)
        annotations = dict(deployment["metadata"].get("annotations") or {})
        if annotations.get(REVISION_ANNOTATION) != str(revision):
            updated = self.store.get(DEPLOYMENTS.key, deployment["metadata"]["namespace"],
                                     deployment["metadata"]["name"]).copy()
            updated["metadata"].setdefault("annotations", {})[REVISION_ANNOTATION] = str(revision)
            self.cluster.save(DEPLOYMENTS, updated)
        old = sorted(existing, key=lambda rs: rs["metadata"]["creationTimestamp"])
        for rs in old[: max(0, len(old) + 1 - REVISION_HISTORY_LIMIT)]:
            if not rs.get("status", {}).get("replicas"):
                self.cluster.delete(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"],
                                    DeleteOptions(propagation="Orphan"))
        return created

    def _create_pod(self, replica_set: dict) -> dict:
        """A pod from a ReplicaSet's template (ECI decides it at this moment)."""
        template = orjson.loads(orjson.dumps(replica_set["spec"]["template"]))
        metadata = template.get("metadata", {})
        body = {
            "metadata": {
                "name": f"{replica_set['metadata']['name']}-{random_suffix()}",
                "labels": metadata.get("labels", {}),
                "annotations": metadata.get("annotations", {}),
                "ownerReferences": [owner_reference(replica_set)],
            },
            "spec": template.get("spec", {}),
        }
        return self.cluster.create(PODS, replica_set["metadata"]["namespace"], body)

    def _update_replica_set(self, deployment: dict, replica_set: dict, replicas: int, pods: list[dict]) -> None:
        """Store a ReplicaSet's replicas and counters when they changed."""
        ready = sum(1 for pod in pods if pod_ready(pod))
        status = {
            "replicas": len(pods),
            "fullyLabeledReplicas": len(pods),
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
        self.cluster.save(REPLICASETS, updated)
        if before != replicas:
            direction = "up" if replicas > before else "down"
            self.cluster.record_event(deployment, "ScalingReplicaSet", "Normal",
                                      f"Scaled {direction} replica set {replica_set['metadata']['name']} "
                                      f"from {before} to {replicas}", "deployment-controller")

    def _progressing(self, deployment: dict, old: dict | None, complete: bool, progressed: bool) -> tuple[str, ...]:
        """The Progressing condition: done, progressing, or stuck past spec.progressDeadlineSeconds (sim time)."""
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

    def _update_status(self, deployment: dict, desired: int, new_pods: list[dict], old_pods: list[dict]) -> None:
        """Store the Deployment's status counters and conditions (as kubectl rollout status reads them)."""
        entry = self.store.get(DEPLOYMENTS.key, deployment["metadata"]["namespace"], deployment["metadata"]["name"])
        if entry is None:
            return
        ready = sum(1 for pod in new_pods + old_pods if pod_ready(pod))
        total = len(new_pods) + len(old_pods)
        complete = len(new_pods) == desired and not old_pods and ready >= desired
        previous = entry.obj.get("status", {})
        status = {
            "observedGeneration": entry.obj["metadata"].get("generation", 1),
            "replicas": total,
            "updatedReplicas": len(new_pods),
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
        self.cluster.save(DEPLOYMENTS, updated)
