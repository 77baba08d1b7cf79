"""View models: the tables and aggregates the pages show, built from one store snapshot."""

from __future__ import annotations

import sys
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.images import parse_image
from core.matching import CacheIndex, Explanation, explain
from core.narrative import outcome_label
from core.outcomes import gone_label
from core.owners import workload_name
from core.render import csv_cell
from core.workloads import pod_template
from dashboard.cache_views import PHASE_GROUPS

OUTCOMES = ("hit", "miss", "fail", "off")
NO_REPORT = "no report"  # ECI wrote nothing about the pod (yet): no event, no matched-cache annotation
OUTCOME_LABELS = {"hit": "Hit", "miss": "Miss", "fail": "Fail", "off": "Off"}

POD_COLUMNS = [
    "Namespace", "Pod", "Decision", "Actual", "Agrees", "Cache", "Cache ID", "Images", "Created", "key", "Start (s)",
    "Pull (s)", "Predicted", "Phase", "Owner", "ECI agrees",
]
AGREEMENT = {True: "✓", False: "✗", None: "–"}  # "–": ECI reported nothing to compare
# columns of few distinct values (a workload's pods share theirs), held as codes: ~330 bytes a row as text at 50,000
# pods; drawn as text (`text_columns`: `text.inert_frame` reads text columns only)
CATEGORICAL = ["Cache", "Cache ID", "Images", "Predicted", "Phase", "Owner", "ECI agrees"]


def pods_frame(pods: Mapping[str, Any]) -> pd.DataFrame:
    """One row per ECI pod, sorted by namespace then name so row positions are stable."""
    return built_pods(pods, 0).frame


def pod_rows(pods: Mapping[str, Any], previous: Mapping[str, tuple[Any, tuple | None]] | None = None,
             row: Callable[[str, Any], tuple | None] | None = None) -> dict[str, tuple[Any, tuple | None]]:
    """Key → (its record, its `row` (the pods table's by default) or None when not ECI); rows of `previous` are
    reused while the record is the same (immutable) object, so a new store version rebuilds only the rows of the
    records that changed (the caches table keeps its rows so)."""
    previous = previous or {}
    row = row or _pod_row
    kept: dict[str, tuple[Any, tuple | None]] = {}
    for key, record in pods.items():
        found = previous.get(key)
        kept[key] = found if found is not None and found[0] is record else (record, row(key, record))
    return kept


def in_table(record: Any) -> bool:
    """Whether a pod has a row in the pods and starts tables: the rows' rule (`_pod_row`, `start_row`), ECI pods."""
    return record.decision.outcome != "not-eci"


def table_rows(pods: Mapping[str, Any], row: Callable[[str, Any], tuple | None]) -> list[tuple]:
    """The `row`s of the ECI pods, in the order of `pods`: made for one table build, never kept (at 50,000 pods a
    row a pod kept beside the tables held ~40 MiB)."""
    return [made for key, record in pods.items() if (made := row(key, record)) is not None]


def _frame_of(values: list[tuple]) -> pd.DataFrame:
    """The pods table of `_pod_row`s (sorted here, in place, by namespace and name)."""
    if not values:
        frame = pd.DataFrame([], columns=POD_COLUMNS)
        frame["Created"] = pd.to_datetime(frame["Created"], utc=True)
        frame[["Start (s)", "Pull (s)"]] = frame[["Start (s)", "Pull (s)"]].astype("float64")
        frame[CATEGORICAL] = frame[CATEGORICAL].astype("category")
        return frame
    values.sort(key=_BY_NAMESPACE_AND_NAME)
    columns = list(zip(*values, strict=True))
    data = {name: np.array(column, dtype=object) for name, column in zip(POD_COLUMNS, columns, strict=True)}
    data["Agrees"] = np.array(columns[POD_COLUMNS.index("Agrees")], dtype=bool)
    for name in CATEGORICAL:
        data[name] = categorical(columns[POD_COLUMNS.index(name)])
    for name in ("Start (s)", "Pull (s)"):
        data[name] = np.array(columns[POD_COLUMNS.index(name)], dtype="float64")
    created = np.array(columns[POD_COLUMNS.index("Created")], dtype=np.int64).view("datetime64[us]")
    data["Created"] = pd.DatetimeIndex(created).tz_localize("UTC")
    return pd.DataFrame(data, columns=POD_COLUMNS)


