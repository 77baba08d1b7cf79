"""Create cache (/create-cache): a validated form, a YAML preview, server dry-run, then create."""

from __future__ import annotations

import streamlit as st

from core.caches import MAX_IMAGES, MAX_RETENTION_DAYS, MAX_SIZE_GIB, MIN_SIZE_GIB, validate_imagecache
from dashboard import edits, nav, shell, writer
from dashboard.edits import CacheForm
from dashboard.safe import friendly
from dashboard.text import md

PREFILL = "create_prefill"
CREATED = "create_created"
FIELDS = {  # form label -> session key
    "Name": "cc-name", "Images": "cc-images", "Size (GiB)": "cc-size", "Retention (days)": "cc-retention",
    "Image pull secrets": "cc-secrets",
}


@friendly
def render() -> None:
    """The create-cache page."""
    cluster = shell.require_cluster()
    st.title("Create an image cache")
    shell.cluster_badges(cluster, cluster.store.snapshot(), live=False)
    blocked = shell.write_blocked(cluster, "create-imagecache")
    if blocked:
        shell.read_only_notice(blocked)
    prefill()
    defaults()
    form = read_form()
    obj = form.to_object()
    errors = field_errors(obj, cluster)
    show_all = st.session_state.get("cc-tried", False)
    left, right = st.columns([3, 2], gap="large")
    with left:
        fields(errors, show_all)
        create_clicked = st.button("Create", type="primary", icon=":material/add_box:", disabled=bool(blocked),
                                   key="cc-create", on_click=st.session_state.__setitem__, args=("cc-tried", True))
        if create_clicked and errors:
            st.error("Fix the fields marked above; nothing was sent to the cluster.", icon=":material/error:")
        elif create_clicked:
            create(cluster, obj)
    with right:
        st.markdown("**YAML preview**")
        st.code(edits.as_yaml(obj), language="yaml")
    created(cluster)


def prefill() -> None:
    """Fill the fields from a "suggest a cache" action, once."""
    form = st.session_state.pop(PREFILL, None)
    if isinstance(form, CacheForm):
        st.session_state.update({
            "cc-name": form.name, "cc-images": form.images, "cc-size": form.size_gib,
            "cc-retention": form.retention_days, "cc-secrets": form.pull_secrets,
            "cc-reuse": form.reuse, "cc-flash": form.flash,
        })
        st.toast("The form is filled with the suggested images. Review it, then Create.", icon=":material/auto_awesome:")


def defaults() -> None:
    """Start the fields at the CRD's defaults (set once, so the widgets never get two defaults)."""
    st.session_state.setdefault("cc-size", MIN_SIZE_GIB)
    st.session_state.setdefault("cc-retention", None)


def read_form() -> CacheForm:
    """The form's current values (from the previous run's widgets)."""
    state = st.session_state
    return CacheForm(
        name=state.get("cc-name") or "",
        images=state.get("cc-images") or "",
        size_gib=int(state.get("cc-size") or MIN_SIZE_GIB),
        retention_days=state.get("cc-retention"),
        pull_secrets=state.get("cc-secrets") or "",
        reuse=bool(state.get("cc-reuse")),
        flash=bool(state.get("cc-flash")),
    )


def field_errors(obj: dict, cluster: shell.ShownCluster) -> dict[str, list[str]]:
    """Client-side validation: messages per form field label."""
    errors: dict[str, list[str]] = {}
    for problem in validate_imagecache(obj):
        errors.setdefault(edits.form_field(problem.field), []).append(problem.message)
    name = obj["metadata"]["name"]
    if name and name in cluster.store.snapshot().cache_objects and name != st.session_state.get(CREATED):
        errors.setdefault("Name", []).append(f"an ImageCache named {name} already exists")
    return errors


def fields(errors: dict[str, list[str]], show_all: bool) -> None:
    """The form fields, each followed by its validation message."""
    state = st.session_state

    def message(label: str) -> None:
        touched = show_all or bool(state.get(FIELDS[label]))
        if touched and errors.get(label):
            st.markdown(f":red[{md('; '.join(errors[label]))}]")

    st.text_input("Name", key="cc-name", placeholder="e.g. shop-web-2026-11", max_chars=253,
                  help="Lowercase letters, digits, '-' and '.'")
    message("Name")
    st.text_area("Images", key="cc-images", height=150, max_chars=MAX_IMAGES * 300, placeholder="one image per line, e.g.\nnginx:1.25\n"
                 "registry.cn-hangzhou.aliyuncs.com/acme/api:2.3", help=f"1 to {MAX_IMAGES} images, one per line")
    message("Images")
    size, retention = st.columns(2)
    with size:
        st.number_input("Size (GiB)", min_value=MIN_SIZE_GIB, max_value=MAX_SIZE_GIB, step=10, key="cc-size",
                        help="A pod only uses a cache that fits its temporary storage (30 GiB + extra)")
    with retention:
        st.number_input("Retention (days)", min_value=1, max_value=MAX_RETENTION_DAYS, step=1,
                        key="cc-retention", placeholder="never expires")
    message("Size (GiB)")
    message("Retention (days)")
    st.text_input("Image pull secrets", key="cc-secrets", max_chars=4000, placeholder="namespace:secret, e.g. default:acr-pull",
                  help="Comma- or line-separated namespace:secretName")
    message("Image pull secrets")
    with st.container(horizontal=True):
        st.toggle("Reuse layers of other caches", key="cc-reuse", help="k8s.aliyun.com/imc-enable-reuse")
        st.toggle("Flash (instant) cache", key="cc-flash", help="k8s.aliyun.com/imc-enable-flash")


def create(cluster: shell.ShownCluster, obj: dict) -> None:
    """Server dry-run, then create; a toast and a link on success, the server's words on failure."""
    with st.status("Checking with the server (dry run)…", expanded=False) as status:
        outcome = writer.create_cache(cluster, obj)
        if not outcome.ok:
            status.update(label="The server refused it; nothing was created.", state="error")
            st.error(md(outcome.message), icon=":material/error:")
            return
        status.update(label="Created.", state="complete")
    st.session_state[CREATED] = obj["metadata"]["name"]
    st.toast(f"ImageCache {md(obj['metadata']['name'])} created", icon=":material/check_circle:")


@st.fragment(run_every=shell.REFRESH_SECONDS)
@friendly
def created(cluster: shell.ShownCluster) -> None:
    """The cache created in this session, its phase updating live, with a link to it."""
    name = st.session_state.get(CREATED)
    if not name:
        return
    obj = cluster.store.snapshot().cache_objects.get(name)
    status = (obj or {}).get("status") or {}
    phase = status.get("phase") or "waiting for the cluster"
    progress = status.get("progress") or ""
    with st.container(border=True, horizontal=True, vertical_alignment="center"):
        st.markdown(f"**{md(name)}** · phase **{md(phase)}** {md(progress)}")
        st.page_link(nav.page("caches"), label="Open the cache", icon=":material/open_in_new:",
                     query_params={"cache": name})
