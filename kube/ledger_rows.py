"""What the outcome ledger records, as pure functions of store snapshots (no I/O; `kube/ledger.py` writes it)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from core.figures import floored
from core.owners import workload_name
from core.starts import PULLING_OUTCOMES, PullEstimate, pull_estimates, saves, saving

DEFAULT_DAYS = 30.0
FILE_NAME = "history.sqlite3"
DELETED = "Deleted"  # the phase row of a cache that is gone


@dataclass(frozen=True)
class LedgerSettings:
    """Where the ledger lives and how long it keeps rows; path None means history is off."""

    path: Path | None
    days: float = DEFAULT_DAYS
    problem: str | None = None  # a setting that could not be read, said in one line


def default_path(environ: Mapping[str, str]) -> Path:
    """Beside imc's other local state (the built-in cluster's ~/.cache/imc/sim)."""
    cache = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "imc" / FILE_NAME


def ledger_settings(environ: Mapping[str, str] | None = None) -> LedgerSettings:
    """IMC_HISTORY=off disables the ledger; IMC_HISTORY_PATH and IMC_HISTORY_DAYS place and bound it."""
    environ = os.environ if environ is None else environ
    if environ.get("IMC_HISTORY", "").strip().lower() in ("off", "0", "false", "no"):
        return LedgerSettings(None)
    path = Path(environ["IMC_HISTORY_PATH"]).expanduser() if environ.get("IMC_HISTORY_PATH") else default_path(environ)
    text = environ.get("IMC_HISTORY_DAYS", "").strip()
    if not text:
        return LedgerSettings(path)
    try:
        days = float(text)
        if not days > 0:
            raise ValueError
    except ValueError:
        return LedgerSettings(path, DEFAULT_DAYS, f"IMC_HISTORY_DAYS={text!r} is not a positive number; keeping "
                                                  f"{DEFAULT_DAYS:g} days")
    return LedgerSettings(path, days)


class PodRow(NamedTuple):
    """One ECI pod as the ledger holds it (the columns of table `pods`, in order)."""

    cluster: str
    uid: str
    namespace: str
    name: str
    workload: str
    created: float | None  # epoch seconds
    predicted: str
    actual: str | None
    outcome: str  # ECI's word when it reported, else the prediction (as the dashboard counts)
    cache_name: str | None
    cache_id: str | None
    disagrees: int
    start_seconds: float | None
    pull_seconds: float | None
    saved_seconds: float | None = None  # a started hit: pull time saved, estimated when imc first saw it started
    saving_seconds: float | None = None  # the same estimate before flooring at 0 (negative: the hit paid more)


class StoredPod(NamedTuple):
    """A pod's newest row in the ledger, and when it was seen deleted (None: not seen deleted)."""

    row: PodRow
    deleted: float | None


class PhaseRow(NamedTuple):
    """A cache seen in a new phase (table `cache_phases`)."""

    cluster: str
    name: str
    id: str | None
    phase: str
    at: float


@dataclass
class Batch:
    """What one writer tick stores: changed pods, pods gone since the last tick, cache phase changes."""

    pods: list[PodRow] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # uids
    phases: list[PhaseRow] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.pods or self.gone or self.phases)


@dataclass
class PendingChanges:
    """Changes seen but not yet stored, each with when it was seen; a pod keeps its first and its latest row.

    The first row is what the ledger counts the pod under (its insert triggers), the latest what it shows now, so a
    pod that came and went while the file was locked is stored as it would have been, tick by tick.
    """

    first: dict[str, tuple[PodRow, float]] = field(default_factory=dict)  # uid -> (row, seen at)
    latest: dict[str, tuple[PodRow, float]] = field(default_factory=dict)  # uid -> a later, different row
    gone: dict[str, float] = field(default_factory=dict)  # uid -> seen gone at
    phases: list[PhaseRow] = field(default_factory=list)

    def add(self, batch: Batch, at: float) -> None:
        """Queue one tick's batch, seen at `at`."""
        for row in batch.pods:
            if row.uid not in self.first:
                self.first[row.uid] = (row, at)
            elif self.first[row.uid][0] == row:
                self.latest.pop(row.uid, None)
            else:
                self.latest[row.uid] = (row, at)
            self.gone.pop(row.uid, None)
        for uid in batch.gone:
            self.gone.setdefault(uid, at)
        self.phases.extend(batch.phases)

    def clear(self) -> None:
        """Everything was stored."""
        self.first.clear()
        self.latest.clear()
        self.gone.clear()
        self.phases.clear()

    def __len__(self) -> int:
        return len(self.first) + len(self.latest) + len(self.gone) + len(self.phases)


def pod_workload(obj: Mapping[str, Any]) -> str:
    """The workload that owns a pod, as Kind/name (`core.owners.top_owner`: a Deployment, a CronJob); '' if none."""
    return workload_name(obj.get("metadata"))