def categorical(values: Sequence[str]) -> pd.Categorical:
    """`pd.Categorical(values)` of text (its categories the values held, sorted), each string hashed once: a column
    of few distinct values (a workload's pods share theirs) held as codes, not as text a row."""
    places: dict[str, int] = {}
    codes = np.fromiter((places.setdefault(value, len(places)) for value in values), dtype=np.int32,
                        count=len(values))
    categories = sorted(places)
    rank = np.empty(len(categories), dtype=np.int32)
    rank[[places[category] for category in categories]] = np.arange(len(categories), dtype=np.int32)
    return pd.Categorical.from_codes(rank[codes], dtype=pd.CategoricalDtype(pd.Index(categories, dtype="str")))


SMALL_TABLE = 2000  # rows: below this, a table is built afresh faster than rows are written into a copy


@dataclass(frozen=True)
class PodsTable:
    """The pods table and what writing a later version's changed rows into it reads: the records it was made of (a
    snapshot's pods, which never change: a later version's rows are told changed by their records' identity, the
    rows of both made again only where it differs) and the row in it of each ECI pod, by its place among the ECI
    pods of `pods` (an array, not a dict a pod); and per column its version, the stamp of the table in which it last
    changed (what is drawn from some columns is kept while their versions are the same)."""

    pods: Mapping[str, Any]
    frame: pd.DataFrame
    rows_of: np.ndarray
    versions: Mapping[str, int]


def built_pods(pods: Mapping[str, Any], stamp: int) -> PodsTable:
    """The pods table of `pods`, built whole: every column's version is `stamp`."""
    values = table_rows(pods, _pod_row)
    names = [_BY_NAMESPACE_AND_NAME(row) for row in values]
    order = sorted(range(len(values)), key=names.__getitem__)  # the table's rows: the pods by namespace and name
    rows_of = np.empty(len(values), dtype=np.int32)
    rows_of[order] = np.arange(len(values), dtype=np.int32)
    return PodsTable(pods, _frame_of(values), rows_of, dict.fromkeys(POD_COLUMNS, stamp))


def patched_pods(last: PodsTable, pods: Mapping[str, Any], stamp: int, most: int = 500) -> PodsTable | None:
    """`built_pods(pods)`, made from the last table: the same frame when no row changed (a pod changed only where the
    table does not show it), else one with only the changed rows written, the columns they changed in at version
    `stamp`; None when that cannot be done (a pod came, went or became or stopped being ECI) or more than `most`
    rows changed."""
    changed = changed_rows(last.pods, pods, _pod_row, most)
    if changed is None:
        return None
    if not changed:
        return replace(last, pods=pods)
    columns = changed_columns(POD_COLUMNS, changed)
    frame = None
    if len(last.frame) >= SMALL_TABLE:  # below, a table is built afresh faster than rows are written into a copy
        where = np.sort(last.rows_of[[place for place, _, _ in changed.values()]])
        written = _frame_of([row for _, row, _ in changed.values()])  # sorted as the table, so as `where`
        frame = written_frame(last.frame, where, written, columns)
    if frame is None:
        frame = _frame_of(table_rows(pods, _pod_row))  # the same pods in the same rows
    return PodsTable(pods, frame, last.rows_of, {**last.versions, **dict.fromkeys(columns, stamp)})


