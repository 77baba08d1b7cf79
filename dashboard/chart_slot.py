"""A page's chart, or on the session's first sight of the page a box of its size, the chart drawn on the next run.

A new browser tab fetches and compiles Plotly's script (4.6 MB) and draws every chart before it paints anything the
same run sent: on the demo a new tab's Overview showed its tiles 3.2–3.5 s after it opened, 1.7–1.8 s without the
charts (bench/README.md, issue 24). So a session's first run of a page with charts sends its numbers and tables, and
boxes where the charts go; its next run (the live part reruns every few seconds) draws them.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.charts import HEIGHT

PLOT_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
DRAWING = "Drawing the chart…"


def first_sight(page: str) -> bool:
    """True on this session's first run of `page`, never after."""
    key = f"chart-slot-seen-{page}"
    seen = bool(st.session_state.get(key))
    st.session_state[key] = True
    return not seen


def chart(figure: Any, key: str, later: bool = False) -> None:
    """The chart; with `later`, a box of its height saying it is being drawn."""
    if later:
        with st.container(height=int(figure.layout.height or HEIGHT), border=False):
            st.caption(DRAWING)
        return
    st.plotly_chart(figure, key=key, config=PLOT_CONFIG)
