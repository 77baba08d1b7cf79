"""Plain-text rendering of explanations for a terminal."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from core.matching import Explanation

_MARK = {"chosen": "+", "outranked": "~", "rejected": "-"}
MAX_REJECTED_SHOWN = 8


def render_explanation(explanation: Explanation) -> str:
    """One pod template's decision, its caches and findings, as a few indented lines."""
    template, decision = explanation.template, explanation.decision
    cache = decision.cache_ref
    target = ""
    if cache:
        target = f"  {cache['name'] or ''} ({cache['id']})" if cache["name"] else f"  {cache['id']}"
    lines = [f"{template.workload}  {decision.outcome.upper()}{target}"]
    if template.eci:
        lines.append(f"  policy:  {decision.policy.describe()}; temporary storage {decision.policy.storage_gib:g} GiB")
    else:
        lines.append("  not an ECI pod: image caches do not apply")
    lines.append(f"  images:  {', '.join(decision.images) or '(none)'}")
    if decision.events:
        lines.append("  events:  " + ", ".join(event.reason for event in decision.events))
    if decision.auto_create:
        lines.append(f"  ECI auto-creates a {decision.auto_cache_size_gib} GiB cache with the pod's images")
    rejected_shown = 0
    hidden = 0
    if explanation.candidates and template.eci:
        lines.append("  caches:")
    for verdict in explanation.candidates if template.eci else ():
        if verdict.verdict == "rejected":
            rejected_shown += 1
            if rejected_shown > MAX_REJECTED_SHOWN and verdict.exact == 0:
                hidden += 1
                continue
        ident = f"{verdict.name} ({verdict.id})" if verdict.id else verdict.name
        lines.append(f"    {_MARK[verdict.verdict]} {verdict.verdict:<9} {ident}: {'; '.join(verdict.reasons)}")
    if hidden:
        lines.append(f"    ... and {hidden} more caches holding none of the pod's images")
    for finding in decision.findings:
        lines.append(f"  {finding.severity}: {finding.message} [{finding.code}]")
    return "\n".join(lines)


def render_report(explanations: Iterable[Explanation]) -> str:
    """Every explanation, then a one-line tally of outcomes."""
    explanations = list(explanations)
    blocks = [render_explanation(item) for item in explanations]
    tally = Counter(item.decision.outcome for item in explanations)
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(tally.items()))
    blocks.append(f"{len(explanations)} pod template{'s' if len(explanations) != 1 else ''}: {summary or 'none'}")
    return "\n\n".join(blocks)