def regrown_pods(last: PodsTable, pods: Mapping[str, Any], stamp: int, most: int = 500) -> PodsTable | None:
    """`built_pods(pods)` when pods came or went since the last table: the rows of the pods whose record is the same
    object taken from it, the others' made and placed among them by namespace and name; every column at version
    `stamp`. None when more than `most` rows are to be made, or the table is small."""
    reused = reused_rows(last.pods, last.rows_of, pods, _pod_row, most)
    if reused is None or len(reused[0]) < SMALL_TABLE:
        return None
    sources, made = reused
    kept = np.sort(sources[sources >= 0])  # rows of the last table kept, in its (namespace and name) order
    order = sorted(range(len(made)), key=lambda index: _BY_NAMESPACE_AND_NAME(made[index]))
    names = _TableNames(last.frame, kept)
    inserted = np.array([bisect_left(names, _BY_NAMESPACE_AND_NAME(made[index])) for index in order], dtype=np.int64)
    made_at = inserted + np.arange(len(made))  # a made row's row in the new table, in `order`
    kept_at = np.arange(len(kept)) + np.searchsorted(inserted, np.arange(len(kept)), side="right")
    taken = np.empty(len(kept) + len(made), dtype=np.int64)
    taken[kept_at] = np.arange(len(kept))
    taken[made_at] = len(kept) + np.arange(len(made))
    made_frame = _frame_of([made[index] for index in order]) if made else None
    frame = regathered(last.frame.take(kept), made_frame, taken, CATEGORICAL, last.frame)
    if frame is None:
        return None
    rows_of = np.empty(len(sources), dtype=np.int32)
    old = sources >= 0
    rows_of[old] = kept_at[np.searchsorted(kept, sources[old])]
    rank = np.empty(len(made), dtype=np.int64)
    rank[order] = np.arange(len(made))
    rows_of[~old] = made_at[rank[-1 - sources[~old]]]
    return PodsTable(pods, frame, rows_of, dict.fromkeys(POD_COLUMNS, stamp))


def regathered(kept: pd.DataFrame, made: pd.DataFrame | None, taken: np.ndarray, categories: Sequence[str],
               like: pd.DataFrame) -> pd.DataFrame | None:
    """The rows of `kept` then `made`, taken in the order `taken`, each of the `categories` columns with the
    categories of the rows it holds (as a table built afresh has them); None when the column types are not `like`'s."""
    frame = pd.concat([kept] if made is None else [kept, made], ignore_index=True).take(taken).reset_index(drop=True)
    for name in categories:
        frame[name] = categorical(np.asarray(frame[name], dtype=object))
    return frame if same_dtypes(frame, like) else None


def same_dtypes(frame: pd.DataFrame, other: pd.DataFrame) -> bool:
    """Whether two frames' columns have the same types, a categorical column's categories included."""
    return [str(dtype) for dtype in frame.dtypes] == [str(dtype) for dtype in other.dtypes]


class _TableNames:
    """The (namespace, name) of some rows of a pods table, read as `bisect` asks for them."""

    def __init__(self, frame: pd.DataFrame, rows: np.ndarray) -> None:
        self.namespaces, self.names, self.rows = frame["Namespace"].array, frame["Pod"].array, rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[str, str]:
        row = self.rows[index]
        return self.namespaces[row], self.names[row]


def reused_rows(previous: Mapping[str, Any], rows_of: np.ndarray | None, pods: Mapping[str, Any],
                row: Callable[[str, Any], tuple | None], most: int) -> tuple[np.ndarray, list[tuple]] | None:
    """Per ECI pod of `pods` (a later snapshot's, whose pods may have come or gone since `previous`), in order: its row
    in the last table (`rows_of` by its place among the ECI pods of `previous`; None: the place itself) when its record
    is the same object there, else -1 - i for the i-th row made anew; and those rows. None when more than `most` rows
    are to be made."""
    places: dict[str, int] = {}
    for key, record in previous.items():
        if in_table(record):
            places[key] = len(places)
    rows = rows_of.tolist() if rows_of is not None else None
    sources: list[int] = []
    made: list[tuple] = []
    for key, record in pods.items():
        if previous.get(key) is record:
            place = places.get(key)
            if place is not None:
                sources.append(place if rows is None else rows[place])
            continue
        now = row(key, record)
        if now is None:
            continue
        if len(made) >= most:
            return None
        sources.append(-1 - len(made))
        made.append(now)
    return np.array(sources, dtype=np.int64), made


