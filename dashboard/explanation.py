"""One pod's decision explained: outcome, chosen cache, ECI's events, policy, findings, every verdict."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from core import narrative
from core.outcomes import unseen_text
from core.policy import ECI_WRITTEN_ANNOTATIONS, POLICY_ANNOTATIONS
from dashboard import nav
from dashboard.cache_views import shown_name
from dashboard.text import NO_VALUE, code, inert_frame, md
from dashboard.views import NO_REPORT

OUTCOME_BADGES = {
    "hit": ("Hit", "green", ":material/check_circle:"),
    "miss": ("Miss", "orange", ":material/cloud_download:"),
    "fail": ("Fail", "red", ":material/error:"),
    "off": ("Off", "gray", ":material/block:"),
    "not-eci": ("Not ECI", "gray", ":material/help:"),
    NO_REPORT: ("No report", "gray", ":material/hourglass_empty:"),
}
SEVERITY_ICONS = {"error": ":red[:material/error:]", "warning": ":orange[:material/warning:]",
                  "info": ":blue[:material/info:]"}
VERDICT_ORDER = {"chosen": 0, "outranked": 1, "rejected": 2}
VERDICT_COLUMNS = ["Cache", "Verdict", "Exact", "Same repo", "Reasons"]  # the verdict table as drawn


def summary(decision: Any, template: Any = None, index: Any = None, at: datetime | None = None,
            now: datetime | None = None, now_index: Any = None) -> str:
    """The decision in plain sentences (not markdown: they name cluster objects); a miss names its closest cache
    and what ECI did about it, and a failure what ECI saw at the pod's creation, when the template, the cache index
    of its creation and `at` are given (`now_index`: the caches now, by default the same)."""
    if template is not None and index is not None and at is not None:
        return narrative.decision_text(template, decision, index, at, now, now_index)
    if decision.outcome == "hit":
        return narrative.hit_text(decision)
    if decision.outcome == "miss":
        size = f" of {decision.auto_cache_size_gib} GiB" if decision.auto_create else ""
        return f"No cache qualifies: the pod pulls its images and ECI auto-creates a cache{size} for them."
    if decision.outcome == "fail" and decision.pinned_name:
        return f"Pod creation fails: the pinned cache {decision.pinned_name} ({decision.pinned_id}) is not Ready."
    if decision.outcome == "fail":
        return f"Pod creation fails: no ImageCache has the pinned ID {decision.pinned_id}."
    if decision.outcome == "off":
        return "Automatic matching is off and nothing is pinned: the pod pulls its images."
    return "Not an ECI pod: image caches do not apply."


def actual_summary(actual: Any, predicted: str = "", unseen: str | None = None) -> str:
    """What ECI reported, in one sentence; `unseen`: the cache it hit, which imc never saw."""
    if actual is None and predicted == "off":
        return "ECI writes no image-cache event for a pod with matching off, so there is nothing to compare."
    if actual is None:
        return "ECI has not reported on this pod yet."
    if unseen:
        return (f"{md(unseen_text(unseen))}: it was deleted before imc watched the cluster, so imc cannot tell "
                "which cache it predicted; not a disagreement.")
    where = f" {code(actual.cache_id)}" if actual.cache_id else ""
    verbs = {"hit": f"hit cache{where}", "miss": "missed (pulled the images)", "fail": f"failed{where}"}
    seen = md(", ".join(actual.reasons)) if actual.reasons else "the matched-cache annotation"
    return f"ECI {verbs.get(actual.outcome, actual.outcome)}, from {seen}."


def verdicts_frame(candidates: Any) -> pd.DataFrame:
    """Every cache's verdict, chosen first, as a table."""
    # the short columns before Reasons, so at 1024 px the verdict and its counts are in view
    columns = ["Cache", "Verdict", "Exact", "Same repo", "Reasons", "ID"]
    rows = [{
        "Cache": shown_name(verdict.name),
        "Reasons": "; ".join(verdict.reasons),
        "Verdict": verdict.verdict,
        "Exact": verdict.exact,
        "Same repo": verdict.partial,
        "ID": verdict.id or "",
    } for verdict in sorted(candidates, key=lambda v: VERDICT_ORDER.get(v.verdict, 3))]
    return pd.DataFrame(rows, columns=columns)


