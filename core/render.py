"""Command-line rendering: explanations as plain text (`imc explain`), report results as a table, CSV or JSON
(`imc report`); `csv_cell`, the one rule for every CSV imc writes (the dashboard's downloads too)."""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

import orjson

from core.figures import WindowFigures, counted, figures_dict, sample, source_words
from core.impact import CHANGE_KINDS, Impact
from core.matching import CacheIndex, Explanation
from core.narrative import cached_images, coverage_text, decision_text
from core.outcomes import gone_label

# OWASP's CSV injection rule: a spreadsheet runs a cell that starts with one of these as a formula
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_MARK = {"chosen": "+", "outranked": "~", "rejected": "-"}
MAX_REJECTED_SHOWN = 8
REPORT_COLUMNS = ("namespace", "pod", "decision", "cache", "actual", "actual_cache", "disagrees")
REPORT_START_COLUMNS = (
    "start_seconds", "pull_seconds", "pulls", "saved_seconds", "saved_from_pulls", "waiting_reason"
)


def render_explanation(explanation: Explanation, index: CacheIndex | None = None, at: datetime | None = None) -> str:
    """One pod template's decision, its caches and findings, as a few indented lines (why, given the index)."""
    template, decision = explanation.template, explanation.decision
    cache = decision.cache_ref
    target = ""
    if cache:
        target = f"  {cache['name'] or ''} ({cache['id']})" if cache["name"] else f"  {cache['id']}"
    coverage = f" ({coverage_text(*cached_images(decision))})" if decision.outcome == "hit" else ""
    lines = [f"{template.workload}  {decision.outcome.upper()}{coverage}{target}"]
    if index is not None and at is not None and template.eci:
        lines.append(f"  why:     {decision_text(template, decision, index, at)}")
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


def render_report(explanations: Iterable[Explanation], index: CacheIndex | None = None,
                  at: datetime | None = None) -> str:
    """Every explanation, then a one-line tally of outcomes."""
    explanations = list(explanations)
    blocks = [render_explanation(item, index, at) for item in explanations]
    tally = Counter(item.decision.outcome for item in explanations)
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(tally.items()))
    blocks.append(f"{len(explanations)} pod template{'s' if len(explanations) != 1 else ''}: {summary or 'none'}")
    return "\n\n".join(blocks)


def render_impact(impact: Impact) -> str:
    """What the proposed change does: one line per change, the summary, then each changed workload, worst first."""
    verbs = dict(zip(CHANGE_KINDS, ("deleting", "updating", "letting expire", "adding"), strict=True))
    proposed = ", ".join(f"{verbs[change.kind]} {change.name}" for change in impact.changes)
    lines = [f"impact of {proposed}: {impact.summary}"]
    for item in impact.workloads:
        pods = f" ({item.pods} pod{'' if item.pods == 1 else 's'})" if item.pods else ""
        lines.append(f"  {item.label:<20} {item.namespace}/{item.workload}{pods}: {item.describe()}")
    if impact.while_updating:
        lines.append("  while Updating (not usable until Ready again):")
        for item in impact.while_updating:
            lines.append(f"    {item.label:<20} {item.namespace}/{item.workload}: {item.describe()}")
    return "\n".join(lines)


@dataclass(frozen=True)
class ClusterPart:
    """One context of a report over several: its name and the window's figures, or the line saying why it was not
    read."""

    cluster: str
    figures: WindowFigures | None = None
    error: str | None = None

    def to_dict(self) -> dict:
        """As the JSON's `clusters` list holds it."""
        if self.error is not None:
            return {"cluster": self.cluster, "error": self.error}
        return {"cluster": self.cluster, "figures": figures_dict(self.figures) if self.figures else None}


def _columns(base: tuple[str, ...], clusters: list[ClusterPart] | None) -> tuple[str, ...]:
    """The columns of a report: a report over several contexts names each pod's first."""
    return base if clusters is None else ("cluster", *base)


def report_row(result: Mapping) -> dict[str, str]:
    """The table/CSV columns of one result."""
    cache = result.get("cache") or {}
    actual = result.get("actual") or {}
    cluster = {"cluster": result["cluster"]} if "cluster" in result else {}
    return {
        **cluster,
        "namespace": result["namespace"],
        "pod": result["name"],
        "decision": result["decision"],
        "cache": cache.get("name") or cache.get("id") or "",
        "actual": actual.get("outcome") or "",
        "actual_cache": gone_label(actual["cache_id"]) if actual.get("cache_gone") else actual.get("cache_id") or "",
        "disagrees": "yes" if result["disagrees"] else "",
    }


def csv_cell(value: object) -> str:
    """A value as a CSV cell a spreadsheet opens as data: text starting with `=`, `+`, `-`, `@`, a tab or a carriage
    return gets a leading `'` (OWASP); a finite number stays as it is (a negative number is data, not a formula)."""
    text = "" if value is None else str(value)
    number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return "'" + text if text.startswith(FORMULA_STARTS) and not number else text


def report_csv_row(result: Mapping) -> dict[str, str]:
    """The CSV cells of one result: the table's, then its start, pulls and saving (numbers as numbers)."""
    pulls = " ".join(
        f"{p['image']}={'' if p['seconds'] is None else p['seconds']}s:{p['source']}" for p in result.get("pulls") or ()
    )
    extra = {c: result.get(c) for c in REPORT_START_COLUMNS}
    extra["pulls"] = pulls
    return {column: csv_cell(value) for column, value in {**report_row(result), **extra}.items()}