def changed_rows(previous: Mapping[str, Any], pods: Mapping[str, Any], row: Callable[[str, Any], tuple | None],
                 most: int) -> dict[str, tuple[int, tuple, tuple]] | None:
    """The ECI pods whose `row` differs between the records of `previous` and of `pods` (both a snapshot's pods), as
    key → (its place among the ECI pods, its row now, its row before), in the order of `pods`; a record that is the
    same object has the same row. None when the pods are not the same in the same order (one came, went, or became
    or stopped being ECI) or more than `most` rows changed."""
    if len(pods) != len(previous):
        return None
    changed = {}
    place = 0
    for (key, record), (old_key, before) in zip(pods.items(), previous.items(), strict=True):
        if record is before:
            place += in_table(record)
            continue
        if key != old_key:
            return None
        now, then = row(key, record), row(key, before)
        if (now is None) != (then is None):
            return None
        if now is not None and now != then:
            if len(changed) >= most:
                return None
            changed[key] = (place, now, then)
        place += now is not None
    return changed


def changed_columns(columns: list[str], changed: Mapping[str, tuple[int, tuple, tuple]]) -> list[str]:
    """The columns (a row's values, in order) in which some changed row (place, now, before) differs."""
    differ: set[int] = set()
    for _, row, before in changed.values():
        differ.update(index for index, (new, old) in enumerate(zip(row, before, strict=True)) if new != old)
    return [name for index, name in enumerate(columns) if index in differ]


def written_frame(frame: pd.DataFrame, where: np.ndarray, written: pd.DataFrame,
                  columns: list[str] | None = None) -> pd.DataFrame | None:
    """`frame` with its rows at the positions `where` (ascending) replaced by the rows of `written` in `columns`
    (every column by default; the others are `frame`'s own), in new arrays (`frame` is shared, never written); None
    when a column's type would change."""
    mask = np.zeros(len(frame), dtype=bool)
    mask[where] = True
    patched = frame.copy(deep=False)
    for name in frame.columns if columns is None else columns:
        values, new = frame[name].array, written[name].array
        if isinstance(values, pd.arrays.ArrowStringArray):  # in pyarrow: pandas' setitem costs more per column
            patched[name] = pd.array(pc.replace_with_mask(pa.array(values), pa.array(mask), pa.array(new)),
                                     dtype=values.dtype)
        elif isinstance(values, pd.Categorical):  # categories as a table built afresh has them: the values, sorted
            cells = np.asarray(values, dtype=object)
            cells[where] = np.asarray(new, dtype=object)
            patched[name] = categorical(cells)
        else:
            values = values.copy()
            values[where] = new
            patched[name] = values
    return patched if same_dtypes(patched, frame) else None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAT = np.iinfo(np.int64).min  # NaT as datetime64[us]


_BY_NAMESPACE_AND_NAME = itemgetter(0, 1)  # a row's namespace and name


def _microseconds(moment: datetime) -> int:
    """Microseconds since the epoch (a naive time taken as UTC, as pd.to_datetime(utc=True) does)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _pod_row(key: str, record: Any) -> tuple | None:
    """A pod's values in POD_COLUMNS order ("Created" as microseconds since the epoch), or None if not ECI."""
    if not in_table(record):
        return None
    decision = record.decision
    actual = record.actual
    cache = decision.cache
    created = record.created
    return (
        record.namespace,
        record.name,
        decision.outcome,
        actual.outcome if actual is not None else NO_REPORT,
        not record.disagrees,
        cache.name if cache is not None else "",
        gone_label(record.unseen_cache) if record.unseen_cache else _hit_cache_id(decision, actual),
        joined_images(decision.images),
        _NAT if created is None else _microseconds(created),
        key,
        _nan_if_none(record.start.start_seconds if record.start is not None else None),
        _nan_if_none(record.start.pull_seconds if record.start is not None else None),
        sys.intern(outcome_label(decision)),  # a few labels, each kept by 50,000 rows
        record.phase,
        record.workload,
        AGREEMENT[None if actual is None or record.unseen_cache else not record.disagrees],  # unseen: nothing to compare
    )


@lru_cache(maxsize=65_536)
def joined_images(images: tuple[str, ...]) -> str:
    """A pod's images in one cell; one string for the pods of the same images (a row keeps it per pod)."""
    return ", ".join(images)


_NAN = float("nan")  # one NaN object: rows holding it compare equal (a tuple compares its items by identity first)


