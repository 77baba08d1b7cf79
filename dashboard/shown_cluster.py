"""Which cluster the dashboard shows, and the watcher shared by every browser session."""

from __future__ import annotations

import atexit
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

if TYPE_CHECKING:
    from kube.access import AccessChecker
    from kube.connect import Connection
    from kube.live import Live
    from kube.metrics import MetricsEndpoint
    from kube.store import ClusterStore
    from kube.watch import ClusterWatcher
    from sim.launch import SimProcess

log = logging.getLogger("imc.dashboard")

DEMO_CONTEXT = "sim"
DEMO_CONTEXTS = ("sim", "sim-viewer")


@dataclass
class ShownCluster:
    """The cluster the dashboard shows: its live store the pages read, and how to write to it."""

    store: ClusterStore
    context: str
    server: str
    source: str
    is_demo: bool = False
    connection: Connection | None = None
    watcher: ClusterWatcher | None = None
    sim: SimProcess | None = None
    access: AccessChecker | None = None
    live: Live | None = None  # the watcher with its ledger writer
    first_list_done: bool = False  # the pages waited once for every kind to be listed
    closed: bool = False

    def close(self) -> None:
        """Stop the watcher, close the connection and stop the built-in cluster this process started (once)."""
        if self.closed:
            return
        self.closed = True
        if self.live is not None:
            self.live.stop()
        elif self.watcher is not None:
            self.watcher.stop()
        if self.connection is not None:
            self.connection.close()
        if self.sim is not None:
            self.sim.stop()


@dataclass
class ClusterProblem:
    """A kubeconfig that could not be used, said so that the user can fix it."""

    message: str
    kubeconfig: str | None
    context: str | None


# A cluster the tests put in place of a real connection (AppTest runs in this process).
_injected: ShownCluster | None = None


def inject(cluster: ShownCluster | None) -> None:
    """Show this cluster instead of connecting (AppTest fills a real ClusterStore directly)."""
    global _injected
    _injected = cluster


def current() -> ShownCluster | ClusterProblem:
    """The cluster this session shows: the injected one, the demo, or the user's kubeconfig."""
    if _injected is not None:
        return _injected
    choice = "demo" if st.session_state.get("imc_use_demo") else "auto"
    return open_cluster(choice)


def _release(opened: ShownCluster | ClusterProblem) -> None:
    """Clean up a cluster dropped from the cache (after "Try again", say)."""
    if isinstance(opened, ShownCluster):
        opened.close()


@st.cache_resource(show_spinner="Connecting to the cluster…", max_entries=2, on_release=_release)
def open_cluster(choice: str) -> ShownCluster | ClusterProblem:
    """Connect once per process and start the shared watcher ("auto" or "demo")."""
    from kube.connect import ConnectError, connect, find_kubeconfig

    found = None if choice == "demo" else find_kubeconfig()
    if found is None:
        return _start_demo()
    context = os.environ.get("IMC_CONTEXT") or None
    try:
        connection = connect(kubeconfig=found.path, context=context)
    except ConnectError as exc:
        return ClusterProblem(str(exc), found.path, context)
    except Exception as exc:  # noqa: BLE001 - a kubeconfig can be broken in many ways
        return ClusterProblem(f"{type(exc).__name__}: {exc}", found.path, context)
    source = found.path or "in-cluster service account"
    return _watch(connection, source=source, is_demo=_is_sim_server(connection))


def _is_sim_server(connection: Connection) -> bool:
    """True when the kubeconfig points at the built-in cluster (its contexts are sim and sim-viewer)."""
    return str(getattr(connection, "context", "")) in DEMO_CONTEXTS


def _start_demo() -> ShownCluster | ClusterProblem:
    """Start the built-in ECI cluster with the demo scenario and watch it."""
    from kube.connect import connect
    from sim.command import default_state_dir
    from sim.launch import start_sim

    try:
        # its own state dir: a user's own `imc sim` (~/.cache/imc/sim) keeps its kubeconfig
        sim = start_sim(scenario="demo", state_dir=default_state_dir().with_name("dashboard-demo"))
    except Exception as exc:  # noqa: BLE001 - the user sees why the demo did not start
        return ClusterProblem(f"The built-in demo cluster did not start: {exc}", None, DEMO_CONTEXT)
    wanted = os.environ.get("IMC_CONTEXT") or DEMO_CONTEXT
    context = wanted if wanted in DEMO_CONTEXTS else DEMO_CONTEXT
    try:
        connection = connect(kubeconfig=str(sim.kubeconfig), context=context)
    except Exception as exc:  # noqa: BLE001 - say why instead of a traceback
        sim.stop()
        return ClusterProblem(f"The built-in demo cluster started but did not answer: {exc}", None, context)
    try:
        cluster = _watch(connection, source="built-in demo cluster", is_demo=True)
    except Exception:
        sim.stop()
        raise
    cluster.sim = sim
    return cluster


def _watch(connection: Connection, source: str, is_demo: bool) -> ShownCluster:
    """Start the shared list+watch threads feeding one ClusterStore, its ledger writer and /metrics."""
    from kube.access import AccessChecker
    from kube.live import start_live

    live = start_live(connection)
    metrics_endpoint()
    cluster = ShownCluster(
        store=live.store,
        context=str(connection.context),
        server=str(connection.server),
        source=source,
        is_demo=is_demo,
        connection=connection,
        watcher=live.watcher,
        access=AccessChecker(connection),
        live=live,
    )
    atexit.register(cluster.close)
    return cluster


@st.cache_resource(show_spinner=False)
def metrics_endpoint() -> MetricsEndpoint:
    """/metrics of this process (IMC_METRICS_PORT), started once and shared by every session."""
    from kube.live import running
    from kube.metrics import metrics_settings, serve_metrics

    return serve_metrics(running, metrics_settings())
