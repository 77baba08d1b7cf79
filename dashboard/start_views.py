"""View models of pod starts: start and pull time, hit against miss, and the pull time caches saved."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.figures import FigureRow
from core.owners import top_owner
from core.starts import (
    PULLED,
    PULLING_OUTCOMES,
    PodStart,
    PullEstimate,
    Saving,
    paid_for,
    pull_estimates,
    saves,
    saving_of,
)
from dashboard.frozen_figure import FrozenFigure
from dashboard.text import plot
from dashboard.views import (
    SMALL_TABLE,
    categorical,
    changed_rows,
    in_table,
    regathered,
    reused_rows,
    table_rows,
    written_frame,
)
from kube.report import outcome

START_COLUMNS = [
    "key",
    "Namespace",
    "Workload",
    "Outcome",
    "Cache ID",
    "Start (s)",
    "Pull (s)",
    "Saved (s)",
    "Saved from",
    "Waiting",
    "Created",
    "Saving (s)",
]
# columns of few distinct values (a workload's pods share theirs), held as codes: ~100 bytes a row as text at 50,000 pods
CATEGORICAL = ["Namespace", "Workload", "Outcome", "Cache ID", "Waiting"]
OUTCOME_COLORS = {"hit": "#1f9d55", "miss": "#f59e0b", "fail": "#dc2626", "off": "#94a3b8"}
CHART_OUTCOMES = ("hit", "miss", "off")
HEIGHT = 320


def workload_of(obj: Mapping[str, Any]) -> str:
    """The workload a pod belongs to as namespace/name (`core.owners.top_owner`: a Deployment, a CronJob), or the
    pod itself when it has no owner."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    owner = top_owner(meta)
    return f"{meta.get('namespace') or ''}/{owner.name if owner is not None else meta.get('name') or ''}"


def _cache_id(record: Any) -> str:
    actual = record.actual
    if actual is not None:
        return (actual.cache_id or "") if actual.outcome == "hit" else ""
    cache = record.decision.cache
    return (cache.id or "") if record.decision.outcome == "hit" and cache is not None else ""


def start_row(key: str, record: Any) -> tuple | None:
    """A pod's START_COLUMNS values but the savings, then what they read of it: its start when its pulls make the
    estimates (a miss or off pod: `pulling_start`); whether it saves (`core.starts.saves`), and its `paid_for`. None
    when the pod is not ECI. Made for a table build, or for a pod whose record changed."""
    if not in_table(record):
        return None
    start: PodStart | None = record.start
    happened = outcome(record)
    saving_pod = saves(happened, start)
    images, paid = paid_for(start, record.decision.images) if saving_pod else ((), ())
    return (
        key,
        record.namespace,
        sys.intern(workload_of({"metadata": record.metadata})),  # shared by a workload's pods
        happened,
        _cache_id(record),
        start.start_seconds if start is not None else None,
        start.pull_seconds if start is not None else None,
        (start.waiting_reason or "") if start is not None else "",
        start if happened in PULLING_OUTCOMES else None,
        saving_pod,
        images,
        paid,
        record.created.timestamp() if record.created is not None else None,
    )


def pulling_start(record: Any) -> PodStart | None:
    """An ECI pod's start when its pulls make the estimates (`start_row`'s), else None."""
    return record.start if outcome(record) in PULLING_OUTCOMES else None


def estimates_of(pods: Mapping[str, Any]) -> dict[str, PullEstimate]:
    """The pull estimates the starts table of `pods` is made against (`pull_estimates` of its pulling starts)."""
    return pull_estimates(pulling_start(record) for record in pods.values() if in_table(record))


def starts_frame(pods: Mapping[str, Any]) -> pd.DataFrame:
    """One row per ECI pod: what happened (ECI's word, else the prediction), its start, pulls and saving (each hit's
    saving, `core.starts.saving_of`, against the estimates of this snapshot's misses)."""
    return built_starts(pods).frame


