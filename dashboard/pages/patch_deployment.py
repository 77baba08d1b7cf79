"""Patch deployment (/patch-deployment): change a Deployment's image-cache mode, safely."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.errors import ImcError
from core.policy import POLICY_ANNOTATIONS
from dashboard import edits, explanation, nav, policy_form, shell, views, writer
from dashboard.frames import frames_of
from dashboard.safe import friendly
from dashboard.text import NO_VALUE, md

FLASH = "pd-flash"
NEW_PODS = ("Now and After describe pods created from the template: now, and after the patch. The pods running "
            "now keep what ECI gave them until Kubernetes replaces them.")


@friendly
def render() -> None:
    """The patch-deployment page."""
    cluster = shell.require_cluster()
    st.title("Patch a Deployment's image-cache mode")
    flash = st.session_state.pop(FLASH, None)
    if flash:
        show_flash(*flash)
    snapshot = cluster.store.snapshot()
    shell.cluster_badges(cluster, snapshot, live=False)
    if not snapshot.deployments:
        st.info("This cluster has no Deployments yet." if all(snapshot.synced.values())
                else "Reading the cluster…", icon=":material/info:")
        return
    prefill(snapshot)
    namespaces = sorted({key.split("/", 1)[0] for key in snapshot.deployments})
    top = st.columns(2)
    namespace = top[0].selectbox("Namespace", namespaces, key="pd-namespace")
    names = sorted(key.split("/", 1)[1] for key in snapshot.deployments if key.startswith(namespace + "/"))
    name = top[1].selectbox("Deployment", names, key="pd-name")
    before = snapshot.deployments[f"{namespace}/{name}"]
    blocked = shell.write_blocked(cluster, "patch-deployment", namespace)
    if blocked:
        shell.read_only_notice(blocked)
    current = edits.template_annotations(before)
    st.markdown(f"**Current template annotations** of {md(namespace)}/{md(name)}")  # the Deployment this page is on
    policy = {k: v for k, v in current.items() if k in POLICY_ANNOTATIONS}
    if policy:
        st.dataframe(explanation.annotations_frame(policy), hide_index=True, placeholder=NO_VALUE, width="stretch", key="pd-current")
    else:
        st.caption("None: ECI's defaults apply (automatic matching, at least 1 exact image).")
    frames = frames_of(snapshot, cluster.keeper)
    now = views.now_utc()
    try:
        old: Any = views.predict(before, frames.index, now).decision
    except ImcError as exc:
        old = exc
    images = () if isinstance(old, ImcError) else old.images
    using = old.cache.id if not isinstance(old, ImcError) and old.outcome == "hit" and old.cache else None
    changes, pull = proposal(current, frames, f"{namespace}/{name}", images, using)
    after = edits.with_template(before, edits.merged(current, changes), if_not_present=pull)
    diff = edits.yaml_diff(edits.template_dict(before), edits.template_dict(after), "template now", "template after")
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.markdown("**Diff of the pod template**")
        if diff:
            st.code(diff, language="diff", wrap_lines=True)  # whole at 1024 px
        else:
            st.caption("No change: pick another mode or pull policy.")
    with right:
        outcome(old, after, frames, now)
    not_eci = not isinstance(old, ImcError) and old.outcome == "not-eci"
    if diff and not not_eci:
        st.warning(f"Applying rolls the Deployment: Kubernetes replaces every pod of {md(namespace)}/{md(name)} with a new "
                   "one, and ECI decides on a cache for each new pod.", icon=":material/autorenew:")
    # The callback's arguments are bound now: Apply patches the version the user is looking at, and a
    # Deployment changed meanwhile is a Conflict rather than a silent overwrite.
    shell.write_button(cluster, "Apply", type="primary", icon=":material/published_with_changes:",
              disabled=bool(blocked) or not diff or not_eci, key="pd-apply", on_click=apply,
              args=(cluster, before, changes, pull))
    if not_eci:
        st.caption(f"Apply is off: the pods of {md(namespace)}/{md(name)} do not run on ECI, so image-cache "
                   "annotations change nothing for them. Label its pod template `alibabacloud.com/eci: \"true\"` "
                   "to run them on ECI.")


def prefill(snapshot: Any) -> None:
    """Open once on a link's Deployment (?deployment=ns/name), and its suggested mode (&mode=pin&pin=ID, or
    &mode=automatic), as the Image caches page's adoption links; the user reviews the diff and applies."""
    linked = st.query_params.get("deployment")
    wanted = (linked, st.query_params.get("mode"), st.query_params.get("pin"))
    if not linked or linked not in snapshot.deployments or st.session_state.get("pd-linked") == wanted:
        return
    st.session_state["pd-linked"] = wanted
    st.session_state["pd-namespace"], st.session_state["pd-name"] = linked.split("/", 1)
    _, mode, pin = wanted
    ready = {view.id for view in snapshot.caches.values() if view.id and view.phase == "Ready"}
    if mode == "pin" and pin not in ready:
        st.info(f"The suggested cache {md(pin or '')} is not Ready yet, so it cannot be picked: open this link again "
                "once it is, or pin it below then.", icon=":material/hourglass_top:")
        return
    if mode in edits.MODES:
        st.session_state[f"pd-{linked}-mode"] = mode
    if mode == "pin":
        st.session_state[f"pd-{linked}-pin"] = pin


