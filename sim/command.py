"""`imc sim`: run the built-in ECI cluster (a Kubernetes-API-compatible HTTPS server)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

SCENARIOS = ("demo", "demo-beijing", "empty", "scale")
MIB = 1024 * 1024


def default_state_dir() -> Path:
    """Where the CA, serving certificate, tokens and kubeconfig live by default."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "imc" / "sim"


def _positive(text: str) -> float:
    """An argparse type: a number above zero."""
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def _non_negative(text: str) -> float:
    """An argparse type: a number, 0 or more."""
    value = float(text)
    if not value >= 0:  # NaN is refused too
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def _count(text: str) -> int:
    """An argparse type: a whole number, 0 or more."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def _positive_count(text: str) -> int:
    """An argparse type: a whole number, 1 or more."""
    value = _count(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be 1 or more, not 0")
    return value


def _drop_every(text: str) -> tuple[int, float]:
    """An argparse type: N events, or S seconds written `Ss`, as (events, seconds)."""
    if text.endswith("s"):
        return 0, _positive(text[:-1])
    return _count(text), 0.0


def _fleet_size(text: str) -> int:
    """An argparse type: how many clusters the fleet has (1 to sim.fleet.MAX_CLUSTERS)."""
    from sim.fleet import MAX_CLUSTERS

    value = _positive_count(text)
    if value > MAX_CLUSTERS:
        raise argparse.ArgumentTypeError(f"the built-in fleet has at most {MAX_CLUSTERS} clusters, not {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `imc sim`."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=_count, default=0, help="port to listen on; 0 picks a free one (default)")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="keeps the CA, serving certificate, tokens and the cluster's objects "
                             f"(default {default_state_dir()})")
    parser.add_argument("--kubeconfig", type=Path, default=None,
                        help="where to write the kubeconfig (default STATE_DIR/kubeconfig)")
    parser.add_argument("--scenario", choices=SCENARIOS, default=None,
                        help="what a fresh cluster holds: demo (default): a small lively cluster; empty: nothing; "
                             "scale: many pods and caches. A cluster stored in the state dir is resumed instead")
    parser.add_argument("--reset", action="store_true",
                        help="forget the cluster stored in the state dir and start afresh (the CA and tokens stay)")
    parser.add_argument("--stop-with-parent", action="store_true",
                        help="stop once the process that started it ends (the dashboard's demo does not outlive it)")
    parser.add_argument("--pods", type=_count, default=None, help="pods of the scale scenario (default 10000)")
    parser.add_argument("--caches", type=_count, default=None, help="caches of the scale scenario (default 1000)")
    parser.add_argument("--speed", type=_positive, default=1.0,
                        help="time multiplier for cache builds and pod starts (default 1.0; 10 = ten times faster)")
    parser.add_argument("--seed", type=int, default=None, help="random seed of the demo's churn")
    parser.add_argument("--drop-watch-every", type=_drop_every, default=(0, 0.0), metavar="N|Ss",
                        help="close every watch stream after N events, or after S seconds with an s suffix "
                             "(e.g. 5s), to test clients; 0 = never")
    parser.add_argument("--history", type=_positive_count, default=100_000, metavar="N",
                        help="watch events kept; older resourceVersions get 410 Expired (default 100000)")
    parser.add_argument("--history-mib", type=_positive_count, default=None, metavar="N",
                        help="and at most N MiB of objects' JSON in them; a watch that falls further behind "
                             "ends with 410 Expired (default 64)")
    parser.add_argument("--compaction-interval", type=_non_negative, default=None,
                        metavar="S", help="seconds between compactions of the watch history, as kube-apiserver has "
                        "etcd compacted: resourceVersions older than 1-2 intervals get 410 Expired (default 300; "
                        "0 = never)")
    parser.add_argument("--max-pods", type=_positive_count, default=None, metavar="N",
                        help="quota on all pods: creating more is refused with 403 (default 25000, or twice the "
                             "scale scenario's --pods when more)")
    parser.add_argument("--clusters", type=_fleet_size, default=1, metavar="N",
                        help="serve a fleet of N clusters (1 or 2), each its own API server, objects and ECI, as "
                             "contexts of one kubeconfig: sim (cn-hangzhou, in the state dir, --port) and "
                             "sim-beijing (cn-beijing, another demo, in STATE_DIR/beijing, a free port); each with a "
                             "read-only -viewer context (default 1: sim and sim-viewer)")
    parser.add_argument("--log-level", default="warning", choices=("debug", "info", "warning", "error"),
                        help="debug logs one line per request")


def pod_quota(scenario: str, pods: int | None, max_pods: int | None) -> int:
    """The pod quota: --max-pods when given, else the default, raised for a scale scenario of many --pods to twice
    them (room to create more, as 10,000 pods have under the default 25,000)."""
    from sim.apiserver.object_api import DEFAULT_MAX_PODS

    if max_pods:
        return max_pods
    return max(DEFAULT_MAX_PODS, 2 * (pods or 0)) if scenario == "scale" else DEFAULT_MAX_PODS


def fleet_configs(config, clusters: int) -> list:
    """The SimConfig of each cluster of a fleet of `clusters`: the first is `config` (its own scenario default), the
    others in their own state sub-dirs, on free ports, each its own demo variant and seed."""
    import dataclasses

    from sim.fleet import cluster_scenario, cluster_state_dir, fleet_of

    configs = []
    for number, cluster in enumerate(fleet_of(clusters)):
        scenario, default = cluster_scenario(config.scenario, cluster)
        if number == 0:
            configs.append(dataclasses.replace(config, scenario=config.scenario, default_scenario=default))
            continue
        configs.append(dataclasses.replace(
            config, port=0, state_dir=cluster_state_dir(config.state_dir, cluster), scenario=scenario,
            default_scenario=default, name=cluster.context, stop_with_parent=False,
            seed=None if config.seed is None else config.seed + number))
    return configs


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM, then end the process with its exit code, the objects left to the OS (freeing a
    25,000-pod cluster one object at a time took seconds, past the 5 s a stop may take); returns 2 when it cannot
    start."""
    import asyncio
    import logging

    from sim.server import SimConfig, serve

    logging.basicConfig(level=getattr(logging, args.log_level.upper()), format="%(asctime)s %(name)s %(message)s")
    from sim.apiserver.store import COMPACTION_SECONDS, DEFAULT_HISTORY_BYTES
    from sim.scenarios import DEFAULT_SCALE_PODS

    max_pods = pod_quota(args.scenario, args.pods, args.max_pods)
    if args.scenario == "scale" and (args.pods or DEFAULT_SCALE_PODS) > max_pods:
        print(f"imc sim: --pods is above the pod quota ({max_pods}); raise it with --max-pods", file=sys.stderr)
        return 2
    state_dir = (args.state_dir or default_state_dir()).expanduser()
    kubeconfig = (args.kubeconfig or state_dir / "kubeconfig").expanduser()
    config = SimConfig(
        host=args.host,
        port=args.port,
        state_dir=state_dir,
        kubeconfig=kubeconfig,
        scenario=args.scenario,
        speed=args.speed,
        drop_watch_events=args.drop_watch_every[0],
        drop_watch_seconds=args.drop_watch_every[1],
        history=args.history,
        history_bytes=args.history_mib * MIB if args.history_mib else DEFAULT_HISTORY_BYTES,
        pods=args.pods,
        caches=args.caches,
        seed=args.seed,
        max_pods=max_pods,
        compaction_seconds=COMPACTION_SECONDS if args.compaction_interval is None else args.compaction_interval,
        reset=args.reset,
        stop_with_parent=args.stop_with_parent,
    )
    configs = fleet_configs(config, args.clusters)
    code = asyncio.run(serve(configs[0], configs[1:]))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
