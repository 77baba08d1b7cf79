"""What every page shares: the cluster header, the connection problem screen, write permission."""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import streamlit as st

from dashboard import history
from dashboard import shown_cluster as clusters
from dashboard.shown_cluster import ClusterProblem, ShownCluster
from dashboard.text import code, md
from kube.store import LIVENESS

REFRESH_SECONDS = float(os.environ.get("IMC_REFRESH_SECONDS", "2") or 2)
SYNC_TIMEOUT_SECONDS = 20.0  # then the page draws what it has, and the badges say "Loading…"


def require_cluster() -> ShownCluster:
    """The cluster this session shows, read at least once; on a broken kubeconfig, say why and stop the page."""
    found = clusters.current()
    if isinstance(found, ShownCluster):
        wait_for_first_list(found)
        person_notice(found)
        return found
    show_problem(found)
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises


def person_notice(cluster: ShownCluster) -> None:
    """For a signed-in person: the page saying they may see nothing here (then the page stops), or that imc may not
    act as them (signed-in mode read-only)."""
    shown = cluster.visibility
    if cluster.person is None or shown is None:
        return
    if shown.problem:
        st.warning(f"Signed-in mode is **read-only**: {md(shown.problem)}. This page shows what imc's own account "
                   "can read.", icon=":material/lock:")
    elif shown.nothing:
        st.title("Nothing to show you here")
        st.info(f"Kubernetes lets {code(cluster.person.user)} list the pods of no namespace and no ImageCaches in "
                f"context {code(cluster.context)}, so imc has nothing to show you. Ask your cluster's "
                "administrators for a RoleBinding (the `view` ClusterRole in your team's namespaces, say), then "
                "reload.", icon=":material/visibility_off:")
        st.stop()
    elif shown.namespaces is not None:
        with st.sidebar:  # every count on the page is of these namespaces
            st.caption("You see the namespaces " + ", ".join(code(name) for name in sorted(shown.namespaces))
                       + (" and the ImageCaches" if shown.caches else "; no ImageCaches"))


