"""Benchmark: one server-side rerun of the Overview and Pods pages with 10,000 pods, beside the same with 100 pods.

Run: python -m bench.bench_dashboard [--sizes 100 10000] [--caches 1000] [--repeat 7] [--source sim|workload]
     [--change label|start] [--profile] [--kubeconfig K]
The store is a real ClusterStore filled by the real list+watch of `imc sim --scenario scale --pods N` (or, with
`--source workload`, by the objects of bench/workload.py); the watch is stopped once synced so every run sees the
same objects. The pages run in streamlit.testing.v1.AppTest with the store injected as the tests do
(dashboard.shown_cluster.inject). "changed" runs follow one pod event (the store version moved, so the view models are
rebuilt, as after any watch event): by default a label, which no table shows; with `--change start` a started pod's
start a second later, which its rows, the start figures and the start chart show. "unchanged" runs reuse them.
"script" is the page script alone (the server's work, incl. serialising elements); "AppTest" adds the test client's
parsing of the messages. View models are timed
on a fresh Frames of the same snapshot, so `Frames.pods` reuses every row kept on the PodRecords ("no rows kept"
rebuilds them all); charts are timed "built" (plotly express) and "kept" (found by the content of their table).
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import random
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from bench.harness import median_ms, running_sim, timed, watched_store
from core.timeutil import format_time, parse_time

PAGES = ("overview", "pods")
SCRIPT = """
import importlib
import time

import streamlit as st

start = time.perf_counter()
{profile_start}
importlib.import_module("dashboard.pages.{module}").render()
{profile_stop}
st.session_state["bench_seconds"] = time.perf_counter() - start
"""
PROFILE_START = "from pyinstrument import Profiler\nprofiler = Profiler(interval=0.001)\nprofiler.start()"
PROFILE_STOP = ("profiler.stop()\n"
                "st.session_state['bench_profile'] = profiler.output_text(unicode=False, color=False, "
                "show_all=False)")


def store_from_sim(pods: int, caches: int, kubeconfig: str | None = None) -> tuple[Any, float]:
    """A store filled by list+watch of the scale sim (then stopped), and the seconds it took to sync; with a
    kubeconfig, of the largest size, that running cluster's."""
    if kubeconfig:
        with watched_store(kubeconfig) as (store, _, seconds):
            pass
        return store, seconds
    with (
        running_sim("scale", ["--pods", str(pods), "--caches", str(caches)]) as sim,
        watched_store(sim.kubeconfig) as (store, _, seconds),
    ):
        pass
    return store, seconds


def store_from_workload(pods: int, caches: int) -> tuple[Any, float]:
    """A store filled with bench/workload.py's objects, as one list of each kind."""
    from bench.workload import image_pool, make_caches, make_pods
    from kube.store import ClusterStore

    rng = random.Random(11)
    pool = image_pool(3_000, rng)
    store = ClusterStore()
    seconds, _ = timed(lambda: [
        store.replace("imagecaches", make_caches(caches, pool, rng), "1"),
        store.replace("pods", make_pods(pods, pool, rng), "2"),
        store.replace("deployments", [], "3"),
        store.replace("events", [], "4"),
    ])
    return store, seconds


def touch_one_pod(store: Any, rng: random.Random) -> None:
    """Apply one MODIFIED pod event (a label changed), as a watch delivers it: the store version moves."""
    record = rng.choice(list(store.snapshot().pods.values()))
    obj = copy.deepcopy(record.obj)
    obj["metadata"].setdefault("labels", {})["bench-rev"] = str(rng.random())
    store.apply("pods", "MODIFIED", obj)


def start_one_pod_later(store: Any, rng: random.Random) -> None:
    """Apply one MODIFIED pod event that moves a started pod's containers' start a second later (or starts a pod 10 s
    after its creation while none has started): its rows in the pods and starts tables change, so may the start
    figures and chart."""
    records = list(store.snapshot().pods.values())
    started = [record for record in records if record.start is not None and record.start.start_seconds is not None]
    obj = copy.deepcopy(rng.choice(started or records).obj)
    status = obj.setdefault("status", {})
    if not started:
        at = format_time(parse_time(obj["metadata"]["creationTimestamp"]) + timedelta(seconds=10))
        status["containerStatuses"] = [{"name": container["name"], "state": {"running": {"startedAt": at}}}
                                       for container in obj["spec"]["containers"]]
    for container in status.get("containerStatuses") or []:
        running = (container.get("state") or {}).get("running") or {}
        if running.get("startedAt"):
            running["startedAt"] = format_time(parse_time(running["startedAt"]) + timedelta(seconds=1))
    store.apply("pods", "MODIFIED", obj)