@dataclass(frozen=True)
class StartsTable:
    """The starts frame and what writing a later version's changed rows into it reads: the records it was made of (a
    snapshot's pods, which never change; `views.PodsTable`; an ECI pod's row is its place among their ECI pods), the
    pull estimates and the savings made against them."""

    pods: Mapping[str, Any]
    frame: pd.DataFrame
    estimates: Mapping[str, PullEstimate]
    savings: dict[tuple, Saving]  # a hit's (images, paid) -> its `saving_of` against `estimates`, filled as met


def built_starts(pods: Mapping[str, Any]) -> StartsTable:
    """The starts table of `pods`, built whole."""
    values = table_rows(pods, start_row)
    estimates = pull_estimates(row[8] for row in values)
    savings: dict[tuple, Saving] = {}  # hits of one workload share their images and, mostly, what they paid
    return StartsTable(pods, _starts_frame(values, estimates, savings), estimates, savings)


def patched_starts(last: StartsTable, pods: Mapping[str, Any], most: int = 500) -> StartsTable | None:
    """`built_starts(pods)`, made from the last table: the same frame when no row changed (a pod changed only where
    the table does not show it), else a copy with only the changed rows written, their savings against the same
    estimates; None when that cannot be done (a pod came, went or became or stopped being ECI, a missed pod's pulls
    moved the estimates) or does not pay (a small table, or more than `most` rows changed)."""
    changed = changed_rows(last.pods, pods, start_row, most)
    if changed is None:
        return None
    if not changed:
        return replace(last, pods=pods)
    if any(row[8] != before[8] for _, row, before in changed.values()):
        # a pulling pod's start changed: the estimates may have moved, and with them every hit's saving
        if estimates_of(pods) != last.estimates:
            return None
    if len(last.frame) < SMALL_TABLE:
        return None
    values = [row for _, row, _ in changed.values()]
    where = np.array([place for place, _, _ in changed.values()])  # ascending: both follow the pods' order
    frame = written_frame(last.frame, where, _starts_frame(values, last.estimates, last.savings))
    return None if frame is None else replace(last, pods=pods, frame=frame)


def regrown_starts(last: StartsTable, pods: Mapping[str, Any], most: int = 500) -> StartsTable | None:
    """`built_starts(pods)` when pods came or went since the last table: the rows of the pods whose record is the same
    object taken from it, the others' made, in the pods' order, their savings against the same estimates. None when
    the estimates moved, more than `most` rows are to be made, or the table is small."""
    reused = reused_rows(last.pods, None, pods, start_row, most)
    if reused is None or len(reused[0]) < SMALL_TABLE:
        return None
    sources, made = reused
    if estimates_of(pods) != last.estimates:
        return None
    made_frame = _starts_frame(made, last.estimates, last.savings) if made else None
    taken = np.where(sources >= 0, sources, len(last.frame) - 1 - sources)
    frame = regathered(last.frame, made_frame, taken, CATEGORICAL, last.frame)
    if frame is None:
        return None
    frame.attrs = dict(last.frame.attrs)  # the same estimates
    return replace(last, pods=pods, frame=frame)


