"""Benchmark: the dashboard served by `streamlit run` in Chromium: its memory with 10,000 pods, and kubectl → browser.

Run: python -m bench.bench_browser [--scenario scale|demo] [--pods N] [--caches N] [--repeat 7] [--env NAME=VALUE]
     [--soak 60]
Starts `imc sim`, `streamlit run app.py` with KUBECONFIG pointing at it, and Debian's Chromium (Playwright).
Memory: VmRSS / VmHWM of the streamlit process (from /proc) before any page, once the Pods page shows every pod
(the first page load starts the shared list+watch), after the Overview too, after the kubectl runs, and sampled
every 5 s while the Overview stays open (the scale sim keeps changing pods, so the view models are rebuilt).
Latency: the Pods page filtered to one new pod name ("0 of N"); `kubectl apply` of an ECI pod with that name; the
time until its name is in the page's table. Each run starts at a random phase of the page's refresh timer (the search
restarts it). Measured from kubectl's start and from its exit; the result is waited for, never slept for.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.harness import chromium, memory_mib, running_sim, scale_args, scale_options, watched_store
from bench.waits import IDLE, start_dashboard

NAMESPACE = "bench-live"
SAMPLE_SECONDS = 5
POD_YAML = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {namespace}
  labels: {{alibabacloud.com/eci: "true", app: bench-live}}
spec:
  containers:
  - {{name: main, image: "nginx:1.25", imagePullPolicy: IfNotPresent}}
"""
# The caption of the Pods page ("12 of 10,000 ECI pods") once no kind is still loading: the total, else 0.
SYNCED_TOTAL = """() => {
  const text = document.body.innerText;
  if (text.includes('Loading…')) return 0;
  const found = text.match(/([\\d,]+) of ([\\d,]+) ECI pods/);
  return found ? Number(found[2].replace(/,/g, '')) : 0;
}"""
# The pod's name in the table (the data grid keeps an accessible copy of its visible cells in the DOM).
NAME_IN_TABLE = """(name) => {
  const grid = document.querySelector("[data-testid='stDataFrame']");
  return !!grid && grid.textContent.includes(name);
}"""


