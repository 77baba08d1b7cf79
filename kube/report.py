"""`imc report`'s results: one snapshot of a live cluster, every ECI pod explained beside what ECI actually did.

The command line (options, table, CSV and JSON output) is `cli.py` and `core/render.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain

from core.figures import FigureRow, WindowFigures, floored, window_bounds, window_figures
from core.matching import CacheIndex, explain
from core.starts import PULL_REASON, PodStart, Saving, savings
from kube.connect import ConnectError, connect, describe_failure
from kube.http import RequestError
from kube.ledger import Ledger
from kube.ledger_rows import ledger_settings
from kube.slim import slim_event
from kube.store import ClusterStore, PodRecord, StoreSnapshot
from kube.watch import EVENT_SELECTORS, first_page, list_kind


def actual_dict(record: PodRecord) -> dict | None:
    """The actual outcome as plain JSON."""
    if record.actual is None:
        return None
    return {
        "outcome": record.actual.outcome,
        "cache_id": record.actual.cache_id,
        "reasons": list(record.actual.reasons),
        # ECI's cache is one imc never saw (deleted before the report listed): no disagreement
        "cache_gone": record.unseen_cache is not None,
    }


def seconds(value: float | None) -> float | None:
    """Seconds to the millisecond, as kubelets report pulls."""
    return None if value is None else round(value, 3)


def start_fields(start: PodStart | None, saved: Saving | None) -> dict:
    """A pod's start, pulls and (for a hit) the pull time it saved, as plain JSON; None where not known."""
    return {
        "start_seconds": seconds(start.start_seconds) if start else None,
        "pull_seconds": seconds(start.pull_seconds) if start else None,
        "waiting_reason": start.waiting_reason if start else None,
        "pulls": [
            {"image": p.image, "seconds": seconds(p.seconds), "source": p.source}
            for p in (start.pulls if start else ())
        ],
        "saved_seconds": seconds(floored(saved.seconds)) if saved else None,  # never below 0 (`core.figures`)
        "saved_from_pulls": saved.observed if saved else None,
    }


def outcome(record: PodRecord) -> str:
    """What happened to a pod: ECI's word when it reported, else the prediction."""
    return record.actual.outcome if record.actual is not None else record.decision.outcome


def pod_savings(records: Iterable[PodRecord]) -> dict[str, Saving]:
    """Per hit pod (by key), the pull time it saved, estimated from the misses' observed pulls."""
    return savings((r.key, outcome(r), r.start, r.decision.images) for r in records)[1]


def figure_rows(records: Iterable[PodRecord]) -> list[FigureRow]:
    """The ECI pods alive now as `core.figures` rows, each hit's saving against the snapshot's own estimates."""
    records = list(records)
    saved = pod_savings(records)
    return [FigureRow(r.created.timestamp() if r.created is not None else None, outcome(r),
                      r.start.start_seconds if r.start is not None else None,
                      saved[r.key].seconds if r.key in saved else None) for r in records]


def report_figures(snapshot: StoreSnapshot, window: str, now: float, ledger: Ledger | None = None,
                   cluster: str = "", namespace: str | None = None) -> WindowFigures:
    """The window's headline figures, as the Overview shows them: from the ledger's pods of `cluster` (and
    `namespace`, when given) when a readable ledger is given, else from the ECI pods alive in the snapshot."""
    if ledger is not None and ledger.readable:
        return window_figures(ledger.window_rows(cluster, *window_bounds(window, now), namespace), window, now,
                              from_history=True)
    return window_figures(figure_rows(eci_records(snapshot)), window, now, from_history=False)


def history_ledger(environ: Mapping[str, str] | None = None) -> Ledger | None:
    """The history file the dashboard and `imc exporter` keep, when history is on and the file exists (a report
    never starts one); None otherwise."""
    settings = ledger_settings(environ)
    if settings.path is None or not settings.path.is_file():
        return None
    return Ledger(settings.path, settings.days)


def pod_result(record: PodRecord, index: CacheIndex, saved: Saving | None = None) -> dict:
    """One pod: `imc explain`'s fields (caches unrelated to the pod left out, and counted), plus the pod's name,
    ECI's actual outcome and the disagreement flag."""
    template = record.template
    # the store decided a created pod at its creation against these caches: the same decision, not redone
    known = record.decision if template.created is not None else None
    explanation = explain(template, index, template.decided_at(datetime.now(UTC)), related_only=True, decision=known)
    result = explanation.to_dict()
    result.update(
        pod=record.key,
        namespace=record.namespace,
        name=record.name,
        actual=actual_dict(record),
        disagrees=record.disagrees,
        candidates_omitted=len(index) - len(explanation.candidates),
        **start_fields(record.start, saved),
    )
    return result


def eci_records(snapshot: StoreSnapshot) -> list[PodRecord]:
    """The ECI pods of a snapshot, sorted by namespace and name."""
    return sorted((r for r in snapshot.pods.values() if r.template.eci), key=lambda r: (r.namespace, r.name))


def iter_results(snapshot: StoreSnapshot) -> Iterator[dict]:
    """Every ECI pod's result, sorted, one at a time (the store's decisions reused: each is explained against the
    caches of its creation, the very caches it was decided on). Made as they are written, a 50,000-pod report never
    holds all of them (~160 MiB)."""
    records = eci_records(snapshot)
    saved = pod_savings(records)
    now = datetime.now(UTC)
    for record in records:
        yield pod_result(record, snapshot.index_at(record.template.decided_at(now)), saved.get(record.key))


