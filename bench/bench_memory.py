"""Benchmark: where the dashboard process's memory goes with 10,000 pods, step by step, in one process.

Run: python -m bench.bench_memory [--pods 10000] [--caches 1000] [--generations 8]
The RSS of bench_browser.py's streamlit process is the figure of the issue's row; this splits it: this process's
RSS (from /proc, after gc) once the dashboard's modules are imported, once a ClusterStore holds the scale sim's
objects (real list+watch, stopped once synced), once the Overview and Pods pages ran (AppTest, store injected as the
tests do), and after several store versions, each rendered (the dashboard keeps the view models of the last few).
"""

from __future__ import annotations

import argparse
import copy
import gc
import importlib
import logging
import os
import random
import sys
import tracemalloc

from bench.harness import memory_mib, running_sim, watched_store

SCRIPT = "import importlib\nimportlib.import_module('dashboard.pages.{module}').render()\n"


def rss() -> float:
    """This process's resident MiB after a full collection."""
    gc.collect()
    return memory_mib(os.getpid())["VmRSS"]


def main() -> None:
    """Print the RSS after each step and what each step added."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--caches", type=int, default=1_000)
    parser.add_argument("--generations", type=int, default=8, help="store versions rendered after the first")
    args = parser.parse_args()
    os.environ["IMC_READ_ONLY"] = "1"
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    readings: list[tuple[str, float]] = [("python, nothing imported", rss())]
    for module in ("streamlit", "pandas", "plotly.express", "pyarrow", "kubernetes.client"):
        importlib.import_module(module)
    from streamlit.testing.v1 import AppTest

    from dashboard import frames, shown_cluster
    from dashboard.startup import configure_process
    from kube.access import AccessChecker

    configure_process()  # as app.py does

    for page in ("overview", "pods"):
        importlib.import_module(f"dashboard.pages.{page}")
    readings.append(("dashboard modules imported", rss()))
    with running_sim("scale", ["--pods", str(args.pods), "--caches", str(args.caches)]) as sim:
        tracemalloc.start()
        with watched_store(sim.kubeconfig) as (store, _, _):
            pass
        traced = tracemalloc.get_traced_memory()[0] / 2**20
        tracemalloc.stop()
    readings.append((f"store holds {len(store.snapshot().pods):,} pods", rss()))
    shown_cluster.inject(shown_cluster.ShownCluster(store=store, context="bench", server="https://bench", source="bench",
                                   access=AccessChecker(None)))
    rng = random.Random(3)
    try:
        apps = {page: AppTest.from_string(SCRIPT.format(module=page), default_timeout=300) for page in ("overview",
                                                                                                       "pods")}
        for at in apps.values():
            at.run()
        readings.append(("Overview and Pods rendered once", rss()))
        for _ in range(args.generations):
            record = rng.choice(list(store.snapshot().pods.values()))
            obj = copy.deepcopy(record.obj)
            obj["metadata"].setdefault("labels", {})["bench-rev"] = str(rng.random())
            store.apply("pods", "MODIFIED", obj)
            for at in apps.values():
                at.run()
        kept = len(frames.KEEPER)
        readings.append((f"{args.generations} more store versions rendered ({kept} kept)", rss()))
    finally:
        shown_cluster.inject(None)
    print(f"memory of one process holding the dashboard's state ({args.pods:,} pods, {args.caches:,} caches), MiB")
    previous = None
    for label, value in readings:
        added = f"(+{value - previous:6.1f})" if previous is not None else ""
        print(f"  {label:<48} RSS {value:7.1f} {added}")
        previous = value
    print(f"  Python objects allocated while listing into the store (tracemalloc): {traced:.1f} MiB")
    print(f"  peak RSS (VmHWM): {memory_mib(os.getpid())['VmHWM']:.1f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
