"""The demo fleet (`imc sim --clusters 2`): which clusters it serves, their contexts, state dirs and scenarios."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FleetCluster:
    """One cluster of the fleet: its kubeconfig context, region, state sub-dir and scenario of a fresh demo."""

    context: str
    region: str
    subdir: str  # "" = the state dir itself (the first cluster is the one `imc sim` alone serves)
    demo: str  # the scenario a fresh cluster of the fleet starts as when the demo is asked for


FLEET = (
    FleetCluster("sim", "cn-hangzhou", "", "demo"),
    FleetCluster("sim-beijing", "cn-beijing", "beijing", "demo-beijing"),
)
MAX_CLUSTERS = len(FLEET)
FLEET_CONTEXTS = tuple(cluster.context for cluster in FLEET)  # ("sim", "sim-beijing"): each cluster's admin
VIEWER_SUFFIX = "-viewer"  # each cluster's read-only context: sim-viewer, sim-beijing-viewer
FLEET_VIEWER_CONTEXTS = tuple(context + VIEWER_SUFFIX for context in FLEET_CONTEXTS)


def fleet_of(clusters: int) -> tuple[FleetCluster, ...]:
    """The first `clusters` clusters of the fleet (1 to MAX_CLUSTERS)."""
    if not 1 <= clusters <= MAX_CLUSTERS:
        raise ValueError(f"the fleet has 1 to {MAX_CLUSTERS} clusters, not {clusters}")
    return FLEET[:clusters]


def cluster_state_dir(state_dir: Path, cluster: FleetCluster) -> Path:
    """Where a cluster of the fleet keeps its identity and objects: the first in the state dir, the others beneath."""
    return state_dir / cluster.subdir if cluster.subdir else state_dir


def cluster_scenario(asked: str | None, cluster: FleetCluster) -> tuple[str | None, str]:
    """The scenario asked of one cluster of the fleet and its default for a fresh state: the demo is each cluster's
    own variant of it; another scenario (empty, scale) is the same in every cluster."""
    if asked in (None, "demo"):
        return (None if asked is None else cluster.demo), cluster.demo
    return asked, asked
