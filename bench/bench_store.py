"""Benchmark: one pod or cache event into a store holding 10,000 pods and 1,000 caches; and its memory.

Run: python -m bench.bench_store [--pods 10000] [--caches 1000] [--events 2000]
The store is fed the same objects a watch would deliver; a snapshot is taken after every event, as the
dashboard does, so copy-on-write costs are counted.
"""

from __future__ import annotations

import copy
import statistics
import time
import tracemalloc

from bench.workload import make_caches, make_pods, sized_run
from kube.store import ClusterStore


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    """Print load time, per-event latency percentiles and the store's traced memory."""
    args, rng, pool = sized_run(11, events=2_000)
    tracemalloc.start()
    pods = make_pods(args.pods, pool, rng)
    caches = make_caches(args.caches, pool, rng)
    objects_bytes, _ = tracemalloc.get_traced_memory()
    store = ClusterStore()
    store.replace("imagecaches", caches, "1")
    store.replace("pods", pods, "2")
    store.snapshot()
    traced, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    start = time.perf_counter()
    store = ClusterStore()
    store.replace("imagecaches", caches, "1")
    store.replace("pods", pods, "2")
    store.snapshot()
    load_s = time.perf_counter() - start

    pod_latencies = []
    for number in range(args.events):
        pod = copy.deepcopy(rng.choice(pods))
        pod["metadata"]["labels"]["rev"] = str(number)
        kind = "MODIFIED" if number % 2 else "ADDED"
        if kind == "ADDED":
            pod["metadata"]["name"] = f"new-{number}"
        begin = time.perf_counter()
        store.apply("pods", kind, pod)
        store.snapshot()
        pod_latencies.append(time.perf_counter() - begin)

    cache_latencies: dict[str, list[float]] = {"cache progress": [], "cache phase": []}
    for number in range(min(200, args.events)):
        cache = copy.deepcopy(rng.choice(caches))
        label = "cache phase" if number % 2 else "cache progress"
        if number % 2:  # a change decisions depend on: every pod sharing an image is re-decided
            cache["status"]["phase"] = "Creating" if cache["status"]["phase"] == "Ready" else "Ready"
        else:
            cache["status"]["progress"] = f"{number % 100}%"
        begin = time.perf_counter()
        store.apply("imagecaches", "MODIFIED", cache)
        store.snapshot()
        cache_latencies[label].append(time.perf_counter() - begin)

    print(f"store: {args.pods} pods, {args.caches} caches")
    print(f"  initial list of both, decided:  {load_s * 1000:8.1f} ms")
    print(f"  traced memory: objects {objects_bytes / 2**20:.1f} MiB, with the store {traced / 2**20:.1f} MiB")
    for label, values in (("pod event", pod_latencies), *cache_latencies.items()):
        print(
            f"  {label:<15} median {statistics.median(values) * 1000:6.2f} ms   "
            f"p95 {_percentile(values, 0.95) * 1000:6.2f} ms   max {max(values) * 1000:6.2f} ms   (n={len(values)})"
        )


if __name__ == "__main__":
    main()
