"""Which cluster the dashboard shows, and the watcher shared by every browser session."""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import streamlit as st

from sim.fleet import FLEET_CONTEXTS, FLEET_VIEWER_CONTEXTS

if TYPE_CHECKING:
    from core.identity import Identity
    from dashboard.frames import FrameKeeper
    from kube.access import AccessChecker, Visibility
    from kube.connect import Connection
    from kube.live import Live
    from kube.metrics import MetricsEndpoint
    from kube.store import ClusterStore
    from kube.watch import ClusterWatcher
    from sim.launch import SimProcess

log = logging.getLogger("imc.dashboard")

DEMO_CLUSTERS = 2  # the built-in demo is a fleet of two clusters (`imc sim --clusters 2`), as two contexts each
DEMO_FLEET = FLEET_CONTEXTS[:DEMO_CLUSTERS]  # the clusters' admin contexts: what the demo's Fleet page compares
DEMO_CONTEXT = DEMO_FLEET[0]
DEMO_CONTEXTS = (*DEMO_FLEET, *FLEET_VIEWER_CONTEXTS[:DEMO_CLUSTERS])


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
    sim: SimProcess | None = None  # the built-in demo cluster this process started (stopped when it ends)
    access: AccessChecker | None = None
    live: Live | None = None  # the watcher with its ledger writer
    first_list_done: bool = False  # the pages waited once for every kind to be listed
    closed: bool = False
    keeper: FrameKeeper | None = None  # what its pages keep between store versions (None: the process's one keeper)
    person: Identity | None = None  # the signed-in person this is the view of (dashboard.people.seen_by)
    visibility: Visibility | None = None  # what that person may see

    def close(self) -> None:
        """Stop the watcher and close the connection (once); the demo cluster stops with the process."""
        if self.closed:
            return
        self.closed = True
        if self.live is not None:
            self.live.stop()
        elif self.watcher is not None:
            self.watcher.stop()
        if self.connection is not None:
            self.connection.close()


@dataclass
class ClusterProblem:
    """A kubeconfig that could not be used, said so that the user can fix it."""

    message: str
    kubeconfig: str | None
    context: str | None


@dataclass(frozen=True)
class ContextChoices:
    """The contexts a session can pick, the default first, and where they come from."""

    names: tuple[str, ...]
    default: str
    source: str  # the kubeconfig's path(s), the in-cluster service account, or the built-in demo cluster
    demo: bool = False  # the built-in demo cluster, started by this dashboard
    problem: str | None = None  # the kubeconfig could not be read; only the default is offered


CONTEXT_PARAM = "context"  # ?context=NAME: the deep link's cluster
CONTEXT_KEY = "imc-context"  # the session's choice (the sidebar's picker)
FLEET_VARIABLE = "IMC_CONTEXTS"  # "a,b,c" or "all": the clusters this process watches at once
IN_CLUSTER = "in-cluster"

# A cluster the tests put in place of a real connection (AppTest runs in this process), and others watched beside it.
_injected: ShownCluster | None = None
_injected_also: tuple[ShownCluster, ...] = ()
# Every cluster opened in this process, by (context, demo), as open_cluster's cache holds them (the Fleet page's rows).
_opened: dict[tuple[str, bool], ShownCluster | ClusterProblem] = {}
_opened_lock = threading.Lock()


def inject(cluster: ShownCluster | None, *also: ShownCluster) -> None:
    """Show this cluster instead of connecting (AppTest fills a real ClusterStore directly), watching `also` beside
    it as if IMC_CONTEXTS named them all."""
    global _injected, _injected_also
    _injected, _injected_also = cluster, also if cluster is not None else ()


def ordered_contexts(kubeconfig: Mapping[str, Any], wanted: str | None = None) -> tuple[str, ...]:
    """A kubeconfig's context names as the picker lists them: the default (`wanted`, else the current context) first,
    then the others in the file's order."""
    names = [entry.get("name") for entry in kubeconfig.get("contexts") or [] if isinstance(entry, Mapping)]
    first = wanted or kubeconfig.get("current-context")
    listed = [first, *names] if isinstance(first, str) and first else names
    return tuple(dict.fromkeys(name for name in listed if isinstance(name, str) and name))


def fleet_contexts(value: str | None, names: tuple[str, ...]) -> tuple[str, ...]:
    """The contexts IMC_CONTEXTS names ("a,b,c", or "all": every context of the kubeconfig), in its order, once each."""
    text = (value or "").strip()
    if text.lower() == "all":
        return names
    return tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


