"""Objects of the cluster read with a field of the wrong type or range, or not read at all: which, and why."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import streamlit as st

from dashboard.text import NO_VALUE, inert_frame


def invalid_frame(invalid: Mapping[str, str], kind: str) -> pd.DataFrame:
    """The objects of one kind ("pods", "imagecaches") in StoreSnapshot.invalid, sorted: Object, Problem."""
    prefix = f"{kind}/"
    rows = sorted((key.removeprefix(prefix), problem) for key, problem in invalid.items() if key.startswith(prefix))
    return pd.DataFrame(rows, columns=["Object", "Problem"])


def show_invalid(invalid: Mapping[str, str], kind: str, noun: str) -> None:
    """A folded table of the malformed objects of a kind; nothing when there are none. Cluster text stays text."""
    frame = invalid_frame(invalid, kind)
    if frame.empty:
        return
    with st.expander(f"{len(frame):,} {noun} with a field imc cannot read", icon=":material/report:"):
        st.dataframe(inert_frame(frame), hide_index=True, placeholder=NO_VALUE, width="stretch", key=f"invalid-{kind}")