def wait_for_first_list(cluster: ShownCluster, timeout: float = SYNC_TIMEOUT_SECONDS) -> None:
    """Right after connecting, wait (with a spinner) until every kind was listed once, so no page starts empty.

    Only the first time: a kind that cannot be listed (no permission, say) must not slow every page down.
    """
    if cluster.first_list_done or all(cluster.store.snapshot().synced.values()):
        cluster.first_list_done = True
        return
    with st.spinner("Reading the cluster…"):
        deadline = time.monotonic() + timeout
        while not all(cluster.store.snapshot().synced.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
    cluster.first_list_done = True


def show_problem(problem: ClusterProblem) -> None:
    """The connection problem in plain words, with a way out to the demo cluster."""
    st.title("Cannot reach the cluster")
    where = [f"kubeconfig {code(problem.kubeconfig)}" if problem.kubeconfig else "no kubeconfig"]
    if problem.context:
        where.append(f"context {code(problem.context)}")
    tried = "" if problem.kubeconfig and problem.kubeconfig in problem.message else f"\n\nTried {', '.join(where)}."
    st.error(f"{md(problem.message)}{tried}", icon=":material/cloud_off:")
    st.markdown(
        "Fix the kubeconfig (or set `KUBECONFIG` / `IMC_CONTEXT`) and reload, "
        "or explore the built-in demo cluster instead."
    )
    with st.container(horizontal=True):
        if problem.kubeconfig and st.button("Open the demo cluster", type="primary", icon=":material/play_circle:"):
            st.session_state["imc_use_demo"] = True
            forget_context()
            st.rerun()
        if st.button("Try again", icon=":material/refresh:"):
            offered = clusters.choices()
            # only the failed attempt: the clusters others watch keep running
            clusters.open_cluster.clear(clusters.chosen_context(offered), offered.demo)
            st.rerun()


def cluster_badges(cluster: ShownCluster, snapshot: Any, live: bool = True) -> None:
    """One line under a page title: context, server, demo and read-only badges, sync state."""
    with st.container(horizontal=True, gap="small", vertical_alignment="center"):
        stale = staleness(snapshot.down_since, datetime.now(UTC))
        if stale is not None:
            st.badge(stale[0], icon=":material/cloud_off:", color="red", help=stale[1])
        elif live:
            st.badge("Live", icon=":material/sensors:", color="green",
                     help=f"Watching the cluster: checked every {REFRESH_SECONDS:g} s, recomputed only when it changed.")
        if cluster.is_demo:
            st.badge("Demo cluster", icon=":material/science:", color="violet")
        st.badge(f"Context {cluster.context}", icon=":material/hub:", color="blue")
        if cluster.server:
            # without its scheme: a badge's text is markdown, and a URL in it would link to the API server, which a
            # browser opens as a certificate error
            st.badge(server_text(cluster.server), icon=":material/dns:", color="gray",
                     help="The Kubernetes API server this page reads (not a web page to open).")
        blocked = every_write_blocked(cluster)
        if blocked:
            st.badge("read-only", icon=":material/lock:", color="orange", help=md(blocked))
        if not all(snapshot.synced.values()):
            st.badge("Loading…", icon=":material/sync:", color="yellow")
        history.badges(cluster)
    # Always one element here, so what follows keeps its place (and does not remount) as problems come and go.
    with st.container():
        if snapshot.errors:
            with st.expander(f"{len(snapshot.errors)} problem(s) reading the cluster", icon=":material/warning:"):
                for message in snapshot.errors[:20]:
                    st.markdown(f"- {md(message)}")


def server_text(server: str) -> str:
    """An API server's address as a badge shows it: host and port, no scheme (so it is not a link)."""
    return server.partition("://")[2] or server


def demo_kubeconfig_line(cluster: ShownCluster) -> str | None:
    """The shell line that points kubectl at the demo cluster this dashboard started, or None for another cluster."""
    if cluster.sim is None:
        return None
    return f"export KUBECONFIG={shlex.quote(str(cluster.sim.kubeconfig))}"


def staleness(down_since: Mapping[str, datetime], now: datetime) -> tuple[str, str] | None:
    """The badge label and help when the watch (or the API server) has been down, None while it is live."""
    if not down_since:
        return None
    since = min(down_since.values())
    seconds = max(int((now - since).total_seconds()), 0)
    age = f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"
    what = "the API server does not answer" if LIVENESS in down_since else \
        f"the watch of {', '.join(sorted(down_since))} is down"
    return (f"Not live since {since:%H:%M:%S} UTC ({age}): data may be stale",
            f"Since {since:%Y-%m-%d %H:%M:%S} UTC {what}, so what this page shows is the cluster as it was then. "
            "It turns Live again by itself once the cluster answers; the problems are listed below.")


def sidebar() -> None:
    """The context picker and the cluster in the sidebar, and the way back from the demo to the user's own cluster."""
    with st.sidebar:
        pick_context()
    cluster = clusters.current()
    with st.sidebar:
        if isinstance(cluster, ClusterProblem):
            st.caption("Not connected")
            return
        st.caption(f"**{'Demo cluster' if cluster.is_demo else 'Cluster'}** · {md(cluster.context)}")
        st.caption(md(cluster.source))
        line = demo_kubeconfig_line(cluster)
        if line:
            st.caption("Run kubectl against the demo cluster beside this page:")
            st.code(line, language="bash", wrap_lines=True)  # whole in the sidebar; the copy button copies one line
        if st.session_state.get("imc_use_demo") and st.button("Back to my kubeconfig", width="stretch"):
            st.session_state["imc_use_demo"] = False
            forget_context()
            st.rerun()


def pick_context() -> None:
    """The context picker: the kubeconfig's contexts (the default first); the choice follows the session across pages
    and stays in the URL (?context=NAME), so a link opens on the same cluster."""
    offered = clusters.choices()
    linked = (st.query_params.get(clusters.CONTEXT_PARAM) or "").strip()
    if linked and linked != st.session_state.get(PICKED_KEY):
        st.session_state[clusters.CONTEXT_KEY] = linked  # a deep link, or a link to another cluster: it wins
    chosen = clusters.chosen_context(offered)
    st.session_state[clusters.CONTEXT_KEY] = st.session_state[PICKED_KEY] = chosen
    options = context_options(offered, chosen)
    if len(options) > 1:
        st.selectbox("Context", options, key=clusters.CONTEXT_KEY, on_change=_context_picked,
                     help=f"The contexts of {offered.source}. Every page shows, and every write goes to, the "
                          "cluster of the context picked here.")
    if (chosen != offered.default or linked) and linked != chosen:
        st.query_params[clusters.CONTEXT_PARAM] = chosen  # kept across page switches, for links and reloads
    if offered.problem:
        st.caption(md(offered.problem))


PICKED_KEY = "imc-context-picked"  # the picker's value as last drawn: a URL that differs from it is a new deep link


def forget_context() -> None:
    """Back to the default context (the contexts offered change: to the demo's, or back to the kubeconfig's)."""
    for key in (clusters.CONTEXT_KEY, PICKED_KEY):
        st.session_state.pop(key, None)
    st.query_params.pop(clusters.CONTEXT_PARAM, None)


def context_options(offered: clusters.ContextChoices, chosen: str) -> list[str]:
    """The picker's options: the contexts offered, the default first, and the session's choice if it is not one."""
    return list(dict.fromkeys([*offered.names, *([chosen] if chosen else [])]))


def _context_picked() -> None:
    """The picker's on_change: the new context into the URL."""
    chosen = st.session_state.get(clusters.CONTEXT_KEY)
    st.session_state[PICKED_KEY] = chosen
    if chosen:
        st.query_params[clusters.CONTEXT_PARAM] = chosen


def in_context(cluster: ShownCluster) -> str:
    """The words every write form says next to its button: which cluster it writes to."""
    return f"in context {code(cluster.context)}"


def write_button(cluster: ShownCluster, label: str, **options: Any) -> bool:
    """A button that writes to the cluster, with the context it writes to beside it ("in context east")."""
    with st.container(horizontal=True, gap="small", vertical_alignment="center"):
        clicked = st.button(label, **options)
        st.caption(in_context(cluster), width="content")
    return clicked


def write_blocked(cluster: ShownCluster, action: str = "create-imagecache", namespace: str | None = None) -> str | None:
    """Why this session may not do a write ("create-imagecache", "patch-deployment"), or None when it may."""
    if cluster.access is None:
        return "there is no live connection to write through"
    permission = cluster.access.can(action, namespace)
    return None if permission.allowed else permission.reason


def every_write_blocked(cluster: ShownCluster) -> str | None:
    """Why this session may do no write at all (the read-only badge), or None when it may do one somewhere: a
    signed-in person who may patch Deployments only in their team's namespace is not read-only."""
    reason = write_blocked(cluster)
    if reason is None:
        return None
    shown = cluster.visibility
    namespaces = sorted(shown.namespaces) if shown is not None and shown.namespaces is not None else [None]
    if any(write_blocked(cluster, "patch-deployment", namespace) is None for namespace in namespaces):
        return None
    return reason


def read_only_notice(reason: str) -> None:
    """The notice on write pages when this session cannot write."""
    st.info(
        f"This dashboard is **read-only** here ({md(reason)}). You can still fill in the form and preview "
        "what would happen; the buttons that write are disabled.",
        icon=":material/lock:",
    )