def _starts_frame(values: list[tuple], estimates: Mapping[str, PullEstimate],
                  savings: dict[tuple, Saving]) -> pd.DataFrame:
    """The starts frame of these rows, savings against `estimates` (found in, or added to, `savings`)."""
    if not values:
        frame = pd.DataFrame([], columns=START_COLUMNS)
        floats = ["Start (s)", "Pull (s)", "Saved (s)", "Created", "Saving (s)"]
        frame[floats] = frame[floats].astype("float64")
        frame["Saved from"] = frame["Saved from"].astype("int64")
        frame[CATEGORICAL] = frame[CATEGORICAL].astype("category")
        frame.attrs["observed_pulls"] = 0
        return frame
    saved = [_saving(row[10], row[11], estimates, savings) if row[9] else None for row in values]
    columns = list(zip(*values, strict=True))
    data: dict[str, Any] = {name: categorical(column) if name in CATEGORICAL else np.array(column, dtype=object)
                            for name, column in zip(START_COLUMNS[:5], columns[:5], strict=True)}
    data["Start (s)"] = _floats(columns[5])
    data["Pull (s)"] = _floats(columns[6])
    saving = _floats(tuple(s.seconds if s is not None else None for s in saved))
    data["Saved (s)"] = np.maximum(saving, 0.0)  # `core.figures.floored`, over the column (NaN stays unknown)
    data["Saved from"] = np.array([s.observed if s is not None else 0 for s in saved], dtype="int64")
    data["Waiting"] = categorical(columns[7])
    data["Created"] = _floats(columns[12])
    data["Saving (s)"] = saving
    frame = pd.DataFrame(data, columns=START_COLUMNS)
    frame.attrs["observed_pulls"] = sum(e.observed for e in estimates.values())
    return frame


def _saving(images: tuple, paid: tuple, estimates: Mapping[str, Any], savings: dict[tuple, Saving]) -> Saving:
    found = savings.get((images, paid))
    if found is None:
        found = savings[(images, paid)] = saving_of(images, paid, estimates)
    return found


def _floats(values: tuple) -> np.ndarray:
    """Seconds as float64, NaN where unknown."""
    return np.array([np.nan if value is None else value for value in values], dtype="float64")


def figure_rows(frame: pd.DataFrame) -> list[FigureRow]:
    """The starts frame's pods as `core.figures` rows (NaN read as unknown)."""

    def values(column: str) -> list:
        return [None if value != value else value for value in frame[column].tolist()]

    return list(map(FigureRow._make, zip(values("Created"), frame["Outcome"].tolist(), values("Start (s)"),
                                         values("Saving (s)"), strict=True)))


def saving_of_pod(frame: pd.DataFrame, key: str) -> float | None:
    """A started hit's estimated saving before flooring (`core.figures.saving_words` says it), None when unknown."""
    found = frame.loc[frame["key"] == key, "Saving (s)"]
    return None if found.empty or found.iloc[0] != found.iloc[0] else float(found.iloc[0])


def still_starting(frame: pd.DataFrame) -> int:
    """Pods on their way: not started and not stuck (a pod ECI refused, a pin that failed, never starts)."""
    return int((frame["Start (s)"].isna() & (frame["Waiting"] == "") & (frame["Outcome"] != "fail")).sum())


def observed_pulls(frame: pd.DataFrame) -> int:
    """How many registry pulls of missed pods the estimates rest on."""
    return int(frame.attrs.get("observed_pulls", 0))


def start_distribution(frame: pd.DataFrame) -> pd.DataFrame:
    """Started pods' start seconds by outcome (hit, miss, off), for the distribution chart."""
    shown = frame["Start (s)"].notna() & frame["Outcome"].isin(CHART_OUTCOMES)
    return frame.loc[shown, ["Outcome", "Start (s)"]].reset_index(drop=True)


ALL_POINTS = 2000  # up to this many pods an outcome's box shows every pod; beyond, a box of its quartiles


@dataclass(frozen=True)
class BoxSummary:
    """A box plot's figures, as plotly draws them: quartiles (linear), whiskers to the last value within 1.5 IQR."""

    q1: float
    median: float
    q3: float
    lower_fence: float
    upper_fence: float
    outliers: np.ndarray


def box_summary(values: np.ndarray) -> BoxSummary:
    """The box of many values, so the chart sends five numbers and the outliers instead of every value."""
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    reach = 1.5 * (q3 - q1)
    inside = values[(values >= q1 - reach) & (values <= q3 + reach)]
    outliers = np.sort(values[(values < q1 - reach) | (values > q3 + reach)])
    if len(outliers) > ALL_POINTS:  # evenly spread, keeping both extremes
        outliers = outliers[np.linspace(0, len(outliers) - 1, ALL_POINTS).round().astype(int)]
    return BoxSummary(float(q1), float(median), float(q3), float(inside.min()), float(inside.max()), outliers)


