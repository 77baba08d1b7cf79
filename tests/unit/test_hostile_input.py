"""Hostile input is inert (issue 9): the attacks that froze or crashed imc, replayed against the real parts.

Every number is bounded and parsed without computing huge powers; a field of the wrong type is a
finding on its object; `imc explain` exits 2 with one line, never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.caches import cache_from_object
from core.errors import ImcError
from core.manifests import load_documents
from core.policy import EXTRA_STORAGE as EXTRA
from core.policy import read_policy
from core.timeutil import parse_time
from core.workloads import templates_from
from dashboard.cache_views import progress_percent
from dashboard.invalid_views import invalid_frame
from kube.report import warnings as report_warnings
from kube.store import ClusterStore
from tests.fixtures.engine.builders import AT, REPO, imagecache, pod, when

HUGE_QUANTITIES = ["1e30000000", "1e400", "9" * 50 + "Ei", "99999999999Ei", "1" + "0" * 70]


@pytest.mark.parametrize("value", HUGE_QUANTITIES)
def test_a_huge_extra_storage_is_a_finding_and_no_size(value: str) -> None:
    policy = read_policy({EXTRA: value}, 1)
    assert [f.code for f in policy.findings] == ["invalid-storage"]
    assert policy.extra_storage_gib == 0 and policy.auto_cache_size_gib == 30


def test_extra_storage_in_range_still_counts() -> None:
    assert read_policy({EXTRA: "2e10"}, 1).extra_storage_gib == pytest.approx(2e10 / 2**30)
    assert read_policy({EXTRA: "20Gi"}, 1).auto_cache_size_gib == 50


@pytest.mark.parametrize(
    ("spec", "status", "field"),
    [
        ({"retentionDays": 99999999999}, {}, "spec.retentionDays"),
        ({"imageCacheSize": 10**30}, {}, "spec.imageCacheSize"),
        ({"imageCacheSize": "²"}, {}, "spec.imageCacheSize"),
        ({}, {"imageCacheId": ["a", "b"]}, "status.imageCacheId"),
        ({}, {"phase": {"Ready": True}}, "status.phase"),
        ({}, {"expireDateTime": "2024-13-45"}, "status.expireDateTime"),
        ({"images": "nginx"}, {}, "spec.images"),
    ],
)
def test_a_cache_field_of_the_wrong_type_or_range_is_a_finding(spec: dict, status: dict, field: str) -> None:
    obj = imagecache("c", ["nginx:1"])
    obj["spec"].update(spec)
    obj["status"].update(status)
    view = cache_from_object(obj)
    assert [f.message.split(" ")[0].rstrip(":") for f in view.findings if f.code == "invalid-field"] == [field]
    assert view.name == "c"


@pytest.mark.parametrize("bad", [["a", "b"], "hello", 7])
@pytest.mark.parametrize("where", ["metadata", "metadata.labels", "metadata.annotations"])
def test_metadata_labels_and_annotations_not_objects_are_findings(where: str, bad: object) -> None:
    manifest = pod(["nginx"])
    if where == "metadata":
        manifest["metadata"] = bad
    else:
        manifest["metadata"][where.removeprefix("metadata.")] = bad
    [template] = templates_from(manifest)
    messages = [f.message for f in template.findings if f.code == "invalid-field"]
    assert [m for m in messages if m.startswith(f"{where} is ")], messages


@pytest.mark.parametrize("value", ["2024-13-45", "0001-01-01T00:00:00+01:00", "9" * 5000])
def test_a_bad_timestamp_is_an_imc_error(value: str) -> None:
    with pytest.raises(ImcError):
        parse_time(value)


def test_yaml_timestamps_stay_text_and_huge_integers_are_refused() -> None:
    [obj] = load_documents("kind: Pod\nmetadata:\n  creationTimestamp: 2024-13-45\n")
    assert obj["metadata"]["creationTimestamp"] == "2024-13-45"
    with pytest.raises(ImcError, match="document 2.*out of range"):
        load_documents("kind: Pod\n---\nkind: Pod\nx: " + "9" * 4400 + "\n", "f.yaml")
    with pytest.raises(ImcError, match="out of range"):
        load_documents('{"kind": "Pod", "x": ' + "9" * 4400 + "}", "f.json")


@pytest.mark.parametrize("depth", [150, 10_000])
def test_deep_nesting_is_refused_naming_the_document(depth: int) -> None:
    for text in (
        '{"kind": "Pod", "x": ' + "[" * depth + "]" * depth + "}",
        "kind: Pod\nx: " + "[" * depth + "]" * depth,
    ):
        with pytest.raises(ImcError, match="f: document 1: nested"):
            load_documents(text, "f")


# ---- the real CLI, in its own process -------------------------------------------------------------

ECI_POD = "kind: Pod\nmetadata:\n  name: p\n  labels: {{alibabacloud.com/eci: 'true'}}\n{extra}spec:\n  containers:\n  - {{name: a, image: nginx}}\n"
CACHE = (
    "kind: ImageCache\nmetadata: {{name: c}}\nspec:\n  images: [nginx]\n  {spec}\nstatus:\n  phase: Ready\n  {status}\n"
)


def _explain(tmp_path: Path, manifest: str, caches: str | None = None) -> subprocess.CompletedProcess:
    (tmp_path / "m.yaml").write_text(manifest)
    args = ["m.yaml"]
    if caches is not None:
        (tmp_path / "c.yaml").write_text(caches)
        args += ["--caches", "c.yaml"]
    return subprocess.run(
        [sys.executable, str(Path(REPO) / "cli.py"), "explain", "--format", "json", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("manifest", "caches", "words"),
    [
        ('{"kind": "Pod", "spec": ' + "[" * 10_000 + "]" * 10_000 + "}", None, ["m.yaml", "document 1", "nested"]),
        (ECI_POD.format(extra="  x: " + "9" * 4400 + "\n"), None, ["m.yaml", "document 1", "out of range"]),
        (
            ECI_POD.format(extra=""),
            CACHE.format(spec="retentionDays: 99999999999", status=""),
            ["c.yaml", "document 1", "retentionDays"],
        ),
        (
            ECI_POD.format(extra=""),
            CACHE.format(spec="", status="imageCacheId: [a, b]"),
            ["c.yaml", "document 1", "imageCacheId"],
        ),
        ('{"kind": "Pod", "metadata": {"name": "\\ud800"}}', None, ["m.yaml", "document 1", "surrogate"]),
        ('kind: Pod\nmetadata: {name: "\\U0000DFFF"}\n', None, ["m.yaml", "document 1", "surrogate"]),
        ("kind: List\nitems: 5\n", None, ["m.yaml", "document 1", "items are 5, not a list"]),
        ("kind: List\nitems: true\n", None, ["m.yaml", "document 1", "items are True, not a list"]),
        ("kind: List\nitems: abc\n", None, ["m.yaml", "document 1", "items are 'abc', not a list"]),
    ],
    ids=[
        "json-10000-deep",
        "yaml-int-4400-digits",
        "retention-days",
        "cache-id-list",
        "json-surrogate",
        "yaml-surrogate",
        "list-items-5",
        "list-items-true",
        "list-items-string",
    ],
)
def test_explain_refuses_the_attack_with_one_line(tmp_path: Path, manifest: str, caches: str | None, words) -> None:
    run = _explain(tmp_path, manifest, caches)
    assert run.returncode == 2 and run.stdout == "", (run.returncode, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    [line] = run.stderr.strip().splitlines()
    assert all(word in line for word in words), line


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ("  creationTimestamp: 2024-13-45\n", "invalid-field"),
        ("  annotations: {k8s.aliyun.com/eci-extra-ephemeral-storage: 1e400}\n", "invalid-storage"),
        ("  annotations: {k8s.aliyun.com/eci-extra-ephemeral-storage: 1e30000000}\n", "invalid-storage"),
        ("  annotations: [a, b]\n", "invalid-field"),
    ],
    ids=["timestamp-month-13", "storage-1e400", "storage-1e30000000", "annotations-list"],
)
def test_explain_reports_the_attack_as_a_finding(tmp_path: Path, extra: str, code: str) -> None:
    run = _explain(tmp_path, ECI_POD.format(extra=extra))
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    [result] = json.loads(run.stdout)["results"]
    assert code in [f["code"] for f in result["findings"]]
    assert result["auto_cache_size_gib"] == 30


# ---- the real store: one malformed object never stops the rest ------------------------------------


def _poisoned_cache() -> dict:
    obj = imagecache("poisoned", ["nginx:1"], cid="imc-p")
    obj["status"]["imageCacheId"] = ["a", "b"]
    return obj


def test_a_cache_with_a_list_id_is_named_and_the_rest_keeps_working() -> None:
    store = ClusterStore(clock=lambda: when(AT))
    store.replace("imagecaches", [imagecache("good", ["redis:7"]), _poisoned_cache()], "1")
    store.replace("pods", [pod(["redis:7"], name="web")], "1")
    store.apply("pods", "ADDED", pod(["redis:7"], name="late"))
    snapshot = store.snapshot()
    assert "status.imageCacheId is ['a', 'b'] (list)" in snapshot.invalid["imagecaches/poisoned"]
    assert {k: r.decision.cache.name for k, r in snapshot.pods.items()} == {
        "default/web": "good",
        "default/late": "good",
    }
    assert invalid_frame(snapshot.invalid, "imagecaches").to_dict("records") == [
        {"Object": "poisoned", "Problem": snapshot.invalid["imagecaches/poisoned"]}
    ]


def test_a_pod_turned_malformed_loses_its_prediction_and_is_named() -> None:
    store = ClusterStore(clock=lambda: when(AT))
    store.replace("imagecaches", [imagecache("good", ["redis:7"])], "1")
    store.apply("pods", "ADDED", pod(["redis:7"], name="web", annotations={EXTRA: "1e400"}))
    [finding] = [f for f in store.snapshot().pods["default/web"].decision.findings if f.code == "invalid-storage"]
    assert "out of range" in finding.message
    broken = pod(["redis:7"], name="web")
    broken["kind"] = 5
    store.apply("pods", "MODIFIED", broken)
    snapshot = store.snapshot()
    assert "default/web" not in snapshot.pods  # not the prediction from before
    assert "no kind" in snapshot.invalid["pods/default/web"]
    listed = pod(["redis:7"], name="web")
    listed["metadata"]["annotations"] = ["a", "b"]
    store.apply("pods", "MODIFIED", listed)
    snapshot = store.snapshot()
    assert snapshot.pods["default/web"].decision.outcome == "hit"
    assert snapshot.invalid["pods/default/web"].startswith("metadata.annotations is ['a', 'b'] (list)")
    store.apply("pods", "DELETED", pod(["redis:7"], name="web"))
    assert "pods/default/web" not in store.snapshot().invalid


@pytest.mark.parametrize("obj", [5, "hello", [1, 2], {"metadata": "hello"}, {"metadata": {"name": ["x"]}}])
def test_an_object_without_a_name_is_noted_and_left_out(obj: object) -> None:
    store = ClusterStore(clock=lambda: when(AT))
    for kind in ("pods", "imagecaches", "events", "deployments"):
        store.apply(kind, "ADDED", obj)
        store.replace(kind, [obj, pod(["nginx"], name="ok") if kind == "pods" else {"metadata": {"name": "ok"}}], "2")
    snapshot = store.snapshot()
    assert list(snapshot.pods) == ["default/ok"] and list(snapshot.caches) == ["ok"]
    assert {k for k in snapshot.invalid} == {
        f"{kind}/<unnamed>" for kind in ("pods", "imagecaches", "events", "deployments")
    }


@pytest.mark.parametrize(
    ("progress", "shown"), [("85%", 85.0), ("1e400%", None), ("nan", None), ("-5%", None), ("abc", None), (None, None)]
)
def test_a_cache_progress_from_the_cluster_is_a_bounded_percentage(progress, shown) -> None:
    assert progress_percent(progress) == shown


def test_report_warns_of_each_malformed_object_once() -> None:
    store = ClusterStore(clock=lambda: when(AT))
    store.replace("imagecaches", [imagecache("good", ["redis:7"]), _poisoned_cache()], "1")
    unreadable = pod(["redis:7"], name="gone")
    unreadable["kind"] = 5
    store.replace("pods", [pod(["redis:7"], name="web"), unreadable], "1")
    said = report_warnings(store.snapshot())
    assert [line for line in said if "poisoned" in line] == [
        "imagecaches/poisoned: status.imageCacheId is ['a', 'b'] (list), not a string; ignored"
    ]
    assert len([line for line in said if "default/gone" in line]) == 1