def annotations_frame(annotations: dict[str, str]) -> pd.DataFrame:
    """Annotations as a two-column table, sorted, their control characters shown."""
    return inert_frame(pd.DataFrame(sorted(annotations.items()), columns=["Annotation", "Value"]))


def findings_markdown(findings: Any) -> str:
    """Findings as a markdown list, errors first."""
    order = {"error": 0, "warning": 1, "info": 2}
    lines = [
        f"- {SEVERITY_ICONS.get(f.severity, '•')} **{md(f.severity)}** · {md(f.message)} {code(f.code)}"
        for f in sorted(dict.fromkeys(findings), key=lambda f: order.get(f.severity, 3))
    ]
    return "\n".join(lines)


def outcome_badge(outcome: str, prefix: str = "", detail: str = "") -> None:
    """A coloured badge for an outcome, with a detail such as a hit's coverage."""
    label, color, icon = OUTCOME_BADGES.get(outcome, (outcome, "gray", None))
    st.badge(f"{prefix}{label}{f' · {detail}' if detail else ''}", color=color, icon=icon)


def decision_badge(decision: Any, prefix: str = "") -> None:
    """A decision's badge; a hit says how many of the pod's images the cache holds, orange when none."""
    if decision.outcome != "hit":
        outcome_badge(decision.outcome, prefix)
        return
    held, total = narrative.cached_images(decision)
    label, color, icon = OUTCOME_BADGES["hit"]
    st.badge(f"{prefix}{label} · {narrative.coverage_text(held, total)}", color=color if held else "orange",
             icon=icon)


VERDICT_HELP = {
    "Verdict": "chosen: the cache ECI uses; outranked: it qualified but a better one won (more exact images, then "
               "more same-repository images, then size closest to the storage, then newest); rejected: it cannot serve "
               "the pod, see Reasons",
    "Exact": "How many of the pod's images the cache holds exactly (same registry, repository and tag or digest)",
    "Same repo": "Images the cache holds only as another tag or at another ACR endpoint: they rank a cache but "
                 "are pulled",
}


def pulled_bytes(start: Any) -> int | None:
    """The size of the pod's images as its Pulled events reported them; None unless every image's is known."""
    pulls = getattr(start, "pulls", ())
    sizes = [pull.size_bytes for pull in pulls]
    return sum(sizes) if sizes and None not in sizes else None


def create_cache_link(template: Any, decision: Any, index: Any, at: datetime, now_index: Any, now: datetime,
                      image_bytes: int | None = None) -> None:
    """For a miss: one click to the Create-cache form, filled with the images the closest cache of the pod's creation
    lacks and the size ECI would choose; none when a usable cache now holds them."""
    closest = narrative.closest_cache(template, index, at)
    proposal = narrative.cache_to_create(template, decision, closest, now_index, now, image_bytes)
    if proposal is not None:
        images = proposal.images
        count = f"the {len(images)} missing images" if len(images) > 1 else "the missing image"
        st.page_link(nav.page("create"), label=f"Create a cache with {count}",
                     help=md(f"{', '.join(images)}; {proposal.size_gib} GiB"),
                     query_params={"images": ",".join(images), "size": str(proposal.size_gib)},
                     icon=":material/add_box:")


