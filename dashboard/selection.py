"""Row selection in live tables, mapped to names and mirrored in the URL (?pod=..., ?cache=...)."""

from __future__ import annotations

import streamlit as st


def selected(table_key: str, param: str) -> str | None:
    """The name of the row the user clicked (as they saw it), else the deep link's query parameter."""
    if table_key not in st.session_state:  # the table is new on the page: what was clicked before is gone
        st.session_state.pop(f"{table_key}-picked", None)
        st.session_state.pop(f"{table_key}-linked", None)
        return st.query_params.get(param) or None
    state = st.session_state.get(table_key) or {}
    rows = list((state.get("selection") or {}).get("rows") or [])
    shown = st.session_state.get(f"{table_key}-shown") or []
    remembered = st.session_state.get(f"{table_key}-picked")
    linked = st.session_state.get(f"{table_key}-linked")
    if not rows:
        cleared = st.session_state.pop(f"{table_key}-picked", None) is not None
        if linked and linked[2]:  # the deep link's row was selected in the browser, and now nothing is
            st.session_state.pop(f"{table_key}-linked")
            cleared = True
        if cleared:
            st.query_params.pop(param, None)  # the user cleared the selection
        return st.query_params.get(param) or None
    if remembered and remembered[0] == rows[0]:
        return remembered[1]  # the table moved under the selection: keep what was clicked
    if linked and linked[0] == rows[0] and not remembered:
        st.session_state[f"{table_key}-linked"] = (*linked[:2], True)
        return linked[1]  # the deep link's row, wherever the table moved it since
    if rows[0] < len(shown):
        name = shown[rows[0]]
        st.session_state[f"{table_key}-picked"] = (rows[0], name)
        st.session_state.pop(f"{table_key}-linked", None)
        if st.query_params.get(param) != name:
            st.query_params[param] = name
        return name
    return st.query_params.get(param) or None


def link_default(table_key: str, names: list[str], wanted: str | None) -> dict | None:
    """The table's first selection: the deep-linked row, remembered by name so a moving table keeps it."""
    linked = st.session_state.get(f"{table_key}-linked")
    if linked and linked[1] == wanted:
        return {"selection": {"rows": [linked[0]]}}  # applied once by the browser; the same value every run
    if not wanted or wanted not in names or f"{table_key}-picked" in st.session_state:
        return None
    position = names.index(wanted)
    st.session_state[f"{table_key}-linked"] = (position, wanted, False)
    return {"selection": {"rows": [position]}}


def remember_rows(table_key: str, names: list[str]) -> None:
    """The names of the rows just drawn, in order, for mapping the next click."""
    st.session_state[f"{table_key}-shown"] = names


def from_url(param: str, allowed: tuple[str, ...]) -> list[str]:
    """The values of a repeated query parameter (?decision=miss&decision=fail) that are among `allowed`."""
    return [value for value in dict.fromkeys(st.query_params.get_all(param)) if value in allowed]


def mirror_in_url(key: str, param: str, flag: str | None = None) -> None:
    """A widget's on_change: its value into the URL (a list as a repeated parameter; a toggle as ?param=flag)."""
    value = st.session_state.get(key)
    if flag is not None:
        value = [flag] if value else []
    st.query_params.pop(param, None)
    if value:
        st.query_params[param] = list(value) if isinstance(value, list | tuple) else value
