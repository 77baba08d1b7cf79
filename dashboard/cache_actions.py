"""Actions on one ImageCache (the Image caches page): update images, extend retention, delete, adopt an
auto-created cache.

Each shows, before its button, what it changes for every live workload's next pod; each is checked, dry-run by the
server, applied as of the version the user saw and recorded as an audit Event (kube/writes.py); each is disabled,
with the reason, when this session may not write. Nothing is prepared before the user picks an action, and a
button's first click acts or says what is wrong.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import streamlit as st

from core.caches import AUTO_CREATED_PREFIX, MAX_RETENTION_DAYS, validate_imagecache
from core.impact import CacheChange, ChangeError, Impact, WorkloadImpact, extended_expiry
from core.owners import top_owner
from core.policy import IMC_ID, INSTANCE_ID
from dashboard import cache_impact, cache_views, edits, nav, shell, writer
from dashboard.safe import friendly
from dashboard.text import NO_VALUE, code, inert_frame, md
from kube import writes

FLASH = "cache-action-flash"
UPDATE, EXTEND, DELETE, ADOPT = "Update images", "Extend retention", "Delete", "Adopt"
PERMISSIONS = {UPDATE: "update-imagecache", EXTEND: "update-imagecache", DELETE: "delete-imagecache",
               ADOPT: "create-imagecache"}


@dataclass(frozen=True)
class Flash:
    """The outcome of an action's last click, shown under its button (after a delete, where the cache was)."""

    cache: str
    action: str
    kind: str  # "success" | "warning" | "error"
    message: str
    patch_link: Mapping[str, str] | None = None  # after an adoption: the Patch page's prefill for the workload
    created: str | None = None  # after an adoption: the named cache


@dataclass(frozen=True)
class Cause:
    """The workload whose missed pod made ECI auto-create a cache (`made_for`), else the one whose pods hit it most."""

    namespace: str
    kind: str
    name: str
    made_for: bool = True

    @property
    def label(self) -> str:
        """Kind/namespace/name."""
        return f"{self.kind}/{self.namespace}/{self.name}"


def section(cluster: shell.ShownCluster, snapshot: Any, frames: Any, name: str) -> None:
    """The actions on the selected cache, or the outcome of the one that just deleted it."""
    obj = snapshot.cache_objects.get(name)
    if obj is None:
        show_flash(name, DELETE)
        return
    st.markdown("**Actions**")
    offered = [UPDATE, EXTEND, DELETE] + ([ADOPT] if cache_views.is_auto_created(name) else [])
    blocked = {action: shell.write_blocked(cluster, PERMISSIONS[action]) for action in offered}
    for action, reason in blocked.items():
        if reason:
            st.caption(f":material/lock: **{action}** is disabled: {md(reason)}")
    chosen = st.segmented_control("Action", offered, key=f"cache-action-{name}", label_visibility="collapsed")
    if chosen is None:
        st.caption("Pick an action: before anything is sent, the page shows what it changes for each live "
                   "workload's next pod.")
        return
    ACTION_FORMS[chosen](cluster, snapshot, frames, obj, blocked[chosen])
    show_flash(name, chosen)


# ---- impact


def show_impact(frames: Any, change: CacheChange, title: str, none: str, meanwhile: bool = False) -> Impact | None:
    """The workloads a change affects (`meanwhile`: while its update runs), as a table under a title; `none` when it
    affects none; what makes the change impossible when it is. Returns the impact, None when impossible."""
    st.markdown(f"**{md(title)}**")
    try:
        impact = cache_impact.kept_preview(frames, change)
    except ChangeError as exc:
        st.caption(f"No impact to show: {md(str(exc))}.")
        return None
    items: tuple[WorkloadImpact, ...] = impact.while_updating if meanwhile else impact.workloads
    rows = cache_impact.impact_rows(items)
    kept = cache_impact.unchanged(impact, items)
    if rows.empty:
        st.caption(f"{md(none)} ({kept:,} live workloads keep their decision.)")
        return impact
    # what changes next to the workload; as the verdict table (explanation.py): rows of 88 px wrap text to four
    # lines, and the widths add up to the page's column at 1024 px (about 650 px), stretched in proportion when wider
    st.dataframe(inert_frame(rows), hide_index=True, placeholder=NO_VALUE, width="stretch",
                 key=f"impact-{change.kind}-{change.name}-{title}", row_height=88,
                 column_order=["Workload", "What changes", "Now", "After"],
                 column_config={"Workload": st.column_config.TextColumn(width=170, help="Kind/namespace/name"),
                                "What changes": st.column_config.TextColumn(width=170),
                                "Now": st.column_config.TextColumn(width=150),
                                "After": st.column_config.TextColumn(width=150)})
    st.caption(f"{len(rows):,} of {impact.decided:,} live workloads change; each row is the workload's next pod, "
               "decided by the engine against the changed set of caches.")
    return impact