def results(snapshot: StoreSnapshot) -> list[dict]:
    """Every ECI pod's result, sorted (`iter_results`)."""
    return list(iter_results(snapshot))


def warnings(snapshot: StoreSnapshot) -> list[str]:
    """The problems to tell beside the results: reading the cluster, and objects read with a malformed field."""
    kept = {"pods": snapshot.pods, "imagecaches": snapshot.caches}
    malformed = [
        f"{key}: {problem}"
        for key, problem in sorted(snapshot.invalid.items())
        if key.partition("/")[2] in kept.get(key.partition("/")[0], ())  # the unreadable are in errors already
    ]
    return list(snapshot.errors) + malformed


# the store's order: caches before pods, so that each pod is decided once; events before pods, so that each pod's
# actual outcome and start are read once
SNAPSHOT_KINDS = ("imagecaches", "events", "pods")
# pages of a one-shot list: 4x the watch's, a quarter of the round trips (10k pods' 40,000 events in 20 pages, not 80)
SNAPSHOT_PAGE_SIZE = 2000
# what the kubelet and scheduler write on every pod start beside `Pulled`, which the store never reads (it keeps
# KEPT_EVENT_REASONS): left on the server. A field selector ANDs its clauses, so it can leave out reasons one by one
# but cannot ask for the few read; the store's own filter stays the one that decides.
UNREAD_EVENT_REASONS = ("Scheduled", "Pulling", "Created", "Started")
SNAPSHOT_EVENT_SELECTORS = (
    ",".join([EVENT_SELECTORS[0], *(f"reason!={reason}" for reason in UNREAD_EVENT_REASONS)]),
    *EVENT_SELECTORS,  # a server that refuses it (a 400): the watch's
)


def _events_as_listed(first: list[dict], pages: Iterator[tuple[list[dict], str]]) -> Iterator[dict]:
    """The events of a list's pages, each page read as the store reaches it; ECI's (kept by the store) slimmed,
    `Pulled` ones (parsed into a pull, then dropped) whole."""
    for page in chain((first,), (page for page, _ in pages)):
        for event in page:
            yield event if event.get("reason") == PULL_REASON else slim_event(event)


def _store_events(store: ClusterStore, api_client, namespace: str | None) -> None:
    """List the events and store them as their pages arrive (in the list's thread), never holding the list."""
    first, resource_version, pages, _ = first_page(api_client, "events", namespace, SNAPSHOT_EVENT_SELECTORS,
                                                page_size=SNAPSHOT_PAGE_SIZE, slim=False, helper=True)
    store.replace("events", _events_as_listed(first, pages), resource_version)


def take_snapshot(api_client, namespace: str | None = None) -> StoreSnapshot:
    """One paged list of pods, ImageCaches and events (no watch), decided in a store.

    The three lists run side by side (one waits for the server while another decodes or is stored). Events are
    stored as their pages arrive, in their list's thread: with no pod stored yet their order against the caches
    does not matter, and 200,000 events (50,000 pods) are never held at once. Caches, then pods, are stored once
    each list is complete, pods last (each is decided once, with its events read). Pods are slimmed page by page
    (`kube.slim`: what the store reads): whole, 50,000 of them held ~420 MiB, slim ~200 MiB, for ~0.8 s of CPU.
    """
    store = ClusterStore()
    with ThreadPoolExecutor(len(SNAPSHOT_KINDS), thread_name_prefix="imc-report-list") as pool:
        events = pool.submit(_store_events, store, api_client, namespace)
        lists = {
            kind: pool.submit(
                list_kind, api_client, kind, None if kind == "imagecaches" else namespace, None,
                page_size=SNAPSHOT_PAGE_SIZE, slim=kind == "pods", helper=True,
            )
            for kind in ("imagecaches", "pods")
        }
        objects, resource_version, _ = lists.pop("imagecaches").result()
        store.replace("imagecaches", objects, resource_version)
        events.result()
        # the future let go of, so that the listed pods are freed with the store's own copy, not kept beside it
        objects, resource_version, _ = lists.pop("pods").result()
        store.replace("pods", objects, resource_version)
        del objects
    return store.snapshot()


@dataclass
class ContextReport:
    """One context of `imc report`: its pods' results, the window's figures and warnings, or the one line saying why
    it could not be read."""

    context: str
    snapshot: StoreSnapshot | None = None  # its results are made as they are written (`iter_results`)
    figures: WindowFigures | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


def report_context(kubeconfig: str | None, context: str | None, namespace: str | None, window: str, now: float,
                   ledger: Ledger | None, cluster: str | None = None) -> ContextReport:
    """Connect to one context, take one snapshot and explain its ECI pods, with the window's figures of `cluster`
    (default: `kube.live.cluster_name` of the connection) from the ledger; a failure to connect or to list is the
    report's `error`, never a raise."""
    from kube.live import cluster_name

    try:
        connection = connect(kubeconfig=kubeconfig, context=context)
    except ConnectError as exc:
        return ContextReport(context or "", error=str(exc))
    try:
        snapshot = take_snapshot(connection.api_client, namespace)
    except RequestError as exc:
        where = f"context {connection.context!r}"
        return ContextReport(connection.context, error=describe_failure(exc, connection.server, where,
                                                                        connection.user))
    finally:
        connection.close()
    figures = report_figures(snapshot, window, now, ledger, cluster or cluster_name(connection), namespace)
    return ContextReport(connection.context, snapshot, figures, warnings(snapshot))
