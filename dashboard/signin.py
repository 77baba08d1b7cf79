"""Sign-in, when configured: every page asks an anonymous visitor to sign in through the OIDC provider first, and the
sidebar says who is signed in, with a sign-out. Without an [auth] section in Streamlit's secrets, nothing changes."""

from __future__ import annotations

import logging
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from core.identity import IdentityError, identity_from_claims
from dashboard import auth_settings, people
from dashboard import shown_cluster as clusters
from dashboard.text import code, md

log = logging.getLogger("imc.dashboard")


def auth_section() -> Any:
    """Streamlit's [auth] secrets section, or None when sign-in is not configured."""
    try:
        return st.secrets.get("auth")
    except (StreamlitSecretNotFoundError, FileNotFoundError):
        return None


def require_sign_in() -> None:
    """Before any page: without sign-in configured, nothing; else an anonymous visitor gets the sign-in page and the
    page stops, a signed-in person's identity (core.identity) goes into the session for every cluster view."""
    section = auth_section()
    if section is None:
        st.session_state.pop(clusters.PERSON_KEY, None)
        return
    problem = auth_settings.auth_problem(section, "Streamlit's secrets")
    if problem:
        st.error(md(problem), icon=":material/lock:")
        st.stop()
    if not st.user.is_logged_in:
        st.session_state.pop(clusters.PERSON_KEY, None)
        sign_in_page()
        st.stop()
    try:
        identity = identity_from_claims(st.user.to_dict(), people.configured_mapping())
    except IdentityError as exc:
        st.session_state.pop(clusters.PERSON_KEY, None)
        refused_page(str(exc))
        st.stop()
    st.session_state[clusters.PERSON_KEY] = identity


def sign_in_page() -> None:
    """What an anonymous visitor sees: one button to the provider."""
    st.title("imc · ECI image caches")
    st.markdown("This dashboard shows each person what Kubernetes lets them see and change. "
                "Sign in to continue.")
    if st.button("Sign in", type="primary", icon=":material/login:", key="imc-sign-in"):
        st.login()


def refused_page(reason: str) -> None:
    """A signed-in account imc will not act as, and why, with a sign-out."""
    st.title("Signed in, but not let in")
    st.error(f"imc will not act as this account: {md(reason)}.", icon=":material/block:")
    if st.button("Sign out", icon=":material/logout:", key="imc-sign-out-refused"):
        st.logout()


def sidebar() -> None:
    """Who is signed in (their Kubernetes user and groups), with a sign-out; nothing without sign-in."""
    identity = clusters.signed_in()
    if identity is None:
        return
    with st.sidebar:
        st.caption(f"Signed in as {code(identity.user)}")
        if identity.groups:
            st.caption("Groups: " + ", ".join(code(group) for group in identity.groups))
        if st.button("Sign out", icon=":material/logout:", key="imc-sign-out", width="stretch"):
            st.logout()
