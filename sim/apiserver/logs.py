"""`GET pods/NAME/log` of the built-in cluster: it runs no containers, so a container's log says what the
simulation did with it (started from which image and cache, exited how), with kube-apiserver's errors and options."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from core.errors import ImcError
from core.policy import MATCHED_CACHE
from core.timeutil import parse_time
from sim.apiserver.errors import ApiError
from sim.apiserver.query import flag


def container_of(pod: dict, query: Mapping[str, str]) -> str:
    """The container a log request names (or the pod's only one); 400 for none, an unknown one, or previous."""
    name = pod["metadata"]["name"]
    spec = pod.get("spec") or {}
    kinds = {kind: [c.get("name") for c in spec.get(kind) or [] if isinstance(c, dict)]
             for kind in ("containers", "initContainers", "ephemeralContainers")}
    container = query.get("container") or ""
    if not container:
        if len(kinds["containers"]) != 1:
            raise ApiError(400, f"a container name must be specified for pod {name}, choose one of: "
                                f"[{' '.join(kinds['containers'])}]" + _others(kinds))
        container = kinds["containers"][0]
    if not any(container in names for names in kinds.values()):
        raise ApiError(400, f"container {container} is not valid for pod {name}")
    if flag(query, "previous"):
        raise ApiError(400, f'previous terminated container "{container}" in pod "{name}" not found')
    return container


def container_lines(pod: dict, container: str, now: datetime) -> list[tuple[datetime, str]]:
    """Every line the container has logged so far; 400 while it has not started."""
    name = pod["metadata"]["name"]
    if not (pod.get("spec") or {}).get("nodeName"):
        raise ApiError(400, f"pod {name} does not have a host assigned")
    status = _status_of(pod, container)
    state = status.get("state") or {}
    if "running" not in state and "terminated" not in state:
        reason = (state.get("waiting") or {}).get("reason") or "ContainerCreating"
        raise ApiError(400, f'container "{container}" in pod "{name}" is waiting to start: {reason}')
    return _lines(pod, container, status, state, now)


def has_ended(pod: dict, container: str) -> bool:
    """Whether the container has terminated, so a followed log ends."""
    return "terminated" in (_status_of(pod, container).get("state") or {})


def _status_of(pod: dict, container: str) -> dict:
    """The container's status in the pod (empty before the kubelet reported one)."""
    status = pod.get("status") or {}
    return next((s for kind in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses")
                 for s in status.get(kind) or [] if isinstance(s, dict) and s.get("name") == container), {})


def _others(kinds: dict[str, list]) -> str:
    """The rest of kube-apiserver's "choose one of" message: the init and ephemeral containers, when any."""
    text = ""
    if kinds["initContainers"]:
        text += f" or one of the init containers: [{' '.join(kinds['initContainers'])}]"
    if kinds["ephemeralContainers"]:
        text += f" or one of the ephemeral containers: [{' '.join(kinds['ephemeralContainers'])}]"
    return text


def _time(value: object) -> datetime | None:
    """A timestamp of the pod's status, None when missing or not one (a status anybody may have written)."""
    try:
        return parse_time(value)
    except ImcError:
        return None


def _lines(pod: dict, container: str, status: dict, state: dict, now: datetime) -> list[tuple[datetime, str]]:
    """What the simulation did with the container, one timed line each."""
    running = state.get("running") or {}
    ended = state.get("terminated") or {}
    started = _time(running.get("startedAt") or ended.get("startedAt")) or _time(
        pod["metadata"].get("creationTimestamp")) or now
    ephemeral = any(c.get("name") == container for c in pod["spec"].get("ephemeralContainers") or [])
    cache = None if ephemeral else (pod["metadata"].get("annotations") or {}).get(MATCHED_CACHE)
    lines = [(started, f"imc sim: container {container} ({status.get('image', '')}) started"
                       + (f"; ECI created the pod from image cache {cache}" if cache else "")
                       + ". The built-in cluster simulates containers and runs none, so this is all it logs")]
    finished = _time(ended.get("finishedAt"))
    if finished is not None:
        lines.append((finished, f"imc sim: container {container} exited with code {ended.get('exitCode', 0)} "
                                f"({ended.get('reason', 'Completed')})"))
    return lines


def shown_text(lines: list[tuple[datetime, str]], query: Mapping[str, str], now: datetime) -> str:
    """What `kubectl logs` gets of the lines: after sinceSeconds/sinceTime, tailLines, timestamps and limitBytes;
    400 for bad values."""
    since = _since(query, now)
    if since is not None:
        lines = [(at, text) for at, text in lines if at >= since]
    tail = _count(query, "tailLines")
    if tail is not None:
        lines = lines[len(lines) - tail:] if tail else []
    text = log_text(lines, flag(query, "timestamps"))
    limit = _count(query, "limitBytes", least=1)
    return text.encode()[:limit].decode(errors="ignore") if limit is not None else text


def log_text(lines: list[tuple[datetime, str]], stamped: bool) -> str:
    """Lines as the kubelet writes them, each after its RFC 3339 nanosecond timestamp when `stamped`."""
    return "".join((f"{at.strftime('%Y-%m-%dT%H:%M:%S.%f')}000Z " if stamped else "") + line + "\n"
                   for at, line in lines)


def _since(query: Mapping[str, str], now: datetime) -> datetime | None:
    """The earliest time asked for (sinceSeconds or sinceTime, not both)."""
    if query.get("sinceSeconds") and query.get("sinceTime"):
        raise ApiError(422, "Pod log options are invalid: at most one of `sinceTime` or `sinceSeconds` may be "
                            "specified", reason="Invalid")
    seconds = _count(query, "sinceSeconds", least=1)
    if seconds is not None:
        return now - timedelta(seconds=seconds)
    if query.get("sinceTime"):
        since = _time(query["sinceTime"])
        if since is None:
            raise ApiError(400, f'sinceTime: Invalid value: "{query["sinceTime"]}": not an RFC3339 time')
        return since
    return None


def _count(query: Mapping[str, str], key: str, least: int = 0) -> int | None:
    """A whole-number option, None when absent; 422 below `least`, 400 when not a number."""
    value = query.get(key)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise ApiError(400, f'{key}: Invalid value: "{value}": must be a whole number') from None
    if number < least:
        bound = "greater than or equal to 0" if least == 0 else "greater than 0"
        raise ApiError(422, f"Pod log options are invalid: {key}: Invalid value: {number}: must be {bound}",
                       reason="Invalid")
    return number
