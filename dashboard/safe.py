"""Page bodies that never show Streamlit's red exception box."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import RerunException, StopException

from dashboard.text import md

log = logging.getLogger("imc.dashboard")

# Streamlit controls its own flow with these exceptions; they must pass through untouched.
CONTROL_FLOW = (RerunException, StopException)


def friendly(body: Callable[..., None]) -> Callable[..., None]:
    """Wrap a page or fragment body so any unexpected error becomes a plain st.error."""

    @functools.wraps(body)
    def guarded(*args: Any, **kwargs: Any) -> None:
        try:
            body(*args, **kwargs)
        except CONTROL_FLOW:
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence of a page
            log.exception("page %s failed", body.__name__)
            st.error(
                f"Something went wrong while drawing this part of the page: {md(describe(exc))}. "
                "Nothing was written to the cluster. Reload the page to try again.",
                icon=":material/error:",
            )

    return guarded


def describe(exc: BaseException) -> str:
    """One line naming what went wrong, without a traceback."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return f"{name}: {text[:300]}" if text else name