def _box(name: str, values: np.ndarray) -> list[Any]:
    label = f"{name.capitalize()} ({len(values):,})"
    style = {"name": label, "marker_color": OUTCOME_COLORS[name], "hovertemplate": "%{x:.1f} s<extra></extra>"}
    if len(values) <= ALL_POINTS:
        return [go.Box(x=values, orientation="h", boxpoints="all", jitter=0.4, pointpos=0, **style)]
    box = box_summary(values)
    return [
        go.Box(
            y=[label], q1=[box.q1], median=[box.median], q3=[box.q3], lowerfence=[box.lower_fence],
            upperfence=[box.upper_fence], orientation="h", **style,
        ),
        go.Scatter(
            x=box.outliers, y=[label] * len(box.outliers), mode="markers", showlegend=False, **style,
        ),
    ]


def start_chart(data: pd.DataFrame) -> FrozenFigure:
    """Start time by outcome: one box per outcome with its pods as points (its quartiles beyond 2,000 pods)."""
    figure = FrozenFigure()
    for name in CHART_OUTCOMES:
        values = data.loc[data["Outcome"] == name, "Start (s)"].to_numpy(dtype=float)
        if len(values):
            figure.add_traces(_box(name, values))
    figure.update_layout(
        height=HEIGHT,
        margin={"l": 10, "r": 10, "t": 10, "b": 40},
        showlegend=False,
        xaxis_title="seconds from creation to the last container's start",
        yaxis={"autorange": "reversed"},
    )
    figure.update_xaxes(rangemode="tozero")
    return figure


def by_workload(frame: pd.DataFrame) -> pd.DataFrame:
    """Per workload: pods, hit %, median start, pull time saved (hits whose saving is known)."""
    if frame.empty:
        return pd.DataFrame(columns=["Workload", "Pods", "Hit %", "Median start (s)", "Saved (s)"])
    grouped = frame.groupby("Workload", sort=True)
    hits = (frame["Outcome"] == "hit").astype(float).groupby(frame["Workload"], sort=True)
    table = pd.DataFrame(
        {
            "Pods": grouped.size(),
            "Hit %": 100.0 * hits.mean(),
            "Median start (s)": grouped["Start (s)"].median(),
            "Saved (s)": grouped["Saved (s)"].sum(min_count=1),  # NaN where no saving is known, never 0
        }
    ).reset_index()
    table["Workload"] = table["Workload"].astype("str")  # shown: text, as the table draws it (`text.inert_frame`)
    return table.sort_values(["Saved (s)", "Pods"], ascending=[False, False], na_position="last").reset_index(drop=True)


def by_cache(frame: pd.DataFrame, caches: Mapping[str, Any]) -> pd.DataFrame:
    """Per cache (by the ID a hit used): pods it served, their median start, the pull time it saved."""
    names = {view.id: name for name, view in caches.items() if getattr(view, "id", None)}
    hits = frame[(frame["Outcome"] == "hit") & (frame["Cache ID"] != "")]
    columns = ["Cache", "Cache ID", "Pods served", "Median start (s)", "Saved (s)", "Saved from"]
    if hits.empty:
        return pd.DataFrame(columns=columns)
    grouped = hits.groupby("Cache ID", sort=True)
    table = pd.DataFrame(
        {
            "Pods served": grouped.size(),
            "Median start (s)": grouped["Start (s)"].median(),
            "Saved (s)": grouped["Saved (s)"].sum(min_count=1),
            "Saved from": grouped["Saved from"].max(),
        }
    ).reset_index()
    table["Cache ID"] = table["Cache ID"].astype("str")  # shown: text, as the table draws it (`text.inert_frame`)
    table.insert(0, "Cache", table["Cache ID"].map(lambda i: names.get(i, "(deleted)")))
    return table[columns]