def _nan_if_none(value: float | None) -> float:
    return _NAN if value is None else value


def _status(obj: Any) -> dict:
    status = obj.get("status") if isinstance(obj, dict) else None
    return status if isinstance(status, dict) else {}


def owner_of(obj: Any) -> str:
    """The workload a pod belongs to, as Kind/name (`core.owners.top_owner`: a Deployment, a CronJob); '' if none."""
    return workload_name(obj.get("metadata")) if isinstance(obj, dict) else ""


def owner_names(owners: pd.Series) -> pd.Series:
    """Kind/name owners as their workload's name alone, for a narrow column ("CronJob/etl-hourly" is "etl-hourly")."""
    return owners.str.split("/", n=1).str[-1]  # not str.partition: an empty column has no part 2


def pod_facts(obj: Any) -> str:
    """A pod's owner and phase in one line for its detail (the table shows the owner's name only); '' if neither."""
    facts = {"Owner": owner_of(obj), "Phase": _status(obj).get("phase")}
    return " · ".join(f"{label} {value}" for label, value in facts.items() if isinstance(value, str) and value)


def _hit_cache_id(decision: Any, actual: Any) -> str:
    """The ID of the cache the pod used: ECI's word when it spoke, else the prediction."""
    if actual is not None:
        return (actual.cache_id or "") if actual.outcome == "hit" else ""
    cache = decision.cache
    return (cache.id or "") if decision.outcome == "hit" and cache is not None else ""


@dataclass(frozen=True)
class PodFilter:
    """What the user narrowed the pod table to."""

    namespaces: tuple[str, ...] = ()
    decisions: tuple[str, ...] = ()
    caches: tuple[str, ...] = ()
    disagreements_only: bool = False
    text: str = ""


def filter_pods(frame: pd.DataFrame, chosen: PodFilter) -> pd.DataFrame:
    """The rows matching every part of the filter; free text matches names, caches and images."""
    mask = pd.Series(True, index=frame.index)
    if chosen.namespaces:
        mask &= frame["Namespace"].isin(chosen.namespaces)
    if chosen.decisions:
        mask &= frame["Decision"].isin(chosen.decisions)
    if chosen.caches:
        mask &= frame["Cache"].isin(chosen.caches)
    if chosen.disagreements_only:
        mask &= ~frame["Agrees"]
    text = chosen.text.strip().lower()
    if text:
        haystack = (
            frame["Namespace"] + "/" + frame["Pod"] + " " + as_text(frame["Owner"]) + " " + as_text(frame["Cache"]) + " "
            + as_text(frame["Cache ID"]) + " " + as_text(frame["Images"])
        ).str.lower()
        mask &= haystack.str.contains(text, regex=False)
    return frame[mask].reset_index(drop=True)


def as_text(column: pd.Series) -> pd.Series:
    """A column as text: a categorical one's values (`CATEGORICAL`), others as they are."""
    return column.astype("str") if isinstance(column.dtype, pd.CategoricalDtype) else column


def text_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its categorical columns as text, as a table draws them."""
    return frame.assign(**{name: as_text(frame[name]) for name in frame.columns
                           if isinstance(frame[name].dtype, pd.CategoricalDtype)})


@dataclass(frozen=True)
class PodOrder:
    """An order of the pods table made on the server (the browser can sort only the rows it was sent)."""

    label: str
    column: str | None  # None: the table's own order, namespace then name
    descending: bool = False


POD_ORDERS = {
    "name": PodOrder("By namespace and name", None),
    "newest": PodOrder("Newest first", "Created", descending=True),
    "oldest": PodOrder("Oldest first", "Created"),
    "slowest": PodOrder("Slowest start first", "Start (s)", descending=True),
    "pull": PodOrder("Longest pull first", "Pull (s)", descending=True),
}


def pod_order(frame: pd.DataFrame, order: PodOrder) -> np.ndarray:
    """The row positions of a pods table in `order`; ties, and pods without the value (not started yet, say) last,
    keep the table's namespace/name order."""
    if order.column is None:
        return np.arange(len(frame))
    return frame[order.column].array.argsort(ascending=not order.descending, kind="stable", na_position="last")


