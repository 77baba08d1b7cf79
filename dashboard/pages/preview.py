"""Preview (/preview): what ECI would decide for your manifests, against the live caches, before you deploy."""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from core.errors import ImcError
from core.findings import FIELD_CODES
from core.manifests import MAX_MANIFEST_BYTES, load_documents
from core.policy import EXTRA_STORAGE
from core.workloads import pod_template
from dashboard import edits, explanation, policy_form, shell, views
from dashboard.frames import frames_of
from dashboard.safe import friendly
from dashboard.text import md, visible

AS_WRITTEN = "as written"
MAX_SHOWN = 20
EXAMPLE = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web, alibabacloud.com/eci: "true"}
      annotations: {k8s.aliyun.com/imc-perfect-match: "true"}
    spec:
      containers:
      - {name: web, image: nginx:1.25, imagePullPolicy: IfNotPresent}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: nightly-report
  namespace: data
  annotations: {k8s.aliyun.com/imc-perfect-match: "true"}  # on the Job itself: ECI never sees it
spec:
  template:
    metadata:
      labels: {alibabacloud.com/eci: "true"}
    spec:
      restartPolicy: Never
      containers:
      - {name: report, image: "python:3.12-slim", imagePullPolicy: Always}
"""


@friendly
def render() -> None:
    """The preview page."""
    cluster = shell.require_cluster()
    st.title("Preview annotations before you deploy")
    shell.cluster_badges(cluster, cluster.store.snapshot(), live=False)
    st.caption("Paste or upload manifests (any workload kind, several documents), or pick a live Deployment. "
               "Nothing is written to the cluster.")
    snapshot = cluster.store.snapshot()
    source = st.segmented_control("Source", ["Paste", "Upload", "Live Deployment"], default="Paste",
                                  key="preview-source", required=True)
    documents = read_source(source, snapshot)
    if documents is None:
        return
    frames = frames_of(snapshot, cluster.keeper)
    workloads = [(number, doc) for number, doc in enumerate(documents, start=1)]
    if len(workloads) > MAX_SHOWN:
        st.info(f"Showing the first {MAX_SHOWN} of {len(workloads)} documents.")
    for number, doc in workloads[:MAX_SHOWN]:
        workload(number, doc, frames, snapshot)


def read_source(source: str | None, snapshot: Any) -> list[dict] | None:
    """The documents of the chosen source, or None (with a message) when there are none to show."""
    if source == "Live Deployment":
        keys = sorted(snapshot.deployments)
        if not keys:
            st.info("This cluster has no Deployments to pick from.", icon=":material/info:")
            return None
        key = st.selectbox("Deployment", keys, key="preview-deployment")
        return [edits.clean_object(snapshot.deployments[key])]
    if source == "Upload":
        files = st.file_uploader("Manifest files", type=["yaml", "yml", "json"], accept_multiple_files=True,
                                 key="preview-upload", max_upload_size=max(1, MAX_MANIFEST_BYTES // 2**20))
        if not files:
            st.caption("Drop one or more YAML or JSON files.")
            return None
        return parse([(f.name, f.getvalue()) for f in files])
    text = st.text_area("Manifests (YAML or JSON; separate documents with ---)", value=EXAMPLE, height=260,
                        key="preview-text")
    if not (text or "").strip():
        st.caption("Paste a Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob.")
        return None
    return parse([("pasted text", text)])


def parse(sources: list[tuple[str, str | bytes]]) -> list[dict] | None:
    """Every object of every source; a clear message (and None) on the first that does not read."""
    documents: list[dict] = []
    for name, content in sources:
        if len(content) > MAX_MANIFEST_BYTES:
            st.error(f"{md(name)}: {len(content) / 2**20:.1f} MiB is more than the "
                     f"{MAX_MANIFEST_BYTES // 2**20} MiB the preview reads.", icon=":material/error:")
            return None
        try:
            documents.extend(load_documents(content, name))
        except ImcError as exc:
            st.error(md(exc), icon=":material/error:")
            return None
    if not documents:
        st.warning("No Kubernetes objects found in that input.", icon=":material/warning:")
        return None
    return documents


def workload(number: int, doc: dict, frames: Any, snapshot: Any) -> None:
    """One document: its annotation editor, the engine's decision and the corrected YAML."""
    kind = doc.get("kind", "?")
    name = edits.mapping(doc.get("metadata")).get("name") or "<unnamed>"
    with st.container(border=True):
        st.subheader(f"{number}. {md(kind)} {md(name)}")
        try:
            template = pod_template(doc)
        except ImcError as exc:
            st.warning(f"Document {number}: {md(exc)}", icon=":material/warning:")
            return
        malformed = [f.message for f in template.findings if f.code in FIELD_CODES]
        if malformed:  # the editor below rebuilds the metadata: say here what was ignored (as text)
            st.warning(f"Document {number} has fields imc cannot read:", icon=":material/warning:")
            st.text(visible("\n".join(malformed)))
        key = "pv-" + hashlib.sha1(edits.as_yaml(doc).encode()).hexdigest()[:12] + f"-{number}"
        changes, if_not_present = editor(doc, key, frames)
        # What ECI does with the manifest as edited here, and with the corrected one (annotations moved
        # from the workload's own metadata, where ECI never sees them, into the pod template).
        edited = edits.with_template(doc, edits.merged(edits.template_annotations(doc), changes), if_not_present)
        written = {**edits.workload_level_policy(doc), **edits.template_annotations(doc)}
        corrected = edits.corrected(doc, edits.merged(written, changes), if_not_present)
        now = views.now_utc()
        try:
            result = views.predict(edited, frames.index, now)
            fixed = views.predict(corrected, frames.index, now)
        except ImcError as exc:
            st.warning(f"Document {number}: {md(exc)}", icon=":material/warning:")
            return
        explanation.render(result, show_actual=False, key=key, index=frames.index, at=now)
        if corrected != edited:
            moved = md(", ".join(sorted(edits.workload_level_policy(doc))))
            then = md(explanation.summary(fixed.decision, fixed.template, frames.index, now))
            st.info(f"The corrected YAML below moves {moved} into the pod template. ECI would then: {then}",
                    icon=":material/auto_fix_high:")
        with st.expander("Corrected YAML (copy with the button in the corner)", expanded=corrected != edited):
            st.code(edits.as_yaml(corrected), language="yaml")


def editor(doc: dict, key: str, frames: Any) -> tuple[dict[str, str | None], bool]:
    """Widgets for the template's image-cache annotations; returns the changes (None removes) and IfNotPresent."""
    written = {**edits.workload_level_policy(doc), **edits.template_annotations(doc)}
    labels = {AS_WRITTEN: "As written", **edits.MODE_LABELS}
    storage = edits.template_annotations(doc).get(EXTRA_STORAGE, "")
    choice = policy_form.mode_controls(key, [AS_WRITTEN, *edits.MODES], AS_WRITTEN, labels, frames.caches,
                                       storage=storage, current=written)
    changes = policy_form.changes_for(written, choice)
    if (choice.extra_storage or "") != storage:
        changes[EXTRA_STORAGE] = choice.extra_storage
    return changes, choice.if_not_present
