"""`imc sim`: run the built-in ECI cluster (a Kubernetes-API-compatible HTTPS server)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

SCENARIOS = ("demo", "empty", "scale")


def default_state_dir() -> Path:
    """Where the CA, serving certificate, tokens and kubeconfig live by default."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "imc" / "sim"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `imc sim`."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help=f"keeps the CA, serving certificate and tokens (default {default_state_dir()})")
    parser.add_argument("--kubeconfig", type=Path, default=None,
                        help="where to write the kubeconfig (default STATE_DIR/kubeconfig)")
    parser.add_argument("--scenario", choices=SCENARIOS, default="demo",
                        help="demo: a small lively cluster; empty: nothing; scale: many pods and caches")
    parser.add_argument("--pods", type=int, default=None, help="pods of the scale scenario (default 10000)")
    parser.add_argument("--caches", type=int, default=None, help="caches of the scale scenario (default 1000)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="time multiplier for cache builds and pod starts (default 1.0; 10 = ten times faster)")
    parser.add_argument("--seed", type=int, default=None, help="random seed of the demo's churn")
    parser.add_argument("--drop-watch-every", type=int, default=0, metavar="N",
                        help="close every watch stream after N events (client robustness tests; 0 = never)")
    parser.add_argument("--history", type=int, default=100_000, metavar="N",
                        help="watch events kept; older resourceVersions get 410 Expired (default 100000)")
    parser.add_argument("--log-level", default="warning", choices=("debug", "info", "warning", "error"),
                        help="debug logs one line per request")


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; returns the exit code."""
    import asyncio
    import logging

    from sim.server import SimConfig, serve

    logging.basicConfig(level=getattr(logging, args.log_level.upper()), format="%(asctime)s %(name)s %(message)s")
    state_dir = (args.state_dir or default_state_dir()).expanduser()
    kubeconfig = (args.kubeconfig or state_dir / "kubeconfig").expanduser()
    config = SimConfig(
        host=args.host,
        port=args.port,
        state_dir=state_dir,
        kubeconfig=kubeconfig,
        scenario=args.scenario,
        speed=args.speed,
        drop_watch_every=max(0, args.drop_watch_every),
        history=max(1, args.history),
        pods=args.pods,
        caches=args.caches,
        seed=args.seed,
    )
    return asyncio.run(serve(config))
