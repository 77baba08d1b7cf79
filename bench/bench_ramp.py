"""Benchmark: an empty `imc sim` ramping a Deployment of 2,147,483,647 replicas to its 25,000-pod quota, then a stop
and a restart on the same state dir.

Run: python -m bench.bench_ramp [--repeat 3] [--quota 25000]
Rows: the ramp's wall time and the sim's CPU seconds meanwhile; the stop (SIGTERM to exit, the final write of the
cluster's state included); the state file's size; the restart (start to serving on the stored cluster).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from kubernetes import client, config

from bench.harness import cpu_seconds, timed
from bench.waits import poll
from sim.launch import start_sim

TEMPLATE = {"metadata": {"labels": {"app": "greedy"}},
            "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]}}


def ramp_once(quota: int) -> dict[str, float]:
    """One ramp, stop and restart in a fresh state dir; the row's figures."""
    with tempfile.TemporaryDirectory(prefix="imc-bench-ramp-") as state:
        sim = start_sim("empty", state_dir=state, extra_args=("--max-pods", str(quota)), timeout=60)
        try:
            api = config.new_client_from_config(config_file=sim.kubeconfig, context="sim")
            apps = client.AppsV1Api(api)
            cpu_before = cpu_seconds(sim.process.pid)
            start = time.perf_counter()
            apps.create_namespaced_deployment("default", {
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "greedy"},
                "spec": {"replicas": 2_147_483_647, "selector": {"matchLabels": {"app": "greedy"}},
                         "template": TEMPLATE}})
            poll(lambda: (apps.read_namespaced_deployment_status("greedy", "default").status.replicas or 0) >= quota,
                 600, f"{quota} pods", interval=0.5)
            ramp = time.perf_counter() - start
            cpu = cpu_seconds(sim.process.pid) - cpu_before
            api.close()
            stop, _ = timed(sim.stop)
        finally:
            sim.stop()
        files = [path for path in Path(state).glob("cluster.sqlite3*")]
        size = sum(path.stat().st_size for path in files) / 2**20
        restart, again = timed(lambda: start_sim("empty", state_dir=state, extra_args=("--max-pods", str(quota)),
                                                 timeout=300))
        again.stop()
    return {"ramp s": ramp, "sim CPU s": cpu, "stop s": stop, "state MiB": size, "restart s": restart}


def main() -> None:
    """Ramp `--repeat` times and print each run and the medians."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quota", type=int, default=25_000)
    args = parser.parse_args()
    runs = []
    for number in range(args.repeat):
        row = ramp_once(args.quota)
        runs.append(row)
        print(f"run {number + 1}: " + ", ".join(f"{name} {value:.2f}" for name, value in row.items()), flush=True)
    print("median: " + ", ".join(f"{name} {statistics.median(r[name] for r in runs):.2f}" for name in runs[0]))


if __name__ == "__main__":
    main()
