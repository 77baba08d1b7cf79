"""The pod's policy from its annotations, docs/eci-model.md section 2 (and its invalid values, 2.4)."""

from __future__ import annotations

import pytest

from core import policy
from core.policy import read_policy
from tests.fixtures.engine.builders import AUTO, COUNT, EXTRA, LEGACY_AUTO, LEGACY_PIN, PERFECT, PIN


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AUTO_IMC", "k8s.aliyun.com/eci-auto-imc"),
        ("PERFECT_MATCH", "k8s.aliyun.com/imc-perfect-match"),
        ("MATCH_COUNT", "k8s.aliyun.com/imc-match-count-request"),
        ("IMC_ID", "k8s.aliyun.com/eci-imc-id"),
        ("LEGACY_AUTO", "k8s.aliyun.com/eci-image-cache"),
        ("LEGACY_PIN", "k8s.aliyun.com/eci-image-snapshot-id"),
        ("EXTRA_STORAGE", "k8s.aliyun.com/eci-extra-ephemeral-storage"),
        ("MATCHED_CACHE", "k8s.aliyun.com/eci-matched-image-cache"),
        ("INSTANCE_ID", "k8s.aliyun.com/eci-instance-id"),
    ],
)
def test_annotation_names(name: str, value: str) -> None:
    assert getattr(policy, name) == value


def test_policy_annotations_are_the_seven_that_steer_matching() -> None:
    assert set(policy.POLICY_ANNOTATIONS) == {AUTO, PERFECT, COUNT, PIN, LEGACY_AUTO, LEGACY_PIN, EXTRA}


def findings_text(p) -> str:
    return "\n".join(f"{f.code} {f.message}" for f in p.findings).lower()


# (annotations, image count) -> mode, pin id, requirement for that image count, storage GiB
POLICIES = [
    ("defaults", {}, 2, "auto", None, 1, 30),
    ("none-at-all", None, 1, "auto", None, 1, 30),
    ("auto-true", {AUTO: "true"}, 2, "auto", None, 1, 30),
    ("auto-false-is-off", {AUTO: "false"}, 2, "off", None, None, 30),
    ("legacy-auto-true", {LEGACY_AUTO: "true"}, 2, "auto", None, 1, 30),
    ("pin", {PIN: "imc-2ze5tm5gehgtiiga****"}, 1, "pin", "imc-2ze5tm5gehgtiiga****", None, 30),
    ("legacy-pin", {LEGACY_PIN: "imc-abc"}, 1, "pin", "imc-abc", None, 30),
    ("pin-beats-off", {PIN: "imc-abc", AUTO: "false"}, 1, "pin", "imc-abc", None, 30),
    ("pin-beats-auto", {PIN: "imc-abc", AUTO: "true", PERFECT: "true"}, 2, "pin", "imc-abc", None, 30),
    ("perfect", {PERFECT: "true"}, 3, "auto", None, 3, 30),
    ("perfect-false", {PERFECT: "false"}, 3, "auto", None, 1, 30),
    ("perfect-beats-count", {PERFECT: "true", COUNT: "1"}, 3, "auto", None, 3, 30),
    ("count", {COUNT: "2"}, 3, "auto", None, 2, 30),
    ("count-equal-to-images", {COUNT: "3"}, 3, "auto", None, 3, 30),
    ("bad-count-minus", {COUNT: "-1"}, 3, "auto", None, 1, 30),
    ("bad-count-abc", {COUNT: "abc"}, 3, "auto", None, 1, 30),
    ("bad-count-zero", {COUNT: "0"}, 3, "auto", None, 1, 30),
    ("bad-count-fraction", {COUNT: "1.5"}, 3, "auto", None, 1, 30),
    ("bad-auto-bool", {AUTO: "yes"}, 1, "auto", None, 1, 30),
    ("bad-perfect-bool", {PERFECT: "yes"}, 3, "auto", None, 1, 30),
    ("extra-storage", {EXTRA: "20Gi"}, 1, "auto", None, 1, 50),
    ("extra-storage-mi", {EXTRA: "20480Mi"}, 1, "auto", None, 1, 50),
    ("extra-storage-bytes", {EXTRA: str(10 * 2**30)}, 1, "auto", None, 1, 40),
    ("bad-extra-storage", {EXTRA: "abc"}, 1, "auto", None, 1, 30),
    ("negative-extra-storage", {EXTRA: "-5Gi"}, 1, "auto", None, 1, 30),
    ("empty-pin-is-no-pin", {PIN: ""}, 1, "auto", None, 1, 30),
    # docs/eci-model.md 3.3: automatic when eci-auto-imc is not "false", *or* legacy eci-image-cache is "true"
    ("legacy-auto-true-beats-auto-false", {LEGACY_AUTO: "true", AUTO: "false"}, 1, "auto", None, 1, 30),
]


