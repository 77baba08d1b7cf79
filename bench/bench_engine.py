"""Benchmark: decide 10,000 pods (3 images each) against 1,000 caches; compare with json.loads of the objects.

Run: python -m bench.bench_engine [--pods 10000] [--caches 1000] [--repeat 5]
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from datetime import UTC, datetime

from bench.workload import make_caches, make_pods, sized_run
from core.caches import cache_from_object
from core.images import _parse_cached
from core.matching import CacheIndex, decide, explain
from core.workloads import pod_template


def _timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def main() -> None:
    """Print medians of each phase over several runs, one core, cold parse cache each run."""
    args, rng, pool = sized_run(7, repeat=5)
    pods_text = json.dumps({"items": make_pods(args.pods, pool, rng)})
    caches_text = json.dumps({"items": make_caches(args.caches, pool, rng)})
    at = datetime(2026, 11, 28, 12, tzinfo=UTC)
    rows: dict[str, list[float]] = {k: [] for k in ("json.loads", "templates", "cache index", "decide all", "total")}
    outcomes: Counter = Counter()
    for _ in range(args.repeat):
        _parse_cached.cache_clear()
        load_s, (pods, caches) = _timed(lambda: (json.loads(pods_text)["items"], json.loads(caches_text)["items"]))
        tpl_s, templates = _timed(lambda: [pod_template(pod) for pod in pods])  # noqa: B023
        idx_s, index = _timed(lambda: CacheIndex(cache_from_object(obj) for obj in caches))  # noqa: B023
        dec_s, decisions = _timed(lambda: [decide(t, index, at) for t in templates])  # noqa: B023
        outcomes = Counter(d.outcome for d in decisions)
        for key, value in zip(rows, (load_s, tpl_s, idx_s, dec_s, tpl_s + idx_s + dec_s), strict=True):
            rows[key].append(value)
    explain_s, _ = _timed(lambda: explain(templates[0], index, at))
    print(f"engine: {args.pods} pods x {args.caches} caches, median of {args.repeat} runs (one core)")
    for key, values in rows.items():
        print(f"  {key:<12} {statistics.median(values) * 1000:8.1f} ms")
    decide_ms = statistics.median(rows["decide all"]) * 1000
    load_ms = statistics.median(rows["json.loads"]) * 1000
    print(f"  decide all / json.loads = {decide_ms / load_ms:.2f}x")
    print(f"  explain one pod against all caches: {explain_s * 1000:.1f} ms")
    print(f"  outcomes: {dict(outcomes)}")


if __name__ == "__main__":
    main()