def links(prefix: str | pd.Series, names: pd.Series) -> pd.Series:
    """In-app links (prefix + name; a prefix per row when a Series) for a LinkColumn; empty where there is no name."""
    names = as_text(names)
    return names.where(names == "", prefix + names)


def spreadsheet_csv(frame: pd.DataFrame) -> str:
    """A table as CSV a spreadsheet opens as data: text cells through core.render.csv_cell (a leading `=`, `+`, `-`,
    `@`, tab or CR gets a `'`); columns of numbers stay numbers."""
    text = [c for c in frame.columns
            if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])]
    return frame.assign(**{c: frame[c].map(csv_cell, na_action="ignore") for c in text}).to_csv(index=False)


def latest_pods(frame: pd.DataFrame, count: int = 6) -> pd.DataFrame:
    """The most recently created ECI pods, newest first."""
    created = frame["Created"].array.asi8  # NaT is the smallest int64
    known = created[created != _NAT]
    if 0 < count <= len(known) and len(frame) > count:
        # sorting only the rows at least as new as the count-th newest (ties included) gives the same first rows
        frame = frame[created >= np.partition(known, len(known) - count)[len(known) - count]]
    return frame.sort_values(["Created", "key"], ascending=[False, True], na_position="last").head(count)


@dataclass(frozen=True)
class Headline:
    """The numbers at the top of the overview."""

    eci_pods: int
    hits: int
    misses: int
    fails: int
    off: int
    disagreements: int
    ready_caches: int
    caches: int
    failed_caches: int = 0

    @property
    def hit_rate(self) -> float | None:
        """Hits among pods that tried a cache (hit, miss or fail); None when none did."""
        tried = self.hits + self.misses + self.fails
        return self.hits / tried if tried else None


HEADLINE_COLUMNS = ("Actual", "Decision", "Agrees")  # what `headline` reads of the pods table, but its length


def headline(frame: pd.DataFrame, cache_table: pd.DataFrame) -> Headline:
    """Counts for the overview metrics, from the pods and caches tables."""
    outcome = frame["Actual"].where(frame["Actual"] != NO_REPORT, frame["Decision"])
    counts = outcome.value_counts()
    return Headline(
        eci_pods=len(frame),
        hits=int(counts.get("hit", 0)),
        misses=int(counts.get("miss", 0)),
        fails=int(counts.get("fail", 0)),
        off=int(counts.get("off", 0)),
        disagreements=int((~frame["Agrees"]).sum()),
        ready_caches=int((cache_table["Phase"] == "Ready").sum()),
        caches=len(cache_table),
        failed_caches=int(cache_table["Phase"].isin(PHASE_GROUPS["Failed"]).sum()),
    )


def outcomes_over_time(history: Iterable[Any], now: datetime, buckets: int = 40) -> pd.DataFrame:
    """Pods per outcome per time bucket (columns Time, Outcome, Pods), aggregated before plotting."""
    points = [(point.at, point.outcome) for point in history
              if getattr(point, "kind", "pod") == "pod" and point.outcome in OUTCOMES]
    if not points:
        return pd.DataFrame(columns=["Time", "Outcome", "Pods"])
    frame = pd.DataFrame(points, columns=["Time", "Outcome"])
    frame["Time"] = pd.to_datetime(frame["Time"], utc=True)
    # A round window and bucket, and "now" floored to the bucket: the figure (and so the chart's identity in
    # the browser) changes only when a bucket fills or a new one starts, not on every redraw.
    age = pd.Timestamp(now) - frame["Time"].min()
    fits = (pd.Timedelta(w) for w in WINDOWS if pd.Timedelta(w) * (1 - 2 / buckets) > age)
    span = next(fits, pd.Timedelta(WINDOWS[-1]))
    bucket = nice_bucket(span / buckets)
    end = pd.Timestamp(now).floor(bucket) + pd.Timedelta(bucket)
    frame = frame[frame["Time"] >= end - span].copy()
    frame["Time"] = frame["Time"].dt.floor(bucket)
    counted = frame.groupby(["Time", "Outcome"]).size().rename("Pods").reset_index()
    counted = counted.sort_values(["Time", "Outcome"]).reset_index(drop=True)
    counted.attrs["bucket_seconds"] = int(bucket.removesuffix("s"))
    counted.attrs["start"] = end - span
    counted.attrs["end"] = end
    return counted


