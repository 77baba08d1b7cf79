"""`imc exporter`: the dashboard's watch, store and ledger without Streamlit, serving only /metrics."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from dataclasses import replace

from kube.connect import ConnectError, connect
from kube.live import running, start_live
from kube.metrics import metrics_settings, serve_metrics


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `imc exporter`."""
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context (default: $IMC_CONTEXT, else the current one)")
    parser.add_argument("--port", type=int, default=None,
                        help="where /metrics listens (default: $IMC_METRICS_PORT, else 9108)")
    parser.add_argument("--address", default=None, help="bind address (default: $IMC_METRICS_ADDRESS, else 0.0.0.0)")


def run(args: argparse.Namespace) -> int:
    """Watch one cluster and serve /metrics until SIGTERM or Ctrl-C."""
    settings = metrics_settings()
    if args.port is not None:
        settings = replace(settings, port=args.port, problem=None)
    if args.address:
        settings = replace(settings, address=args.address)
    if settings.port == 0:
        print("imc exporter: metrics are off (port 0); nothing to serve", file=sys.stderr)
        return 2
    try:
        connection = connect(kubeconfig=args.kubeconfig, context=args.context)
    except ConnectError as exc:
        print(f"imc exporter: {exc}", file=sys.stderr)
        return 2
    endpoint = serve_metrics(running, settings)
    if endpoint.problem:
        print(f"imc exporter: {endpoint.problem}", file=sys.stderr)
        connection.close()
        return 2
    live = start_live(connection)
    history = live.ledger.problem if live.ledger is not None and live.ledger.problem else None
    where = str(live.ledger.path) if live.ledger is not None else "off"
    print(f"imc exporter: serving {endpoint.url} for cluster {live.cluster} (history {where})", flush=True)
    if history:
        print(f"imc exporter: {history}", file=sys.stderr, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        live.stop()
        endpoint.stop()
        connection.close()
    return 0