# ---- the four actions


def update_form(cluster: shell.ShownCluster, snapshot: Any, frames: Any, obj: dict, blocked: str | None) -> None:
    """New images: ECI's phase rule before anything, the impact while it updates and once it is Ready, the button."""
    name = obj["metadata"]["name"]
    key = f"cache-images-{name}"
    # the form's first value as the widget's default, not seeded into session_state: a keyed widget drawn only in one
    # mode can miss a seeded value (streamlit#9082; the adopt form's name showed empty once beside CPU hogs)
    images = st.text_area("Images after the update", "\n".join(str(image) for image in (obj.get("spec") or {}).get(
        "images") or ()), key=key, height=120, help="One image per line; up to 20.")
    edit = writes.CacheEdit(images=tuple(edits.CacheForm(images=images).image_list()))
    refusal = writes.phase_refusal(obj)
    if refusal:
        st.warning(f"Update is refused: {md(refusal)}.", icon=":material/block:")
    else:
        change = CacheChange("update", name, tuple(edit.images or ()))
        ready = not writes.cache_edit_problems(obj, edit)
        # while Updating the cache serves no pod, whatever its images: with new images not valid yet, the current
        # ones show the same meanwhile
        during = change if ready else CacheChange("update", name, tuple((obj.get("spec") or {}).get("images") or ()))
        show_impact(frames, during, "While it updates (Updating: ECI uses no cache that is not Ready)",
                    "No live workload hits or pins it, so none misses while it updates.", meanwhile=True)
        if ready:
            show_impact(frames, change, "Once it is Ready with the new images", "No live workload's next pod changes.")
    shell.write_button(cluster, UPDATE, key=f"cache-update-{name}", icon=":material/sync:", disabled=bool(blocked), help=blocked,
              on_click=apply_edit, args=(cluster, obj, edit, UPDATE))


def extend_form(cluster: shell.ShownCluster, snapshot: Any, frames: Any, obj: dict, blocked: str | None) -> None:
    """A longer retention: the expiry now and after, what the expiry would change, the button."""
    name = obj["metadata"]["name"]
    view = snapshot.caches.get(name)
    current = view.retention_days if view else None
    key = f"cache-retention-{name}"
    days = st.number_input("Retention (days)", value=current, key=key, step=1, placeholder="days",
                           help=f"More than the {current or 0} days it keeps now, up to {MAX_RETENTION_DAYS}.")
    edit = writes.CacheEdit(retention_days=None if days is None else int(days))
    if view is None or view.expires is None:
        st.caption(f"{md(name)} never expires: it has no retention to extend.")
    else:
        later = extended_expiry(view.expires, current, edit.retention_days)
        st.markdown(f"Expires {md(cache_views.relative_time(view.expires, frames.now))}"
                    + (f"; with {edit.retention_days} days, {md(cache_views.relative_time(later, frames.now))}."
                       if later else "."))
        show_impact(frames, CacheChange("expire", name), "When it expires, without an extension", "No live workload hits or pins it: its "
                    "expiry changes no decision.")
    shell.write_button(cluster, EXTEND, key=f"cache-extend-{name}", icon=":material/more_time:", disabled=bool(blocked), help=blocked,
              on_click=apply_edit, args=(cluster, obj, edit, EXTEND))


