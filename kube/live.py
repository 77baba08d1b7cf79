"""One watched cluster: the store, its reflectors and its ledger writer, as the dashboard and `imc exporter` run it."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from kube.ledger import Ledger, LedgerWriter, open_ledger
from kube.ledger_rows import ledger_settings
from kube.store import ClusterStore
from kube.watch import ClusterWatcher

# the ledger writer diffs nothing until every kind was listed, or this long: a kind never listed (no permission)
# only delays the history
FIRST_LISTS_SECONDS = 60.0
_running: list[Live] = []
_running_lock = threading.Lock()


@dataclass
class Live:
    """A cluster being watched in this process (what /metrics reports)."""

    cluster: str
    store: ClusterStore
    watcher: ClusterWatcher
    ledger: Ledger | None
    writer: LedgerWriter | None

    def relists(self) -> dict[str, int]:
        """Per kind: full lists after the first (a 410 Expired or a broken watch)."""
        return {kind: max(0, reflector.lists - 1) for kind, reflector in self.watcher.reflectors.items()}

    def stop(self) -> None:
        """Stop watching, store the last changes, close the ledger."""
        with _running_lock:
            if self in _running:
                _running.remove(self)
        self.watcher.stop()
        if self.writer is not None:
            self.writer.stop()
        if self.ledger is not None:
            self.ledger.close()


def cluster_name(connection: Any, environ: Mapping[str, str] | None = None) -> str:
    """The `cluster` label and ledger key: IMC_CLUSTER, else the kubeconfig context."""
    environ = os.environ if environ is None else environ
    return environ.get("IMC_CLUSTER", "").strip() or str(getattr(connection, "context", "") or "default")


def start_live(connection: Any, environ: Mapping[str, str] | None = None, **watch_options: Any) -> Live:
    """Start the reflectors and the ledger writer of one connection."""
    name = cluster_name(connection, environ)
    settings = ledger_settings(environ)
    # with history on, a deleted cache is remembered for the ledger's window, whose pods the pages still explain
    remember_for = timedelta(days=settings.days) if settings.path is not None else timedelta(0)
    store = ClusterStore(remember_for=remember_for)
    watcher = ClusterWatcher(connection, store, **watch_options)
    ledger = open_ledger(settings)
    writer = LedgerWriter(store, ledger, name, wait_for_sync=FIRST_LISTS_SECONDS) if ledger is not None else None
    live = Live(name, store, watcher, ledger, writer)
    watcher.start()
    if writer is not None:
        writer.start()
    with _running_lock:
        _running.append(live)
    return live


def running() -> list[Live]:
    """The clusters this process watches now."""
    with _running_lock:
        return list(_running)