@dataclass(frozen=True)
class TimelineStep:
    """One moment of a pod's start: seconds after creation, what happened."""

    seconds: float
    label: str
    kind: str  # "created" | "scheduled" | "pulled" | "present" | "started" | "waiting"
    duration: float = 0.0  # a registry pull: the seconds it took, ending at `seconds`


PIN_FAILURES = ("pin-not-found", "pin-not-ready")  # the engine's findings of a pod ECI refuses


def refusal(actual: Any, decision: Any) -> str | None:
    """Why ECI will never start this pod (it refused it at creation), or None when it may start."""
    if actual is not None and actual.outcome == "fail":
        said = f"ECI refused it ({', '.join(actual.reasons)})" if actual.reasons else "ECI refused it"
    elif actual is None and decision.outcome == "fail":
        said = "imc predicts that ECI refuses it"
    else:
        return None
    why = next((finding.message.removesuffix(": pod creation fails") for finding in decision.findings
                if finding.code in PIN_FAILURES), None)
    because = f": {why}" if why else ""
    return f"Will not start. {said}{because}. The pod stays Pending until it is deleted."


def start_timeline(start: PodStart | None) -> list[TimelineStep]:
    """Created, scheduled, each image pulled (or already present), started; or why it waits."""
    if start is None or start.created is None:
        return []
    steps = [TimelineStep(0.0, "created", "created")]
    if start.scheduled is not None:
        steps.append(TimelineStep((start.scheduled - start.created).total_seconds(), "scheduled", "scheduled"))
    for pull in start.pulls:
        at = (pull.at - start.created).total_seconds() if pull.at is not None else None
        if pull.source == PULLED:
            took = f" in {pull.seconds:.1f} s" if pull.seconds is not None else ""
            label = f"pulled {pull.image}{took}"
        else:
            label = f"{pull.image} already present"
        steps.append(TimelineStep(at if at is not None else float("nan"), label, pull.source, pull.seconds or 0.0))
    if start.start_seconds is not None:
        steps.append(TimelineStep(start.start_seconds, "started", "started"))
    elif start.waiting_reason:
        steps.append(TimelineStep(float("nan"), f"not started: {start.waiting_reason}", "waiting"))
    return steps


def timeline_chart(steps: list[TimelineStep]) -> go.Figure:
    """The steps of one pod's start on a time axis, registry pulls as bars ending at their Pulled event."""
    figure = go.Figure()
    colours = {
        "created": "#64748b",
        "scheduled": "#64748b",
        "pulled": "#f59e0b",
        "present": "#1f9d55",
        "started": "#2563eb",
        "waiting": "#dc2626",
    }
    known = [s for s in steps if s.seconds == s.seconds]  # NaN: no time known
    for position, step in enumerate(known):
        if step.duration:
            figure.add_trace(
                go.Scatter(
                    x=[step.seconds - step.duration, step.seconds],
                    y=[position, position],
                    mode="lines",
                    line={"width": 8, "color": colours[step.kind]},
                    hoverinfo="skip",
                    showlegend=False,
                )
            )
        figure.add_trace(
            go.Scatter(
                x=[step.seconds],
                y=[position],
                mode="markers",
                text=[plot(step.label)],
                marker={"size": 12, "color": colours[step.kind]},
                hovertemplate=f"%{{text}}: {step.seconds:.1f} s<extra></extra>",
                showlegend=False,
            )
        )
    # the steps name their rows on the axis, which makes room for them: a long image name is never cut off
    figure.update_layout(
        height=60 + 34 * max(len(known), 1),
        margin={"l": 10, "r": 10, "t": 10, "b": 40},
        yaxis={"autorange": "reversed", "tickvals": list(range(len(known))),
               "ticktext": [plot(step.label) for step in known], "automargin": True, "showgrid": False},
        xaxis_title="seconds after creation",
    )
    right = max((s.seconds for s in known), default=1.0)
    figure.update_xaxes(range=[-0.5, right * 1.05 + 0.5])
    return figure
