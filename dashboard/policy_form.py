"""The image-cache mode widgets shared by the Preview and Patch deployment pages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core.policy import EXTRA_STORAGE, read_policy
from dashboard import edits
from dashboard.cache_views import is_auto_created
from dashboard.text import visible

MODE_HELP = ("Automatic: ECI picks a cache holding at least 1 of the pod's images exactly. Perfect match: every "
             "image. Match count: at least N. Pin: this cache (by its ID), or pod creation fails. Off: no cache.")

STORAGE_HELP = (f"{EXTRA_STORAGE}: added to the pod's 30 GiB of temporary storage. ECI only uses a cache whose size "
                "fits that total, so a larger cache needs more extra storage.")


@dataclass(frozen=True)
class ModeChoice:
    """What the user picked: a mode, its N or pinned cache ID, and whether to set IfNotPresent."""

    mode: str
    count: int | None
    pin: str | None
    if_not_present: bool
    extra_storage: str | None = None

    @property
    def complete(self) -> bool:
        """False while a pin mode has no cache chosen."""
        return self.mode != "pin" or bool(self.pin)


def pin_choices(caches: pd.DataFrame, images: Sequence[str] = (), current: str | None = None,
                using: str | None = None) -> dict[str, str]:
    """Pin picker options {id: label}: the current pin first (even when no Ready cache has its ID), then the Ready
    cache the workload `using` now (its ID), then the Ready caches by how many of the workload's images they hold
    (caches a user created before ECI's auto-created ones), each with that count when images are given."""
    wanted = set(images)
    ready = caches[(caches["Phase"] == "Ready") & (caches["Cache ID"] != "")]
    rows = []
    for name, cache_id, held in zip(ready["Name"], ready["Cache ID"], ready["Image names"], strict=True):
        count = len(wanted & set(held.split()))
        held_text = f" · {count} of {len(wanted)} images" if wanted else ""
        rows.append((cache_id != using, -count, is_auto_created(name), name, cache_id, held_text))
    choices = {}
    if current:
        choices[current] = visible(f"{current} (current pin{_pin_state(caches, current)})")
    for *_, name, cache_id, held in sorted(rows):
        choices.setdefault(cache_id, visible(f"{name} ({cache_id}){held}"))
    return choices


def _pin_state(caches: pd.DataFrame, pin: str) -> str:
    """Why a current pin may not work: no cache has the ID, or its cache is not Ready."""
    found = caches[caches["Cache ID"] == pin]
    if found.empty:
        return ": no such cache"
    name, phase = found["Name"].iloc[0], found["Phase"].iloc[0]
    return f": {name}" if phase == "Ready" else f": {name}, {phase}"


def current_choice(annotations: Mapping[str, str]) -> tuple[str, int | None, str | None]:
    """The (mode, N, pinned ID) the template's annotations amount to: where the form starts."""
    policy = read_policy(annotations, 0)
    mode = edits.mode_of(annotations)
    return (mode, policy.match_count if mode == "match count" else None, policy.pin_id if mode == "pin" else None)


def mode_controls(key: str, modes: Sequence[str], default: str, labels: dict[str, str], caches: pd.DataFrame,
                  storage: str | None = None, current: Mapping[str, str] | None = None,
                  images: Sequence[str] = (), using: str | None = None) -> ModeChoice:
    """Mode on one row; N or the pinned cache and extra storage (when given) on the next; IfNotPresent below.

    N and the pin start at what the `current` annotations say, else the pin at the cache the workload is `using`
    (its ID); the pin picker ranks the other caches by `images` held.
    """
    _, count_now, pin_now = current_choice(current or {})
    mode_key = f"{key}-mode"
    # the mode starts in the session state, not as a default: a link's prefill may have set it already (a default
    # beside a state makes Streamlit warn, streamlit#9082), and a state left None (seen when a rerun was cut short on
    # a loaded machine) would otherwise select no segment while the page went on as the template's mode
    if st.session_state.get(mode_key) not in modes:
        st.session_state[mode_key] = default
    mode = st.segmented_control("Mode", list(modes), format_func=labels.get, key=mode_key, required=True,
                                help=MODE_HELP) or default
    slots = iter(st.columns([2, 1], vertical_alignment="bottom"))
    count, pin = None, None
    if mode == "match count":
        count = int(next(slots).number_input("Match count N", min_value=1, max_value=20, value=count_now or 1,
                                             key=f"{key}-count"))
    elif mode == "pin":
        choices = pin_choices(caches, images, pin_now, using)
        if choices:
            pin = next(slots).selectbox("Cache to pin", list(choices), format_func=choices.get, key=f"{key}-pin",
                                        help="The current pin first, then the cache the workload uses now, "
                                             "then Ready caches by how many of its images they hold.")
        else:
            next(slots).warning("There is no Ready cache to pin to.", icon=":material/warning:")
    extra = None
    if storage is not None:
        extra = next(slots).text_input("Extra ephemeral storage", value=storage, placeholder="e.g. 20Gi",
                                       key=f"{key}-storage", help=STORAGE_HELP).strip() or None
    pull = st.toggle("Pull only if not present", key=f"{key}-pull",
                              help="Sets imagePullPolicy: IfNotPresent on every container. With Always, the kubelet "
                                   "pulls the image even when the cache holds it.")
    return ModeChoice(mode, count, pin, pull, extra)


def changes_for(current: dict[str, str], choice: ModeChoice) -> dict[str, str | None]:
    """The annotation changes a choice makes to these annotations (none while it is incomplete)."""
    if not choice.complete or choice.mode not in edits.MODES or (choice.mode, choice.count, choice.pin) == \
            current_choice(current):
        return {}  # incomplete, or what the template already says: nothing to change
    return edits.policy_changes(current, choice.mode, choice.count, choice.pin)
