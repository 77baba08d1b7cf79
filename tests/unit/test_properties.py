"""Property tests: on arbitrary input the engine raises nothing but its own error type (ImcError), quickly.

Manifests are user input; a crash with a TypeError or KeyError is a bug, an ImcError is a
clear message the CLI and dashboard can show.
"""

from __future__ import annotations

import gc
import json
import string
import time
from dataclasses import dataclass

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.caches import CacheView, cache_from_object, validate_imagecache
from core.errors import ImcError
from core.images import ImageRef, normalise_image, parse_image
from core.impact import CacheChange, Workload, impact_of
from core.manifests import load_documents
from core.matching import OUTCOMES, CacheIndex, decide, explain
from core.outcomes import actual_outcome
from core.policy import MatchPolicy, parse_quantity_gib, read_policy
from core.render import render_report
from core.timeutil import parse_time
from core.workloads import PodTemplate, templates_from
from kube.store import ClusterStore
from tests.fixtures.engine.builders import (
    AT,
    AUTO,
    COUNT,
    EXTRA,
    LEGACY_AUTO,
    LEGACY_PIN,
    NOT_COMPLETE,
    NOT_FOUND,
    PERFECT,
    PIN,
    SUCCESS,
    imagecache,
    pod,
    run_engine,
    when,
)

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
    ref = _only_imc_errors(parse_image, text)
    assert ref is None or isinstance(ref, ImageRef)


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


def _check_policy(p) -> None:
    """What read_policy returns, when it returns: a policy of one of the three modes."""
    if p is not None:
        assert isinstance(p, MatchPolicy) and p.mode in {"pin", "auto", "off"}
        assert (p.mode == "pin") is bool(p.pin_id)


@SETTINGS
@given(annotations, st.integers(min_value=0, max_value=25))
def test_read_policy_raises_only_imc_errors(annos: dict, image_count: int) -> None:
    _check_policy(_only_imc_errors(read_policy, annos, image_count))


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
    _check_policy(_only_imc_errors(read_policy, annos, image_count))


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
    templates = _only_imc_errors(templates_from, obj)
    assert templates is None or all(isinstance(t, PodTemplate) for t in templates)


# ---- a model of docs/eci-model.md section 3, written from the page, against the engine ----------------

REPOS = ["nginx", "redis", "library/busybox", "docker.io/bitnami/app"]
POOL = [f"{repo}:{tag}" for repo in REPOS for tag in ("1", "2")]
NAMES = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]


def _norm(ref: str) -> str:
    """The pool's references in normal form (section 5), written out by hand."""
    repo, tag = ref.rsplit(":", 1)
    repo = repo.removeprefix("docker.io/")
    return f"docker.io/{repo if '/' in repo else 'library/' + repo}:{tag}"


cache_objects = st.lists(
    st.builds(
        lambda images, phase, size, day, expire: imagecache(
            "", images, phase=phase, size=size, created=f"2026-11-{day:02d}T00:00:00Z",
            expire=None if expire is None else f"2026-11-{expire:02d}T00:00:00Z",
        ),
        st.lists(st.sampled_from(POOL), min_size=1, max_size=4),
        st.sampled_from(["Ready", "Ready", "Ready", "Creating", "Failed"]),
        st.integers(20, 52),
        st.integers(1, 29),
        st.one_of(st.none(), st.integers(26, 30)),
    ),
    max_size=len(NAMES),
)


@dataclass(frozen=True)
class _Modelled:
    name: str
    candidate: bool
    exact: int
    partial: int
    key: tuple


