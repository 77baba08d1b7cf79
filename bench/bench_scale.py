"""Benchmark: the dashboard at scale beside kubectl, in one run (issue 24's rows at 50,000 pods, and at 10,000).

Run: python -m bench.bench_scale [--scenario scale|demo] [--pods 50000] [--caches 5000] [--repeat 3] [--kubeconfig K]
Starts `imc sim`; times `kubectl get pods -A -o json` and `kubectl get imagecaches -o json` (wall and peak RSS of
each, from the kernel's accounting of that child); then starts `streamlit run app.py` cold and times, in Chromium:
the process's start → the Overview's "ECI pods" tile showing every pod listed (no kind still loading); the Pods page's
first and second loads (until its script run ended with the table or a message drawn); a new browser session's
first Overview (to the tiles, and to the end of the script run); `kubectl apply` of a pod → its name in the Pods
table (filtered to it). Memory: RSS and peak of the streamlit process after each step. Every wait polls a
condition with a deadline; nothing sleeps.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.bench_browser import NAMESPACE, latency_runs
from bench.harness import chromium, memory_mib, running_sim, scale_args, scale_options
from bench.waits import IDLE, start_dashboard

# the "ECI pods" tile's number once no kind is still loading, else 0
OVERVIEW_TOTAL = """() => {
  const text = document.body.innerText;
  if (text.includes('Loading…') || text.includes('Reading the cluster')) return 0;
  for (const metric of document.querySelectorAll("[data-testid='stMetric']")) {
    const label = metric.querySelector("[data-testid='stMetricLabel']");
    if (label && label.innerText.trim().startsWith('ECI pods')) {
      const value = metric.querySelector("[data-testid='stMetricValue']");
      return value ? Number(value.innerText.replace(/,/g, '')) || 0 : 0;
    }
  }
  return 0;
}"""
PODS_DRAWN = """() => {
  const done = document.querySelector("[data-testid='stApp'][data-test-script-state='notRunning']");
  const text = document.body.innerText;
  return !!done && !text.includes('Reading the cluster') && /ECI pods/.test(text)
    && (!!document.querySelector("[data-testid='stDataFrame'] canvas, [data-testid='stDataFrame'] table")
        || text.includes('No ECI pods yet') || text.includes('No pod matches'));
}"""


def timed_child(command: list[str]) -> tuple[float, float]:
    """Run a command to its end: (wall seconds, its peak RSS in MiB from wait4's rusage). Exits on failure."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {process.returncode}: {process.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def kubectl_rows(kubeconfig: str, repeat: int) -> dict[str, list[float]]:
    """kubectl's lists of every pod and every cache, `repeat` times: seconds and peak MiB of each."""
    binary = shutil.which("kubectl") or "kubectl"
    rows: dict[str, list[float]] = {}
    for _ in range(repeat):
        for what, args in (("pods", ["get", "pods", "-A", "-o", "json"]), ("caches", ["get", "imagecaches", "-o",
                                                                                     "json"])):
            seconds, peak = timed_child([binary, "--kubeconfig", kubeconfig, "--request-timeout", "120s", *args])
            rows.setdefault(f"kubectl {what} s", []).append(seconds)
            rows.setdefault(f"kubectl {what} peak MiB", []).append(peak)
    rows["kubectl pods + caches s"] = [p + c for p, c in zip(rows["kubectl pods s"], rows["kubectl caches s"],
                                                               strict=True)]
    return rows


def page_until(page, url: str, condition: str, timeout: float = 300) -> float:
    """Seconds from navigating to `url` until the page's `condition` (a JS function) holds."""
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_function(condition, timeout=timeout * 1000, polling=50)
    return time.perf_counter() - start


@contextmanager
def cluster(args: argparse.Namespace, extra: list[str]) -> Iterator[str]:
    """The kubeconfig given, or that of a sim started (and stopped) here."""
    if args.kubeconfig:
        yield args.kubeconfig
        return
    with running_sim(args.scenario, extra, timeout=900) as sim:
        yield sim.kubeconfig


def main() -> None:
    """Start sim, kubectl, a cold dashboard and Chromium; print each row's median and the ratios to kubectl."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", choices=("scale", "demo"), default="scale")
    scale_options(parser, repeat=3)
    parser.add_argument("--kubeconfig", help="a running cluster's kubeconfig (e.g. one `imc sim` kept for several runs) "
                        "instead of starting a sim")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the dashboard process")
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)
    extra = scale_args(args) if args.scenario == "scale" else []
    loads = [Path("/proc/loadavg").read_text().split()[0]]
    rows: dict[str, list[float]] = {}
    memory: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="imc-bench-") as tmp, cluster(args, extra) as kubeconfig:
        rows.update(kubectl_rows(kubeconfig, args.repeat))
        loads.append(Path("/proc/loadavg").read_text().split()[0])
        with chromium() as browser:
            start = time.perf_counter()
            with start_dashboard(kubeconfig, Path(tmp) / "streamlit.log", IMC_CONTEXT="sim", **env) as dashboard:
                url, process = dashboard.url, dashboard.process
                page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
                page.goto(url)
                total = page.wait_for_function(OVERVIEW_TOTAL, timeout=600_000, polling=50).json_value()
                rows["cold start → every pod on the Overview s"] = [time.perf_counter() - start]
                memory["Overview, every pod listed"] = memory_mib(process.pid)
                for run in range(2):
                    rows.setdefault("Pods page load s", []).append(page_until(page, f"{url}/pods", PODS_DRAWN))
                    if run == 0:
                        memory["after the first Pods page"] = memory_mib(process.pid)
                for _ in range(args.repeat):
                    context = browser.new_context(viewport={"width": 1440, "height": 1000})
                    fresh = context.new_page()
                    begin = time.perf_counter()
                    fresh.goto(url)
                    fresh.wait_for_function(OVERVIEW_TOTAL, timeout=120_000, polling=50)
                    rows.setdefault("new session → Overview tiles s", []).append(time.perf_counter() - begin)
                    fresh.wait_for_selector(IDLE, timeout=120_000)
                    rows.setdefault("new session → Overview script run ended s", []).append(
                        time.perf_counter() - begin)
                    context.close()
                memory["after the new sessions"] = memory_mib(process.pid)
                subprocess.run([shutil.which("kubectl") or "kubectl", "--kubeconfig", kubeconfig, "create",
                                "namespace", NAMESPACE], capture_output=True, check=False)
                page.goto(f"{url}/pods")
                page.wait_for_selector(IDLE, timeout=120_000)
                from dashboard.shell import REFRESH_SECONDS
                for label, values in latency_runs(page, kubeconfig, args.repeat, REFRESH_SECONDS).items():
                    rows[f"kubectl apply → pod in the Pods table, {label} s"] = values
                memory["at the end"] = memory_mib(process.pid)
        loads.append(Path("/proc/loadavg").read_text().split()[0])

    where = args.kubeconfig or f"`imc sim --scenario {args.scenario} {' '.join(extra)}`"
    print(f"{where}: {total:,} ECI pods on the Overview; "
          f"load average (1 min) {' → '.join(loads)}")
    for label, values in rows.items():
        shown = ", ".join(f"{value:.2f}" for value in values)
        print(f"  {label:<70} median {statistics.median(values):8.2f}   ({shown})")
    kubectl_both = statistics.median(rows["kubectl pods + caches s"])
    for label in ("cold start → every pod on the Overview s",):
        print(f"  {label} / kubectl pods + caches: {statistics.median(rows[label]) / kubectl_both:.2f}×")
    print("  memory of the streamlit process (MiB):")
    for label, reading in memory.items():
        print(f"    {label:<30} RSS {reading['VmRSS']:7.1f}   peak (VmHWM) {reading['VmHWM']:7.1f}")


if __name__ == "__main__":
    main()
