"""`kubectl debug`'s ephemeral containers: what a pods/NAME/ephemeralcontainers write may change, and the
statuses the built-in cluster gives them (it runs no containers: running in a running pod, else waiting)."""

from __future__ import annotations

from core.workloads import CONTAINER_LISTS
from sim.apiserver.validation import check_container

Causes = list[tuple[str, str]]
LIST = "ephemeralContainers"


def with_ephemeral(pod: dict, written: dict, now: str) -> dict:
    """The stored pod (a private copy, changed in place) with the ephemeral containers of `written` and their
    statuses; all else of `written` is ignored, as the subresource does."""
    asked = (written.get("spec") or {}).get(LIST) if isinstance(written.get("spec"), dict) else None
    if asked:
        pod["spec"][LIST] = asked
    else:
        pod["spec"].pop(LIST, None)
    running = (pod.get("status") or {}).get("phase") == "Running"
    known = {s.get("name"): s for s in (pod.get("status") or {}).get("ephemeralContainerStatuses") or []}
    statuses = [known.get(c.get("name")) or _status(c, now, running) for c in asked or [] if isinstance(c, dict)]
    if statuses:
        pod.setdefault("status", {})["ephemeralContainerStatuses"] = statuses
    return pod


def _status(container: dict, now: str, running: bool) -> dict:
    """A new ephemeral container's status."""
    state = {"running": {"startedAt": now}} if running else {"waiting": {"reason": "PodNotRunning"}}
    return {"name": container.get("name"), "image": container.get("image", ""), "imageID": "", "ready": False,
            "restartCount": 0, "state": state}


def check_ephemeral(old: dict, new: dict) -> Causes:
    """Ephemeral containers may only be added, each with an image and a name no other container of the pod has."""
    before = {c.get("name"): c for c in old.get("spec", {}).get(LIST) or [] if isinstance(c, dict)}
    after = new.get("spec", {}).get(LIST) or []
    if not isinstance(after, list):
        return [(f"spec.{LIST}", "Invalid value: must be a list")]
    causes: Causes = []
    names = [c.get("name") for c in after if isinstance(c, dict)]
    for name in before:
        if name not in names:
            causes.append((f"spec.{LIST}", f'Forbidden: existing ephemeral containers "{name}" may not be removed'))
    seen = {c.get("name") for kind in CONTAINER_LISTS for c in new["spec"].get(kind) or [] if isinstance(c, dict)}
    for position, container in enumerate(after):
        where = f"spec.{LIST}[{position}]"
        name = container.get("name") if isinstance(container, dict) else None
        if name in before and name not in seen:
            seen.add(name)
            if container != before[name]:
                causes.append((where, f'Forbidden: existing ephemeral containers "{name}" may not be changed'))
        else:
            causes += check_container(container, where, seen)
    return causes