def proposal(current: dict[str, str], frames: Any, key: str, images: tuple[str, ...], using: str | None
             ) -> tuple[dict[str, str | None], bool]:
    """The mode widgets, starting at the template's settings (a pin at the cache the workload is `using`); the
    annotation changes (None removes) and IfNotPresent."""
    choice = policy_form.mode_controls(f"pd-{key}", edits.MODES, edits.mode_of(current), edits.MODE_LABELS,
                                       frames.caches, current=current, images=images, using=using)
    return policy_form.changes_for(current, choice), choice.if_not_present


def outcome(old: Any, after: dict, frames: Any, now: Any) -> None:
    """What the engine says new pods will do, before and after the patch (`old`: the current prediction or its error)."""
    st.markdown("**What new pods will hit**", help=NEW_PODS)
    try:
        if isinstance(old, ImcError):
            raise old
        predicted = views.predict(after, frames.index, now)
        new = predicted.decision
    except ImcError as exc:
        st.warning(f"The engine cannot read this Deployment: {md(exc)}", icon=":material/warning:")
        return
    with st.container(horizontal=True, vertical_alignment="center"):
        explanation.decision_badge(old, "Now: ")
        st.markdown("→")
        explanation.decision_badge(new, "After: ")
    st.markdown(md(explanation.summary(new, predicted.template, frames.index, now)))
    if new.findings:
        st.markdown(explanation.findings_markdown(new.findings))
    st.caption(NEW_PODS)


def show_flash(kind: str, message: str, icon: str, deployment: str | None = None) -> None:
    """The outcome of the last Apply; after a patch, where its new pods are."""
    getattr(st, kind)(message, icon=icon)
    if deployment:
        namespace, name = deployment.split("/", 1)
        st.page_link(nav.page("pods"), label=md(f"See the new pods of {deployment}"), icon=":material/open_in_new:",
                     query_params={"ns": namespace, "q": name})
        st.caption("Kubernetes replaces the pods one by one: the new ones appear there as they are created, each "
                   "with what ECI did for it.")


@friendly
def apply(cluster: shell.ShownCluster, before: dict, changes: dict[str, str | None], pull: bool) -> None:
    """Patch with the resourceVersion the user saw; the outcome is shown at the top of the next run."""
    meta = before.get("metadata") or {}
    result = writer.patch_deployment(cluster, before, changes, pull)
    if result.conflict:
        st.session_state[FLASH] = (
            "warning", "Conflict: someone changed this Deployment after you loaded it, so nothing was applied. "
            "The page now shows the current version: review the diff and apply again.", ":material/sync_problem:")
    elif not result.ok:
        st.session_state[FLASH] = ("error", md(result.message), ":material/error:")
    else:
        st.toast(f"Patched {md(meta.get('namespace'))}/{md(meta.get('name'))}: new pods follow the new template.",
                 icon=":material/check_circle:")
        st.session_state[FLASH] = ("success", md(result.message), ":material/check:",
                                   f"{meta.get('namespace')}/{meta.get('name')}")
