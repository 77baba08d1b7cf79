"""The one rule for the workload a pod belongs to (`core.owners`), and the three places that use it."""

from __future__ import annotations

import pytest

from core.owners import Owner, top_owner, workload_name
from dashboard import start_views, views
from kube.ledger_rows import pod_workload

RUN = "etl-hourly-29941451"  # a CronJob's Job: <cronjob>-<scheduled minute>, 2026-12-04 22:11 UTC


def job_pod(job: str, labels: dict | None = None) -> dict:
    """A pod of a Job, labelled by the Job controller unless labels are given."""
    return {"metadata": {
        "namespace": "data", "name": f"{job}-x7k2p",
        "labels": {"batch.kubernetes.io/job-name": job, "job-name": job} if labels is None else labels,
        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": job, "controller": True}],
    }}


def replicaset_pod(replicaset: str, template_hash: str | None) -> dict:
    """A pod of a ReplicaSet, with a pod-template-hash label when given."""
    labels = {"pod-template-hash": template_hash} if template_hash else {}
    return {"metadata": {"namespace": "shop", "name": f"{replicaset}-q8w2e", "labels": labels,
                         "ownerReferences": [{"kind": "ReplicaSet", "name": replicaset, "controller": True}]}}


@pytest.mark.parametrize(("pod", "owner"), [
    (job_pod(RUN), Owner("CronJob", "etl-hourly")),
    (job_pod(RUN, {"job-name": RUN}), Owner("CronJob", "etl-hourly")),  # before 1.27: only the legacy label
    (job_pod(RUN, {}), Owner("Job", RUN)),  # no Job controller label: not known to be a scheduled Job
    (job_pod("backup-20240101"), Owner("Job", "backup-20240101")),  # a date, not a minute since 2016
    (job_pod("backup-1764979200"), Owner("Job", "backup-1764979200")),  # epoch seconds
    (job_pod("nightly"), Owner("Job", "nightly")),
    (job_pod("x" * 53 + "-29941451"), Owner("Job", "x" * 53 + "-29941451")),  # no CronJob name is that long
    (replicaset_pod("web-5d8f9", "5d8f9"), Owner("Deployment", "web")),
    (replicaset_pod("web-5d8f9", None), Owner("ReplicaSet", "web-5d8f9")),
    (replicaset_pod("web-5d8f9", "abc"), Owner("ReplicaSet", "web-5d8f9")),
    ({"metadata": {"ownerReferences": [{"kind": "StatefulSet", "name": "db"}]}}, Owner("StatefulSet", "db")),
    ({"metadata": {"ownerReferences": [{"kind": "X", "name": "a"}, {"kind": "Y", "name": "b", "controller": True}]}},
     Owner("Y", "b")),
    ({"metadata": {"name": "bare"}}, None),
    ({"metadata": {"ownerReferences": "x", "labels": None}}, None),
    ({"metadata": {"ownerReferences": [7, {"kind": "Job"}]}}, None),
    ({"metadata": None}, None),
])
def test_the_top_owner_of_a_pod(pod, owner):
    assert top_owner(pod["metadata"]) == owner


def test_the_ledger_the_pods_page_and_by_workload_name_one_workload_for_every_run_of_a_cronjob():
    runs = [job_pod(RUN), job_pod("etl-hourly-29941511")]
    assert {pod_workload(pod) for pod in runs} == {"CronJob/etl-hourly"}
    assert {views.owner_of(pod) for pod in runs} == {"CronJob/etl-hourly"}
    assert {start_views.workload_of(pod) for pod in runs} == {"data/etl-hourly"}
    deployment = replicaset_pod("web-5d8f9", "5d8f9")
    assert (pod_workload(deployment), views.owner_of(deployment), start_views.workload_of(deployment)) == (
        "Deployment/web", "Deployment/web", "shop/web")
    assert workload_name({"name": "bare"}) == "" and start_views.workload_of({"metadata": {"namespace": "n",
                                                                                          "name": "p"}}) == "n/p"
