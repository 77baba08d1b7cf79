"""The cache radar's view model (pure): what needs a decision soon, and what each cache costs against what it saves.

Expiring caches with the workloads that hit or pin them; failed caches (ECI removes them 24 h after the failure);
caches nothing hits, live or in the ledger's window; auto-created caches by the workload whose pod caused them; and
the cost of each cache as an estimate: GiB-days over the window, money at the user's price per GiB-month.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from core.caches import AUTO_CREATED_PREFIX, CacheView
from core.policy import INSTANCE_ID
from dashboard.cache_views import ends, failed_at, is_failed, relative_time
from dashboard.history_views import NOT_KEPT

PRICE_VARIABLE = "IMC_PRICE_PER_GIB_MONTH"
DAYS_A_MONTH = 30  # a GiB-month as GiB-days: the price per month spread over 30 days
DEFAULT_WINDOW_DAYS = 7
MAX_WINDOW_DAYS = 30  # the ledger keeps 30 days by default (IMC_HISTORY_DAYS)
# ledger's cache_use rows: (cache ID, cache name, hits, newest hit's creation in epoch seconds, seconds saved)
CacheUse = tuple[str | None, str | None, int, float | None, float]


@dataclass(frozen=True)
class Price:
    """The user's price per GiB-month from the environment, or why there is none."""

    per_gib_month: float | None
    problem: str | None = None


def price_setting(environ: Mapping[str, str]) -> Price:
    """IMC_PRICE_PER_GIB_MONTH as a price; unset is no price, a bad value is no price and says why."""
    text = environ.get(PRICE_VARIABLE, "").strip()
    if not text:
        return Price(None)
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        return Price(None, f"{PRICE_VARIABLE}={text[:40]!r} is not a price (a number ≥ 0, e.g. 0.05): "
                           "costs are shown in GiB-days only")
    return Price(value)


@dataclass(frozen=True)
class Radar:
    """The radar's tables and totals for one window."""

    window_days: int
    expiring: pd.DataFrame
    failed: pd.DataFrame
    unused: pd.DataFrame
    auto_created: pd.DataFrame
    cost: pd.DataFrame
    total_gib_days: float
    total_money: float | None
    notes: tuple[str, ...] = field(default=())


def _users(pods: Mapping[str, Any]) -> tuple[dict, dict, dict, dict]:
    """From live pod records: cache name -> workloads hitting it, cache ID -> workloads pinning it, cache name -> live
    pods hitting it, ECI instance ID -> the workload of its pod."""
    hitting: dict[str, set[str]] = defaultdict(set)
    pinning: dict[str, set[str]] = defaultdict(set)
    live_hits: dict[str, int] = defaultdict(int)
    instances: dict[str, str] = {}
    for record in pods.values():
        decision = record.decision
        if decision.outcome == "not-eci":
            continue
        workload = f"{record.namespace}/{record.workload or 'Pod/' + record.name}"
        if decision.cache is not None:
            hitting[decision.cache.name].add(workload)
            live_hits[decision.cache.name] += 1
        if decision.policy.mode == "pin" and decision.pinned_id:
            pinning[decision.pinned_id].add(workload)
        instance = record.template.annotations.get(INSTANCE_ID)
        if isinstance(instance, str) and instance:
            instances[instance] = workload
    return hitting, pinning, live_hits, instances


def _names(workloads: Iterable[str], most: int = 5) -> str:
    """Workloads as one cell: the first few by name, then how many more."""
    ordered = sorted(workloads)
    shown = ", ".join(ordered[:most])
    return shown + (f" and {len(ordered) - most} more" if len(ordered) > most else "")


def gib_days(view: CacheView, start: datetime, now: datetime) -> float:
    """What the cache held over [start, now] in GiB-days: its size for as long as it existed in the window."""
    begin = max(view.created or start, start)
    gone = ends(view)
    end = min(gone, now) if gone is not None else now
    return view.size_gib * max((end - begin).total_seconds(), 0.0) / 86400


