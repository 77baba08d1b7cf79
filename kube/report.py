"""`imc report`: one snapshot of a live cluster, every ECI pod explained beside what ECI actually did."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import orjson

from core.caches import CacheView
from core.matching import CacheIndex, explain
from core.starts import PodStart, Saving, savings
from kube.connect import ConnectError, connect, describe_failure
from kube.http import ApiError
from kube.store import ClusterStore, PodRecord, StoreSnapshot
from kube.watch import list_kind

FORMATS = ("table", "json", "csv")
COLUMNS = ("namespace", "pod", "decision", "cache", "actual", "actual_cache", "disagrees")
START_COLUMNS = ("start_seconds", "pull_seconds", "pulls", "saved_seconds", "saved_from_pulls", "waiting_reason")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `imc report`."""
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context (default: $IMC_CONTEXT, else the current one)")
    parser.add_argument("--namespace", "-n", help="only pods of this namespace (default: all namespaces)")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")


class RelevantCaches:
    """Per pod, only the caches that share an image repository family with it or that it pins.

    Other caches can never be chosen; leaving them out of `explain` keeps a 10,000-pod report fast
    and small (the decision is the same; only 'holds none of the images' verdicts are dropped).
    """

    def __init__(self, caches: Iterable[CacheView]) -> None:
        self.caches = tuple(caches)
        self._by_family: dict[str, list[int]] = defaultdict(list)
        self._by_id: dict[str, list[int]] = defaultdict(list)
        for position, cache in enumerate(self.caches):
            for key in {ref.family_key for ref in cache.image_refs}:
                self._by_family[key].append(position)
            if cache.id:
                self._by_id[cache.id].append(position)

    def index_for(self, record: PodRecord) -> CacheIndex:
        """A CacheIndex of the caches that can matter to this pod, in the cluster's order."""
        positions: set[int] = set()
        for ref in record.template.image_refs:
            positions.update(self._by_family.get(ref.family_key, ()))
        pin = record.template.policy.pin_id
        if pin:
            positions.update(self._by_id.get(pin, ()))
        return CacheIndex(self.caches[p] for p in sorted(positions))


def actual_dict(record: PodRecord) -> dict | None:
    """The actual outcome as plain JSON."""
    if record.actual is None:
        return None
    return {
        "outcome": record.actual.outcome,
        "cache_id": record.actual.cache_id,
        "reasons": list(record.actual.reasons),
    }


def seconds(value: float | None) -> float | None:
    """Seconds to the millisecond, as kubelets report pulls."""
    return None if value is None else round(value, 3)


def start_fields(start: PodStart | None, saved: Saving | None) -> dict:
    """A pod's start, pulls and (for a hit) the pull time it saved, as plain JSON; None where not known."""
    return {
        "start_seconds": seconds(start.start_seconds) if start else None,
        "pull_seconds": seconds(start.pull_seconds) if start else None,
        "waiting_reason": start.waiting_reason if start else None,
        "pulls": [
            {"image": p.image, "seconds": seconds(p.seconds), "source": p.source}
            for p in (start.pulls if start else ())
        ],
        "saved_seconds": seconds(saved.seconds) if saved else None,
        "saved_from_pulls": saved.observed if saved else None,
    }


def outcome(record: PodRecord) -> str:
    """What happened to a pod: ECI's word when it reported, else the prediction."""
    return record.actual.outcome if record.actual is not None else record.decision.outcome


def pod_savings(records: Iterable[PodRecord]) -> dict[str, Saving]:
    """Per hit pod (by key), the pull time it saved, estimated from the misses' observed pulls."""
    return savings((r.key, outcome(r), r.start, r.decision.images) for r in records)[1]


def pod_result(record: PodRecord, relevant: RelevantCaches, saved: Saving | None = None) -> dict:
    """One pod: `imc explain`'s fields, plus the pod's name, ECI's actual outcome and the disagreement flag."""
    index = relevant.index_for(record)
    result = explain(record.template, index, record.template.decided_at(datetime.now(UTC))).to_dict()
    result.update(
        pod=record.key,
        namespace=record.namespace,
        name=record.name,
        actual=actual_dict(record),
        disagrees=record.disagrees,
        candidates_omitted=len(relevant.caches) - len(index),
        **start_fields(record.start, saved),
    )
    return result