def hit_rate_over_time(counted: pd.DataFrame) -> pd.DataFrame:
    """Per bucket of `outcomes_over_time`: hits among the pods that tried a cache (columns Time, Hit rate, Pods)."""
    tried = counted[counted["Outcome"].isin(("hit", "miss", "fail"))]
    if tried.empty:
        return pd.DataFrame(columns=["Time", "Hit rate", "Pods"])
    totals = tried.groupby("Time")["Pods"].sum()
    hits = tried[tried["Outcome"] == "hit"].groupby("Time")["Pods"].sum().reindex(totals.index, fill_value=0)
    rates = pd.DataFrame({"Time": totals.index, "Hit rate": (hits / totals).to_numpy(),
                          "Pods": totals.to_numpy()}).reset_index(drop=True)
    rates.attrs = dict(counted.attrs)
    return rates


def history_note(gone: int) -> str:
    """The charts over time next to the tiles, which count only the pods that exist now."""
    if not gone:
        return "The tiles above count the pods that exist now."
    them = "pod" if gone == 1 else "pods"
    return (f"The tiles above count only the pods that exist now: {gone:,} {them} this dashboard saw created "
            "no longer exist, and the charts still count them.")


def pods_gone(history: Iterable[Any], pods: Mapping[str, Any], seen: frozenset[str] | None = None) -> int:
    """Pods the history counts that no longer exist (deleted, or replaced by their workload); `seen` is the
    history's `history_keys` when known."""
    seen = history_keys(history) if seen is None else seen
    return sum(1 for key in seen if key not in pods)


def history_keys(history: Iterable[Any]) -> frozenset[str]:
    """The pods the history counts."""
    return frozenset(point.key for point in history
                     if getattr(point, "kind", "pod") == "pod" and point.outcome in OUTCOMES)


WINDOWS = ("10min", "30min", "1h", "3h", "6h", "12h", "1D", "3D", "7D")


NICE_BUCKETS = [
    timedelta(seconds=s) for s in (1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200)
] + [timedelta(days=1), timedelta(days=7)]


def nice_bucket(width: timedelta) -> str:
    """The smallest round bucket at least `width` wide, as a pandas frequency."""
    for bucket in NICE_BUCKETS:
        if bucket >= width:
            return f"{int(bucket.total_seconds())}s"
    return f"{int(NICE_BUCKETS[-1].total_seconds())}s"


def decisions_by_namespace(frame: pd.DataFrame, top: int = 12) -> pd.DataFrame:
    """Pods per namespace and decision (columns Namespace, Decision, Pods); small namespaces folded."""
    if frame.empty:
        return pd.DataFrame(columns=["Namespace", "Decision", "Pods"])
    totals = frame["Namespace"].value_counts()
    keep = set(totals.index[:top])
    namespace = frame["Namespace"].where(frame["Namespace"].isin(keep), "(other namespaces)")
    counted = (
        pd.DataFrame({"Namespace": namespace, "Decision": frame["Decision"]})
        .groupby(["Namespace", "Decision"]).size().rename("Pods").reset_index()
    )
    order = {name: rank for rank, name in enumerate(totals.index)}
    counted["rank"] = counted["Namespace"].map(lambda name: order.get(name, len(order)))
    return counted.sort_values(["rank", "Decision"]).drop(columns="rank").reset_index(drop=True)


def now_utc() -> datetime:
    """The current time, aware and in UTC."""
    return datetime.now(UTC)


def predict(obj: Mapping[str, Any], index: CacheIndex, now: datetime) -> Explanation:
    """What ECI would do with a new pod of this Pod or workload created `now` (ImcError when it does not read)."""
    return explain(pod_template(obj), index, now)


def short_image(image: str, width: int = 48) -> str:
    """The familiar short form of an image, cut to fit an axis label."""
    try:
        text = parse_image(image).familiar
    except ValueError:
        text = image
    return text if len(text) <= width else "…" + text[-(width - 1):]
