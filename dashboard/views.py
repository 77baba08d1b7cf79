"""View models: the tables and aggregates the pages show, built from one store snapshot."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from core.caches import AUTO_CREATED_PREFIX, MAX_IMAGES
from core.images import normalise_image, parse_image
from core.timeutil import parse_time

OUTCOMES = ("hit", "miss", "fail", "off")
NO_REPORT = "no report"  # ECI wrote nothing about the pod (yet): no event, no matched-cache annotation
OUTCOME_LABELS = {"hit": "Hit", "miss": "Miss", "fail": "Fail", "off": "Off"}

POD_COLUMNS = [
    "Namespace", "Pod", "Decision", "Actual", "Agrees", "Cache", "Cache ID", "Images", "Created", "key",
]
CACHE_COLUMNS = [
    "Name", "Cache ID", "Phase", "Progress", "Size (GiB)", "Images", "Image names", "Created", "Age", "Expires",
    "Pods hit", "Auto-created",
]


def pods_frame(pods: Mapping[str, Any]) -> pd.DataFrame:
    """One row per ECI pod, sorted by namespace then name so row positions are stable."""
    rows = []
    for key, record in pods.items():
        decision = record.decision
        if decision.outcome == "not-eci":
            continue
        actual = record.actual
        cache = decision.cache
        rows.append({
            "Namespace": record.namespace,
            "Pod": record.name,
            "Decision": decision.outcome,
            "Actual": actual.outcome if actual is not None else NO_REPORT,
            "Agrees": not record.disagrees,
            "Cache": cache.name if cache is not None else "",
            "Cache ID": _hit_cache_id(decision, actual),
            "Images": ", ".join(decision.images),
            "Created": record.created,
            "key": key,
        })
    frame = pd.DataFrame(rows, columns=POD_COLUMNS)
    frame["Created"] = pd.to_datetime(frame["Created"], utc=True)
    return frame.sort_values(["Namespace", "Pod"], kind="stable").reset_index(drop=True)


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
            frame["Namespace"] + "/" + frame["Pod"] + " " + frame["Cache"] + " " + frame["Cache ID"]
            + " " + frame["Images"]
        ).str.lower()
        mask &= haystack.str.contains(text, regex=False)
    return frame[mask].reset_index(drop=True)


def latest_pods(frame: pd.DataFrame, count: int = 6) -> pd.DataFrame:
    """The most recently created ECI pods, newest first."""
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

    @property
    def hit_rate(self) -> float | None:
        """Hits among pods that tried a cache (hit, miss or fail); None when none did."""
        tried = self.hits + self.misses + self.fails
        return self.hits / tried if tried else None


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


@dataclass(frozen=True)
class PodNeed:
    """Pods sharing one image set and one requirement (how many images a cache must hold)."""

    images: frozenset[str]
    required: int
    pods: int


def missed_needs(pods: Mapping[str, Any], held: set[str] | frozenset[str] = frozenset()) -> list[PodNeed]:
    """The image needs of ECI pods that missed (by ECI's word when known) and still lack a Ready cache."""
    grouped: Counter[tuple[frozenset[str], int]] = Counter()
    for record in pods.values():
        decision = record.decision
        outcome = record.actual.outcome if record.actual is not None else decision.outcome
        if outcome != "miss" or not decision.images:
            continue
        images = frozenset(decision.images)
        if images <= held:
            continue  # a Ready cache (often the one ECI auto-created) holds them all now
        grouped[(images, decision.policy.requirement(len(images)))] += 1
    return [PodNeed(images, required, count) for (images, required), count in grouped.items()]


def uncached_images(pods: Mapping[str, Any], held: set[str], top: int = 15) -> pd.DataFrame:
    """The images of ECI pods that no Ready cache holds, by how many pods use them."""
    counts: Counter[str] = Counter()
    for record in pods.values():
        decision = record.decision
        if decision.outcome in ("not-eci",):
            continue
        counts.update(image for image in decision.images if image not in held)
    rows = counts.most_common(top)
    return pd.DataFrame(rows, columns=["Image", "Pods"])


@dataclass(frozen=True)
class CacheSuggestion:
    """Images for one new cache, and how many missed pods it would serve."""

    images: tuple[str, ...]
    pods_covered: int
    pods_missed: int


def suggest_cache(needs: list[PodNeed], limit: int = MAX_IMAGES) -> CacheSuggestion:
    """Greedily choose at most `limit` images that satisfy the most missed pods."""
    total = sum(need.pods for need in needs)
    chosen: list[str] = []
    chosen_set: set[str] = set()
    open_needs = [need for need in needs if need.required <= limit]
    while len(chosen) < limit and open_needs:
        # Each open need spreads its pods over the images it still lacks: the best image brings pods closest.
        score: Counter[str] = Counter()
        for need in open_needs:
            missing = need.images - chosen_set
            still = need.required - (len(need.images) - len(missing))
            for image in missing:
                score[image] += need.pods / still
        if not score:
            break
        best = max(score, key=lambda image: (score[image], _reverse_key(image)))
        chosen.append(best)
        chosen_set.add(best)
        room = limit - len(chosen)
        open_needs = [need for need in open_needs
                      if 0 < need.required - len(need.images & chosen_set) <= room]
    covered = sum(need.pods for need in needs if len(need.images & chosen_set) >= need.required)
    return CacheSuggestion(tuple(chosen), covered, total)


def _reverse_key(image: str) -> tuple[int, ...]:
    """A tie-break that prefers the alphabetically first image in max()."""
    return tuple(-ord(char) for char in image)


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


def now_utc() -> datetime:
    """The current time, aware and in UTC."""
    return datetime.now(UTC)


def short_image(image: str, width: int = 48) -> str:
    """The familiar short form of an image, cut to fit an axis label."""
    try:
        text = parse_image(image).familiar
    except ValueError:
        text = image
    return text if len(text) <= width else "…" + text[-(width - 1):]