JSON_INDENT = orjson.OPT_INDENT_2
ITEMS_A_CHUNK = 500  # results rendered and written together: few writes, never the whole report in memory


def _batches(items: Iterable, size: int = ITEMS_A_CHUNK) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _indented(value: object, spaces: int) -> bytes:
    """`value` indented by orjson as it sits `spaces` deep in the document (JSON strings hold no raw newline)."""
    return orjson.dumps(value, option=JSON_INDENT).replace(b"\n", b"\n" + b" " * spaces)


def report_json_chunks(items: Iterable[dict], figures: WindowFigures | None = None,
                       clusters: list[ClusterPart] | None = None) -> Iterator[bytes]:
    """`imc report --format json` in pieces of UTF-8, each result rendered as it comes: the very bytes of the
    whole document indented by orjson (`report_json`), without the document (or every result) in memory at once."""
    yield b'{\n  "results": ['
    first = True
    for batch in _batches(items):
        rendered = b",\n    ".join(_indented(item, 4) for item in batch)
        yield (b"\n    " if first else b",\n    ") + rendered
        first = False
    yield b"]" if first else b"\n  ]"
    if figures is not None:
        yield b',\n  "figures": ' + _indented(figures_dict(figures), 2)
    if clusters is not None:
        yield b',\n  "clusters": ' + _indented([part.to_dict() for part in clusters], 2)
    yield b"\n}\n"


def report_json(items: Iterable[dict], figures: WindowFigures | None = None,
                clusters: list[ClusterPart] | None = None) -> str:
    """`imc report --format json`: `{"results": [...]}`, as `imc explain --format json` prints, and the window's
    headline "figures" when given; over several contexts each result names its "cluster", and "clusters" holds each
    context's figures or error."""
    return b"".join(report_json_chunks(items, figures, clusters)).decode()


def report_csv_chunks(items: Iterable[dict], figures: WindowFigures | None = None,
                      clusters: list[ClusterPart] | None = None) -> Iterator[str]:
    """`imc report --format csv` in pieces, rows rendered as they come (`report_csv`)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=_columns(REPORT_COLUMNS, clusters) + REPORT_START_COLUMNS,
                            lineterminator="\n")
    writer.writeheader()
    for batch in _batches(items):
        writer.writerows(report_csv_row(item) for item in batch)
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    yield out.getvalue()


def report_csv(items: Iterable[dict], figures: WindowFigures | None = None,
               clusters: list[ClusterPart] | None = None) -> str:
    """`imc report --format csv`: one CSV line per pod with a header (the window's figures are the table's and the
    JSON's: a CSV holds one kind of row); over several contexts the first column is the pod's cluster."""
    return "".join(report_csv_chunks(items, figures, clusters))


def report_summary(items: list[dict]) -> str:
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


def report_table(items: list[dict], figures: WindowFigures | None = None,
                 clusters: list[ClusterPart] | None = None) -> str:
    """`imc report --format table`: aligned columns with a header, then the summary line and the window's figures;
    over several contexts a CLUSTER column first, and each context's figures (or why it was not read)."""
    columns = _columns(REPORT_COLUMNS, clusters)
    header = {c: c.upper().replace("_", " ") for c in columns}
    rows = [header] + [report_row(item) for item in items]
    widths = {c: max(len(r[c]) for r in rows) for c in columns}
    lines = ["  ".join(r[c].ljust(widths[c]) for c in columns).rstrip() for r in rows]
    shown = [report_summary(items)] + (figures_text(figures) if figures is not None else [])
    for part in clusters or ():
        if part.error is not None:
            shown.append(f"{part.cluster}: not reported: {part.error}")
        elif part.figures is not None:
            first, *rest = figures_text(part.figures)
            shown += [f"{part.cluster}: {first}", *rest]
    return "\n".join(lines + ["", *shown]) + "\n"


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f} s"


def figures_text(figures: WindowFigures) -> list[str]:
    """The window's headline figures as lines of text, each with the sample it rests on (as the Overview shows)."""
    rate = "–" if figures.hit_rate is None else f"{figures.hit_rate:.0%}"
    starts = [
        f"{name} start {_seconds(spread.median)} ({sample('median', spread, noun)}), "
        f"p90 {_seconds(spread.p90)}"
        for name, spread, noun in (("hit", figures.hit_start, "hit"), ("miss", figures.miss_start, "miss"))
    ]
    saved = (f"pull time saved {figures.saved_seconds:,.1f} s over {counted(figures.saved_pods, 'hit')}"
             if figures.saved_pods else "pull time saved unknown")
    if figures.paid_more:
        saved += f" ({counted(figures.paid_more, 'hit')} paid more than the estimate: counted as 0 s)"
    if figures.unknown_saving:
        saved += f"; unknown for {counted(figures.unknown_saving, 'hit')}"
    return [
        f"Last {figures.window} ({source_words(figures)}):",
        f"  {counted(figures.pods, 'pod')} decided ({figures.hits:,} hit, {figures.misses:,} miss, "
        f"{figures.fails:,} fail, {figures.off:,} off); cache hit rate {rate} of {counted(figures.tried, 'pod')}",
        *(f"  {line}" for line in starts),
        f"  {saved}",
    ]


REPORT_FORMATTERS = {"table": report_table, "json": report_json, "csv": report_csv}
# the formats written as they are rendered (`cli.run_report`): each piece bytes (UTF-8) or text; the table's widths
# need every row first
REPORT_STREAMS = {"json": report_json_chunks, "csv": report_csv_chunks}
