"""`meta.k8s.io/v1` Table rendering, so `kubectl get` prints the columns a real server would."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from core.errors import ImcError
from core.timeutil import parse_time
from sim.apiserver.batch import condition_true
from sim.apiserver.resources import (
    CONFIGMAPS,
    CRDS,
    CRONJOBS,
    DEPLOYMENTS,
    EVENTS,
    IMAGECACHES,
    JOBS,
    NAMESPACES,
    NODES,
    PODS,
    REPLICASETS,
    SECRETS,
    SERVICES,
)


@dataclass(frozen=True)
class Column:
    """One table column: its definition and how to compute a cell."""

    name: str
    type: str
    cell: Callable[[dict, datetime], object]
    priority: int = 0
    format: str = ""
    description: str = ""

    def definition(self) -> dict:
        """The TableColumnDefinition."""
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description or self.name,
            "priority": self.priority,
        }


def human_duration(seconds: float) -> str:
    """Kubernetes' HumanDuration (`5s`, `3m20s`, `4h`, `2d3h`...), as kubectl prints ages."""
    seconds = int(seconds)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return _whole_and_rest(minutes, "m", seconds % 60, "s")
    if minutes < 180:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        return _whole_and_rest(hours, "h", minutes % 60, "m")
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return _whole_and_rest(hours // 24, "d", hours % 24, "h")
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        return _whole_and_rest(hours // 24 // 365, "y", (hours // 24) % 365, "d")
    return f"{hours // 24 // 365}y"


def _whole_and_rest(whole: int, unit: str, rest: int, rest_unit: str) -> str:
    """`3m20s`, or `3m` when the rest is zero."""
    return f"{whole}{unit}" if rest == 0 else f"{whole}{unit}{rest}{rest_unit}"


def age_of(timestamp: str | None, now: datetime) -> str:
    """The age cell of a timestamp (`<unknown>` when absent)."""
    try:
        when = parse_time(timestamp)
    except ImcError:
        when = None
    if when is None:
        return "<unknown>"
    return human_duration((now - when).total_seconds())


def _name(obj: dict, now: datetime) -> str:
    return obj.get("metadata", {}).get("name", "")


def _age(obj: dict, now: datetime) -> str:
    return age_of(obj.get("metadata", {}).get("creationTimestamp"), now)


def pod_status_text(pod: dict) -> str:
    """The STATUS column of `kubectl get pods` (phase, or the reason a container is waiting)."""
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return "Terminating"
    status = pod.get("status", {})
    text = status.get("reason") or status.get("phase") or "Pending"
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            text = state["waiting"]["reason"]
        elif state.get("terminated", {}).get("reason"):
            text = state["terminated"]["reason"]
    return text


def _pod_ready(obj: dict, now: datetime) -> str:
    statuses = obj.get("status", {}).get("containerStatuses") or []
    total = len(obj.get("spec", {}).get("containers") or [])
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def _pod_restarts(obj: dict, now: datetime) -> int:
    return sum(s.get("restartCount", 0) for s in obj.get("status", {}).get("containerStatuses") or [])


def _field(*path: str, default: object = "<none>") -> Callable[[dict, datetime], object]:
    """A cell reading a nested field."""

    def cell(obj: dict, now: datetime) -> object:
        value: object = obj
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        return default if value is None else value

    return cell


def _deploy_ready(obj: dict, now: datetime) -> str:
    status = obj.get("status", {})
    return f"{status.get('readyReplicas', 0)}/{obj.get('spec', {}).get('replicas', 1)}"


def _template_containers(attribute: str) -> Callable[[dict, datetime], str]:
    """A cell listing one attribute (name, image) of a workload template's containers."""

    def cell(obj: dict, now: datetime) -> str:
        spec = obj.get("spec", {}).get("template", {}).get("spec", {})
        return ",".join(c.get(attribute, "") for c in spec.get("containers") or [])

    return cell


def _selector(obj: dict, now: datetime) -> str:
    labels = (obj.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in labels.items())


def _job_status(obj: dict, now: datetime) -> str:
    """The STATUS of `kubectl get jobs`, in the order printJob checks the conditions."""
    if condition_true(obj, "Complete"):
        return "Complete"
    if condition_true(obj, "Failed"):
        return "Failed"
    if obj.get("metadata", {}).get("deletionTimestamp"):
        return "Terminating"
    for kind in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if condition_true(obj, kind):
            return kind
    return "Running"


def _job_completions(obj: dict, now: datetime) -> str:
    spec, succeeded = obj.get("spec", {}), obj.get("status", {}).get("succeeded", 0)
    if spec.get("completions") is not None:
        return f"{succeeded}/{spec['completions']}"
    parallelism = spec.get("parallelism") or 0
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def _job_duration(obj: dict, now: datetime) -> str:
    status = obj.get("status", {})
    try:
        started = parse_time(status.get("startTime"))
        completed = parse_time(status.get("completionTime")) if status.get("completionTime") else None
    except ImcError:
        return ""
    if started is None:
        return ""
    return human_duration(((completed or now) - started).total_seconds())


def _job_template_containers(attribute: str) -> Callable[[dict, datetime], str]:
    """A cell listing one attribute of the containers of a CronJob's job template."""
    cell = _template_containers(attribute)
    return lambda obj, now: cell(obj.get("spec", {}).get("jobTemplate", {}), now)


def _cronjob_selector(obj: dict, now: datetime) -> str:
    selector = obj.get("spec", {}).get("jobTemplate", {}).get("spec", {}).get("selector")
    return _selector({"spec": {"selector": selector}}, now) or "<none>"


def _cronjob_suspend(obj: dict, now: datetime) -> str:
    suspend = obj.get("spec", {}).get("suspend")
    return "<unset>" if suspend is None else str(bool(suspend))


# kubectl -o wide's columns of a workload's pod template (Deployment and ReplicaSet alike)
TEMPLATE_COLUMNS = (
    Column("Containers", "string", _template_containers("name"), priority=1),
    Column("Images", "string", _template_containers("image"), priority=1),
    Column("Selector", "string", _selector, priority=1),
)


def _event_last_seen(obj: dict, now: datetime) -> str:
    return age_of(obj.get("lastTimestamp") or obj.get("eventTime") or obj.get("metadata", {}).get(
        "creationTimestamp"), now)


def _event_object(obj: dict, now: datetime) -> str:
    involved = obj.get("involvedObject", {})
    return f"{involved.get('kind', '').lower()}/{involved.get('name', '')}"


def _node_status(obj: dict, now: datetime) -> str:
    ready = [c for c in obj.get("status", {}).get("conditions") or [] if c.get("type") == "Ready"]
    status = "Ready" if ready and ready[0].get("status") == "True" else "NotReady"
    return status + ",SchedulingDisabled" if obj.get("spec", {}).get("unschedulable") else status


def _node_roles(obj: dict, now: datetime) -> str:
    prefix = "node-role.kubernetes.io/"
    roles = [k[len(prefix):] for k in obj.get("metadata", {}).get("labels", {}) if k.startswith(prefix)]
    return ",".join(roles) or "<none>"


def _service_ports(obj: dict, now: datetime) -> str:
    ports = obj.get("spec", {}).get("ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _readiness_gates(obj: dict, now: datetime) -> str:
    gates = obj.get("spec", {}).get("readinessGates") or []
    if not gates:
        return "<none>"
    true = {c.get("type") for c in obj.get("status", {}).get("conditions") or [] if c.get("status") == "True"}
    return f"{sum(1 for gate in gates if gate.get('conditionType') in true)}/{len(gates)}"


def _event_source(obj: dict, now: datetime) -> str:
    source = obj.get("source") or {}
    component = source.get("component") or obj.get("reportingComponent") or ""
    return ", ".join(part for part in (component, source.get("host", "")) if part)


def _event_first_seen(obj: dict, now: datetime) -> str:
    return age_of(obj.get("firstTimestamp") or obj.get("eventTime") or obj.get("metadata", {}).get(
        "creationTimestamp"), now)


def _node_address(kind: str) -> Callable[[dict, datetime], str]:
    """A cell with a node's first address of a kind."""

    def cell(obj: dict, now: datetime) -> str:
        return next((a.get("address", "") for a in obj.get("status", {}).get("addresses") or []
                     if a.get("type") == kind), "<none>")

    return cell


def _data_count(*names: str) -> Callable[[dict, datetime], int]:
    """A cell counting the keys of some data maps (a ConfigMap's data and binaryData, a Secret's data)."""

    def cell(obj: dict, now: datetime) -> int:
        return sum(len(obj.get(name) or {}) for name in names)

    return cell


NAME = Column("Name", "string", _name, format="name", description="Name must be unique within a namespace.")
AGE = Column("Age", "string", _age, description="CreationTimestamp of the object.")

COLUMNS: dict[str, tuple[Column, ...]] = {
    PODS.key: (
        NAME,
        Column("Ready", "string", _pod_ready),
        Column("Status", "string", lambda o, now: pod_status_text(o)),
        Column("Restarts", "string", _pod_restarts),
        AGE,
        Column("IP", "string", _field("status", "podIP"), priority=1),
        Column("Node", "string", _field("spec", "nodeName"), priority=1),
        Column("Nominated Node", "string", _field("status", "nominatedNodeName"), priority=1),
        Column("Readiness Gates", "string", _readiness_gates, priority=1),
    ),
    IMAGECACHES.key: (
        NAME,
        AGE,
        Column("CacheId", "string", _field("status", "imageCacheId", default="")),
        Column("Phase", "string", _field("status", "phase", default="")),
        Column("Progress", "string", _field("status", "progress", default="")),
    ),
    DEPLOYMENTS.key: (
        NAME,
        Column("Ready", "string", _deploy_ready),
        Column("Up-to-date", "integer", _field("status", "updatedReplicas", default=0)),
        Column("Available", "integer", _field("status", "availableReplicas", default=0)),
        AGE,
        *TEMPLATE_COLUMNS,
    ),
    REPLICASETS.key: (
        NAME,
        Column("Desired", "integer", _field("spec", "replicas", default=0)),
        Column("Current", "integer", _field("status", "replicas", default=0)),
        Column("Ready", "integer", _field("status", "readyReplicas", default=0)),
        AGE,
        *TEMPLATE_COLUMNS,
    ),
    JOBS.key: (
        NAME,
        Column("Status", "string", _job_status, description="Status of the job."),
        Column("Completions", "string", _job_completions,
               description="The number of pods which reached phase Succeeded."),
        Column("Duration", "string", _job_duration, description="Time required to complete the job."),
        AGE,
        *TEMPLATE_COLUMNS,
    ),
    CRONJOBS.key: (
        NAME,
        Column("Schedule", "string", _field("spec", "schedule", default=""), description="The schedule in Cron "
               "format, see https://en.wikipedia.org/wiki/Cron."),
        Column("Timezone", "string", _field("spec", "timeZone")),
        Column("Suspend", "boolean", _cronjob_suspend),
        Column("Active", "integer", lambda o, now: len(o.get("status", {}).get("active") or [])),
        Column("Last Schedule", "string", lambda o, now: age_of(o.get("status", {}).get("lastScheduleTime"), now)
               if o.get("status", {}).get("lastScheduleTime") else "<none>"),
        AGE,
        Column("Containers", "string", _job_template_containers("name"), priority=1),
        Column("Images", "string", _job_template_containers("image"), priority=1),
        Column("Selector", "string", _cronjob_selector, priority=1),
    ),
    EVENTS.key: (
        Column("Last Seen", "string", _event_last_seen),
        Column("Type", "string", _field("type", default="")),
        Column("Reason", "string", _field("reason", default="")),
        Column("Object", "string", _event_object),
        Column("Subobject", "string", _field("involvedObject", "fieldPath", default=""), priority=1),
        Column("Source", "string", _event_source, priority=1),
        Column("Message", "string", _field("message", default="")),
        Column("First Seen", "string", _event_first_seen, priority=1),
        Column("Count", "string", _field("count", default=1), priority=1),
        Column("Name", "string", _name, priority=1),
    ),
    NAMESPACES.key: (NAME, Column("Status", "string", _field("status", "phase", default="Active")), AGE),
    NODES.key: (
        NAME,
        Column("Status", "string", _node_status),
        Column("Roles", "string", _node_roles),
        AGE,
        Column("Version", "string", _field("status", "nodeInfo", "kubeletVersion", default="")),
        Column("Internal-IP", "string", _node_address("InternalIP"), priority=1),
        Column("External-IP", "string", _node_address("ExternalIP"), priority=1),
        Column("OS-Image", "string", _field("status", "nodeInfo", "osImage", default="<unknown>"), priority=1),
        Column("Kernel-Version", "string", _field("status", "nodeInfo", "kernelVersion", default="<unknown>"),
               priority=1),
        Column("Container-Runtime", "string", _field("status", "nodeInfo", "containerRuntimeVersion",
                                                     default="<unknown>"), priority=1),
    ),
    SERVICES.key: (
        NAME,
        Column("Type", "string", _field("spec", "type", default="ClusterIP")),
        Column("Cluster-IP", "string", _field("spec", "clusterIP", default="<none>")),
        Column("External-IP", "string", lambda o, now: "<none>"),
        Column("Port(s)", "string", _service_ports),
        AGE,
    ),
    CONFIGMAPS.key: (NAME, Column("Data", "string", _data_count("data", "binaryData")), AGE),
    SECRETS.key: (NAME, Column("Type", "string", _field("type", default="")), Column("Data", "string",
                                                                                     _data_count("data")), AGE),
    CRDS.key: (
        NAME,
        Column("Created At", "date", _field("metadata", "creationTimestamp", default="")),
    ),
}


def columns_for(resource_key: str) -> tuple[Column, ...]:
    """The columns of a resource (NAME and AGE when it has none of its own)."""
    return COLUMNS.get(resource_key, (NAME, AGE))


def partial_metadata(obj: dict) -> dict:
    """The PartialObjectMetadata a table row carries by default."""
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def render_table(
    resource_key: str,
    objects: Iterable[dict],
    resource_version: str = "",
    include_object: str = "Metadata",
    continue_token: str = "",
    now: datetime | None = None,
) -> dict:
    """A meta.k8s.io/v1 Table of objects."""
    now = now or datetime.now(UTC)
    columns = columns_for(resource_key)
    rows = []
    for obj in objects:
        row: dict = {"cells": [column.cell(obj, now) for column in columns]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = partial_metadata(obj)
        rows.append(row)
    metadata: dict = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [column.definition() for column in columns],
        "rows": rows,
    }
