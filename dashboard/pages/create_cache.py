"""Create cache (/create-cache): a validated form, a YAML preview, server dry-run, then create."""

from __future__ import annotations

import streamlit as st

from core.caches import (
    MAX_IMAGES,
    MAX_RETENTION_DAYS,
    MAX_SIZE_GIB,
    MIN_RETENTION_DAYS,
    MIN_SIZE_GIB,
    validate_imagecache,
)
from dashboard import edits, nav, shell, writer
from dashboard.edits import CacheForm
from dashboard.safe import friendly
from dashboard.text import md

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
    left, right = st.columns([3, 2], gap="large")
    with left:
        fields(errors, len(form.image_list()))
        # Enabled while the form has problems: a text area commits its text when it loses focus, so a click on a
        # disabled Create right after typing would only do that, and be lost. A click says what is wrong instead.
        create_clicked = shell.write_button(cluster, "Create", type="primary", icon=":material/add_box:", disabled=bool(blocked),
                                   key="cc-create")
        if create_clicked and errors:
            problems = "; ".join(f"{label}: {'; '.join(messages)}" for label, messages in errors.items())
            st.warning(f"Nothing was created. {md(problems)}.", icon=":material/error:")
        elif errors:
            st.caption(f"Create needs {not_valid_yet(errors)}.")
        elif create_clicked:
            create(cluster, obj)
    with right:
        st.markdown("**YAML preview**")
        st.code(edits.as_yaml(obj), language="yaml", wrap_lines=True)  # whole at 1024 px, not cut at the edge
    created(cluster)


def not_valid_yet(errors: dict[str, list[str]]) -> str:
    """The fields that block Create, in words: "a valid Name and Images"."""
    return f"a valid {' and '.join(errors)}" if len(errors) <= 2 else \
        f"a valid {', '.join(list(errors)[:-1])} and {list(errors)[-1]}"


def prefill() -> None:
    """Fill the fields once from a link's ?images=a,b (and ?name=), as "Suggest a cache" and a miss's link make."""
    images, name = st.query_params.get("images"), st.query_params.get("name")
    if not images or st.session_state.get("cc-linked") == (images, name):
        return
    st.session_state["cc-linked"] = (images, name)
    st.session_state["cc-images"] = edits.images_from_link(images)
    size = st.query_params.get("size") or ""  # a miss's link: the size ECI would choose
    if size.isascii() and size.isdigit() and MIN_SIZE_GIB <= int(size) <= MAX_SIZE_GIB:
        st.session_state["cc-size"] = int(size)
    if name:
        st.session_state["cc-name"] = name[:253]  # the field's max_chars; the form's validation names any problem
    then = "Review it" if name else "Name the cache, review it"
    st.toast(f"The form is filled with the images of the link. {then}, then Create.", icon=":material/link:")


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
        size_gib=whole(state.get("cc-size")),
        retention_days=whole(state.get("cc-retention")),
        pull_secrets=state.get("cc-secrets") or "",
        reuse=bool(state.get("cc-reuse")),
        flash=bool(state.get("cc-flash")),
    )


def whole(value: object) -> int | None:
    """A number field's value as an int (None when empty)."""
    return None if value is None else int(value)


def field_errors(obj: dict, cluster: shell.ShownCluster) -> dict[str, list[str]]:
    """Client-side validation: messages per form field label."""
    errors: dict[str, list[str]] = {}
    for problem in validate_imagecache(obj):
        errors.setdefault(edits.form_field(problem.field), []).append(problem.message)
    if "imageCacheSize" not in obj["spec"]:
        errors.setdefault("Size (GiB)", []).append(f"enter a size from {MIN_SIZE_GIB} to {MAX_SIZE_GIB} GiB")
    name = obj["metadata"]["name"]
    if name and name in cluster.store.snapshot().cache_objects and name != st.session_state.get(CREATED):
        errors.setdefault("Name", []).append(f"an ImageCache named {name} already exists")
    return errors


def fields(errors: dict[str, list[str]], image_count: int) -> None:
    """The form fields, each followed by its validation message."""
    state = st.session_state

    def message(label: str) -> None:
        untouched = label in ("Name", "Images") and not state.get(FIELDS[label])  # nothing typed yet: no red
        if errors.get(label) and not untouched:
            st.markdown(f":red[{md('; '.join(errors[label]))}]")

    st.text_input("Name", key="cc-name", placeholder="e.g. shop-web-2026-11", max_chars=253,
                  help="Lowercase letters, digits, '-' and '.'")
    message("Name")
    # No max_chars: a longer paste would be cut or dropped by the browser; the count is checked instead.
    st.text_area("Images", key="cc-images", height=150,
                 placeholder="one image per line, e.g.\nnginx:1.25\nregistry.cn-hangzhou.aliyuncs.com/acme/api:2.3",
                 help=f"One image per line. A cache holds at most {MAX_IMAGES} images: split a longer list into "
                      "several caches.")
    st.caption(f"{image_count:,} image{'' if image_count == 1 else 's'}; a cache holds 1 to {MAX_IMAGES}.")
    message("Images")
    size, retention = st.columns(2)
    with size:
        # No min/max on the widgets: out of range would be silently kept at the last valid value; the
        # message below names the range and the Create button stays disabled instead.
        # The default beside the seeded state: a rerun cut short can reset a widget to its own default (streamlit
        # #9056), which without one is 0, shown and sent as if the user had typed it (seen once under load).
        st.number_input("Size (GiB)", value=MIN_SIZE_GIB, step=10, key="cc-size",
                        help=f"{MIN_SIZE_GIB} to {MAX_SIZE_GIB}. A pod only uses a cache that fits its temporary "
                             "storage (30 GiB + extra)")
    with retention:
        st.number_input("Retention (days)", value=None, step=1, key="cc-retention", placeholder="never",
                        help=f"{MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS}; empty: the cache never expires")
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