CHANGES = {"label": touch_one_pod, "start": start_one_pod_later}


def page_runs(store: Any, module: str, repeat: int, rng: random.Random, profile: bool,
              change: Callable[[Any, random.Random], None] = touch_one_pod) -> dict[str, Any]:
    """Median script and AppTest seconds of changed (after `change`) and unchanged reruns of one page (and a profile
    text)."""
    from streamlit.testing.v1 import AppTest

    def app(profiled: bool) -> AppTest:
        source = SCRIPT.format(module=module, profile_start=PROFILE_START if profiled else "",
                               profile_stop=PROFILE_STOP if profiled else "")
        return AppTest.from_string(source, default_timeout=300)

    at = app(False)
    at.run()  # warm-up: imports, first connection-free render
    if at.exception:
        raise SystemExit(f"{module} raised: {[e.value for e in at.exception]}")
    found: dict[str, Any] = {}
    for label, changed in (("changed", True), ("unchanged", False)):
        script, whole = [], []
        for _ in range(repeat):
            if changed:
                change(store, rng)
            seconds, _ = timed(at.run)
            whole.append(seconds)
            script.append(at.session_state["bench_seconds"])
        found[label] = (median_ms(script), median_ms(whole))
    if profile:
        profiled = app(True)
        profiled.run()
        change(store, rng)
        profiled.run()
        found["profile"] = profiled.session_state["bench_profile"]
        profiled.run()
        found["profile unchanged"] = profiled.session_state["bench_profile"]
    return found


# The view models of dashboard/frames.py the Overview and Pods pages read, in an order where each one's inputs
# are already built: timing each on a fresh Frames measures that step alone.
FRAME_STEPS = ("pods", "caches", "headline", "outcomes_over_time", "by_namespace", "timeline", "held", "uncached",
               "suggestion", "index")


def frame_steps(frames: Any) -> dict[str, Callable[[], Any]]:
    """Each step of one Frames: its view models, the pods filter, the Arrow conversion, the charts with data."""
    import pyarrow as pa

    from dashboard import charts, views

    steps: dict[str, Callable[[], Any]] = {f"Frames.{name}": partial(getattr, frames, name) for name in FRAME_STEPS}
    steps["views.pods_frame, no rows kept"] = lambda: views.pods_frame(frames.snapshot.pods)
    steps["views.filter_pods (text)"] = lambda: views.filter_pods(frames.pods, views.PodFilter(text="pod-00"))
    steps["pyarrow Table.from_pandas(pods)"] = lambda: pa.Table.from_pandas(frames.pods)
    drawn = {
        "charts.outcomes_over_time": (lambda: frames.outcomes_over_time, charts.outcomes_over_time, ()),
        "charts.decisions_by_namespace": (lambda: frames.by_namespace, charts.decisions_by_namespace, ()),
        "charts.cache_timeline": (lambda: frames.timeline, charts.cache_timeline, (frames.now,)),
        "charts.uncached_images": (lambda: frames.uncached, charts.uncached_images, ()),
    }
    for name, (data, figure, args) in drawn.items():
        steps[f"{name}, built"] = partial(lambda data, figure, args: None if data().empty else figure(data(), *args),
                                         data, figure, args)
        steps[f"{name}, kept"] = partial(
            lambda data, figure, args: None if data().empty else frames.figure(figure, data(), *args),
            data, figure, args)
    return steps