def pod_uid(record: Any) -> str:
    """The pod's uid, else its key and creation time (a pod object without a uid)."""
    uid = record.uid
    return str(uid) if uid else f"{record.key}@{record.created.isoformat() if record.created else ''}"


def effective_outcome(record: Any) -> str | None:
    """ECI's reported outcome, else the prediction (as the dashboard counts); None for a pod ECI does not run."""
    if record.decision.outcome == "not-eci":
        return None
    return record.actual.outcome if record.actual is not None else record.decision.outcome


def pod_row(cluster: str, record: Any, estimates: Mapping[str, PullEstimate] | None = None) -> PodRow | None:
    """The ledger row of a PodRecord, or None for a pod ECI does not run; a started hit's saving is estimated
    against `estimates` (`core.starts.saving`; shown at least 0; None without estimates or when an image was never
    seen pulled)."""
    outcome = effective_outcome(record)
    if outcome is None:
        return None
    decision = record.decision
    actual = record.actual
    cache = decision.cache
    start = getattr(record, "start", None)
    started = start is not None and start.start_seconds is not None
    estimated = estimated_saving(record, outcome, estimates)
    cache_id = (actual.cache_id if actual is not None else None) or (cache.id if cache is not None else None)
    return PodRow(
        cluster=cluster,
        uid=pod_uid(record),
        namespace=record.namespace,
        name=record.name,
        workload=record.workload,
        created=record.created.timestamp() if record.created is not None else None,
        predicted=decision.outcome,
        actual=actual.outcome if actual is not None else None,
        outcome=outcome,
        cache_name=cache.name if cache is not None else None,
        cache_id=cache_id or None,
        disagrees=int(record.disagrees),
        start_seconds=start.start_seconds if started else None,
        # once started, so the histogram observes the pod's whole pull time, not the first image's
        pull_seconds=start.pull_seconds if started else None,
        saved_seconds=floored(estimated),
        saving_seconds=estimated,
    )


def estimated_saving(record: Any, outcome: str, estimates: Mapping[str, PullEstimate] | None) -> float | None:
    """What a started hit saved by the estimates, unfloored (`core.figures.floored` makes it what is shown); None for
    any other pod or an unknown saving."""
    start = getattr(record, "start", None)
    if estimates is None or not saves(outcome, start):
        return None
    return saving(start, record.decision.images, estimates).seconds


def snapshot_estimates(snapshot: Any) -> dict[str, PullEstimate]:
    """The pull estimates of a snapshot: its missed and unmatched pods' pulls (`core.starts.pull_estimates`)."""
    return pull_estimates(getattr(record, "start", None) for record in snapshot.pods.values()
                          if effective_outcome(record) in PULLING_OUTCOMES)


@dataclass
class Tracker:
    """The last snapshot the writer queued, so each tick queues only what changed (records are immutable)."""

    cluster: str
    pods: dict[str, tuple[Any, PodRow | None]] = field(default_factory=dict)  # key -> (record, its row)
    phases: dict[str, str] = field(default_factory=dict)  # cache name -> phase

    def changes(self, snapshot: Any, now: float) -> tuple[Batch, dict, dict]:
        """The batch from the last accepted state to this snapshot, and the state to accept once it is queued."""
        batch = Batch()
        pods: dict[str, tuple[Any, PodRow | None]] = {}
        estimates: dict[str, PullEstimate] | None = None  # made once a tick, when a changed pod is a started hit
        for key, record in snapshot.pods.items():
            seen = self.pods.get(key)
            if seen is not None and seen[0] is record:
                pods[key] = seen
                continue
            before = seen[1] if seen is not None else None
            if before is not None and before.start_seconds is not None and before.uid == pod_uid(record):
                row = pod_row(self.cluster, record)  # its saving was estimated when it was first seen started
                row = (row._replace(saved_seconds=before.saved_seconds, saving_seconds=before.saving_seconds)
                       if row is not None else None)
            else:
                if estimates is None and saves(effective_outcome(record) or "", getattr(record, "start", None)):
                    estimates = snapshot_estimates(snapshot)
                row = pod_row(self.cluster, record, estimates)
            pods[key] = (record, row)
            if row is not None and (seen is None or seen[1] != row):
                batch.pods.append(row)
            if seen is not None and seen[1] is not None and (row is None or row.uid != seen[1].uid):
                batch.gone.append(seen[1].uid)
        for key, (_, row) in self.pods.items():
            if key not in pods and row is not None:
                batch.gone.append(row.uid)
        phases = {}
        for name, view in snapshot.caches.items():
            phase = view.phase or ""
            phases[name] = phase
            if self.phases.get(name) != phase:
                batch.phases.append(PhaseRow(self.cluster, name, view.id or None, phase, now))
        for name in self.phases.keys() - phases.keys():
            batch.phases.append(PhaseRow(self.cluster, name, None, DELETED, now))
        return batch, pods, phases

    def accept(self, pods: dict, phases: dict) -> None:
        """The batch was queued: it becomes the state the next tick compares with."""
        self.pods = pods
        self.phases = phases