def choices() -> ContextChoices:
    """The contexts this session can pick from: the demo's, or those of the kubeconfig in use."""
    from kube.connect import find_kubeconfig

    wanted = _wanted()
    found = None if st.session_state.get("imc_use_demo") else find_kubeconfig()
    if found is None:
        return ContextChoices(DEMO_CONTEXTS, wanted if wanted in DEMO_CONTEXTS else DEMO_CONTEXT,
                              "built-in demo cluster", demo=True)
    if found.path is None:
        return ContextChoices((IN_CLUSTER,), IN_CLUSTER, "in-cluster service account")
    return _kubeconfig_choices(found.path, wanted, _modified(found.path))


def _wanted() -> str | None:
    """IMC_CONTEXT: the default choice."""
    return os.environ.get("IMC_CONTEXT", "").strip() or None


def _modified(paths: str) -> tuple[float, ...]:
    """The kubeconfig files' modification times: a changed file is read again."""
    return tuple(os.stat(path).st_mtime if os.path.isfile(path) else 0.0 for path in paths.split(os.pathsep))


@st.cache_data(show_spinner=False, max_entries=8)
def _kubeconfig_choices(paths: str, wanted: str | None, _modified_at: tuple[float, ...]) -> ContextChoices:
    """The contexts of these kubeconfig files (read once per version of the files)."""
    from kube.connect import ConnectError, read_kubeconfig

    try:
        merged = read_kubeconfig(paths.split(os.pathsep))
    except ConnectError as exc:
        return ContextChoices((wanted,) if wanted else (), wanted or "", paths, problem=str(exc))
    names = ordered_contexts(merged, wanted)
    return ContextChoices(names, names[0] if names else "", paths)


def chosen_context(offered: ContextChoices) -> str:
    """The context this session looks at: its pick in the sidebar, else the deep link's ?context=, else the default
    (IMC_CONTEXT, else the kubeconfig's current context)."""
    return (st.session_state.get(CONTEXT_KEY) or st.query_params.get(CONTEXT_PARAM) or offered.default).strip()


PERSON_KEY = "imc-person"  # the signed-in person's Identity (dashboard.signin), None without sign-in


def signed_in() -> Identity | None:
    """The session's signed-in person, or None (sign-in off)."""
    return st.session_state.get(PERSON_KEY)


def as_seen(found: Any) -> Any:
    """A cluster as the session's signed-in person sees it (dashboard.people), the cluster itself without sign-in."""
    identity = signed_in()
    if identity is None or not isinstance(found, ShownCluster):
        return found
    from dashboard import people

    return people.seen_by(found, identity, frame_keeper)


def current() -> ShownCluster | ClusterProblem:
    """The cluster this session shows (as its signed-in person sees it): the injected one, else the chosen context of
    the demo or the kubeconfig."""
    if _injected is not None:
        return as_seen(_injected)
    offered = choices()
    return as_seen(open_cluster(chosen_context(offered), offered.demo))


def opened() -> dict[str, ShownCluster | ClusterProblem]:
    """The clusters this process opened, by the context asked for, in the order they were opened (as the session's
    signed-in person sees them)."""
    with _opened_lock:
        found = {context: cluster for (context, _demo), cluster in _opened.items()}
    if _injected is not None:
        injected = {cluster.context: cluster for cluster in (_injected, *_injected_also)}
        found = {**injected, **{context: cluster for context, cluster in found.items() if context not in injected}}
    return {context: as_seen(cluster) for context, cluster in found.items()}


def fleet_wanted(offered: ContextChoices) -> tuple[str, ...]:
    """The contexts watched together: IMC_CONTEXTS, else the built-in demo's two clusters, else none."""
    wanted = fleet_contexts(os.environ.get(FLEET_VARIABLE), offered.names)
    return wanted or (DEMO_FLEET if offered.demo else ())


def together(cluster: ShownCluster) -> list[ShownCluster]:
    """The clusters the Pods and Image caches pages show at once: every watched cluster that is open (opened here
    when not yet, as the Fleet page does) when the session's is one of two or more, else the session's alone."""
    if _injected is not None:
        return [_injected, *map(as_seen, _injected_also)] if cluster is _injected else [cluster]
    offered = choices()
    wanted = fleet_wanted(offered)
    if len(wanted) < 2 or cluster.context not in wanted:
        return [cluster]
    found = [cluster if context == cluster.context else as_seen(open_cluster(context, offered.demo))
             for context in wanted]
    return [each for each in found if isinstance(each, ShownCluster) and not each.closed]


def _release(opened_cluster: ShownCluster | ClusterProblem) -> None:
    """Clean up a cluster dropped from the cache (after "Try again", say)."""
    with _opened_lock:
        for key, value in list(_opened.items()):
            if value is opened_cluster:
                del _opened[key]
    if isinstance(opened_cluster, ShownCluster):
        opened_cluster.close()


