"""Sign-in settings (pure): Streamlit's `[auth]` secrets section, from a secrets.toml or from IMC_OIDC_* variables,
checked before the dashboard starts.

Streamlit's st.login reads `[auth]` from its secrets files: redirect_uri, cookie_secret, client_id, client_secret,
server_metadata_url (the provider's /.well-known/openid-configuration), and optionally client_kwargs (the scopes).
In a pod the same values come from environment variables (a Kubernetes Secret), written by `imc dashboard` into a
private secrets file Streamlit reads at start-up.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MIN_COOKIE_SECRET_BYTES = 32
CALLBACK_PATH = "/oauth2callback"  # the path Streamlit serves the provider's redirect on
WELL_KNOWN = "/.well-known/openid-configuration"
DEFAULT_SCOPES = "openid profile email"
VARIABLES = {  # IMC_OIDC_* -> the [auth] key it sets
    "IMC_OIDC_REDIRECT_URI": "redirect_uri",
    "IMC_OIDC_COOKIE_SECRET": "cookie_secret",
    "IMC_OIDC_CLIENT_ID": "client_id",
    "IMC_OIDC_CLIENT_SECRET": "client_secret",
    "IMC_OIDC_ISSUER": "server_metadata_url",
}
SCOPES_VARIABLE = "IMC_OIDC_SCOPES"  # e.g. "openid profile email groups" (Dex sends groups only when asked)
REQUIRED = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")


def metadata_url(issuer: str) -> str:
    """The provider's discovery document: the issuer's /.well-known/openid-configuration (a full URL is kept)."""
    issuer = issuer.strip()
    return issuer if issuer.endswith(WELL_KNOWN) else issuer.rstrip("/") + WELL_KNOWN


def auth_from_environment(environ: Mapping[str, str]) -> dict[str, Any] | None:
    """The [auth] section the IMC_OIDC_* variables make, or None when none of them is set."""
    given = {key: environ[name].strip() for name, key in VARIABLES.items() if environ.get(name, "").strip()}
    if not given:
        return None
    if "server_metadata_url" in given:
        given["server_metadata_url"] = metadata_url(given["server_metadata_url"])
    scopes = environ.get(SCOPES_VARIABLE, "").strip()
    if scopes:
        given["client_kwargs"] = {"scope": scopes}
    return given


def auth_problem(section: Mapping[str, Any], source: str) -> str | None:
    """Why this [auth] section cannot start the dashboard, in one line; None when it can."""
    missing = [key for key in REQUIRED if not str(section.get(key) or "").strip()]
    if missing:
        names = ", ".join(_named(key, source) for key in missing)
        return f"sign-in is configured in {source} but {names} {'is' if len(missing) == 1 else 'are'} missing"
    secret = str(section["cookie_secret"])
    if len(secret.encode()) < MIN_COOKIE_SECRET_BYTES:
        return (f"sign-in is configured in {source} but {_named('cookie_secret', source)} is "
                f"{len(secret.encode())} bytes: it signs the session cookie and must be at least "
                f"{MIN_COOKIE_SECRET_BYTES} (make one with: openssl rand -hex 32)")
    redirect = str(section["redirect_uri"])
    if not redirect.endswith(CALLBACK_PATH):
        return (f"sign-in is configured in {source} but {_named('redirect_uri', source)} {redirect!r} does not end "
                f"with {CALLBACK_PATH} (imc's URL followed by {CALLBACK_PATH}, registered with the provider)")
    return None


def _named(key: str, source: str) -> str:
    """An [auth] key as the user wrote it: its variable when the settings came from the environment."""
    if source == "the environment":
        return next(name for name, value in VARIABLES.items() if value == key)
    return key


def secrets_toml(section: Mapping[str, Any]) -> str:
    """A secrets.toml holding this [auth] section (values as TOML basic strings: JSON's escaping is TOML's)."""
    lines = ["[auth]"]
    for key, value in section.items():
        if isinstance(value, Mapping):
            continue
        lines.append(f"{key} = {json.dumps(str(value))}")
    for key, value in section.items():
        if isinstance(value, Mapping):
            lines.append(f"\n[auth.{key}]")
            lines += [f"{name} = {json.dumps(str(item))}" for name, item in value.items()]
    return "\n".join(lines) + "\n"
