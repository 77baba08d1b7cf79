"""Sign-in's pure parts: the [auth] settings and their checks, `imc dashboard`'s command, the claim mapping's
variables, and what a person with some rights sees of a snapshot (one shared store, filtered once per version)."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from core.identity import ClaimMapping, Identity
from dashboard import people
from dashboard.auth_settings import auth_from_environment, auth_problem, metadata_url, secrets_toml
from dashboard.people import Kept, PersonStore, claim_mapping, namespaces_of
from dashboard.serve import APP, file_auth, streamlit_command
from kube.access import Visibility
from kube.store import ClusterStore, visible_part
from tests.fixtures.engine.builders import imagecache, pod

SECRET = "0123456789abcdef0123456789abcdef"  # 32 bytes
ENVIRONMENT = {
    "IMC_OIDC_ISSUER": "https://idaas.example.com/api/v2/app_abc/oidc/",
    "IMC_OIDC_CLIENT_ID": "app_abc",
    "IMC_OIDC_CLIENT_SECRET": "s3cr\"et",
    "IMC_OIDC_REDIRECT_URI": "https://imc.example.com/oauth2callback",
    "IMC_OIDC_COOKIE_SECRET": SECRET,
}


def test_the_environment_makes_streamlits_auth_section():
    section = auth_from_environment({**ENVIRONMENT, "IMC_OIDC_SCOPES": "openid email groups"})
    assert section == {
        "server_metadata_url": "https://idaas.example.com/api/v2/app_abc/oidc/.well-known/openid-configuration",
        "client_id": "app_abc", "client_secret": "s3cr\"et", "redirect_uri": "https://imc.example.com/oauth2callback",
        "cookie_secret": SECRET, "client_kwargs": {"scope": "openid email groups"},
    }
    assert auth_from_environment({"HOME": "/tmp"}) is None
    assert auth_problem(section, "the environment") is None
    written = tomllib.loads(secrets_toml(section))["auth"]
    assert written == section  # quotes and all, read back by a TOML reader as Streamlit reads it


def test_a_discovery_url_is_kept_as_it_is():
    url = "https://dex.example.com/.well-known/openid-configuration"
    assert metadata_url(url) == url
    assert metadata_url("https://dex.example.com") == url


@pytest.mark.parametrize(("change", "words"), [
    ({"IMC_OIDC_COOKIE_SECRET": ""}, "IMC_OIDC_COOKIE_SECRET is missing"),
    ({"IMC_OIDC_COOKIE_SECRET": "x" * 31}, "IMC_OIDC_COOKIE_SECRET is 31 bytes"),
    ({"IMC_OIDC_CLIENT_SECRET": "", "IMC_OIDC_ISSUER": ""}, "IMC_OIDC_CLIENT_SECRET, IMC_OIDC_ISSUER are missing"),
    ({"IMC_OIDC_REDIRECT_URI": "https://imc.example.com/"}, "does not end with /oauth2callback"),
])
def test_settings_that_cannot_work_are_one_line_naming_the_variable(change, words):
    problem = auth_problem(auth_from_environment({**ENVIRONMENT, **change}), "the environment")
    assert problem is not None and words in problem and "\n" not in problem


def test_a_secrets_file_names_its_keys():
    problem = auth_problem({"redirect_uri": "http://x/oauth2callback", "cookie_secret": "short", "client_id": "a",
                            "client_secret": "b", "server_metadata_url": "c"}, ".streamlit/secrets.toml")
    assert "cookie_secret is 5 bytes" in problem and ".streamlit/secrets.toml" in problem


def test_imc_dashboard_writes_a_private_secrets_file_from_the_environment(tmp_path):
    command, problem = streamlit_command(["--server.port", "8501"], ENVIRONMENT, str(tmp_path), str(tmp_path))
    assert problem is None
    assert command[1:5] == ["-m", "streamlit", "run", str(APP)] and command[-2:] == ["--server.port", "8501"]
    written = Path(command[command.index("--secrets.files") + 1])
    assert stat.S_IMODE(written.stat().st_mode) == 0o600 and stat.S_IMODE(written.parent.stat().st_mode) == 0o700
    assert tomllib.loads(written.read_text())["auth"]["client_id"] == "app_abc"
    written.unlink()
    written.parent.rmdir()


def test_imc_dashboard_checks_a_secrets_toml_and_starts_plain_without_one(tmp_path):
    home, here = tmp_path / "home", tmp_path / "here"
    command, problem = streamlit_command([], {}, str(home), str(here))
    assert problem is None and "--secrets.files" not in command
    (here / ".streamlit").mkdir(parents=True)
    (here / ".streamlit" / "secrets.toml").write_text(
        '[auth]\nredirect_uri = "http://x/oauth2callback"\ncookie_secret = "short"\nclient_id = "a"\n'
        'client_secret = "b"\nserver_metadata_url = "https://idp/.well-known/openid-configuration"\n')
    command, problem = streamlit_command([], {}, str(home), str(here))
    assert command is None and "cookie_secret is 5 bytes" in problem
    (here / ".streamlit" / "secrets.toml").write_text("[auth\n")
    with pytest.raises(ValueError, match="cannot be read"):
        file_auth([here / ".streamlit" / "secrets.toml"])


def test_the_claim_mapping_comes_from_imc_oidc_variables():
    assert claim_mapping({}) == ClaimMapping()
    assert claim_mapping({"IMC_OIDC_USERNAME_CLAIM": "sub", "IMC_OIDC_USERNAME_PREFIX": "-",
                          "IMC_OIDC_GROUPS_CLAIM": "roles", "IMC_OIDC_GROUPS_PREFIX": ""}) == ClaimMapping(
        "sub", "-", "roles", "")


def filled_store() -> ClusterStore:
    store = ClusterStore()
    store.replace("pods", [pod(["nginx:1.25"], name="web-1", namespace="shop"),
                           pod(["redis:7"], name="etl-1", namespace="data")], "1")
    store.replace("imagecaches", [imagecache("shop-web", ["nginx:1.25"])], "1")
    store.replace("deployments", [{"metadata": {"name": "web", "namespace": "shop"}},
                                  {"metadata": {"name": "etl", "namespace": "data"}}], "1")
    store.replace("events", [], "1")
    return store


def test_a_person_sees_the_namespaces_they_may_list_and_caches_only_when_they_may():
    snapshot = filled_store().snapshot()
    assert namespaces_of(snapshot) == {"shop", "data"}
    shop = visible_part(snapshot, frozenset({"shop"}), caches=False)
    assert list(shop.pods) == ["shop/web-1"] and list(shop.deployments) == ["shop/web"]
    assert not shop.caches and not shop.cache_objects
    assert {point.key for point in shop.history} <= {"shop/web-1"}
    everything = visible_part(snapshot, None, caches=True)
    assert set(everything.pods) == set(snapshot.pods) and set(everything.caches) == {"shop-web"}
    assert visible_part(snapshot, frozenset(), caches=False).pods == {}


def test_people_with_the_same_rights_share_one_filtered_snapshot_per_store_version():
    store = filled_store()
    shop = Visibility(frozenset({"shop"}), caches=True)
    first, second = PersonStore(store, shop, ("test", "shop")), PersonStore(store, shop, ("test", "shop"))
    assert first.snapshot() is second.snapshot() is first.snapshot()
    before = first.snapshot()
    store.replace("pods", [pod(["nginx:1.25"], name="web-2", namespace="shop")], "2")
    assert first.snapshot() is not before and list(first.snapshot().pods) == ["shop/web-2"]


def test_kept_drops_the_least_recently_used():
    kept = Kept(2)
    assert kept.get("a", lambda: 1) == 1 and kept.get("b", lambda: 2) == 2
    assert kept.get("a", lambda: 99) == 1  # a is the most recently used now
    kept.put("c", 3)
    assert kept.peek("b") is None and kept.peek("a") == 1 and len(kept) == 2


def test_a_cluster_without_a_connection_is_shown_as_it_is():
    class Injected:
        connection = None

    cluster = Injected()
    assert people.seen_by(cluster, Identity("oidc:a@example.com"), lambda: None) is cluster


def test_a_person_limited_to_some_namespaces_is_told_the_history_is_withheld_not_that_it_is_not_kept():
    from dataclasses import dataclass
    from datetime import UTC, datetime

    from dashboard.history import no_history_reason
    from dashboard.history_views import NOT_KEPT, WITHHELD
    from dashboard.radar_views import radar

    @dataclass
    class Shown:
        person: Identity | None = None
        visibility: Visibility | None = None

    viewer = Identity("oidc:viewer@example.com", ("oidc:viewers",))
    assert no_history_reason(Shown(viewer, Visibility(frozenset({"shop"}), True))) == WITHHELD
    assert no_history_reason(Shown(viewer, Visibility(None, True))) == NOT_KEPT  # sees all: the ledger is theirs
    assert no_history_reason(Shown()) == NOT_KEPT
    note = radar({}, {}, None, datetime.now(UTC), no_history=WITHHELD).notes[0]
    assert note.startswith("The history file counts namespaces you may not see") and "live pods only" in note
