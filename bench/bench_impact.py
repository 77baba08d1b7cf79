"""Benchmark (issue 22): the impact of deleting one cache, 10,000 live pods of 1,000 workloads against 1,000 caches.

The pods' templates are parsed beforehand, as the store holds them; timed is what the Image caches page does before a
change: group the live pods by top owner (`core.impact.live_workloads`) and re-decide each workload's next pod against
the caches with and without the cache (`core.impact.impact_of`). The deleted cache is the one most workloads hit.

Run: python -m bench.bench_impact [--pods 10000] [--caches 1000] [--workloads 1000] [--repeat 7]
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from datetime import UTC, datetime

from bench.harness import median_ms, timed
from bench.workload import make_caches, make_pods, owned_pods, sized_run
from core.caches import cache_from_object
from core.impact import CacheChange, impact_of, live_workloads
from core.matching import CacheIndex, decide
from core.workloads import pod_template

TARGET_MS = 500


def main() -> None:
    """Print the median time of one impact and how it splits, with what the impact found."""
    args, rng, pool = sized_run(22, workloads=1_000, repeat=7)
    # a small pool, so that many workloads share caches and deleting one changes something
    pool = pool[:400]
    cache_objects = make_caches(args.caches, pool, rng)
    caches = [cache_from_object(obj) for obj in cache_objects]
    pods = owned_pods(make_pods(args.pods, pool, rng), args.workloads)
    pairs = [(pod["metadata"], pod_template(pod)) for pod in pods]
    at = datetime(2026, 11, 28, 12, tzinfo=UTC)
    index = CacheIndex(caches)
    decisions = [decide(w.template, index, at) for w in live_workloads(pairs)]
    hits = Counter(decision.cache.name for decision in decisions if decision.cache is not None)
    target, hit_by = hits.most_common(1)[0]
    change = CacheChange("delete", target)
    totals, groupings, cpu = [], [], []
    impact = None
    for _ in range(args.repeat):
        started = time.process_time()
        group_s, workloads = timed(lambda: live_workloads(pairs))
        impact_s, impact = timed(lambda: impact_of(workloads, caches, change, at))  # noqa: B023
        cpu.append(time.process_time() - started)
        groupings.append(group_s)
        totals.append(group_s + impact_s)
    print(f"impact of deleting {target} (hit by {hit_by} workloads): {len(pods)} pods, "
          f"{len(caches)} caches, {impact.decided} workloads, median of {args.repeat} runs")
    print(f"  group pods by top owner {median_ms(groupings):8.1f} ms")
    print(f"  total                   {median_ms(totals):8.1f} ms (target {TARGET_MS} ms; max "
          f"{max(totals) * 1000:.1f}, stdev {statistics.pstdev(totals) * 1000:.1f})")
    print(f"  CPU of this process     {median_ms(cpu):8.1f} ms (on a loaded machine, nearer what it costs)")
    print(f"  found: {impact.summary}")
    page_path(pods, cache_objects, change, args.repeat)


def page_path(pods: list[dict], cache_objects: list[dict], change: CacheChange, repeat: int) -> None:
    """The Image caches page's path to the same impact: a store snapshot's workloads (its ECI pods and Deployments),
    the snapshot's cache index (built once per store version), `impact_of`; then a live refresh of the same version."""
    from dashboard.cache_impact import kept_preview
    from dashboard.frames import Frames
    from kube.store import ClusterStore

    store = ClusterStore()
    store.replace("imagecaches", cache_objects, "1")
    store.replace("pods", pods, "1")
    snapshot = store.snapshot()
    cold, kept = [], []
    for _ in range(repeat):
        frames = Frames(snapshot)  # a new store version: nothing kept yet
        cold_s, impact = timed(lambda: kept_preview(frames, change))  # noqa: B023
        kept_s, again = timed(lambda: kept_preview(frames, change))  # noqa: B023
        assert again is impact
        cold.append(cold_s)
        kept.append(kept_s)
    print(f"  page, new store version {median_ms(cold):8.1f} ms (snapshot's workloads, cache index, impact: "
          f"{impact.summary})")
    print(f"  page, live refresh      {median_ms(kept):8.1f} ms (the same version and change: kept)")


if __name__ == "__main__":
    main()
