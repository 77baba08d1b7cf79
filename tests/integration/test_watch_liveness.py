"""The store knows when the cluster stops answering: a stopped (SIGSTOP) and a killed API server (issue 9, item 7)."""

from __future__ import annotations

import os
import signal

from kube.connect import connect
from kube.store import KINDS, LIVENESS, ClusterStore
from kube.watch import ClusterWatcher
from tests.integration.conftest import poll


def test_a_stopped_then_killed_api_server_is_seen_down_since_it_stopped(start_sim_factory):
    sim = start_sim_factory(scenario="demo")
    store = ClusterStore()
    connection = connect(kubeconfig=str(sim.kubeconfig), context="sim")
    watcher = ClusterWatcher(connection, store, heartbeat=0.5)
    watcher.start()
    try:
        poll(lambda: all(store.snapshot().synced.values()), 30, "the first lists")
        assert store.snapshot().down_since == {}
        version = store.snapshot().version
        os.kill(sim.process.pid, signal.SIGSTOP)  # the connections stay open; nothing answers
        try:
            down = poll(lambda: store.snapshot().down_since, 20, "the stopped server to be noticed")
            assert LIVENESS in down
            assert store.snapshot().version > version  # the UI redraws for it
            assert any("does not answer" in error for error in store.snapshot().errors)
        finally:
            os.kill(sim.process.pid, signal.SIGCONT)
        poll(lambda: not store.snapshot().down_since, 20, "the server answering again to be noticed")
        os.kill(sim.process.pid, signal.SIGKILL)
        sim.process.wait(10)
        poll(lambda: set(KINDS) <= set(store.snapshot().down_since), 60, "every watch to be down")
    finally:
        watcher.stop()
        connection.close()