def _model(pod_images: list[str], caches: list[dict], requirement: int, storage: int) -> list[_Modelled]:
    """Section 3.2 by the letter: candidates, then rank (exact, partial, size, newest, name)."""
    wanted = sorted({_norm(i) for i in pod_images})
    out = []
    for obj in caches:
        held = {_norm(i) for i in obj["spec"]["images"]}
        held_repos = {h.rsplit(":", 1)[0] for h in held}
        exact = sum(1 for w in wanted if w in held)
        partial = sum(1 for w in wanted if w not in held and w.rsplit(":", 1)[0] in held_repos)
        status, meta, size = obj["status"], obj["metadata"], obj["spec"]["imageCacheSize"]
        expire = status.get("expireDateTime")
        candidate = (
            status["phase"] == "Ready"
            and (expire is None or when(expire) > when(AT))
            and when(meta["creationTimestamp"]) <= when(AT)
            and size <= storage
            and exact >= requirement
        )
        key = (-exact, -partial, storage - size, -when(meta["creationTimestamp"]).timestamp(), meta["name"])
        out.append(_Modelled(meta["name"], candidate, exact, partial, key))
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(POOL), min_size=1, max_size=4),
    cache_objects,
    st.sampled_from(["default", "perfect", "count"]),
    st.integers(1, 4),
    st.sampled_from([None, "20Gi"]),
)
def test_engine_agrees_with_a_model_of_section_3(pod_images, caches, mode, count, extra) -> None:
    for name, obj in zip(NAMES, caches, strict=False):
        obj["metadata"]["name"] = name
        obj["status"]["imageCacheId"] = f"imc-{name}"
    distinct = len({_norm(i) for i in pod_images})
    annotations = {EXTRA: extra} if extra else {}
    requirement = 1
    if mode == "perfect":
        annotations[PERFECT], requirement = "true", distinct
    elif mode == "count" and count <= distinct:
        annotations[COUNT], requirement = str(count), count
    storage = 30 + (20 if extra else 0)
    modelled = _model(pod_images, caches, requirement, storage)
    best = min((m for m in modelled if m.candidate), key=lambda m: m.key, default=None)

    [(decision, result)] = run_engine(pod(pod_images, annotations=annotations), caches)
    assert decision.outcome == ("hit" if best else "miss")
    assert result["cache"] == (None if best is None else {"name": best.name, "id": f"imc-{best.name}"})
    assert decision.auto_cache_size_gib == storage or best is not None
    for m in modelled:
        entry = next(c for c in result["candidates"] if c["name"] == m.name)
        verdict = "rejected" if not m.candidate else "chosen" if m is best else "outranked"
        assert (entry["verdict"], entry["exact"], entry["partial"]) == (verdict, m.exact, m.partial), (m, entry)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(POOL), min_size=1, max_size=3), cache_objects, st.integers(0, len(NAMES)),
       st.sampled_from([{}, {AUTO: "false"}, {PERFECT: "true", COUNT: "1"}]))
def test_engine_agrees_with_a_model_of_pinning(pod_images, caches, target, also) -> None:
    """Section 3.1: a pin finds the cache by ID; none -> NotFound, not Ready -> NotComplete, Ready -> hit."""
    for name, obj in zip(NAMES, caches, strict=False):
        obj["metadata"]["name"] = name
        obj["status"]["imageCacheId"] = f"imc-{name}"
        # the page says nothing of a pinned cache past its expiry or created later: keep to what it says
        obj["status"].pop("expireDateTime", None)
        obj["metadata"]["creationTimestamp"] = "2026-11-01T00:00:00Z"
    pinned = caches[target] if target < len(caches) else None
    pin_id = f"imc-{NAMES[target]}" if pinned else "imc-absent"
    [(decision, result)] = run_engine(pod(pod_images, annotations={PIN: pin_id, **also}), caches)
    if pinned is None:
        expected = ("fail", [NOT_FOUND], None)
    elif pinned["status"]["phase"] != "Ready":
        expected = ("fail", [NOT_COMPLETE], None)
    else:
        expected = ("hit", [SUCCESS], pinned["metadata"]["name"])
    assert (decision.outcome, result["events"], decision.cache and decision.cache.name) == expected
    assert decision.auto_create is False
    assert decision.pinned_id == pin_id
    chosen = [c["name"] for c in result["candidates"] if c["verdict"] == "chosen"]
    assert chosen == ([expected[2]] if expected[2] else [])


# ---- issue 9: arbitrary JSON into every entry point, each call bounded ---------------------------

