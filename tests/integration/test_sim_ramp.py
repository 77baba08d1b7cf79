"""The built-in cluster answers while its controllers work (issue 18, item 5).

A Deployment of 2,147,483,647 replicas, or a Job of parallelism 1e9, ramps to the sim's 25,000-pod quota (its
default): all along (and, when the ramp is quick, on until 200 samples are taken),
`GET /api/v1/namespaces` answers in under 1 s at the 99th percentile (the issue's latency requirement); at the quota
the sim, once the pods made have settled, is not busy retrying refused creates; SIGTERM then ends it within 5 s.
"""

from __future__ import annotations

import os
import signal
import threading
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
CPU_WINDOW_SECONDS = 5.0
# GET namespaces every 100 ms through the ramp, on a thread of its own: several hundred samples, so that the 99th
# percentile is one (of the ~90 taken between progress checks it was the slowest sample, and one stall of a loaded
# test machine failed it); every 50 ms, the samples of a ramp under a loaded suite (40-80 s) cost the worker and the
# sim ~4 CPU-s more for nothing the percentile needed
SAMPLE_SECONDS = 0.1
MIN_SAMPLES = 200  # the 99th percentile of 200 samples or more leaves out at least the slowest


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


@dataclass(frozen=True)
class Ramp:
    """A workload ramping to the quota: how many pods it has made, and whether they are done changing."""

    pods: Callable[[], int]
    settled: Callable[[], bool]


def start_deployment(api) -> Ramp:
    """A Deployment of 2,147,483,647 replicas: its pods count once ready, and then stay as they are."""
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment("default", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "greedy"},
        "spec": {"replicas": 2_147_483_647, "selector": {"matchLabels": {"app": "greedy"}}, "template": TEMPLATE}})
    def ready() -> int:
        return apps.read_namespaced_deployment_status("greedy", "default").status.ready_replicas or 0

    return Ramp(pods=ready, settled=lambda: ready() >= QUOTA)


def start_job(api) -> Ramp:
    """A Job of parallelism and completions 1e9: its pods count once made; they settle once none is active."""
    batch = client.BatchV1Api(api)
    template = {**TEMPLATE, "spec": {**TEMPLATE["spec"], "restartPolicy": "Never"}}
    batch.create_namespaced_job("default", {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "greedy"},
        "spec": {"parallelism": 10**9, "completions": 10**9, "backoffLimit": 10**6, "template": template}})

    def status():
        return batch.read_namespaced_job_status("greedy", "default").status

    def pods() -> int:
        now = status()
        return (now.active or 0) + (now.succeeded or 0) + (now.failed or 0)

    return Ramp(pods=pods, settled=lambda: not status().active)


class LatencySampler:
    """GET /api/v1/namespaces every SAMPLE_SECONDS on a thread and a client of its own, keeping each answer's seconds,
    from `with` to its end."""

    def __init__(self, sim) -> None:
        self.sim = sim
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="namespaces-sampler", daemon=True)

    def _run(self) -> None:
        api = new_api_client(self.sim)
        try:
            core = client.CoreV1Api(api)
            while not self._stop.is_set():
                started = time.monotonic()
                core.list_namespace()
                self.latencies.append(time.monotonic() - started)
                self._stop.wait(SAMPLE_SECONDS)  # the sampling pace, not a wait for a condition
        finally:
            api.close()

    def __enter__(self) -> LatencySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


# one after the other on one worker: each ramp keeps a core busy for half a minute, and two side by side left the
# dashboards of the browser tests beside them too little CPU at 4 workers
@pytest.mark.xdist_group("ramp")
@pytest.mark.parametrize("start_ramp", [start_deployment, start_job], ids=["deployment", "job"])
def test_namespaces_answer_within_1_s_p99_while_pods_ramp_to_the_quota(start_sim_factory, start_ramp):
    sim = start_sim_factory("empty")
    api = new_api_client(sim)
    with LatencySampler(sim) as sampler:
        ramp = start_ramp(api)
        poll(ramp.pods, RAMP_TIMEOUT, f"the {QUOTA} pods of the ramp", until=lambda made: made >= QUOTA)
        # a ramp alone on an idle machine took 13 s, 166 samples: the sampler goes on while the last pods start
        poll(lambda: len(sampler.latencies), RAMP_TIMEOUT, f"{MIN_SAMPLES} samples of GET namespaces",
             until=lambda taken: taken >= MIN_SAMPLES)
    latencies = sampler.latencies
    p99 = percentile(latencies, 0.99)
    assert p99 < LATENCY_P99_SECONDS, f"GET namespaces took {p99:.2f} s at p99 ({len(latencies)} samples, " \
                                      f"slowest {max(latencies):.2f} s)"
    # the last pods made still start (and a Job's run for 5 s): that work is done before the sim is called idle
    poll(ramp.settled, RAMP_TIMEOUT, "the ramp's pods to stop changing (a Job's all finished)")
    before = cpu_seconds(sim.process.pid)
    time.sleep(CPU_WINDOW_SECONDS)  # a window of CPU use, not a wait for a condition
    share = (cpu_seconds(sim.process.pid) - before) / CPU_WINDOW_SECONDS
    assert share < IDLE_CPU_SHARE, f"the sim used {share:.0%} of a core at the quota"
    stopping = time.monotonic()
    sim.process.send_signal(signal.SIGTERM)
    assert sim.process.wait(timeout=30) == 0
    assert time.monotonic() - stopping < STOP_SECONDS