@pytest.mark.parametrize(
    ("annotations", "images", "mode", "pin", "requirement", "storage"),
    [p[1:] for p in POLICIES],
    ids=[p[0] for p in POLICIES],
)
def test_read_policy(annotations, images, mode, pin, requirement, storage) -> None:
    p = read_policy(annotations, images)
    assert p.mode == mode
    assert p.pin_id == pin
    if requirement is not None:
        assert p.requirement(images) == requirement
    assert p.storage_gib == storage
    assert p.auto_cache_size_gib == storage


@pytest.mark.parametrize(
    ("annotations", "images"),
    [({}, 2), ({AUTO: "true"}, 1), ({PIN: "imc-abc"}, 1), ({PERFECT: "true"}, 2), ({COUNT: "2"}, 2),
     ({AUTO: "false"}, 1), ({EXTRA: "20Gi"}, 1), ({"app.kubernetes.io/name": "web"}, 1)],
)
def test_valid_annotations_raise_no_warning(annotations: dict, images: int) -> None:
    assert [f for f in read_policy(annotations, images).findings if f.severity != "info"] == []


@pytest.mark.parametrize(
    ("annotations", "images", "words"),
    [
        ({AUTO: "yes"}, 1, ("eci-auto-imc", "yes")),
        ({PERFECT: "yes"}, 2, ("imc-perfect-match", "yes")),
        ({COUNT: "-1"}, 2, ("imc-match-count-request", "-1")),
        ({COUNT: "abc"}, 2, ("imc-match-count-request", "abc")),
        ({COUNT: "0"}, 2, ("imc-match-count-request",)),
        ({COUNT: "3"}, 2, ("imc-match-count-request", "3")),  # unsatisfiable: more than the pod's images
        ({EXTRA: "abc"}, 1, ("eci-extra-ephemeral-storage", "abc")),
        ({PIN: "imc-abc", AUTO: "true", PERFECT: "true"}, 2, ("ignor",)),
        ({PIN: "imc-abc", COUNT: "1"}, 2, ("ignor",)),
        ({PIN: "imc-abc", LEGACY_PIN: "imc-def"}, 1, ("eci-image-snapshot-id",)),  # contradictory pins
        ({LEGACY_AUTO: "true", AUTO: "false"}, 1, ("eci-auto-imc",)),  # contradictory switches
        ({EXTRA: "-5Gi"}, 1, ("eci-extra-ephemeral-storage",)),
        ({PIN: ""}, 1, ("eci-imc-id",)),
    ],
)
def test_invalid_or_ignored_values_are_findings(annotations: dict, images: int, words: tuple) -> None:
    p = read_policy(annotations, images)
    text = findings_text(p)
    assert p.findings, "expected a finding"
    assert all(f.severity in {"error", "warning", "info"} for f in p.findings)
    for word in words:
        assert word in text, (word, text)


def test_pods_differing_in_ecis_own_annotations_read_one_policy() -> None:
    first = read_policy({AUTO: "false", policy.INSTANCE_ID: "eci-1"}, 2)
    second = read_policy({AUTO: "false", policy.INSTANCE_ID: "eci-2", policy.MATCHED_CACHE: "imc-x"}, 2)
    assert first == second == read_policy({AUTO: "false"}, 2)
    assert first.mode == "off"
    assert read_policy({policy.INSTANCE_ID: "eci-3"}, 2) == policy.MatchPolicy("auto")


def test_one_reading_per_image_count() -> None:
    assert not read_policy({COUNT: "3"}, 3).findings
    assert "3" in findings_text(read_policy({COUNT: "3"}, 2))  # unsatisfiable with two images


@pytest.mark.parametrize("values", [(1, True), (True, 1), (1, 1.0)])
def test_values_that_compare_equal_but_read_differently_each_read_their_own(values: tuple) -> None:
    """True == 1 == 1.0: a reading kept by value would tell one of them with another's words."""
    texts = [findings_text(read_policy({COUNT: value}, 2)) for value in values]
    assert texts[0] != texts[1]
    assert [findings_text(read_policy({COUNT: value}, 2)) for value in values] == texts
