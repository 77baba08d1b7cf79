"""What a change to the set of caches does to every live workload's next pod, as the Image caches page shows it.

The engine's impact computation is `core/impact.py` (`impact_of(workloads, caches, change) -> Impact`, `CacheChange`,
`WorkloadImpact`), written in parallel. Until it is merged, `impact_of` here is a stand-in of the same shape: the
page calls only `preview` and `impact_rows`, so swapping the stand-in for the engine's is one import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import pandas as pd

from core.caches import READY, CacheView
from core.errors import ImcError
from core.images import parse_image
from core.matching import CacheIndex, Decision, decide
from core.owners import top_owner
from core.workloads import PodTemplate, pod_template

CHANGE_KINDS = ("delete", "update", "expire", "add")
IMPACT_COLUMNS = ["Workload", "Now", "After", "What changes"]


@dataclass(frozen=True)
class CacheChange:
    """A proposed change to the set of caches: delete, update (new images; `phase` while it applies), let expire,
    or add a cache."""

    kind: str
    name: str
    images: tuple[str, ...] = ()
    phase: str = READY


@dataclass(frozen=True)
class WorkloadImpact:
    """One workload whose next pod is decided differently after the change."""

    workload: str
    before: Decision
    after: Decision


@dataclass(frozen=True)
class Impact:
    """The workloads a change affects (the rest keep their decision: `unchanged` of them)."""

    change: CacheChange
    workloads: tuple[WorkloadImpact, ...]
    unchanged: int


def _with_images(view: CacheView, images: Sequence[str], phase: str) -> CacheView:
    """The cache holding these images (normalised as matching reads them), in this phase."""
    refs = {}
    for image in images:
        try:
            ref = parse_image(image)
        except ImcError:
            continue  # the action's validation names it; matching would skip it too
        refs.setdefault(ref.normalised, ref)
    return replace(view, images=tuple(refs), image_refs=tuple(refs.values()), phase=phase)


def changed_caches(caches: Sequence[CacheView], change: CacheChange) -> list[CacheView]:
    """The set of caches after the change."""
    if change.kind in ("delete", "expire"):
        return [view for view in caches if view.name != change.name]
    if change.kind == "update":
        return [_with_images(view, change.images, change.phase) if view.name == change.name else view
                for view in caches]
    if change.kind == "add":
        added = CacheView(name=change.name, id=None, phase=READY, images=(), image_refs=())
        return [*caches, _with_images(added, change.images, READY)]
    raise ValueError(f"unknown cache change {change.kind!r} (one of {', '.join(CHANGE_KINDS)})")


def _same(before: Decision, after: Decision) -> bool:
    """Whether two decisions of a pod amount to the same thing for its workload."""
    def key(decision: Decision) -> tuple:
        return decision.outcome, decision.cache.name if decision.cache else None, decision.auto_create
    return key(before) == key(after)


def impact_of(workloads: Sequence[PodTemplate], caches: Sequence[CacheView], change: CacheChange,
              at: datetime) -> Impact:
    """Stand-in of core.impact.impact_of: each workload's next pod decided at `at` before and after the change."""
    now, then = CacheIndex(caches), CacheIndex(changed_caches(caches, change))
    changed, unchanged = [], 0
    for template in workloads:
        before, after = decide(template, now, at), decide(template, then, at)
        if _same(before, after):
            unchanged += 1
        else:
            changed.append(WorkloadImpact(template.workload, before, after))
    return Impact(change, tuple(changed), unchanged)


def live_workloads(deployments: dict[str, dict], pods: dict) -> list[PodTemplate]:
    """One template per live ECI workload: each Deployment's, and for pods of other owners (or none) the newest
    pod's, as a pod not created yet (its next pod)."""
    templates: dict[str, PodTemplate] = {}
    for obj in deployments.values():
        try:
            template = pod_template(obj)
        except ImcError:
            continue  # a malformed Deployment: the store's invalid list names it
        if template.eci:
            templates[template.workload] = template
    for record in sorted(pods.values(), key=lambda record: record.created.timestamp() if record.created else 0.0):
        template = record.template
        if not template.eci:
            continue
        owner = top_owner(record.obj.get("metadata"))
        if owner is not None:
            template = replace(template, kind=owner.kind, name=owner.name)
        templates[template.workload] = replace(template, created=None)  # the newest pod stands for its workload
    return list(templates.values())


def preview(snapshot, change: CacheChange, at: datetime) -> Impact:
    """The impact of a change on the live workloads of a store snapshot."""
    workloads = live_workloads(snapshot.deployments, snapshot.pods)
    return impact_of(workloads, list(snapshot.caches.values()), change, at)


def _decision_text(decision: Decision) -> str:
    """'hit web-cache', 'miss', 'fail (pins imc-…)'."""
    if decision.outcome == "hit" and decision.cache is not None:
        return f"hit {decision.cache.name}" + (" (pinned)" if decision.pinned_id else "")
    if decision.outcome == "fail":
        return f"fail (pins {decision.pinned_id})" if decision.pinned_id else "fail"
    return decision.outcome


def what_changes(item: WorkloadImpact) -> str:
    """The change in words: hit → miss (ECI auto-creates a cache), hit A → hit B, pinned → fail (the event)."""
    before, after = item.before, item.after
    if after.outcome == "fail":
        reasons = ", ".join(event.reason for event in after.events if event.type == "Warning") or "pod creation fails"
        return f"pinned → fail ({reasons})"
    if before.outcome == "hit" and after.outcome == "miss":
        return "hit → miss" + (", and ECI auto-creates a cache for it" if after.auto_create else "")
    if before.outcome == "hit" and after.outcome == "hit":
        return f"hits {after.cache.name if after.cache else 'another cache'} instead"
    return f"{before.outcome} → {after.outcome}"


def impact_rows(impact: Impact) -> pd.DataFrame:
    """The affected workloads as a table: workload, now, after, what changes (fails first)."""
    order = {"fail": 0, "miss": 1}
    items = sorted(impact.workloads, key=lambda item: (order.get(item.after.outcome, 2), item.workload))
    return pd.DataFrame(
        [(item.workload, _decision_text(item.before), _decision_text(item.after), what_changes(item))
         for item in items],
        columns=IMPACT_COLUMNS,
    )
