"""Benchmark: `imc sim --scenario scale` serving a 10,000-pod list in pages of 500, beside the commands that list it.

Run: python -m bench.bench_sim [--repeat 5] [--pods N] [--caches N] [--lists-only] [--sim-args ARGS]
The official client lists every page raw (`_preload_content=False`, limit=500, continue tokens, as kubectl does);
the time to parse the pages with orjson is shown apart; a pod watch from no resourceVersion is read until its
initial ADDED events have all come. Then `kubectl get pods -A -o json` and
`imc report --format json` (bench_report.py's rows) run against the same sim, and the sim's own CPU time during each
(from /proc) says how much of their wall time the server could have been busy: the rest is the client's.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

from bench.bench_report import timed_run
from bench.harness import ROOT, cpu_seconds, running_sim, scale_args, scale_options, timed
from core.caches import GROUP, PLURAL, VERSION

PAGE = 500
CONTINUE = re.compile(rb'"continue":\s*"([^"]*)"')


def paged_list(fetch) -> list[bytes]:
    """Every raw page of a list; fetch(continue_token) returns a urllib3 response. Only the token is read here."""
    pages: list[bytes] = []
    token = None
    while True:
        response = fetch(token)
        body = response.data
        response.release_conn()
        pages.append(body)
        found = CONTINUE.search(body, 0, 4096) or CONTINUE.search(body)
        token = found.group(1).decode() if found and found.group(1) else None
        if not token:
            return pages


def watched_events(start_watch, wanted: int) -> int:
    """Read a watch stream (start_watch() returns its urllib3 response) until `wanted` events came; their count."""
    response = start_watch()
    seen = 0
    try:
        for chunk in response.stream(1 << 16):
            seen += chunk.count(b"\n")
            if seen >= wanted:
                break
    finally:
        response.release_conn()
    return seen


def main() -> None:
    """Time the raw paged lists and the commands, with the sim's CPU seconds during each; print medians."""
    parser = argparse.ArgumentParser()
    scale_options(parser, repeat=5)
    parser.add_argument("--lists-only", action="store_true", help="only the client's lists and watch, not kubectl's "
                        "and imc report's")
    parser.add_argument("--sim-args", default="", help="more arguments of imc sim, e.g. '--compaction-interval 1'")
    args = parser.parse_args()
    kubectl = shutil.which("kubectl") or sys.exit("kubectl is not on PATH")
    from kubernetes import client, config

    rows: dict[str, list[tuple[float, float]]] = {}
    counts: dict[str, tuple[int, int, int]] = {}

    def measure(name: str, action, pid: int):
        before = cpu_seconds(pid)
        seconds, result = timed(action)
        rows.setdefault(name, []).append((seconds, cpu_seconds(pid) - before))
        return result

    with tempfile.TemporaryDirectory(prefix="imc-bench-") as tmp, running_sim("scale", [*scale_args(args), *shlex.split(args.sim_args)]) as sim:
        pid = sim.process.pid
        api = config.new_client_from_config(config_file=sim.kubeconfig)
        core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
        lists = {
            "client: pods, limit=500 pages": lambda token: core.list_pod_for_all_namespaces(
                limit=PAGE, _continue=token, _preload_content=False),
            "client: imagecaches, limit=500 pages": lambda token: custom.list_cluster_custom_object(
                GROUP, VERSION, PLURAL, limit=PAGE, _continue=token, _preload_content=False),
        }
        base = [kubectl, "--kubeconfig", sim.kubeconfig, "--cache-dir", str(Path(tmp) / "kubectl-cache"),
                "--request-timeout", "300s"]
        commands = {
            "kubectl get pods -A -o json": [*base, "get", "pods", "-A", "-o", "json"],
            "imc report --format json": [sys.executable, str(ROOT / "cli.py"), "report", "--kubeconfig",
                                         sim.kubeconfig, "--format", "json"],
        }
        if not args.lists_only:
            timed_run(commands["kubectl get pods -A -o json"])  # warm kubectl's discovery cache
        idle_before = cpu_seconds(pid)
        time.sleep(3)  # a sampling window: the sim's own background work (pod and cache churn) per second
        idle_rate = (cpu_seconds(pid) - idle_before) / 3
        for _ in range(args.repeat):
            for name, fetch in lists.items():
                pages = measure(name, lambda fetch=fetch: paged_list(fetch), pid)
                parse_seconds, parsed = timed(lambda pages=pages: [orjson.loads(page) for page in pages])
                items = sum(len(page.get("items") or ()) for page in parsed)
                rows.setdefault(f"  orjson.loads of those pages ({name.split()[1].rstrip(',')})", []).append(
                    (parse_seconds, 0.0))
                counts[name] = (items, len(pages), sum(map(len, pages)))
            pods = counts["client: pods, limit=500 pages"][0]
            watch = "client: pods watch, initial ADDED events"
            seen = measure(watch, lambda pods=pods: watched_events(lambda: core.list_pod_for_all_namespaces(
                watch=True, timeout_seconds=300, _preload_content=False), pods), pid)
            counts[watch] = (seen, 1, 0)
            for name, command in commands.items():
                if not args.lists_only:
                    measure(name, lambda command=command: timed_run(command), pid)
        api.close()

    print(f"imc sim --scenario scale serving paged lists, median of {args.repeat} runs; "
          "'sim CPU' = the sim process's user+system CPU seconds during the call")
    for name, (items, pages, size) in counts.items():
        print(f"  {name}: {items:,} items in {pages} pages, {size / 2**20:.1f} MiB of JSON")
    print(f"  {'what':<46} {'wall s':>8} {'sim CPU s':>10} {'sim share':>10}")
    for name, values in rows.items():
        wall = statistics.median(v[0] for v in values)
        sim_cpu = statistics.median(v[1] for v in values)
        share = f"{sim_cpu / wall:9.0%}" if sim_cpu else ""
        print(f"  {name:<46} {wall:8.2f} {sim_cpu:10.2f} {share:>10}")
    print(f"  sim CPU with no client (its churn): {idle_rate:.2f} s per s")
    serve = statistics.median(v[0] for v in rows["client: pods, limit=500 pages"])
    for name in commands if not args.lists_only else ():
        wall = statistics.median(v[0] for v in rows[name])
        print(f"  serving the pod list / {name} = {serve / wall:.2f}x")


if __name__ == "__main__":
    main()