def delete_form(cluster: shell.ShownCluster, snapshot: Any, frames: Any, obj: dict, blocked: str | None) -> None:
    """The impact of the deletion; when live workloads depend on the cache, its name typed; the button."""
    name = obj["metadata"]["name"]
    impact = show_impact(frames, CacheChange("delete", name), "If it is deleted",
                         "No live workload hits or pins it: deleting it changes no decision.")
    depend = len(impact.workloads) if impact is not None else 0
    if depend:
        st.text_input(f"{depend:,} live workload{'s depend' if depend > 1 else ' depends'} on it: type its name to "
                      "delete it", key=f"cache-confirm-{name}", placeholder=name)
    shell.write_button(cluster, DELETE, key=f"cache-delete-{name}", icon=":material/delete:", type="primary", disabled=bool(blocked),
              help=blocked, on_click=apply_delete, args=(cluster, obj, depend))


def adopt_form(cluster: shell.ShownCluster, snapshot: Any, frames: Any, obj: dict, blocked: str | None) -> None:
    """A named cache with the auto-created one's images; then a link to pin (or keep automatic) its workload."""
    name = obj["metadata"]["name"]
    view = snapshot.caches.get(name)
    cause = caused_by(snapshot.pods, name, view.id if view else None)
    spec = obj.get("spec") or {}
    key = f"cache-adopt-{name}"
    st.markdown(f"ECI created {code(name)} for a pod that missed" + (
        f" of {code(cause.label)}." if cause and cause.made_for else
        f"; that pod is gone, and {code(cause.label)} hits it most now." if cause else
        "; that pod is gone, and no live pod hits it."))
    new_name = st.text_input("Name of the new cache", suggested_name(cause, name), key=key, max_chars=253)
    adopted = adoption(new_name, spec)
    problems = adoption_problems(adopted, snapshot.cache_objects)
    flash = st.session_state.get(FLASH)
    just_created = isinstance(flash, Flash) and flash.created == adopted["metadata"]["name"]  # outcome below
    if problems and not just_created:
        st.caption(f"Create needs: {md('; '.join(problems))}.")
    elif not problems:
        show_impact(frames, CacheChange("add", adopted["metadata"]["name"], cache=adopted), "Once the named cache is Ready", "No live workload's next pod changes: with automatic "
                    "mode its pods may keep hitting the auto-created cache until ECI removes it.")
    shell.write_button(cluster, "Create named cache", key=f"cache-adopt-create-{name}", icon=":material/add_box:",
              disabled=bool(blocked), help=blocked, on_click=apply_adopt, args=(cluster, snapshot, name, adopted, cause))


ACTION_FORMS: dict[str, Callable[..., None]] = {UPDATE: update_form, EXTEND: extend_form, DELETE: delete_form,
                                                ADOPT: adopt_form}


def caused_by(pods: Mapping[str, Any], name: str, cache_id: str | None) -> Cause | None:
    """The workload of the pod an auto-created cache was made for (its ECI instance ID is in the cache's name); when
    that pod is gone, the workload whose live pods hit the cache most; None when neither is known."""
    instance = name.removeprefix(AUTO_CREATED_PREFIX)
    hits: Counter[Cause] = Counter()
    for record in pods.values():
        metadata = record.metadata
        owner = top_owner(metadata)
        cause = Cause(record.namespace, owner.kind, owner.name) if owner else Cause(record.namespace, "Pod",
                                                                                   record.name)
        if (metadata.get("annotations") or {}).get(INSTANCE_ID) == instance:
            return cause
        if cache_id and record.actual is not None and record.actual.cache_id == cache_id:
            hits[cause] += 1
    if not hits:
        return None
    return replace(min(hits, key=lambda cause: (-hits[cause], cause.label)), made_for=False)


def suggested_name(cause: Cause | None, name: str) -> str:
    """A name for the adopted cache: after its workload, else after the ECI instance."""
    stem = cause.name if cause else name.removeprefix(AUTO_CREATED_PREFIX)
    return f"{stem[:240]}-images"


def adoption(new_name: str, spec: Mapping) -> dict:
    """The named ImageCache holding an auto-created cache's images, of its size (no retention: it never expires)."""
    adopted: dict[str, Any] = {"images": list(spec.get("images") or ())}
    if spec.get("imageCacheSize") is not None:
        adopted["imageCacheSize"] = spec["imageCacheSize"]
    return {"metadata": {"name": new_name.strip()}, "spec": adopted}


