"""The simulated cluster assembled without its HTTP face: store, API operations, controllers and base objects."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from core.timeutil import format_time
from sim.apiserver.object_api import DEFAULT_MAX_PODS, ObjectApi
from sim.apiserver.persist import Persister, StoredCluster
from sim.apiserver.resources import CRDS, LEASES, NAMESPACES, NODES, SERVICES
from sim.apiserver.scheduling import Scheduler
from sim.apiserver.store import COMPACTION_SECONDS, DEFAULT_HISTORY_BYTES, Store
from sim.controllers.deployments import DeploymentController
from sim.controllers.jobs import CronJobController, JobController
from sim.eci.eci import ECS_NODE, VIRTUAL_NODE, ZONE, EciController

log = logging.getLogger("imc.sim")
CRD_PATH = Path(__file__).resolve().parent.parent / "deploy" / "crd-imagecache.yaml"
BASE_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def _node(name: str, labels: dict, taints: list[dict], address: str) -> dict:
    """A Ready node object."""
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
        "spec": {"taints": taints} if taints else {},
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status", "lastHeartbeatTime": format_time(
                                datetime.now(UTC)), "lastTransitionTime": format_time(datetime.now(UTC))}],
            "addresses": [{"type": "InternalIP", "address": address}, {"type": "Hostname", "address": name}],
            "capacity": {"cpu": "2000", "memory": "4Ti", "pods": "20000"},
            "allocatable": {"cpu": "2000", "memory": "4Ti", "pods": "20000"},
            "nodeInfo": {
                "kubeletVersion": "v1.32.0-aliyun.1",
                "kubeProxyVersion": "v1.32.0-aliyun.1",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "osImage": "Alibaba Cloud Linux 3",
                "kernelVersion": "5.10.134-17.al8.x86_64",
                "containerRuntimeVersion": "containerd://1.6.36",
                "bootID": name,
                "machineID": name,
                "systemUUID": name,
            },
        },
    }


API_SERVICE = {
    "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
    "spec": {
        "type": "ClusterIP",
        "clusterIP": "10.96.0.1",
        "clusterIPs": ["10.96.0.1"],
        "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
        "sessionAffinity": "None",
    },
    "status": {"loadBalancer": {}},
}


def install_base(api) -> None:
    """Namespaces, the virtual-kubelet node (and one ECS node for non-ECI pods), the ImageCache CRD."""
    for name in BASE_NAMESPACES:
        api.create(NAMESPACES, "", {"metadata": {"name": name}, "status": {"phase": "Active"}}, internal=True)
    virtual = _node(
        VIRTUAL_NODE,
        {"type": "virtual-kubelet", "alibabacloud.com/virtual-node": "true", "topology.kubernetes.io/zone": ZONE},
        [{"key": "virtual-kubelet.io/provider", "value": "alibabacloud", "effect": "NoSchedule"}],
        "192.168.0.250",
    )
    api.create(NODES, "", virtual, internal=True)
    api.create(NODES, "", _node(ECS_NODE, {"topology.kubernetes.io/zone": ZONE}, [], "192.168.0.10"),
                   internal=True)
    for node in (VIRTUAL_NODE, ECS_NODE):  # the kubelet's heartbeat, as `kubectl describe node` reads it
        api.create(LEASES, "kube-node-lease", {"metadata": {"name": node}, "spec": {
            "holderIdentity": node, "leaseDurationSeconds": 40,
            "renewTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}, internal=True)
    api.create(SERVICES, "default", API_SERVICE, internal=True)
    if CRD_PATH.exists():
        api.create(CRDS, "", yaml.safe_load(CRD_PATH.read_text()), internal=True)
    else:
        log.warning("%s is missing: the ImageCache CRD object is not served", CRD_PATH)


@dataclass
class Simulation:
    """The cluster without its HTTP face: store, API operations, controllers."""

    store: Store
    api: ObjectApi
    scheduler: Scheduler
    eci: EciController
    deployments: DeploymentController
    jobs: JobController
    cronjobs: CronJobController


def build_simulation(history: int, speed: float, max_pods: int = DEFAULT_MAX_PODS,
                     history_bytes: int = DEFAULT_HISTORY_BYTES,
                     compaction_seconds: float = COMPACTION_SECONDS, stored: StoredCluster | None = None,
                     persister: Persister | None = None) -> Simulation:
    """A cluster with its controllers: the `stored` one resumed (its controllers carry on from its objects), else a
    fresh one with its base objects (namespaces, nodes, the CRD). A `persister` keeps every change from then on."""
    store = Store(history, history_bytes, compaction_seconds)
    scheduler = Scheduler(speed)
    api = ObjectApi(store, scheduler, max_pods)
    sim = Simulation(store, api, scheduler, EciController(api, scheduler),
                     DeploymentController(api, scheduler), JobController(api, scheduler),
                     CronJobController(api, scheduler))
    if stored is not None:
        store.restore(stored.objects, stored.rv)
        api.resume()
        sim.eci.resume()
    if persister is not None:
        persister.attach(store, stored)
    if stored is None:
        install_base(api)
    return sim
