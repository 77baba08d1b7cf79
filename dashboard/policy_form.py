"""The image-cache mode widgets shared by the Preview and Patch deployment pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from dashboard import edits


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


def ready_choices(caches: pd.DataFrame) -> dict[str, str]:
    """Ready caches with an ID, as {id: "name (id)"} for a pin picker."""
    ready = caches[(caches["Phase"] == "Ready") & (caches["Cache ID"] != "")]
    return {cache_id: f"{name} ({cache_id})" for name, cache_id in zip(ready["Name"], ready["Cache ID"], strict=True)}


def mode_controls(key: str, modes: Sequence[str], default: str, labels: dict[str, str], caches: pd.DataFrame,
                  storage: str | None = None) -> ModeChoice:
    """Mode on one row; N or the pinned cache, extra storage (when given) and IfNotPresent on the next."""
    mode = st.segmented_control("Mode", list(modes), default=default, format_func=labels.get, key=f"{key}-mode",
                                required=True) or default
    slots = iter(st.columns(3, vertical_alignment="bottom"))
    count, pin = None, None
    if mode == "match count":
        count = int(next(slots).number_input("Match count N", min_value=1, max_value=20, value=1, key=f"{key}-count"))
    elif mode == "pin":
        choices = ready_choices(caches)
        if choices:
            pin = next(slots).selectbox("Ready cache", list(choices), format_func=choices.get, key=f"{key}-pin")
        else:
            next(slots).warning("There is no Ready cache to pin to.", icon=":material/warning:")
    extra = None
    if storage is not None:
        extra = next(slots).text_input("Extra ephemeral storage", value=storage, placeholder="e.g. 20Gi",
                                       key=f"{key}-storage").strip() or None
    pull = next(slots).toggle("imagePullPolicy: IfNotPresent on every container", key=f"{key}-pull",
                              help="With Always, the kubelet pulls the image even when the cache holds it.")
    return ModeChoice(mode, count, pin, pull, extra)


def changes_for(current: dict[str, str], choice: ModeChoice) -> dict[str, str | None]:
    """The annotation changes a choice makes to these annotations (none while it is incomplete)."""
    if not choice.complete or choice.mode not in edits.MODES:
        return {}
    return edits.policy_changes(current, choice.mode, choice.count, choice.pin)
