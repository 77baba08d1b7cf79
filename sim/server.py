"""Serving the simulated cluster over HTTPS with uvicorn (`imc sim`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from core.collector import FULL_COLLECT_SECONDS, collect_everything, pace_collector
from core.malloc import limit_malloc_arenas
from sim.apiserver.api_server import ApiServer, ServerOptions
from sim.apiserver.identity import Identity, KubeconfigCluster, client_host, load_identity, write_kubeconfig
from sim.apiserver.object_api import DEFAULT_MAX_PODS
from sim.apiserver.persist import (
    STATE_FILE,
    Persister,
    StateError,
    StatePlan,
    StoredCluster,
    load_state,
    lock_state_dir,
    plan_start,
    remove_state,
    set_aside,
)
from sim.apiserver.store import COMPACTION_SECONDS, DEFAULT_HISTORY_BYTES
from sim.scenarios import Scenario, build_scenario
from sim.simulation import Simulation, build_simulation

log = logging.getLogger("imc.sim")
SWEEP_SECONDS = 1.0
STOP_SECONDS = 5.0  # after SIGTERM/SIGINT the process is gone within this, stopped gracefully or not


def _exit_now(signum: int) -> None:
    """End the process at once (the graceful stop took too long)."""
    print(f"imc sim: did not stop within {STOP_SECONDS:.0f} s of signal {signum}; exiting", file=sys.stderr,
          flush=True)
    os._exit(0)


@dataclass(frozen=True)
class SimConfig:
    """Everything `imc sim` was asked for."""

    host: str
    port: int
    state_dir: Path
    kubeconfig: Path
    scenario: str | None  # None: the stored cluster's, else the demo
    speed: float
    drop_watch_events: int
    drop_watch_seconds: float
    history: int
    history_bytes: int = DEFAULT_HISTORY_BYTES
    pods: int | None = None
    caches: int | None = None
    seed: int | None = None
    max_pods: int = DEFAULT_MAX_PODS
    compaction_seconds: float = COMPACTION_SECONDS
    reset: bool = False  # forget the stored cluster and start afresh
    stop_with_parent: bool = False  # stop (gracefully, its state written) once the process that started it is gone
    name: str = "sim"  # its kubeconfig context
    default_scenario: str = "demo"  # what a fresh state dir starts as when no --scenario is given


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: we stop it ourselves and exit 0."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


async def _every(seconds: float, action: Callable[[], None]) -> None:
    """Run `action()` every `seconds` until cancelled."""
    while True:
        await asyncio.sleep(seconds)
        try:
            action()
        except Exception:  # noqa: BLE001
            log.exception("periodic task failed")


def pace_loop_collector(loop: asyncio.AbstractEventLoop) -> None:
    """`core.collector.pace_collector` with the freeze run on the loop's thread between requests (at 25,000 pods a
    full collection took 1-2 s with the loop stopped, a dozen times during a ramp)."""

    def on_loop(action: Callable[[], None]) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(action)

    pace_collector(on_loop)


@dataclass
class ServedCluster:
    """One cluster being served: its simulation, uvicorn server and serving task, and what it holds open."""

    config: SimConfig
    sim: Simulation
    scenario: Scenario
    identity: Identity
    url: str
    server: _Server
    serving: asyncio.Task
    persister: Persister
    held: object  # the state dir's lock, kept open while serving

    def stop(self) -> None:
        """Close its watches and have its server stop (on the loop's thread); the others of a fleet go on."""
        self.sim.store.close_watchers()
        self.server.should_exit = True

    def close(self) -> None:
        """Write its state and let go of its state dir (once its server has stopped)."""
        self.persister.close()
        self.held.close()


async def open_cluster(config: SimConfig) -> ServedCluster | None:
    """Listen, lock the state dir, resume or populate the cluster and start serving it; None, after saying why on
    stderr, when it cannot start."""
    identity = load_identity(config.state_dir, config.host)
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((config.host, config.port))
    except OSError as exc:
        print(f"imc sim: cannot listen on {config.host}:{config.port}: {exc.strerror or exc}", file=sys.stderr)
        listener.close()
        return None
    port = listener.getsockname()[1]
    held = lock_state_dir(config.state_dir)
    if held is None:
        print(f"imc sim: {config.state_dir} is in use by another imc sim; stop it first, or give another "
              "--state-dir", file=sys.stderr)
        listener.close()
        return None
    start = open_state(config)
    if start is None:
        listener.close()
        held.close()
        return None
    plan, stored = start
    persister = Persister(config.state_dir / STATE_FILE, plan.scenario)
    sim = build_simulation(config.history, config.speed, config.max_pods, config.history_bytes,
                           config.compaction_seconds, stored, persister)
    scenario: Scenario = build_scenario(plan.scenario, sim, config.pods, config.caches, config.seed)
    if stored is None:
        scenario.populate()
    address = f"{client_host(config.host)}:{port}"
    api_server = ApiServer(sim.api, identity, ServerOptions(config.drop_watch_events, config.drop_watch_seconds, address))
    uv_config = uvicorn.Config(
        api_server.app(),
        ssl_certfile=str(identity.server_cert),
        ssl_keyfile=str(identity.server_key),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
        timeout_keep_alive=30,
    )
    server = _Server(uv_config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    cluster = ServedCluster(config, sim, scenario, identity, f"https://{address}", server, serving, persister, held)
    while not server.started and not serving.done():
        await asyncio.sleep(0.02)
    if serving.done():
        cluster.close()
        serving.result()
        return None
    return cluster


async def serve(config: SimConfig, more: tuple[SimConfig, ...] = (), own_process: bool = True,
                started: Callable[[list[ServedCluster]], None] | None = None) -> int:
    """Serve the cluster (and `more` clusters, a fleet, on the same loop) until SIGINT/SIGTERM or until every one
    has stopped; prints the ready line once all listen and the kubeconfig is written (a fleet's other clusters each
    a line `imc sim: context C serves URL` before it). `own_process`: the process is the sim's (signals, malloc and
    collector settings, --stop-with-parent); `started` is handed the clusters once they serve."""
    if own_process:
        limit_malloc_arenas()  # big objects' buffers (watch chunks, history) go back to the OS once freed
    clusters: list[ServedCluster] = []
    for each in (config, *more):
        cluster = await open_cluster(each)
        if cluster is None:
            for opened in clusters:
                opened.stop()
                await opened.serving
                opened.close()
            return 2
        clusters.append(cluster)
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for cluster in clusters:
            cluster.stop()

    def on_signal(signum: int, frame: object) -> None:
        # A Python-level handler runs even while the loop is busy; the loop stops at its next turn, and
        # whatever keeps it from stopping within STOP_SECONDS is cut short.
        loop.call_soon_threadsafe(stop)
        timer = threading.Timer(STOP_SECONDS, _exit_now, (signum,))
        timer.daemon = True
        timer.start()

    if own_process:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, on_signal)
    config.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    first, *others = clusters
    write_kubeconfig(config.kubeconfig, first.url, first.identity,
                     tuple(KubeconfigCluster(c.config.name, c.url, c.identity) for c in others))
    for cluster in others:
        print(f"imc sim: context {cluster.config.name} serves {cluster.url}", flush=True)
    print(f"imc sim: serving {first.url} (kubeconfig {config.kubeconfig})", flush=True)
    background = []
    for cluster in clusters:
        background.append(asyncio.create_task(_every(SWEEP_SECONDS, cluster.sim.eci.sweep)))
        background += [asyncio.create_task(task) for task in cluster.scenario.background()]
    if own_process:
        pace_loop_collector(loop)
        background.append(asyncio.create_task(_every(FULL_COLLECT_SECONDS, collect_everything)))
    if own_process and config.stop_with_parent:
        parent = os.getppid()

        def stop_when_orphaned() -> None:
            if os.getppid() != parent:  # reparented: the process that started it is gone
                on_signal(signal.SIGTERM, None)

        background.append(asyncio.create_task(_every(SWEEP_SECONDS, stop_when_orphaned)))
    if started is not None:
        started(clusters)
    try:
        await asyncio.gather(*(cluster.serving for cluster in clusters))
    finally:
        for task in background:
            task.cancel()
        for cluster in clusters:
            cluster.close()
        sys.stdout.flush()
    return 0


def open_state(config: SimConfig) -> tuple[StatePlan, StoredCluster | None] | None:
    """Read the stored cluster of the state dir (forgotten with --reset; a file that cannot be read is moved aside and
    said so) and decide how to start; None, after saying why, when the sim may not start."""
    path = config.state_dir / STATE_FILE
    if config.reset:
        remove_state(path)
    try:
        stored = load_state(path)
    except StateError as exc:
        aside = set_aside(path)
        print(f"imc sim: the cluster state {path} cannot be read ({exc}); it was moved to {aside} and a fresh "
              "cluster starts", file=sys.stderr, flush=True)
        stored = None
    plan = plan_start(stored.scenario if stored else None, config.scenario, config.default_scenario, path)
    if plan.refusal:
        print(f"imc sim: {plan.refusal}", file=sys.stderr)
        return None
    if stored is not None:
        print(f"imc sim: resuming the cluster stored in {path} ({len(stored.objects)} objects; --reset starts "
              "afresh)", file=sys.stderr, flush=True)
    return plan, stored