# values an attacker with write access to a namespace, or a pipeline feeding `imc explain`, can put anywhere
HOSTILE_TEXT = ["1e30000000", "1e400", "9" * 50 + "Ei", "99999999999", "2024-13-45", "0001-01-01T00:00:00+01:00",
                "9999-12-31T23:59:59Z", "imc-\u202eevil", "Ready", "nginx", "20Gi", "a" * 5000, "2026-11-28T08:00:00Z"]
hostile_scalars = st.one_of(
    scalars,
    st.sampled_from([*HOSTILE_TEXT, 2**64, 10**30, -(10**30), 10**400, float("inf"), float("-inf")]),
)
hostile_values = st.recursive(
    hostile_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=20,
)
ECI_REASONS = ["SuccessfulHitImageCache", "ImageCacheMissed", "ImageCacheAutoCreated", "ImageCacheNotFound",
               "ImageCacheNotComplete", "Pulled"]
hostile_metadata = st.one_of(
    st.fixed_dictionaries(
        {"name": st.one_of(st.sampled_from(["a", "b"]), hostile_values)},
        optional={
            "namespace": st.one_of(st.just("default"), hostile_values),
            "uid": hostile_values,
            "creationTimestamp": st.one_of(st.sampled_from(HOSTILE_TEXT), hostile_values),
            "labels": st.one_of(st.just({"alibabacloud.com/eci": "true"}), hostile_values),
            "annotations": st.one_of(st.dictionaries(st.sampled_from(POLICY_KEYS), hostile_scalars, max_size=3),
                                     hostile_values),
        },
    ),
    hostile_values,
)
hostile_pods = st.builds(
    lambda meta, spec, status: {"kind": "Pod", "metadata": meta, "spec": spec, "status": status},
    hostile_metadata,
    st.one_of(st.fixed_dictionaries({"containers": containers}, optional={"nodeName": hostile_values}),
              hostile_values),
    hostile_values,
)
hostile_caches = st.builds(
    lambda meta, spec, status: {"kind": "ImageCache", "metadata": meta, "spec": spec, "status": status},
    hostile_metadata,
    st.one_of(
        st.fixed_dictionaries(
            {},
            optional={"images": st.one_of(st.lists(st.one_of(st.sampled_from(POOL), any_ref, hostile_scalars),
                                                   max_size=3), hostile_values),
                      "imageCacheSize": hostile_scalars, "retentionDays": hostile_scalars},
        ),
        hostile_values,
    ),
    st.one_of(
        st.fixed_dictionaries(
            {},
            optional={"imageCacheId": st.one_of(st.just("imc-a"), hostile_values),
                      "phase": st.one_of(st.just("Ready"), hostile_values),
                      "expireDateTime": st.one_of(st.sampled_from(HOSTILE_TEXT), hostile_values),
                      "lastUpdatedTime": st.one_of(st.sampled_from(HOSTILE_TEXT), hostile_values),
                      "progress": hostile_values, "events": hostile_values},
        ),
        hostile_values,
    ),
)
hostile_events = st.builds(
    lambda meta, reason, involved, message, at: {"kind": "Event", "metadata": meta, "reason": reason,
                                                 "involvedObject": involved, "message": message, "lastTimestamp": at},
    hostile_metadata,
    st.one_of(st.sampled_from(ECI_REASONS), hostile_values),
    st.one_of(st.fixed_dictionaries({"kind": st.just("Pod"), "name": st.one_of(st.just("a"), hostile_values)},
                                    optional={"namespace": hostile_values, "uid": hostile_values}),
              hostile_values),
    st.one_of(st.just("Successfully hit image cache imc-a"), hostile_values),
    st.one_of(st.sampled_from(HOSTILE_TEXT), hostile_values),
)
# the bound per call: CPU time of this thread (another engineer's load on the machine does not count),
# with the collector paused (its pause is about the whole test process, not this input)
CALL_BUDGET_SECONDS = 0.050


