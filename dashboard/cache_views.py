"""View models of ImageCaches: the caches table, their timeline and the images × caches coverage.

They read the engine's CacheViews (normalised images, phase, Ready time, expiry), so the dashboard shows
caches exactly as the engine matches them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from core.caches import AUTO_CREATED_PREFIX, CacheView

CACHE_COLUMNS = [
    "Name", "Cache ID", "Phase", "Progress", "Size (GiB)", "Images", "Image names", "Created", "Age", "Expires",
    "Pods hit", "Auto-created",
]
# the Phase filter's groups of ECI's cache phases (core.caches.PHASES; no phase yet reads as Pending)
PHASE_GROUPS = {
    "Ready": ("Ready",),
    "Building": ("Pending", "Preparing", "Creating", "Updating"),
    "Failed": ("Failed", "UpdateFailed"),
}
FAILED_CACHE_LIFETIME = timedelta(hours=24)  # ECI deletes a failed cache 24 h after the failure
TIMELINE_WINDOW = timedelta(hours=24)  # the cache timeline shows the last day and the next


def is_auto_created(name: str) -> bool:
    """True for caches ECI created itself for a missed pod."""
    return name.startswith(AUTO_CREATED_PREFIX)


def progress_percent(value: Any) -> float | None:
    """A progress like "85%" as the number 85; None when absent, unreadable or outside 0-100 ("1e400%", "nan")."""
    if value in (None, ""):
        return None
    try:
        number = float(str(value).strip().rstrip("%"))
    except ValueError:
        return None
    return number if 0 <= number <= 100 else None


def is_failed(view: CacheView) -> bool:
    """Failed or UpdateFailed: ECI uses it for no pod and removes it."""
    return view.phase in PHASE_GROUPS["Failed"]


def failed_at(view: CacheView) -> datetime | None:
    """When a failed cache failed: its status.lastUpdatedTime, else as long before its expiry as ECI keeps it."""
    if view.updated is not None:
        return view.updated
    return view.expires - FAILED_CACHE_LIFETIME if view.expires else view.created


def ends(view: CacheView) -> datetime | None:
    """When the cache goes: ECI removes a failed cache 24 h after it failed, else its expiry (None: never)."""
    if is_failed(view):
        failed = failed_at(view)
        return failed + FAILED_CACHE_LIFETIME if failed else view.expires
    return view.expires


def cache_row(name: str, view: CacheView) -> tuple:
    """A cache's CACHE_COLUMNS values but "Age" and "Pods hit", which move with time and pods; a failed cache's
    "Expires" is its removal."""
    return (name, view.id or "", view.phase or "Pending", progress_percent(view.progress), view.size_gib,
            len(view.images), " ".join(view.images), view.created, ends(view), view.auto_created)


def caches_frame(caches: Mapping[str, CacheView], pods: pd.DataFrame, now: datetime,
                 rows: Mapping[str, tuple[Any, tuple]] | None = None) -> pd.DataFrame:
    """One row per ImageCache, sorted by name, with the pods that hit it; `rows` are the caches' `cache_row`s
    (as `views.pod_rows` keeps them), else made here."""
    return with_ages(caches_table(caches, cache_hits(pods), rows), now)


def cache_hits(pods: pd.DataFrame) -> dict[str, int]:
    """Cache ID -> the pods of the pods table that hit it."""
    if pods.empty:
        return {}
    counts = pods.loc[pods["Cache ID"] != "", "Cache ID"].value_counts()
    return counts[counts > 0].to_dict()  # a categorical column counts its categories no pod holds as 0


def caches_table(caches: Mapping[str, CacheView], hits: Mapping[str, int],
                 rows: Mapping[str, tuple[Any, tuple]] | None = None) -> pd.DataFrame:
    """`caches_frame` but its ages ("Age" is empty: `with_ages` writes it), from the caches' `cache_hits`."""
    if rows is None:
        rows = {name: (view, cache_row(name, view)) for name, view in caches.items()}
    values = [(*row[:8], "", row[8], int(hits.get(row[1], 0)) if row[1] else 0, row[9])
              for _, (_, row) in sorted(rows.items())]
    frame = pd.DataFrame(values, columns=CACHE_COLUMNS)
    for column in ("Created", "Expires"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def with_ages(table: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """A `caches_table` with its "Age" column: kubectl's age of each cache's creation at `now` ("" without one)."""
    if table.empty:
        return table
    created = table["Created"]
    known = created.notna().to_numpy()
    seconds = np.zeros(len(created), dtype=np.int64)
    seconds[known] = ((pd.Timestamp(now) - created[known]) // pd.Timedelta(seconds=1)).to_numpy()
    ages = [_age_text(max(value, 0)) if found else "" for value, found in zip(seconds.tolist(), known.tolist(),
                                                                               strict=True)]
    return table.assign(Age=ages)


def filter_caches(frame: pd.DataFrame, phases: tuple[str, ...] = (), text: str = "") -> pd.DataFrame:
    """The caches in one of these phases whose name, ID or images contain the text."""
    mask = pd.Series(True, index=frame.index)
    if phases:
        mask &= frame["Phase"].isin(phases)
    needle = text.strip().lower()
    if needle:
        haystack = (frame["Name"] + " " + frame["Cache ID"] + " " + frame["Image names"]).str.lower()
        mask &= haystack.str.contains(needle, regex=False)
    return frame[mask].reset_index(drop=True)


def shown_name(name: str) -> str:
    """A cache's name in a narrow column: an auto-created one by the ECI instance it was made for, the part that
    differs ("auto · eci-2ze…" rather than "auto-create-for-ec…" for all of them)."""
    return f"auto · {name.removeprefix(AUTO_CREATED_PREFIX)}" if is_auto_created(name) else name


# a link's text in a table: an auto-created cache by the ECI instance it was made for (the part that differs)
CACHE_LINK_TEXT = r"\?cache=(?:" + AUTO_CREATED_PREFIX + r")?(.+)$"
EXPIRING_SOON = timedelta(hours=24)


def expiring_soon(table: pd.DataFrame, now: datetime, soon: timedelta = EXPIRING_SOON) -> pd.Series:
    """Per cache of the caches table: Ready, hit by live pods, and expiring within `soon` (the ⚠ of the table)."""
    if table.empty:
        return pd.Series(dtype=bool)
    ends_at = table["Expires"]
    return (table["Phase"] == "Ready") & (table["Pods hit"] > 0) & ends_at.notna() & (ends_at <= pd.Timestamp(now) + soon)


def by_urgency(table: pd.DataFrame, now: datetime, soon: timedelta = EXPIRING_SOON) -> pd.DataFrame:
    """The caches table with its "Expires in" words, the Ready caches that pods use and that expire within `soon`
    first (soonest first, flagged ⚠), then the rest as they were (by name)."""
    if table.empty:
        return table.assign(**{"Expires in": pd.Series(dtype=str)})
    ends_at = table["Expires"]
    urgent = expiring_soon(table, now, soon).to_numpy()
    failed = table["Phase"].isin(PHASE_GROUPS["Failed"]).to_numpy()
    words = []
    for moment, flagged, removed in zip(ends_at.tolist(), urgent.tolist(), failed.tolist(), strict=True):
        if moment is None or moment is pd.NaT:
            words.append("never")
            continue
        text = relative_time(moment.to_pydatetime(), now)
        words.append(f"⚠ {text}" if flagged else f"removed {text}" if removed else text)
    ordered = table.assign(**{"Expires in": words, "urgent": urgent})
    ordered = pd.concat([ordered[urgent].sort_values("Expires", kind="stable"), ordered[~urgent]])
    return ordered.drop(columns="urgent").reset_index(drop=True)


def format_age(age: timedelta) -> str:
    """kubectl-style age: 45s, 12m, 5h, 3d."""
    return _age_text(max(int(age.total_seconds()), 0))


def relative_time(moment: datetime, now: datetime) -> str:
    """A moment relative to now, then its absolute time and zone: "in 40 min (2026-12-05 23:50 UTC)"."""
    seconds = int((moment - now).total_seconds())
    span, moment = abs(seconds), moment.astimezone(UTC)
    if span < 60:
        words = f"{span} s"
    elif span < 2 * 3600:
        words = f"{span // 60} min"
    elif span < 2 * 86400:
        words = f"{span // 3600} h {span % 3600 // 60:02d} min" if span < 10 * 3600 else f"{span // 3600} h"
    else:
        words = f"{span // 86400} d"
    # within the second reads as past ("0 s ago"): a deletion stamped just after the page's clock is not "in 0 s"
    return f"{f'in {words}' if seconds > 0 else f'{words} ago'} ({moment:%Y-%m-%d %H:%M} UTC)"


def _age_text(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "m" else 1):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def cache_timeline(caches: Mapping[str, CacheView], now: datetime, top: int = 25,
                   window: timedelta = TIMELINE_WINDOW) -> pd.DataFrame:
    """Bars per cache (Cache, Stage, Start, End) over the last `window` and as long ahead: building until Ready,
    Ready until it expires ("Expires soon" when that is within the window ahead), or Failed.

    Caches alive in the window only; bars are cut to it; attrs start and end give the window's edges.
    """
    now = now.replace(second=0, microsecond=0)  # redrawn once a minute, not on every store change
    start, horizon = now - window, now + window
    stub = 2 * window / 60  # a cache still building shows at least this much bar
    rows = []
    for name, view in caches.items():
        gone = ends(view)
        if view.created is None or (gone is not None and gone < start):
            continue
        end = min(view.expires, horizon) if view.expires else horizon
        if view.phase == "Ready":
            ready_at = max(min(view.ready_since or view.created, now), view.created)
            soon = view.expires is not None and view.expires <= horizon
            rows.append((name, "Building", view.created, ready_at))
            rows.append((name, "Expires soon" if soon else "Ready", ready_at, max(end, ready_at)))
        elif is_failed(view):
            failed = max(min(failed_at(view) or now, now), view.created)
            removed = min(ends(view) or horizon, horizon)
            rows.append((name, "Building", view.created, failed))
            rows.append((name, "Failed", failed, max(removed, failed)))
        else:
            rows.append((name, "Building", view.created, max(now, view.created) + stub))
    rows = [(name, stage, max(begin, start), finish) for name, stage, begin, finish in rows if finish > start]
    frame = pd.DataFrame(rows, columns=["Cache", "Stage", "Start", "End"])
    if frame.empty:
        return frame
    newest = frame.groupby("Cache")["Start"].min().sort_values(ascending=False).index[:top]
    frame = frame[frame["Cache"].isin(newest)]
    for column in ("Start", "End"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame = frame.sort_values(["Start", "Cache"]).reset_index(drop=True)
    frame.attrs["start"], frame.attrs["end"] = pd.Timestamp(start), pd.Timestamp(horizon)
    return frame


def coverage_matrix(caches: Mapping[str, CacheView], pods: Mapping[str, Any], top_images: int = 30,
                    top_caches: int = 20) -> pd.DataFrame:
    """Images (rows, most used first) × caches (columns): True where the cache holds the image."""
    usage: Counter[str] = Counter()
    for record in pods.values():
        if record.decision.outcome != "not-eci":
            usage.update(record.decision.images)
    held = {name: set(view.images) for name, view in sorted(caches.items())}
    for images in held.values():
        for image in images:
            usage.setdefault(image, 0)
    images = [image for image, _ in sorted(usage.items(), key=lambda item: (-item[1], item[0]))][:top_images]
    names = sorted(held, key=lambda name: (-len(held[name] & set(images)), name))[:top_caches]
    frame = pd.DataFrame({name: [image in held[name] for image in images] for name in names}, index=images)
    frame.index.name = "Image"
    frame.insert(0, "Pods using it", [usage[image] for image in images])
    return frame


def short_cache_names(names: list[str], width: int = 22) -> dict[str, str]:
    """Column titles for caches: ECI's long auto-created names shortened, every title unique."""
    labels: dict[str, str] = {}
    for name in names:
        if is_auto_created(name):
            label = "auto …" + name[-8:]
        else:
            label = name if len(name) <= width else name[: width - 1] + "…"
        while label in labels.values():
            label += "′"
        labels[name] = label
    return labels
