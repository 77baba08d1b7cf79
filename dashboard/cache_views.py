"""View models of ImageCaches: the caches table, their timeline and the images × caches coverage."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from core.caches import AUTO_CREATED_PREFIX
from core.images import normalise_image
from core.timeutil import parse_time

CACHE_COLUMNS = [
    "Name", "Cache ID", "Phase", "Progress", "Size (GiB)", "Images", "Image names", "Created", "Age", "Expires",
    "Pods hit", "Auto-created",
]


def cache_images(obj: Mapping[str, Any]) -> list[str]:
    """The images a cache object lists, normalised where they parse."""
    images = (obj.get("spec") or {}).get("images") or []
    return [_normalised(str(image)) for image in images]


def _normalised(image: str) -> str:
    """The normalised image, or the text as written when it does not parse."""
    try:
        return normalise_image(image)
    except ValueError:
        return image


def is_auto_created(name: str) -> bool:
    """True for caches ECI created itself for a missed pod."""
    return name.startswith(AUTO_CREATED_PREFIX)


def progress_percent(value: Any) -> float | None:
    """A progress like "85%" as the number 85; None when absent or unreadable."""
    if value in (None, ""):
        return None
    try:
        return float(str(value).strip().rstrip("%"))
    except ValueError:
        return None


def caches_frame(cache_objects: Mapping[str, Mapping[str, Any]], pods: pd.DataFrame, now: datetime
                 ) -> pd.DataFrame:
    """One row per ImageCache, sorted by name, with the pods that hit it."""
    hits = pods.loc[pods["Cache ID"] != "", "Cache ID"].value_counts() if not pods.empty else {}
    rows = []
    for name, obj in sorted(cache_objects.items()):
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        created = _time(obj.get("metadata", {}).get("creationTimestamp"))
        cache_id = status.get("imageCacheId") or ""
        rows.append({
            "Name": name,
            "Cache ID": cache_id,
            "Phase": status.get("phase") or "Pending",
            "Progress": progress_percent(status.get("progress")),
            "Size (GiB)": spec.get("imageCacheSize", 20),
            "Images": len(spec.get("images") or []),
            "Image names": " ".join(str(image) for image in spec.get("images") or []),
            "Created": created,
            "Age": format_age(now - created) if created else "",
            "Expires": _time(status.get("expireDateTime")),
            "Pods hit": int(hits.get(cache_id, 0)) if cache_id else 0,
            "Auto-created": is_auto_created(name),
        })
    frame = pd.DataFrame(rows, columns=CACHE_COLUMNS)
    for column in ("Created", "Expires"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


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


def _time(value: Any) -> datetime | None:
    """A timestamp from an object, or None when absent or malformed."""
    try:
        return parse_time(value)
    except ValueError:
        return None


def format_age(age: timedelta) -> str:
    """kubectl-style age: 45s, 12m, 5h, 3d."""
    seconds = max(int(age.total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "m" else 1):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def cache_timeline(cache_objects: Mapping[str, Mapping[str, Any]], now: datetime, top: int = 25
                   ) -> pd.DataFrame:
    """Bars per cache (Cache, Stage, Start, End): building until Ready, Ready until it expires.

    The future shown is as long as the past (between an hour and a week), so both stay readable.
    """
    rows = []
    now = now.replace(second=0, microsecond=0)  # redrawn once a minute, not on every store change
    created_times = [_time(obj.get("metadata", {}).get("creationTimestamp")) for obj in cache_objects.values()]
    earliest = min((t for t in created_times if t is not None), default=now)
    horizon = min(max(now - earliest, timedelta(hours=1)), timedelta(days=7))
    stub = (now + horizon - earliest) / 60  # a cache still building shows at least this much bar
    for name, obj in cache_objects.items():
        status = obj.get("status") or {}
        phase = status.get("phase") or "Pending"
        created = _time(obj.get("metadata", {}).get("creationTimestamp"))
        if created is None:
            continue
        changed = _time(status.get("lastUpdatedTime")) or _time(status.get("startTime")) or now
        expires = _time(status.get("expireDateTime"))
        end = min(expires, now + horizon) if expires else now + horizon
        if phase == "Ready":
            ready_at = max(min(changed, now), created)
            rows.append((name, "Building", created, ready_at))
            rows.append((name, "Ready", ready_at, max(end, ready_at)))
        elif phase in ("Failed", "UpdateFailed"):
            failed_at = max(min(changed, now), created)
            rows.append((name, "Building", created, failed_at))
            rows.append((name, "Failed", failed_at, max(end, failed_at)))
        else:
            rows.append((name, "Building", created, max(now, created) + stub))
    frame = pd.DataFrame(rows, columns=["Cache", "Stage", "Start", "End"])
    if frame.empty:
        return frame
    newest = frame.groupby("Cache")["Start"].min().sort_values(ascending=False).index[:top]
    frame = frame[frame["Cache"].isin(newest)]
    for column in ("Start", "End"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.sort_values(["Start", "Cache"]).reset_index(drop=True)


def ready_images(cache_objects: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Every normalised image some Ready cache holds."""
    held: set[str] = set()
    for obj in cache_objects.values():
        if (obj.get("status") or {}).get("phase") == "Ready":
            held.update(cache_images(obj))
    return held


def coverage_matrix(cache_objects: Mapping[str, Mapping[str, Any]], pods: Mapping[str, Any],
                    top_images: int = 30, top_caches: int = 20) -> pd.DataFrame:
    """Images (rows, most used first) × caches (columns): True where the cache holds the image."""
    usage: Counter[str] = Counter()
    for record in pods.values():
        if record.decision.outcome != "not-eci":
            usage.update(record.decision.images)
    held = {name: set(cache_images(obj)) for name, obj in sorted(cache_objects.items())}
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

