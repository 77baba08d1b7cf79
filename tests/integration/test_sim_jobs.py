"""batch/v1 Jobs and CronJobs of the sim, as kubectl 1.32 and the official client see them."""

from __future__ import annotations

import json
import threading

import pytest
from kubernetes import client, watch

from tests.integration.conftest import kubectl_of, run_kubectl

pytestmark = pytest.mark.integration


def header(output: str) -> list[str]:
    """The column names of kubectl's table output."""
    return output.splitlines()[0].split()


def test_create_job_runs_to_completion_and_prints_kubectls_columns(kubectl, namespace):
    created = kubectl("create", "job", "hello", "--image=busybox:1.36", "-n", namespace, "--", "echo", "hi")
    assert created.stdout.strip() == "job.batch/hello created"
    kubectl("wait", "--for=condition=complete", "job/hello", "-n", namespace, "--timeout=60s", timeout=70)
    table = kubectl("get", "jobs", "-n", namespace).stdout
    assert header(table) == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert table.splitlines()[1].split()[:3] == ["hello", "Complete", "1/1"]
    wide = kubectl("get", "jobs", "-n", namespace, "-o", "wide").stdout
    assert header(wide) == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    job = json.loads(kubectl("get", "job", "hello", "-n", namespace, "-o", "json").stdout)
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert f"batch.kubernetes.io/controller-uid={uid}" in wide
    assert [c["type"] for c in job["status"]["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert job["status"]["succeeded"] == 1 and job["status"]["completionTime"] >= job["status"]["startTime"]
    pods = json.loads(kubectl("get", "pods", "-n", namespace, "-l", "job-name=hello", "-o", "json").stdout)["items"]
    assert len(pods) == 1 and pods[0]["status"]["phase"] == "Succeeded"
    terminated = pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed") and terminated["finishedAt"]
    assert "Completed" in kubectl("get", "pods", "-n", namespace).stdout
    reasons = kubectl("get", "events", "-n", namespace, "--field-selector", "involvedObject.kind=Job",
                      "-o", "jsonpath={.items[*].reason}").stdout.split()
    assert {"SuccessfulCreate", "Completed"} <= set(reasons)


def test_a_job_with_restart_policy_always_is_invalid(kubectl, namespace):
    manifest = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "always"},
                "spec": {"template": {"spec": {"restartPolicy": "Always",
                                               "containers": [{"name": "a", "image": "busybox:1.36"}]}}}}
    result = kubectl("create", "-n", namespace, "-f", "-", input_text=json.dumps(manifest), check=False)
    assert result.returncode != 0
    assert 'spec.template.spec.restartPolicy: Unsupported value: "Always"' in result.stderr


@pytest.fixture
def cron_kubectl(start_sim_factory, kubectl_cache_dir):
    """kubectl against a sim of its own at --speed 60, a minute of schedule a second (the shared sim's: three);
    stopped after the test, so its CronJob makes no more Jobs meanwhile."""
    sim = start_sim_factory("empty", ("--speed", "60"))
    yield kubectl_of(sim, kubectl_cache_dir)
    sim.stop()