@st.cache_resource(show_spinner="Connecting to the cluster…", on_release=_release)
def open_cluster(context: str, demo: bool = False) -> ShownCluster | ClusterProblem:
    """Connect to one context once per process and start its watcher, shared by every session that looks at it."""
    opened_cluster = _open(context, demo)
    with _opened_lock:
        _opened[(context, demo)] = opened_cluster
    return opened_cluster


def _open(context: str, demo: bool) -> ShownCluster | ClusterProblem:
    """A context of the built-in demo cluster or of the kubeconfig in use, watched; else why not."""
    from kube.connect import ConnectError, connect, find_kubeconfig

    found = None if demo else find_kubeconfig()
    if found is None:
        return _open_demo(context or DEMO_CONTEXT)
    chosen = None if found.path is None else context or None
    try:
        connection = connect(kubeconfig=found.path, context=chosen)
    except ConnectError as exc:
        return ClusterProblem(str(exc), found.path, chosen)
    except Exception as exc:  # noqa: BLE001 - a kubeconfig can be broken in many ways
        return ClusterProblem(f"{type(exc).__name__}: {exc}", found.path, chosen)
    source = found.path or "in-cluster service account"
    named = found.path is None or context == _kubeconfig_choices(found.path, _wanted(), _modified(found.path)).default
    try:
        return _watch(connection, source=source, is_demo=_is_sim_server(connection), named=named)
    except Exception as exc:  # noqa: BLE001 - say why instead of a traceback
        connection.close()
        return ClusterProblem(f"Watching context {chosen!r} did not start: {type(exc).__name__}: {exc}",
                              found.path, chosen)


def _is_sim_server(connection: Connection) -> bool:
    """True when the kubeconfig points at the built-in cluster (its contexts are sim and sim-viewer)."""
    return str(getattr(connection, "context", "")) in DEMO_CONTEXTS


@st.cache_resource(show_spinner="Starting the built-in demo cluster…")
def demo_sim() -> SimProcess | ClusterProblem:
    """Start the built-in ECI cluster with the demo scenario once per process (stopped when the process ends)."""
    from sim.command import default_state_dir
    from sim.launch import start_sim

    try:
        # its own state dir: a user's own `imc sim` (~/.cache/imc/sim) keeps its kubeconfig
        sim = start_sim(scenario="demo", state_dir=default_state_dir().with_name("dashboard-demo"),
                        clusters=DEMO_CLUSTERS)
    except Exception as exc:  # noqa: BLE001 - the user sees why the demo did not start
        return ClusterProblem(f"The built-in demo cluster did not start: {exc}", None, DEMO_CONTEXT)
    atexit.register(sim.stop)  # registered before its watchers: they stop first (atexit runs last-in first-out)
    return sim


def _open_demo(context: str) -> ShownCluster | ClusterProblem:
    """One context of the built-in demo cluster (started once for all its contexts), watched."""
    from kube.connect import connect

    if context not in DEMO_CONTEXTS:
        return ClusterProblem(f"the built-in demo cluster has no context {context!r}; it has: "
                              f"{', '.join(DEMO_CONTEXTS)}", None, context)
    sim = demo_sim()
    if isinstance(sim, ClusterProblem):
        return sim
    try:
        connection = connect(kubeconfig=str(sim.kubeconfig), context=context)
    except Exception as exc:  # noqa: BLE001 - say why instead of a traceback
        return ClusterProblem(f"The built-in demo cluster started but did not answer: {exc}", None, context)
    cluster = _watch(connection, source="built-in demo cluster", is_demo=True, named=context == choices().default)
    cluster.sim = sim
    return cluster


def frame_keeper() -> FrameKeeper:
    """A cluster's own keeper of view models (imported here, not at the top: app.py opens the cluster before the
    pages' modules, pandas among them, are loaded)."""
    from dashboard.frames import FrameKeeper

    return FrameKeeper()


def _watch(connection: Connection, source: str, is_demo: bool, named: bool = True) -> ShownCluster:
    """Start the shared list+watch threads feeding one ClusterStore, its ledger writer and /metrics.

    The ledger's and /metrics' cluster name is the context; IMC_CLUSTER renames only the default context's (`named`:
    with several contexts in one process, one name for all would mix their history)."""
    from kube.access import AccessChecker
    from kube.live import start_live

    environ = dict(os.environ)
    if not named:
        environ.pop("IMC_CLUSTER", None)
    live = start_live(connection, environ)
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
        keeper=frame_keeper(),
    )
    atexit.register(cluster.close)
    return cluster


@st.cache_resource(show_spinner=False)
def metrics_endpoint() -> MetricsEndpoint:
    """/metrics of this process (IMC_METRICS_PORT), started once and shared by every session."""
    from kube.live import running
    from kube.metrics import metrics_settings, serve_metrics

    return serve_metrics(running, metrics_settings())