def radar(
    caches: Mapping[str, CacheView],
    pods: Mapping[str, Any],
    use: Iterable[CacheUse] | None,
    now: datetime,
    window_days: int = DEFAULT_WINDOW_DAYS,
    price: float | None = None,
    no_history: str = NOT_KEPT,
) -> Radar:
    """The radar of these caches and live pods over the last (and next) `window_days`; `use` is the ledger's hits
    per cache since the window's start (None: no ledger, only live pods count, and `no_history` says why)."""
    window = timedelta(days=window_days)
    start, horizon = now - window, now + window
    hitting, pinning, live_hits, instances = _users(pods)
    used: dict[str, tuple[int, float | None, float]] = {}
    for cache_id, name, hits, last, saved in use or ():
        for key in (cache_id, name):
            if key:
                used[key] = (hits, last, saved)

    def ledger_of(view: CacheView) -> tuple[int, float | None, float]:
        return used.get(view.id or "") or used.get(view.name) or (0, None, 0.0)

    expiring, failed, unused, auto, cost = [], [], [], [], []
    for name, view in sorted(caches.items()):
        users = hitting.get(name, set()) | (pinning.get(view.id, set()) if view.id else set())
        pinned = pinning.get(view.id, set()) if view.id else set()
        if is_failed(view):
            removed = ends(view)
            failed.append((name, view.phase, failed_at(view), removed,
                           relative_time(removed, now) if removed else "unknown", _names(users)))
        elif view.expires is not None and now <= view.expires <= horizon:
            expiring.append((name, view.expires, relative_time(view.expires, now), len(users),
                             _names(hitting.get(name, ())), _names(pinned)))
        hits, _, saved = ledger_of(view) if use is not None else (live_hits.get(name, 0), None, 0.0)
        if not live_hits.get(name) and not hits and not is_failed(view):
            unused.append((name, view.phase or "Pending", view.size_gib, view.created,
                           f"no hit in {window_days} d" if use is not None else "no history kept"))
        if name.startswith(AUTO_CREATED_PREFIX):
            instance = name.removeprefix(AUTO_CREATED_PREFIX)
            auto.append((name, instances.get(instance, "its pod is gone"), _names(hitting.get(name, ())),
                         view.phase or "Pending", view.size_gib, live_hits.get(name, 0), view.created))
        spent = gib_days(view, start, now)
        money = spent / DAYS_A_MONTH * price if price is not None else None
        cost.append((name, view.size_gib, round(spent, 1), money, round(saved / 3600, 2), hits,
                     saved / spent if spent else math.inf if saved else 0.0))
    cost_frame = pd.DataFrame(cost, columns=["Cache", "Size (GiB)", "GiB-days", "Estimated cost", "Time saved (h)",
                                             "Hits in window", "Saved s per GiB-day"])
    # costs most and saves least first: the least saved per GiB-day, then the most GiB-days
    cost_frame = cost_frame.sort_values(["Saved s per GiB-day", "GiB-days", "Cache"], ascending=[True, False, True],
                                        kind="stable").reset_index(drop=True)
    total = float(cost_frame["GiB-days"].sum()) if not cost_frame.empty else 0.0
    notes = () if use is not None else (f"{no_history[:1].upper()}{no_history[1:]}: caches are judged by live pods "
                                        "only, and no time saved is known.",)
    return Radar(
        window_days=window_days,
        expiring=_frame(expiring, ["Cache", "Expires", "Expires in", "Workloads", "Hit by", "Pinned by"], "Expires"),
        failed=_frame(failed, ["Cache", "Phase", "Failed", "Removed", "Removed in", "Used by"], "Removed"),
        unused=_frame(unused, ["Cache", "Phase", "Size (GiB)", "Created", "History"], "Created"),
        auto_created=_frame(auto, ["Cache", "Caused by", "Hit by", "Phase", "Size (GiB)", "Pods hit", "Created"],
                            "Created"),
        cost=cost_frame,
        total_gib_days=total,
        total_money=total / DAYS_A_MONTH * price if price is not None else None,
        notes=notes,
    )


def _frame(rows: list[tuple], columns: list[str], moment: str) -> pd.DataFrame:
    """A radar table sorted by its time column (soonest or oldest first), with times as UTC timestamps."""
    frame = pd.DataFrame(rows, columns=columns)
    for column in columns:
        if column in ("Expires", "Failed", "Removed", "Created"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.sort_values([moment, "Cache"], kind="stable", na_position="last").reset_index(drop=True)


def matching(seen: Radar, text: str) -> Radar:
    """The radar with only the caches whose name contains `text` (any case); totals stay those of every cache."""
    needle = text.strip().lower()
    if not needle:
        return seen

    def kept(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["Cache"].str.lower().str.contains(needle, regex=False)].reset_index(drop=True)

    return dataclasses.replace(seen, expiring=kept(seen.expiring), failed=kept(seen.failed), unused=kept(seen.unused),
                               auto_created=kept(seen.auto_created), cost=kept(seen.cost))


def window_days(text: str | None) -> int:
    """The ?days= of a link as a window within 1 to MAX_WINDOW_DAYS; anything else is the default."""
    if text is None or not text.strip().isdigit():
        return DEFAULT_WINDOW_DAYS
    return min(max(int(text.strip()), 1), MAX_WINDOW_DAYS)


def window_start(now: datetime, window_days: int) -> float:
    """The epoch seconds the ledger's window starts at."""
    return (now.astimezone(UTC) - timedelta(days=window_days)).timestamp()