def test_cronjobs_schedule_jobs_and_create_job_from_cronjob(cron_kubectl, wait_until):
    kubectl, namespace = cron_kubectl, "default"
    kubectl("create", "cronjob", "tick", "--image=busybox:1.36", "--schedule=*/1 * * * *", "-n", namespace,
            "--", "date")
    bad = kubectl("create", "cronjob", "bad", "--image=busybox:1.36", "--schedule=61 * * * *", "-n", namespace,
                  check=False)
    assert bad.returncode != 0 and "spec.schedule: Invalid value" in bad.stderr
    table = kubectl("get", "cronjobs", "-n", namespace).stdout
    assert header(table) == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"]
    assert table.splitlines()[1].split()[:5] == ["tick", "*/1", "*", "*", "*"]
    wide = kubectl("get", "cj", "-n", namespace, "-o", "wide").stdout
    assert header(wide)[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    kubectl("create", "job", "manual-1", "--from=cronjob/tick", "-n", namespace)
    manual = json.loads(kubectl("get", "job", "manual-1", "-n", namespace, "-o", "json").stdout)
    assert manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert manual["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    kubectl("wait", "--for=condition=complete", "job/manual-1", "-n", namespace, "--timeout=60s", timeout=70)

    def scheduled_jobs() -> list[dict]:
        items = json.loads(kubectl("get", "jobs", "-n", namespace, "-o", "json").stdout)["items"]
        return [j for j in items if "batch.kubernetes.io/cronjob-scheduled-timestamp" in
                (j["metadata"].get("annotations") or {})]

    # at --speed 60 a minute of schedule passes in a second
    found = wait_until(scheduled_jobs, timeout=30, message="the CronJob to create a Job on schedule")
    assert all(j["metadata"]["name"].startswith("tick-") and j["metadata"]["name"][5:].isdigit() for j in found)
    def cronjob_status() -> dict:
        return json.loads(kubectl("get", "cj", "tick", "-n", namespace, "-o", "json").stdout)["status"]

    wait_until(lambda: cronjob_status().get("lastSuccessfulTime"), timeout=30, message="lastSuccessfulTime")
    assert cronjob_status()["lastScheduleTime"]
    wait_until(lambda: "SuccessfulDelete" in kubectl(
        "get", "events", "-n", namespace, "--field-selector", "involvedObject.name=tick",
        "-o", "jsonpath={.items[*].reason}").stdout, timeout=60, message="the history limit to delete a Job")
    complete = [j for j in scheduled_jobs() if any(c["type"] == "Complete"
                                                  for c in j.get("status", {}).get("conditions") or [])]
    assert len(complete) <= 4, "successfulJobsHistoryLimit 3 (and at most one just completing)"


def test_deleting_a_job_takes_its_pods(kubectl, namespace, wait_until):
    kubectl("create", "job", "gone", "--image=busybox:1.36", "-n", namespace, "--", "sleep", "1")
    wait_until(lambda: kubectl("get", "pods", "-n", namespace, "-l", "job-name=gone", "-o", "name").stdout.strip(),
               message="the Job's pod")
    kubectl("delete", "job", "gone", "-n", namespace)
    wait_until(lambda: not kubectl("get", "pods", "-n", namespace, "-l", "job-name=gone", "-o", "name"
                                   ).stdout.strip(), timeout=30, message="the pods to go with their Job")


def job_body(name: str, completions: int = 1, parallelism: int = 1) -> client.V1Job:
    return client.V1Job(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1JobSpec(completions=completions, parallelism=parallelism, template=client.V1PodTemplateSpec(
            spec=client.V1PodSpec(restart_policy="Never", containers=[
                client.V1Container(name="work", image="busybox:1.36", command=["true"])]))))


def test_official_client_creates_watches_lists_and_deletes_jobs(api_client, namespace, wait_until):
    batch = client.BatchV1Api(api_client)
    seen: list[tuple[str, dict]] = []
    created = batch.create_namespaced_job(namespace, job_body("three", completions=3, parallelism=2))
    assert created.spec.backoff_limit == 6 and created.spec.completion_mode == "NonIndexed"

    def watch_job() -> None:
        stream = watch.Watch()
        for event in stream.stream(batch.list_namespaced_job, namespace, field_selector="metadata.name=three",
                                   resource_version=created.metadata.resource_version, timeout_seconds=60):
            seen.append((event["type"], event["raw_object"]["status"]))
            if any(c["type"] == "Complete" for c in event["raw_object"]["status"].get("conditions") or []):
                stream.stop()

    watcher = threading.Thread(target=watch_job, daemon=True)
    watcher.start()
    wait_until(lambda: not watcher.is_alive(), timeout=60, message="the watch to see the Job complete")
    assert seen and seen[-1][1]["succeeded"] == 3
    assert max(status.get("active", 0) for _, status in seen) <= 2, "parallelism 2"
    job = batch.read_namespaced_job("three", namespace)
    assert job.status.succeeded == 3 and job.status.completion_time is not None
    assert [j.metadata.name for j in batch.list_namespaced_job(namespace).items] == ["three"]
    assert any(j.metadata.name == "three" for j in batch.list_job_for_all_namespaces().items)
    status = batch.read_namespaced_job_status("three", namespace)
    assert status.status.conditions[-1].type == "Complete"
    core = client.CoreV1Api(api_client)
    assert len(core.list_namespaced_pod(namespace, label_selector="job-name=three").items) == 3
    batch.delete_namespaced_job("three", namespace, propagation_policy="Background")
    wait_until(lambda: not core.list_namespaced_pod(namespace, label_selector="job-name=three").items, timeout=30,
               message="the Job's pods to be collected")
    cron = client.V1CronJob(metadata=client.V1ObjectMeta(name="nightly"), spec=client.V1CronJobSpec(
        schedule="@daily", time_zone="Asia/Shanghai", job_template=client.V1JobTemplateSpec(
            spec=job_body("x").spec)))
    made = batch.create_namespaced_cron_job(namespace, cron)
    assert (made.spec.concurrency_policy, made.spec.successful_jobs_history_limit) == ("Allow", 3)
    assert [c.metadata.name for c in batch.list_namespaced_cron_job(namespace).items] == ["nightly"]
    batch.delete_namespaced_cron_job("nightly", namespace)
    assert batch.list_namespaced_cron_job(namespace).items == []


def test_the_demos_past_pods_all_have_their_jobs_and_cronjobs(start_sim_factory):
    sim = start_sim_factory("demo", ("--seed", "5"))
    pods = json.loads(run_kubectl(sim, "get", "pods", "-A", "-o", "json").stdout)["items"]
    jobs = json.loads(run_kubectl(sim, "get", "jobs", "-A", "-o", "json").stdout)["items"]
    cronjobs = json.loads(run_kubectl(sim, "get", "cronjobs", "-A", "-o", "json").stdout)["items"]
    job_uids = {j["metadata"]["uid"] for j in jobs}
    cronjob_uids = {c["metadata"]["uid"] for c in cronjobs}
    owned = [p for p in pods if any(o["kind"] == "Job" for o in p["metadata"].get("ownerReferences") or [])]
    assert len(owned) >= 50
    assert all(o["uid"] in job_uids for p in owned for o in p["metadata"]["ownerReferences"])
    assert all(o["kind"] == "CronJob" and o["uid"] in cronjob_uids for j in jobs
               for o in j["metadata"]["ownerReferences"])
    assert len(cronjobs) == 8 and all(c["status"].get("lastScheduleTime") for c in cronjobs)
    table = run_kubectl(sim, "get", "cronjobs,jobs", "-A").stdout
    assert "cronjob.batch/train-eval" in table and "Complete" in table
