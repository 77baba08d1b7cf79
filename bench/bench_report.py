"""Benchmark: `imc report --format json` on the 10,000-pod `imc sim --scenario scale` cluster, beside kubectl.

Run: python -m bench.bench_report [--repeat 3] [--pods 10000] [--caches 1000]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from sim.launch import start_sim

ROOT = Path(__file__).resolve().parent.parent


def timed_run(command: list[str]) -> tuple[float, bytes]:
    """Seconds one command took, and its stdout; exits when it fails."""
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, cwd=str(ROOT), timeout=600)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command[:4])} ... exited {result.returncode}: {result.stderr.decode()[-500:]}")
    return seconds, result.stdout


def main() -> None:
    """Start the scale sim, time each command several times, print medians and the ratio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pods", type=int, default=None, help="pods of the scale scenario (sim default 10000)")
    parser.add_argument("--caches", type=int, default=None, help="caches of the scale scenario (sim default 1000)")
    args = parser.parse_args()
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        sys.exit("kubectl is not on PATH")
    extra = [
        *(["--pods", str(args.pods)] if args.pods else []),
        *(["--caches", str(args.caches)] if args.caches else []),
    ]
    with (
        tempfile.TemporaryDirectory() as state,
        start_sim("scale", state_dir=state, extra_args=extra, timeout=180) as sim,
    ):
        cache_dir = str(Path(state) / "kubectl-cache")
        base = [kubectl, "--kubeconfig", sim.kubeconfig, "--cache-dir", cache_dir, "--request-timeout", "300s"]
        commands = {
            "imc report --format json": [
                sys.executable,
                str(ROOT / "cli.py"),
                "report",
                "--kubeconfig",
                sim.kubeconfig,
                "--format",
                "json",
            ],
            "kubectl get pods -A -o json": [*base, "get", "pods", "-A", "-o", "json"],
            "kubectl get imagecaches -o json": [*base, "get", "imagecaches", "-o", "json"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        outputs: dict[str, bytes] = {}
        for _ in range(args.repeat):
            for name, command in commands.items():
                seconds, outputs[name] = timed_run(command)
                times[name].append(seconds)
    results = orjson.loads(outputs["imc report --format json"])["results"]
    pods = orjson.loads(outputs["kubectl get pods -A -o json"])["items"]
    caches = orjson.loads(outputs["kubectl get imagecaches -o json"])["items"]
    decisions: dict[str, int] = {}
    for item in results:
        decisions[item["decision"]] = decisions.get(item["decision"], 0) + 1
    print(f"imc report vs kubectl: {len(pods)} pods, {len(caches)} caches, median of {args.repeat} runs")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"  {name:<34} {value:7.2f} s")
    both = medians["kubectl get pods -A -o json"] + medians["kubectl get imagecaches -o json"]
    print(
        f"  imc report / kubectl get pods = {medians['imc report --format json'] / medians['kubectl get pods -A -o json']:.2f}x"
    )
    print(f"  imc report / (kubectl get pods + imagecaches) = {medians['imc report --format json'] / both:.2f}x")
    print(f"  pods explained: {len(results)}; decisions: {decisions}")


if __name__ == "__main__":
    main()
