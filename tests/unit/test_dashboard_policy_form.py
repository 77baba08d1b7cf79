"""The mode form starts at the template's settings and proposes nothing the user did not ask for (issue 10, item 1)."""

from __future__ import annotations

import pandas as pd

from core.policy import AUTO_IMC, IMC_ID, LEGACY_PIN, MATCH_COUNT
from dashboard.policy_form import ModeChoice, changes_for, current_choice, pin_choices

CACHES = pd.DataFrame([
    {"Name": "alpha", "Cache ID": "imc-a", "Phase": "Ready", "Image names": "docker.io/library/redis:7"},
    {"Name": "beta", "Cache ID": "imc-b", "Phase": "Ready",
     "Image names": "docker.io/library/nginx:1.25 docker.io/library/redis:7"},
    {"Name": "gamma", "Cache ID": "imc-g", "Phase": "Creating", "Image names": "docker.io/library/nginx:1.25"},
    {"Name": "delta", "Cache ID": "", "Phase": "Pending", "Image names": ""},
])
IMAGES = ("docker.io/library/nginx:1.25", "docker.io/library/redis:7")


def test_the_current_pin_comes_first_even_when_no_cache_has_it():
    choices = pin_choices(CACHES, IMAGES, current="imc-2ze0notthere000000")
    assert list(choices) == ["imc-2ze0notthere000000", "imc-b", "imc-a"]
    assert choices["imc-2ze0notthere000000"] == "imc-2ze0notthere000000 (current pin: no such cache)"


def test_ready_caches_are_ranked_by_the_images_they_hold_with_the_count():
    choices = pin_choices(CACHES, IMAGES)
    assert choices == {"imc-b": "beta (imc-b) · 2 of 2 images", "imc-a": "alpha (imc-a) · 1 of 2 images"}


def test_a_pin_to_a_cache_not_ready_says_so():
    assert pin_choices(CACHES, IMAGES, current="imc-g")["imc-g"] == "imc-g (current pin: gamma, Creating)"


def test_without_images_no_count_is_claimed():
    assert pin_choices(CACHES) == {"imc-a": "alpha (imc-a)", "imc-b": "beta (imc-b)"}


def test_a_hostile_pin_is_shown_visibly_in_the_picker():
    assert "<U+202E>" in pin_choices(CACHES, IMAGES, current="imc-\u202eevil")["imc-\u202eevil"]


def test_the_form_starting_at_the_current_pin_changes_nothing():
    current = {IMC_ID: "imc-2ze0notthere000000"}
    assert current_choice(current) == ("pin", None, "imc-2ze0notthere000000")
    assert changes_for(current, ModeChoice("pin", None, "imc-2ze0notthere000000", False)) == {}


def test_a_legacy_pin_left_as_it_is_is_not_rewritten():
    current = {LEGACY_PIN: "imc-a"}
    assert changes_for(current, ModeChoice("pin", None, "imc-a", False)) == {}


def test_the_current_match_count_changes_nothing_and_another_does():
    current = {AUTO_IMC: "true", MATCH_COUNT: "3"}
    assert current_choice(current) == ("match count", 3, None)
    assert changes_for(current, ModeChoice("match count", 3, None, False)) == {}
    assert changes_for(current, ModeChoice("match count", 2, None, False)) == {MATCH_COUNT: "2"}


def test_picking_another_cache_or_mode_changes_the_pin():
    current = {IMC_ID: "imc-2ze0notthere000000"}
    assert changes_for(current, ModeChoice("pin", None, "imc-b", False)) == {IMC_ID: "imc-b"}
    assert changes_for(current, ModeChoice("automatic", None, None, False)) == {IMC_ID: None}


def test_the_cache_the_workload_uses_now_comes_before_the_ranking():
    assert list(pin_choices(CACHES, IMAGES, using="imc-a")) == ["imc-a", "imc-b"]
    assert list(pin_choices(CACHES, IMAGES, current="imc-g", using="imc-a")) == ["imc-g", "imc-a", "imc-b"]


def test_among_caches_holding_as_many_images_a_users_cache_comes_before_an_auto_created_one():
    caches = pd.DataFrame([
        {"Name": "auto-create-for-eci-2zeb", "Cache ID": "imc-auto", "Phase": "Ready",
         "Image names": "docker.io/library/postgres:16"},
        {"Name": "postgres-16", "Cache ID": "imc-pg", "Phase": "Ready", "Image names": "docker.io/library/postgres:16"},
    ])
    assert list(pin_choices(caches, ("docker.io/library/postgres:16",))) == ["imc-pg", "imc-auto"]


def _mode_form() -> None:
    """The mode controls of a Deployment pinned to imc-b (for AppTest: it runs this function's source alone)."""
    import pandas as pd
    import streamlit as st

    from core.policy import IMC_ID
    from dashboard.policy_form import mode_controls

    caches = pd.DataFrame([{"Name": "beta", "Cache ID": "imc-b", "Phase": "Ready", "Image names": "redis:7"}])
    choice = mode_controls("form", ["automatic", "pin"], "pin", {"automatic": "Automatic", "pin": "Pin"}, caches,
                           current={IMC_ID: "imc-b"})
    st.session_state["chosen"] = choice.mode


def test_a_mode_state_left_empty_starts_at_the_templates_mode_with_its_segment_selected():
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_function(_mode_form)
    app.session_state["form-mode"] = None  # what a rerun cut short left behind on a loaded machine
    app.run()
    assert not app.exception
    assert app.session_state["chosen"] == "pin"
    assert app.session_state["form-mode"] == "pin"  # the segment the page shows selected, not none


def test_a_mode_a_link_prefilled_is_kept():
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_function(_mode_form)
    app.session_state["form-mode"] = "automatic"
    app.run()
    assert not app.exception and not app.warning
    assert app.session_state["chosen"] == "automatic"