def eci_records(snapshot: StoreSnapshot) -> list[PodRecord]:
    """The ECI pods of a snapshot, sorted by namespace and name."""
    return sorted((r for r in snapshot.pods.values() if r.template.eci), key=lambda r: (r.namespace, r.name))


def results(snapshot: StoreSnapshot) -> list[dict]:
    """Every ECI pod's result, sorted."""
    relevant = RelevantCaches(snapshot.caches.values())
    records = eci_records(snapshot)
    saved = pod_savings(records)
    return [pod_result(record, relevant, saved.get(record.key)) for record in records]


def row(result: Mapping) -> dict[str, str]:
    """The table/CSV columns of one result."""
    cache = result.get("cache") or {}
    actual = result.get("actual") or {}
    return {
        "namespace": result["namespace"],
        "pod": result["name"],
        "decision": result["decision"],
        "cache": cache.get("name") or cache.get("id") or "",
        "actual": actual.get("outcome") or "",
        "actual_cache": actual.get("cache_id") or "",
        "disagrees": "yes" if result["disagrees"] else "",
    }


def csv_row(result: Mapping) -> dict[str, str]:
    """The CSV columns of one result: the table's, then its start, pulls and saving."""
    pulls = " ".join(
        f"{p['image']}={'' if p['seconds'] is None else p['seconds']}s:{p['source']}" for p in result.get("pulls") or ()
    )
    extra = {c: result.get(c) for c in START_COLUMNS}
    extra["pulls"] = pulls
    return {**row(result), **{c: "" if v is None else str(v) for c, v in extra.items()}}


def format_json(items: list[dict]) -> str:
    """`{"results": [...]}`, as `imc explain --format json` prints."""
    return orjson.dumps({"results": items}, option=orjson.OPT_INDENT_2).decode() + "\n"


def format_csv(items: list[dict]) -> str:
    """One CSV line per pod with a header."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS + START_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_row(item) for item in items)
    return out.getvalue()


def summary(items: list[dict]) -> str:
    """'N ECI pods: a hit, b miss; D disagree with ECI'."""
    tally = Counter(item["decision"] for item in items)
    parts = ", ".join(f"{count} {outcome}" for outcome, count in sorted(tally.items()))
    reported = sum(1 for item in items if item.get("actual"))
    disagree = sum(1 for item in items if item.get("disagrees"))
    plural = "" if len(items) == 1 else "s"
    return (
        f"{len(items)} ECI pod{plural}: {parts or 'none'}; ECI reported on {reported}, "
        f"{disagree} disagree{'s' if disagree == 1 else ''} with the prediction"
    )


def format_table(items: list[dict]) -> str:
    """Aligned columns with a header, then the summary line."""
    header = {c: c.upper().replace("_", " ") for c in COLUMNS}
    rows = [header] + [row(item) for item in items]
    widths = {c: max(len(r[c]) for r in rows) for c in COLUMNS}
    lines = ["  ".join(r[c].ljust(widths[c]) for c in COLUMNS).rstrip() for r in rows]
    return "\n".join(lines + ["", summary(items)]) + "\n"


FORMATTERS = {"table": format_table, "json": format_json, "csv": format_csv}


def take_snapshot(api_client, namespace: str | None = None) -> StoreSnapshot:
    """One paged list of pods, ImageCaches and events (no watch), decided in a store."""
    store = ClusterStore()
    for kind in ("imagecaches", "events", "pods"):
        objects, resource_version, _ = list_kind(api_client, kind, None if kind == "imagecaches" else namespace)
        store.replace(kind, objects, resource_version)
    return store.snapshot()


def run(args: argparse.Namespace) -> int:
    """Connect, take one snapshot, print it; exit 2 with one line on stderr when the cluster cannot be read."""
    try:
        connection = connect(kubeconfig=args.kubeconfig, context=args.context)
    except ConnectError as exc:
        print(f"imc report: {exc}", file=sys.stderr)
        return 2
    try:
        snapshot = take_snapshot(connection.api_client, args.namespace)
    except ApiError as exc:
        where = f"context {connection.context!r}"
        print(f"imc report: {describe_failure(exc, connection.server, where, connection.user)}", file=sys.stderr)
        return 2
    finally:
        connection.close()
    for problem in snapshot.errors:
        print(f"imc report: warning: {problem}", file=sys.stderr)
    sys.stdout.write(FORMATTERS[args.format](results(snapshot)))
    return 0
