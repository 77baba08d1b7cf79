"""Property tests: on arbitrary input the engine raises nothing but its own error type (ImcError).

Manifests are user input; a crash with a TypeError or KeyError is a bug, an ImcError is a
clear message the CLI and dashboard can show.
"""

from __future__ import annotations

import string

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.errors import ImcError
from core.images import normalise_image, parse_image
from core.policy import read_policy
from core.workloads import templates_from
from tests.fixtures.engine.builders import AUTO, COUNT, EXTRA, LEGACY_AUTO, LEGACY_PIN, PERFECT, PIN

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# strings made of the characters image references are made of, so the grammar is exercised deeply
REF_CHARS = string.ascii_lowercase + "ABZ0159" + "./:@-_" + "sha256"
ref_like = st.text(alphabet=REF_CHARS, max_size=60)
parts = st.text(alphabet=string.ascii_lowercase + string.digits + "._-", min_size=1, max_size=12)
plausible_refs = st.builds(
    lambda reg, path, tag: f"{reg}{'/'.join(path)}{tag}",
    st.sampled_from(["", "docker.io/", "index.docker.io/", "localhost/", "localhost:5000/", "h.io:1/",
                     "registry-vpc.cn-hangzhou.aliyuncs.com/"]),
    st.lists(parts, min_size=1, max_size=3),
    st.sampled_from(["", ":latest", ":1.0", ":V_1", "@sha256:" + "a" * 64, ":1@sha256:" + "b" * 64, ":"]),
)
any_ref = st.one_of(st.text(max_size=80), ref_like, plausible_refs)


def _only_imc_errors(fn, *args) -> object:
    try:
        return fn(*args)
    except ImcError:
        return None


@SETTINGS
@given(any_ref)
@example("nginx")
@example("\x00")
@example("a" * 5000)
def test_parse_image_raises_only_imc_errors(text: str) -> None:
    _only_imc_errors(parse_image, text)


@SETTINGS
@given(any_ref)
def test_normalise_is_idempotent_on_what_parses(text: str) -> None:
    once = _only_imc_errors(normalise_image, text)
    if once is None:
        return
    assert isinstance(once, str)
    assert normalise_image(once) == once
    assert parse_image(once) == parse_image(text)


POLICY_KEYS = [AUTO, PERFECT, COUNT, PIN, LEGACY_AUTO, LEGACY_PIN, EXTRA]
INTERESTING = ["true", "false", "True", "FALSE", "yes", "no", "1", "0", "-1", "2", "999999999999999999999",
               "abc", "", " ", "1.5", "20Gi", "-5Gi", "1e3", "imc-abc", "\x00", "٣"]
policy_values = st.one_of(st.sampled_from(INTERESTING), st.text(max_size=30))
annotations = st.dictionaries(
    st.one_of(st.sampled_from(POLICY_KEYS), st.text(max_size=20)), policy_values, max_size=8
)


@SETTINGS
@given(annotations, st.integers(min_value=0, max_value=25))
def test_read_policy_raises_only_imc_errors(annos: dict, image_count: int) -> None:
    _only_imc_errors(read_policy, annos, image_count)


# YAML-ish values: a user writes `eci-auto-imc: true` unquoted and gets a bool, or a number
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=10), inner, max_size=4),
    ),
    max_leaves=20,
)


@SETTINGS
@given(st.dictionaries(st.sampled_from(POLICY_KEYS), scalars, max_size=6), st.integers(0, 5))
def test_read_policy_with_yaml_scalars(annos: dict, image_count: int) -> None:
    _only_imc_errors(read_policy, annos, image_count)


KINDS = ["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "List",
         "ConfigMap", "", None, 3]


def _shaped(kind, metadata, spec, containers, items):
    """A manifest close enough to a workload to reach deep into templates_from."""
    template = {"metadata": metadata, "spec": {"containers": containers, "initContainers": containers}}
    obj = {"apiVersion": "v1", "kind": kind, "metadata": metadata, "spec": spec, "items": items}
    if isinstance(spec, dict):
        spec.setdefault("template", template)
        spec.setdefault("jobTemplate", {"spec": {"template": template}})
        spec.setdefault("containers", containers)
    return obj


containers = st.lists(
    st.one_of(
        st.fixed_dictionaries({"name": st.text(max_size=5), "image": st.one_of(any_ref, scalars)},
                              optional={"imagePullPolicy": st.one_of(st.sampled_from(["Always"]), scalars)}),
        json_values,
    ),
    max_size=3,
)
metadata = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "name": st.one_of(st.text(max_size=8), scalars),
            "namespace": st.one_of(st.text(max_size=8), scalars),
            "labels": st.one_of(st.dictionaries(st.text(max_size=25), scalars, max_size=3), json_values),
            "annotations": st.one_of(st.dictionaries(st.sampled_from(POLICY_KEYS), scalars, max_size=3),
                                     json_values),
        },
    ),
    json_values,
)
manifests = st.builds(
    _shaped,
    st.sampled_from(KINDS),
    metadata,
    st.one_of(st.dictionaries(st.text(max_size=10), json_values, max_size=3), json_values),
    containers,
    st.one_of(st.lists(json_values, max_size=2), json_values),
)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(manifests, json_values))
@example({"kind": "List", "items": 1})
@example({"kind": "Deployment", "spec": {"template": {"spec": {"containers": "nginx"}}}})
@example({"kind": "Pod", "metadata": {"annotations": {AUTO: True, COUNT: 2}}, "spec": {"containers": [{}]}})
def test_templates_from_raises_only_imc_errors(obj) -> None:
    _only_imc_errors(templates_from, obj)