def adoption_problems(adopted: dict, existing: Mapping[str, Any]) -> list[str]:
    """What keeps the adoption from being created: the CRD's rules, a name already taken."""
    problems = [f"{p.field}: {p.message}" if p.field else p.message for p in validate_imagecache(adopted)]
    if adopted["metadata"]["name"] in existing:
        problems.append(f"an ImageCache named {adopted['metadata']['name']} already exists")
    return problems


# ---- the buttons' callbacks: the outcome goes to the flash, shown by the next run


def remember(flash: Flash) -> None:
    """Keep an action's outcome for the next run."""
    st.session_state[FLASH] = flash


def conflict_text(verb: str) -> str:
    """What a lost race says."""
    return (f"Conflict: someone changed this cache after you loaded it, so nothing was {verb}. The page now shows "
            "the current version: review the impact and try again.")


@friendly
def apply_edit(cluster: shell.ShownCluster, obj: dict, edit: writes.CacheEdit, action: str) -> None:
    """Update images or extend retention, as of the version shown."""
    name = obj["metadata"]["name"]
    outcome = writer.edit_cache(cluster, obj, edit)
    if outcome.conflict:
        remember(Flash(name, action, "warning", conflict_text("changed")))
    else:
        remember(Flash(name, action, "success" if outcome.ok else "error", outcome.message))


@friendly
def apply_delete(cluster: shell.ShownCluster, obj: dict, depend: int) -> None:
    """Delete as of the version shown; while live workloads depend on the cache, only with its name typed."""
    name = obj["metadata"]["name"]
    typed = (st.session_state.get(f"cache-confirm-{name}") or "").strip()
    if depend and typed != name:
        remember(Flash(name, DELETE, "warning", f"Nothing was deleted: {depend:,} live workload"
                       f"{'s depend' if depend > 1 else ' depends'} on {name} (above). Type its name to delete it."))
        return
    outcome = writer.delete_cache(cluster, obj)
    if outcome.conflict:
        remember(Flash(name, DELETE, "warning", conflict_text("deleted")))
    else:
        remember(Flash(name, DELETE, "success" if outcome.ok else "error", outcome.message))


@friendly
def apply_adopt(cluster: shell.ShownCluster, snapshot: Any, name: str, adopted: dict, cause: Cause | None) -> None:
    """Create the named cache; on success, suggest the Patch page for the workload that caused the auto one."""
    problems = adoption_problems(adopted, snapshot.cache_objects)
    if problems:
        remember(Flash(name, ADOPT, "warning", f"Nothing was created: {'; '.join(problems)}."))
        return
    outcome = writer.create_cache(cluster, adopted)
    if not outcome.ok:
        remember(Flash(name, ADOPT, "error", outcome.message))
        return
    cache_id = ((outcome.obj or {}).get("status") or {}).get("imageCacheId")
    link, message = None, outcome.message
    if cause and cause.kind == "Deployment":
        link = {"deployment": f"{cause.namespace}/{cause.name}", "mode": "pin" if cache_id else "automatic",
                **({"pin": cache_id} if cache_id else {})}
    elif cause and cache_id:
        message += (f" To pin {cause.label} to it, set {IMC_ID}: {cache_id} on its pod template (the Patch page "
                    "edits Deployments only).")
    remember(Flash(name, ADOPT, "success", message, link, adopted["metadata"]["name"]))


def show_flash(name: str, action: str) -> None:
    """The outcome of this action's last click on this cache, once."""
    flash = st.session_state.get(FLASH)
    if not isinstance(flash, Flash) or (flash.cache, flash.action) != (name, action):
        return  # kept until the next click: the live page redraws every few seconds
    icon = {"success": ":material/check_circle:", "warning": ":material/sync_problem:"}.get(flash.kind,
                                                                                           ":material/error:")
    getattr(st, flash.kind)(md(flash.message), icon=icon)
    if flash.patch_link:
        deployment = flash.patch_link["deployment"]
        suggestion = "pin it to the new cache" if flash.patch_link["mode"] == "pin" else "review its mode"
        st.page_link(nav.page("patch"), label=md(f"Patch {deployment}: {suggestion}"), icon=":material/tune:",
                     query_params=dict(flash.patch_link))
        st.caption("Nothing about the Deployment was changed: the Patch page opens with the suggestion, for you to "
                   "review and apply.")
