"""The sim's pure rules of UpdateImageCache: what a spec change asks, when ECI refuses it, what a retention gives."""

from __future__ import annotations

import pytest

from sim.eci.eci import REBUILD, RETENTION, spec_change, update_refusal, with_retention


def cache(phase: str | None = "Ready", name: str = "web", **spec) -> dict:
    status = {"imageCacheId": "imc-1", "startTime": "2026-12-01T10:00:00Z", "expireDateTime": "2026-12-02T10:00:00Z"}
    return {"metadata": {"name": name}, "spec": {"images": ["nginx:1.25"], **spec},
            "status": {**status, **({"phase": phase} if phase else {})}}


@pytest.mark.parametrize(("new_spec", "change"), [
    ({}, None),
    ({"images": ["nginx:1.27"]}, REBUILD),
    ({"imageCacheSize": 40}, REBUILD),
    ({"imagePullSecrets": ["default:acr"]}, REBUILD),
    ({"retentionDays": 7}, RETENTION),
    ({"images": ["nginx:1.27"], "retentionDays": 7}, REBUILD),
])
def test_what_a_spec_change_asks_of_eci(new_spec, change):
    assert spec_change(cache(), cache(**new_spec)) == change


@pytest.mark.parametrize("phase", ["Ready", "UpdateFailed"])
def test_ready_and_update_failed_caches_may_be_updated(phase):
    assert update_refusal(cache(phase)) is None


@pytest.mark.parametrize("phase", ["Preparing", "Creating", "Updating", "Failed", None])
def test_other_phases_are_refused_naming_the_phase(phase):
    refusal = update_refusal(cache(phase))
    assert refusal == (f"image cache imc-1 is {phase or 'without a phase'}: ECI updates an image cache only when it "
                       "is Ready or UpdateFailed")


def test_a_retention_counts_from_the_build_and_none_never_expires_but_an_auto_cache_keeps_ecis_expiry():
    assert with_retention(cache(retentionDays=3))["status"]["expireDateTime"] == "2026-12-04T10:00:00Z"
    assert "expireDateTime" not in with_retention(cache())["status"]
    auto = with_retention(cache(name="auto-create-for-eci-2ze1"))
    assert auto["status"]["expireDateTime"] == "2026-12-02T10:00:00Z"
