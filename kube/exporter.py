"""`imc exporter`'s work: the dashboard's watch, store and ledger without Streamlit, serving only /metrics.

The command line (options, messages, running until a signal) is `cli.py`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from kube.live import Live, running, start_live
from kube.metrics import (
    MAX_PORT,
    MetricsEndpoint,
    MetricsSettings,
    metrics_settings,
    new_series_seconds,
    port_problem,
    serve_metrics,
)


class ExporterError(Exception):
    """/metrics cannot be served: one line."""


@dataclass
class Exporter:
    """One watched cluster and the /metrics endpoint that serves it."""

    live: Live
    endpoint: MetricsEndpoint

    @property
    def history(self) -> str:
        """Where the ledger is, or "off"."""
        return str(self.live.ledger.path) if self.live.ledger is not None else "off"

    @property
    def history_problem(self) -> str | None:
        """What is wrong with the ledger, if anything."""
        return self.live.ledger.problem if self.live.ledger is not None else None

    def stop(self) -> None:
        """Stop watching (the last changes stored), then stop serving."""
        self.live.stop()
        self.endpoint.stop()


def exporter_settings(port: int | None, address: str | None,
                      environ: Mapping[str, str] | None = None) -> MetricsSettings:
    """Where /metrics listens: the given port and address over IMC_METRICS_*; ExporterError when it is off or not a
    port."""
    settings = metrics_settings(environ)
    if port is not None:
        if not 0 <= port <= MAX_PORT:
            raise ExporterError(f"{port_problem('--port', port)}; nothing to serve")
        hold = new_series_seconds(os.environ if environ is None else environ)
        settings = replace(settings, port=port, problem=hold if isinstance(hold, str) else None)
    if settings.problem:
        raise ExporterError(f"{settings.problem}; nothing to serve")
    if address:
        settings = replace(settings, address=address)
    if settings.port == 0:
        raise ExporterError("metrics are off (port 0); nothing to serve")
    return settings


def start_exporter(connection: Any, settings: MetricsSettings) -> Exporter:
    """Serve /metrics (settings from exporter_settings), then watch the connection's cluster."""
    endpoint = serve_metrics(running, settings)
    if endpoint.problem:
        raise ExporterError(endpoint.problem)
    return Exporter(start_live(connection), endpoint)
