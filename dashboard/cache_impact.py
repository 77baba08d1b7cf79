"""The Image caches page's view of a change's impact: the live workloads of a store snapshot, handed to the engine
(`core.impact.impact_of`, which decides), and the workloads it changes as rows in words."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from core.errors import ImcError
from core.impact import CacheChange, Impact, Workload, WorkloadImpact, impact_of, live_workloads
from core.matching import CacheIndex, Decision
from core.workloads import PodTemplate, pod_template

IMPACT_COLUMNS = ["Workload", "Now", "After", "What changes"]


def workloads_of(snapshot: Any) -> list[Workload]:
    """The live ECI workloads of a snapshot: its ECI pods grouped by top owner, and its Deployments with no live pod."""
    pairs = ((record.metadata, record.template) for record in snapshot.pods.values()
             if record.template.eci)
    return live_workloads(pairs, _deployment_templates(snapshot.deployments))


def _deployment_templates(deployments: Mapping[str, dict]) -> Iterator[PodTemplate]:
    """Each ECI Deployment's pod template; a malformed Deployment is left out (the store's invalid list names it)."""
    for obj in deployments.values():
        try:
            template = pod_template(obj)
        except ImcError:
            continue
        if template.eci:
            yield template


def preview(snapshot: Any, change: CacheChange, at: datetime, index: CacheIndex | None = None,
            workloads: Sequence[Workload] | None = None) -> Impact:
    """The engine's impact of a change on the live workloads of a snapshot; `index` and `workloads`, when given, are
    the snapshot's (built once per store version). Raises core.impact.ChangeError for an impossible change."""
    if workloads is None:
        workloads = workloads_of(snapshot)
    return impact_of(workloads, list(snapshot.caches.values()), change, at, index)


def change_key(change: CacheChange) -> tuple:
    """A hashable key of a change (a proposed cache is a dict), to keep its impact per store version."""
    cache = json.dumps(change.cache, sort_keys=True, default=str) if change.cache is not None else None
    return change.kind, change.name, change.images, cache


def unchanged(impact: Impact, items: Sequence[WorkloadImpact] | None = None) -> int:
    """How many of the workloads decided keep their decision (of `items`, else of the settled change)."""
    return impact.decided - len(impact.workloads if items is None else items)


def shown_workload(item: WorkloadImpact) -> str:
    """Kind/namespace/name."""
    kind, _, name = item.workload.partition("/")
    return f"{kind}/{item.namespace}/{name}"


def _decision_text(decision: Decision) -> str:
    """'hit web-cache', 'miss', 'fail (pins imc-…)'."""
    if decision.outcome == "hit" and decision.cache is not None:
        return f"hit {decision.cache.name}" + (" (pinned)" if decision.pinned_id else "")
    if decision.outcome == "fail":
        return f"fail (pins {decision.pinned_id})" if decision.pinned_id else "fail"
    return decision.outcome


def what_changes(item: WorkloadImpact) -> str:
    """The engine's kind of change in words: pinned → fail (the event), hit → miss (ECI auto-creates a cache), hit A →
    hit B."""
    after = item.after
    if item.kind == "pin-fails":
        reasons = ", ".join(event.reason for event in after.events if event.type == "Warning") or "pod creation fails"
        return f"pinned → fail ({reasons})"
    if item.kind == "hit-to-miss":
        return "hit → miss" + (", and ECI auto-creates a cache for it" if after.auto_create else "")
    if item.kind in ("moved", "now-hits") and after.cache is not None:
        return f"hits {after.cache.name} instead" if item.kind == "moved" else f"now hits {after.cache.name}"
    return f"{item.label}: {item.describe()}"


def impact_rows(items: Sequence[WorkloadImpact]) -> pd.DataFrame:
    """The changed workloads as a table (the engine's order, worst first): workload, now, after, what changes."""
    return pd.DataFrame(
        [(shown_workload(item), _decision_text(item.before), _decision_text(item.after), what_changes(item))
         for item in items],
        columns=IMPACT_COLUMNS,
    )


def kept_preview(frames: Any, change: CacheChange) -> Impact:
    """`preview` of the frames' snapshot at their `now`, with their cache index, kept per (store version, change):
    a live refresh of the same snapshot recomputes nothing (the frames of a snapshot live while it is the latest)."""
    workloads = frames.memo("impact-workloads", lambda: workloads_of(frames.snapshot))
    return frames.memo(("impact", *change_key(change)),
                       lambda: preview(frames.snapshot, change, frames.now, frames.index, workloads))