def render(explanation: Any, actual: Any = None, disagrees: bool = False, show_actual: bool = True,
           key: str = "explain", index: Any = None, at: datetime | None = None, now: datetime | None = None,
           now_index: Any = None, unseen: str | None = None, image_bytes: int | None = None) -> None:
    """Draw one explanation; `actual` and `disagrees` are what ECI reported for a live pod (`unseen`: the cache it
    hit, which imc never saw); with the cache index of the pod's creation and the decision time `at`, a miss names
    its closest cache then and what ECI did about it, and a failure what ECI saw then. `now_index` (the caches now,
    by default `index`) decides whether a create link is offered; `image_bytes` (the pod's pulled images) sizes it."""
    decision = explanation.decision
    template = explanation.template
    now_index = now_index if now_index is not None else index
    with st.container(horizontal=True, vertical_alignment="center"):
        decision_badge(decision, "Predicted: ")
        if show_actual:
            outcome_badge(actual.outcome if actual is not None else NO_REPORT, "ECI: ")
            if unseen:
                st.badge(unseen_text(unseen), color="gray", icon=":material/history:")
            elif actual is not None and decision.outcome != "not-eci":
                st.badge("ECI disagrees" if disagrees else "ECI agrees", color="red" if disagrees else "green",
                         icon=":material/report:" if disagrees else ":material/thumb_up:")
    st.markdown(md(summary(decision, template, index, at, now, now_index)))
    cache = decision.cache_ref
    with st.container(horizontal=True, gap="medium"):
        if cache and cache.get("name"):
            st.page_link(nav.page("caches"), label=f"Open cache {md(cache['name'])}",
                         query_params={"cache": cache["name"]}, icon=":material/inventory_2:")
        if decision.outcome == "miss" and index is not None and at is not None:
            create_cache_link(template, decision, index, at, now_index, now or at, image_bytes)
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown("**What ECI will do** (predicted events)")
        if decision.events:
            st.markdown("\n".join(f"- **{md(e.reason)}** ({md(e.type)}): {md(e.message)}" for e in decision.events))
        else:
            st.caption("No image-cache events: ECI leaves this pod alone.")
        st.markdown("**Images**")
        st.markdown("\n".join(f"- {code(image)}" for image in decision.images) or "_none_")
    with right:
        if show_actual:
            st.markdown("**What ECI did**")
            st.markdown(actual_summary(actual, decision.outcome, unseen))
            reported = getattr(actual, "events", ()) if actual is not None else ()
            if reported:
                st.markdown("\n".join(f"- **{md(e.reason)}** ({md(e.type)}, {md(e.time)}): {md(e.message)}"
                                       for e in reported))
            written = {k: v for k, v in template.annotations.items() if k in ECI_WRITTEN_ANNOTATIONS}
            if written:
                st.caption(" · ".join(code(f"{k}: {v}") for k, v in sorted(written.items())))
        st.markdown(f"**Policy** · {md(decision.policy.describe())}")
        annotations = {k: v for k, v in template.annotations.items() if k in POLICY_ANNOTATIONS}
        if annotations:
            st.dataframe(
                annotations_frame(annotations),
                hide_index=True, placeholder=NO_VALUE, width="stretch", key=f"{key}-annotations",
            )
        else:
            st.caption("No image-cache annotations: ECI's defaults apply (automatic, at least 1 exact image).")
        if decision.findings:
            st.markdown("**Findings**")
            st.markdown(findings_markdown(decision.findings))
    st.markdown("**Every cache's verdict** (chosen first)")
    if explanation.candidates:
        st.dataframe(
            inert_frame(verdicts_frame(explanation.candidates)), hide_index=True, placeholder=NO_VALUE, width="stretch",
            # Streamlit's grid wraps text only in rows taller than 4rem (64 px): four lines, so a reason of about 120
            # characters is whole at 1024 px, where the widths add up to the Preview's framed column (about 590 px);
            # a wider table stretches each column in proportion. The cache's ID is on its page, a click away, not in
            # a column that would push Reasons out of view
            key=f"{key}-verdicts", row_height=88, column_order=VERDICT_COLUMNS,
            column_config={
                "Cache": st.column_config.TextColumn(width=170),
                "Verdict": st.column_config.TextColumn(width=70, help=VERDICT_HELP["Verdict"]),
                "Exact": st.column_config.NumberColumn(width=46, help=VERDICT_HELP["Exact"]),
                "Same repo": st.column_config.NumberColumn(width=74, help=VERDICT_HELP["Same repo"]),
                "Reasons": st.column_config.TextColumn(width=228),
            },
        )
    else:
        st.caption("There are no image caches in the cluster yet.")
