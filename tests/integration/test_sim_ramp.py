"""The built-in cluster answers while its controllers work (issue 18, item 5).

A Deployment of 2,147,483,647 replicas and a Job of parallelism 1e9, side by side in one sim, ramp it to its
25,000-pod quota (its default): all along, `GET /api/v1/namespaces` answers in under 1 s at the 99th percentile (the
issue's latency requirement); at the quota, where both are refused, the sim is not busy retrying refused creates;
SIGTERM then ends it within 5 s. One ramp serves both owners' tests (a ramp costs a core for most of a minute): each
test asserts its owner made pods and was refused by the quota, and every figure of the shared ramp.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client

from tests.integration.conftest import new_api_client, poll

pytestmark = pytest.mark.integration
QUOTA = 25_000  # the sim's default pod quota, as in the issue
LATENCY_P99_SECONDS = 1.0  # the issue: "GET /api/v1/namespaces answers in under 1 s at the 99th percentile"
STOP_SECONDS = 5.0  # the issue: "SIGTERM stops the process within 5 s"
RAMP_TIMEOUT = 200.0  # the issue saw about 4 minutes; this sim takes about 1 (and pytest-timeout stops a test at 5)
IDLE_CPU_SHARE = 0.5  # at the quota, well under the whole core the issue saw
CPU_WINDOW_SECONDS = 10.0


def cpu_seconds(pid: int) -> float:
    """The user and system CPU time a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


TEMPLATE = {"metadata": {"labels": {"app": "greedy"}},
            "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]}}


def start_deployment(api) -> Callable[[], int]:
    """A Deployment of 2,147,483,647 replicas; returns how many of its pods are ready."""
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment("default", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "greedy"},
        "spec": {"replicas": 2_147_483_647, "selector": {"matchLabels": {"app": "greedy"}}, "template": TEMPLATE}})
    return lambda: apps.read_namespaced_deployment_status("greedy", "default").status.ready_replicas or 0


def start_job(api) -> Callable[[], int]:
    """A Job of parallelism and completions 1e9; returns how many of its pods run or ran."""
    batch = client.BatchV1Api(api)
    template = {"metadata": {"labels": {"app": "greedy-job"}},
                "spec": {**TEMPLATE["spec"], "restartPolicy": "Never"}}
    batch.create_namespaced_job("default", {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "greedy"},
        "spec": {"parallelism": 10**9, "completions": 10**9, "backoffLimit": 10**6, "template": template}})

    def pods() -> int:
        status = batch.read_namespaced_job_status("greedy", "default").status
        return (status.active or 0) + (status.succeeded or 0) + (status.failed or 0)

    return pods


OWNERS = {"deployment": (start_deployment, "ReplicaSet"), "job": (start_job, "Job")}  # the kind its creates are of


@dataclass
class Ramp:
    """What one ramp of both owners to the quota showed."""

    pods: dict[str, int]  # owner -> its pods counted at the quota
    refused: dict[str, list[str]]  # owner -> the messages of its FailedCreate events
    latencies: list[float]  # of GET namespaces, all along the ramp
    cpu_share: float  # of a core, over CPU_WINDOW_SECONDS at the quota
    exit_code: int
    stop_seconds: float


def quota_refusals(core, kind: str) -> list[str]:
    """The messages of the FailedCreate events about objects of a kind in `default`."""
    events = core.list_namespaced_event("default", field_selector=f"reason=FailedCreate,involvedObject.kind={kind}")
    return [event.message for event in events.items]


@pytest.fixture(scope="module")
def ramp(start_sim_factory) -> Ramp:
    """A Deployment and a Job ramping one sim to its quota, sampled all along, watched idle, then stopped."""
    sim = start_sim_factory("empty")
    api = new_api_client(sim)
    core = client.CoreV1Api(api)
    counters = {owner: start(api) for owner, (start, _) in OWNERS.items()}
    latencies: list[float] = []
    counted: dict[str, int] = {}

    def pods_so_far() -> int:
        started = time.monotonic()
        core.list_namespace()
        latencies.append(time.monotonic() - started)
        counted.update({owner: count() for owner, count in counters.items()})
        return sum(counted.values())

    poll(pods_so_far, RAMP_TIMEOUT, f"the {QUOTA} pods of the ramp, sampling GET namespaces",
         until=lambda total: total >= QUOTA)
    refused = {owner: poll(lambda kind=kind: quota_refusals(core, kind), 30, f"a FailedCreate event of a {kind}")
               for owner, (_, kind) in OWNERS.items()}
    before = cpu_seconds(sim.process.pid)
    time.sleep(CPU_WINDOW_SECONDS)  # a window of CPU use, not a wait for a condition
    cpu_share = (cpu_seconds(sim.process.pid) - before) / CPU_WINDOW_SECONDS
    api.close()
    stopping = time.monotonic()
    sim.process.send_signal(signal.SIGTERM)
    exit_code = sim.process.wait(timeout=30)
    return Ramp(dict(counted), refused, latencies, cpu_share, exit_code, time.monotonic() - stopping)


@pytest.mark.parametrize("owner", list(OWNERS))
def test_namespaces_answer_within_1_s_p99_while_pods_ramp_to_the_quota(ramp, owner):
    assert sum(ramp.pods.values()) >= QUOTA
    assert ramp.pods[owner] > 0, f"the {owner} made no pods: {ramp.pods}"
    assert ramp.refused[owner] and all("exceeded quota" in message for message in ramp.refused[owner]), \
        ramp.refused[owner]
    assert len(ramp.latencies) >= 20, "too few samples to speak of a 99th percentile"
    p99 = percentile(ramp.latencies, 0.99)
    assert p99 < LATENCY_P99_SECONDS, f"GET namespaces took {p99:.2f} s at p99 ({len(ramp.latencies)} samples, " \
                                      f"slowest {max(ramp.latencies):.2f} s)"
    assert ramp.cpu_share < IDLE_CPU_SHARE, f"the sim used {ramp.cpu_share:.0%} of a core at the quota"
    assert ramp.exit_code == 0
    assert ramp.stop_seconds < STOP_SECONDS