def view_model_times(snapshot: Any, repeat: int) -> dict[str, float]:
    """Median ms of each step on a fresh Frames per round (the first round, a warm-up, is not counted)."""
    from dashboard.frames import KEEPER, Frames

    times: dict[str, list[float]] = {}
    for run in range(repeat + 1):
        for name, step in frame_steps(Frames(snapshot, keeper=KEEPER)).items():
            seconds, _ = timed(step)
            if run:
                times.setdefault(name, []).append(seconds)
    return {name: median_ms(values) for name, values in times.items()}


def main() -> None:
    """Fill a store per size, time page reruns and view models, print medians and the big/small ratios."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10_000], help="pod counts to compare")
    parser.add_argument("--caches", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--source", choices=("sim", "workload"), default="sim")
    parser.add_argument("--change", choices=tuple(CHANGES), default="label", help="the pod event before a changed "
                        "rerun: a label (no table row changes) or a started pod's start a second later")
    parser.add_argument("--kubeconfig", help="a running cluster (e.g. a 50k-pod `imc sim` kept for several runs) for "
                        "the largest size, instead of starting a sim of it")
    parser.add_argument("--profile", action="store_true", help="print pyinstrument profiles of a changed and an "
                        "unchanged rerun of each page at the largest size")
    args = parser.parse_args()
    os.environ["IMC_READ_ONLY"] = "1"  # no permission checks against a server that is gone
    logging.getLogger("streamlit").setLevel(logging.ERROR)  # "missing ScriptRunContext" from the view-model timing

    from dashboard import shown_cluster
    from dashboard.startup import configure_process
    from kube.access import AccessChecker

    configure_process()  # as app.py does
    fill = store_from_sim if args.source == "sim" else store_from_workload
    rng = random.Random(5)
    pages: dict[int, dict[str, dict[str, Any]]] = {}
    steps: dict[int, dict[str, float]] = {}
    for size in args.sizes:
        own = {"kubeconfig": args.kubeconfig} if args.kubeconfig and size == max(args.sizes) else {}
        store, sync_seconds = fill(size, args.caches, **own)
        snapshot = store.snapshot()
        print(f"store: {len(snapshot.pods)} pods, {len(snapshot.caches)} caches from {args.source} "
              f"(synced in {sync_seconds:.1f} s)", flush=True)
        shown_cluster.inject(shown_cluster.ShownCluster(store=store, context="bench", server="https://bench", source="bench",
                                       access=AccessChecker(None)))
        try:
            profile = args.profile and size == max(args.sizes)
            pages[size] = {module: page_runs(store, module, args.repeat, rng, profile, CHANGES[args.change])
                           for module in PAGES}
        finally:
            shown_cluster.inject(None)
        steps[size] = view_model_times(store.snapshot(), args.repeat)

    small, big = min(args.sizes), max(args.sizes)
    print(f"\ndashboard rerun, server-side, median of {args.repeat} runs (ms); ratio = {big} pods / {small} pods")
    print(f"  {'page':<10} {'rerun':<10} " + " ".join(f"{f'script@{s}':>13} {f'AppTest@{s}':>13}" for s in args.sizes)
          + f" {'ratio':>7}")
    for module in PAGES:
        for label in ("changed", "unchanged"):
            cells = " ".join(f"{pages[s][module][label][0]:13.1f} {pages[s][module][label][1]:13.1f}"
                             for s in args.sizes)
            ratio = pages[big][module][label][0] / pages[small][module][label][0]
            print(f"  {module:<10} {label:<10} {cells} {ratio:6.1f}x")
    print(f"\nview models and charts, median of {args.repeat} calls (ms)")
    print(f"  {'function':<36} " + " ".join(f"{f'@{s}':>10}" for s in args.sizes) + f" {'ratio':>7}")
    for name in steps[big]:
        cells = " ".join(f"{steps[s].get(name, float('nan')):10.1f}" for s in args.sizes)
        ratio = steps[big][name] / steps[small][name] if steps[small].get(name) else float("nan")
        print(f"  {name:<36} {cells} {ratio:6.1f}x")
    for module in PAGES:
        for label in ("changed", "unchanged"):
            profile = pages[big][module].get("profile" if label == "changed" else "profile unchanged")
            if profile:
                print(f"\npyinstrument, one {label} rerun of {module} with {big} pods:\n{profile}")


if __name__ == "__main__":
    main()