def kubectl(kubeconfig: str, *args: str, input_text: str | None = None, check: bool = True) -> float:
    """Run kubectl against the sim; the seconds it took. Exits the benchmark when it fails and `check`."""
    command = [shutil.which("kubectl") or "kubectl", "--kubeconfig", kubeconfig, "--request-timeout", "30s", *args]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, input=input_text, timeout=60)
    if check and result.returncode != 0:
        sys.exit(f"kubectl {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return time.perf_counter() - start


def open_and_settle(page, url: str) -> None:
    """Load a URL and wait until the script run finished."""
    page.goto(url)
    page.wait_for_selector(IDLE, timeout=120_000)


def search_for(page, text: str) -> None:
    """Type into the Pods page's search box and wait for the rerun (the caption then says "0 of ...")."""
    search = page.get_by_role("textbox", name="Search")
    search.fill(text)
    search.press("Enter")
    page.wait_for_selector(IDLE, timeout=60_000)
    page.get_by_text(re.compile(r"^0 of [\d,]+ ECI pods$")).wait_for(timeout=60_000)


def arrival(store, key: str, found: list[float], stop: threading.Event) -> None:
    """Note when a pod key first appears in a store (polled every 2 ms until found or stopped)."""
    while not stop.is_set():
        if key in store.snapshot().pods:
            found.append(time.perf_counter())
            return
        stop.wait(0.002)


def latency_runs(page, kubeconfig: str, repeat: int, refresh: float) -> dict[str, list[float]]:
    """Per run, seconds from kubectl's start and exit until a new pod's name is in the Pods table, and the split
    at the moment the pod reached a store of this process fed by the same list+watch as the dashboard's."""
    rng = random.Random(17)
    found: dict[str, list[float]] = {}
    with watched_store(kubeconfig) as (store, _, _):
        for run in range(repeat):
            name = f"bench-pod-{run}-{int(time.time())}"
            search_for(page, name)
            # A random phase of the fragment's refresh timer (the search just restarted it), as a user would have.
            page.wait_for_timeout(rng.uniform(0, refresh) * 1000)
            reached: list[float] = []
            stop = threading.Event()
            watcher = threading.Thread(target=arrival, args=(store, f"{NAMESPACE}/{name}", reached, stop))
            watcher.start()
            begin = time.perf_counter()
            kubectl_seconds = kubectl(kubeconfig, "apply", "-f", "-", input_text=POD_YAML.format(name=name,
                                                                                                namespace=NAMESPACE))
            page.wait_for_function(NAME_IN_TABLE, arg=name, timeout=60_000)
            seen = time.perf_counter()
            stop.set()
            watcher.join()
            for label, value in (
                ("from kubectl's start", seen - begin),
                ("from kubectl's exit", seen - begin - kubectl_seconds),
                ("kubectl's start → a watching store", reached[0] - begin if reached else float("nan")),
                ("that store → the browser", seen - reached[0] if reached else float("nan")),
            ):
                found.setdefault(label, []).append(value)
    return found


def main() -> None:
    """Start sim, dashboard and Chromium; print memory readings and kubectl → browser latencies (medians)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", choices=("scale", "demo"), default="scale")
    scale_options(parser, repeat=7)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the dashboard process (e.g. IMC_REFRESH_SECONDS=1)")
    parser.add_argument("--soak", type=float, default=60, help="seconds of RSS sampling with the Overview open")
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)
    os.environ.update(env)  # the refresh interval printed is the one the dashboard reads
    from dashboard.shell import REFRESH_SECONDS

    extra = scale_args(args) if args.scenario == "scale" else []
    memory: dict[str, dict[str, float]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="imc-bench-") as tmp,
        running_sim(args.scenario, extra) as sim,
        start_dashboard(sim.kubeconfig, Path(tmp) / "streamlit.log", IMC_CONTEXT="sim", **env) as dashboard,
        chromium() as browser,
    ):
        url, process = dashboard.url, dashboard.process
        memory["started, no page yet"] = memory_mib(process.pid)
        page = browser.new_context(viewport={"width": 1600, "height": 1200}).new_page()
        start = time.perf_counter()
        open_and_settle(page, f"{url}/pods")
        total = page.wait_for_function(SYNCED_TOTAL, timeout=300_000, polling=100).json_value()
        synced_seconds = time.perf_counter() - start
        memory["Pods page, store synced"] = memory_mib(process.pid)
        open_and_settle(page, url)
        page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
        memory["Overview drawn too"] = memory_mib(process.pid)

        kubectl(sim.kubeconfig, "create", "namespace", NAMESPACE, check=False)
        open_and_settle(page, f"{url}/pods")
        latencies = latency_runs(page, sim.kubeconfig, args.repeat, REFRESH_SECONDS)
        memory[f"after {args.repeat} kubectl runs"] = memory_mib(process.pid)
        open_and_settle(page, url)
        samples = []
        for _ in range(max(1, int(args.soak / SAMPLE_SECONDS))):
            page.wait_for_timeout(SAMPLE_SECONDS * 1000)  # a sampling period, not a wait for a result
            samples.append(memory_mib(process.pid))
        memory[f"Overview open {args.soak:g} s more"] = samples[-1]

    print(f"dashboard in Chromium against `imc sim --scenario {args.scenario}` ({total:,} ECI pods shown); "
          f"refresh interval {REFRESH_SECONDS:g} s (dashboard/shell.py REFRESH_SECONDS)")
    print(f"  first Pods page load → every pod listed: {synced_seconds:.1f} s")
    print("  memory of the streamlit process (MiB):")
    for label, reading in memory.items():
        print(f"    {label:<28} RSS {reading['VmRSS']:7.1f}   peak (VmHWM) {reading['VmHWM']:7.1f}")
    rss = [sample["VmRSS"] for sample in samples]
    print(f"    {len(rss)} samples, one per {SAMPLE_SECONDS} s, with the Overview open: median RSS "
          f"{statistics.median(rss):.1f}, max {max(rss):.1f}")
    print(f"  kubectl apply → pod name in the Pods table, {args.repeat} runs at random phases of the refresh (s):")
    for label, values in latencies.items():
        print(f"    {label:<36} median {statistics.median(values):.2f}   min {min(values):.2f}   max {max(values):.2f}")
    print(f"  target: refresh interval + 1 s = {REFRESH_SECONDS + 1:g} s")


if __name__ == "__main__":
    main()