def _bounded(fn, *args):
    """fn(*args), asserting it returns or raises ImcError (None), within the per-call budget."""
    gc.disable()
    started = time.thread_time()
    try:
        return fn(*args)
    except ImcError:
        return None
    finally:
        spent = time.thread_time() - started
        gc.enable()
        assert spent < CALL_BUDGET_SECONDS, f"{fn.__name__} took {spent * 1000:.0f} ms"


HOSTILE = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@HOSTILE
@given(hostile_values)
@example("1e30000000")
@example("9" * 50 + "Ei")
@example("1" + "0" * 4000)
def test_scalar_readers_are_bounded(value) -> None:
    for fn in (parse_quantity_gib, parse_time, parse_image):
        _bounded(fn, value)
    _check_policy(_bounded(read_policy, {EXTRA: value, COUNT: value, PIN: value, AUTO: value}, 3))


@HOSTILE
@given(st.one_of(hostile_pods, manifests, hostile_values), st.lists(st.one_of(hostile_caches, hostile_values),
                                                                      max_size=3))
@example({"kind": "Pod", "metadata": {"annotations": {EXTRA: "1e400"}, "labels": {"alibabacloud.com/eci": "true"}},
          "spec": {"containers": [{"image": "nginx"}]}}, [{"status": {"imageCacheId": ["a", "b"]}}])
def test_engine_entry_points_are_bounded(obj, cache_objs) -> None:
    views = [_bounded(cache_from_object, c) for c in cache_objs]
    assert all(isinstance(v, CacheView) for v in views)  # never raises, not even ImcError
    for c in cache_objs:
        assert isinstance(_bounded(validate_imagecache, c), list)
    index = CacheIndex(views)
    for template in _bounded(templates_from, obj) or []:
        result = _bounded(explain, template, index, when(AT))
        assert result.decision.outcome in OUTCOMES
        json.dumps(_bounded(result.to_dict))
        assert isinstance(_bounded(render_report, [result]), str)
        workloads = [Workload("Pod/x", template.namespace, template)]
        changes = [CacheChange("add", "", cache=c if isinstance(c, dict) else None) for c in cache_objs]
        changes += [CacheChange("delete", view.name) for view in views[:1]]
        for change in changes:  # a proposed cache is any object; a change names the cache it touches or fails clearly
            impact = _bounded(impact_of, workloads, views, change, when(AT))
            assert impact is None or json.dumps(impact.to_dict())


@HOSTILE
@given(hostile_values)
@example([[[]]] * 3)
def test_manifest_loading_is_bounded(value) -> None:
    for text in (json.dumps(value), yaml.safe_dump(value)):
        documents = _bounded(load_documents, text)
        assert documents is None or all(isinstance(d, dict) for d in documents)


@HOSTILE
@given(st.lists(st.tuples(st.sampled_from(["pods", "imagecaches", "events", "deployments"]),
                          st.sampled_from(["ADDED", "MODIFIED", "DELETED"]),
                          st.one_of(hostile_pods, hostile_caches, hostile_events, hostile_values)),
                min_size=1, max_size=6))
def test_store_apply_is_bounded_and_never_stale(changes) -> None:
    store = ClusterStore(clock=lambda: when(AT))
    store.replace("imagecaches", [imagecache("good", ["nginx:1"], cid="imc-a")], "1")
    store.replace("pods", [pod(["nginx:1"], name="steady")], "1")
    for kind, event_type, obj in changes:
        _bounded(store.apply, kind, event_type, obj)
        _bounded(actual_outcome, obj if isinstance(obj, dict) else {}, [obj] if isinstance(obj, dict) else [])
    snapshot = store.snapshot()
    assert not [p for p in snapshot.invalid.values() if "internal error" in p], dict(snapshot.invalid)
    # every record is decided on the caches the store holds now: no prediction left from before a bad update
    index = CacheIndex(snapshot.caches.values())
    for record in snapshot.pods.values():
        fresh = decide(record.template, index, record.template.decided_at(when(AT)))
        assert (fresh.outcome, fresh.cache and fresh.cache.name) == (
            record.decision.outcome, record.decision.cache and record.decision.cache.name)
