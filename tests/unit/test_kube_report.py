"""`imc report` results and formats, from a store filled in-process (no server)."""

from __future__ import annotations

import argparse
import csv
import io

import orjson

from core.matching import CacheIndex, explain
from kube import report
from kube.store import ClusterStore
from tests.fixtures.engine.builders import PIN, imagecache
from tests.unit.test_kube_store import eci_pod, event


def snapshot():
    """Three ECI pods (hit and agreed, hit but ECI missed, pinned to a missing cache), one non-ECI pod."""
    store = ClusterStore()
    store.replace(
        "imagecaches",
        [imagecache("web-cache", ["nginx:1.25", "nginx:1.24"]), imagecache("far", ["postgres:16"])],
        "1",
    )
    store.replace(
        "pods",
        [
            eci_pod("web", ["nginx:1.25"]),
            eci_pod("api", ["nginx:1.25", "redis:7"]),
            eci_pod("pinned", ["redis:7"], annotations={PIN: "imc-gone"}),
            eci_pod("plain", ["nginx:1.25"], labels={}),
        ],
        "1",
    )
    store.replace(
        "events",
        [
            event("web", "SuccessfulHitImageCache", "hit image cache imc-web-cache, eci"),
            event("api", "ImageCacheMissed"),
        ],
        "1",
    )
    return store.snapshot()


def test_results_carry_explain_fields_actual_and_disagreement():
    snap = snapshot()
    items = {item["pod"]: item for item in report.results(snap)}
    assert list(items) == ["default/api", "default/pinned", "default/web"]  # sorted, non-ECI left out
    web = items["default/web"]
    record = snap.pods["default/web"]
    expected = explain(record.template, CacheIndex(snap.caches.values()), record.created).to_dict()
    # the same fields and decision as `imc explain`; candidates only the caches that can matter
    assert {k: v for k, v in web.items() if k != "candidates"}.items() >= {
        k: v for k, v in expected.items() if k != "candidates"
    }.items()
    assert [c["name"] for c in web["candidates"]] == ["web-cache"]
    assert web["candidates_omitted"] == 1
    assert web["actual"] == {"outcome": "hit", "cache_id": "imc-web-cache", "reasons": ["SuccessfulHitImageCache"]}
    assert web["disagrees"] is False
    assert items["default/api"]["decision"] == "hit" and items["default/api"]["disagrees"] is True
    assert items["default/pinned"]["decision"] == "fail" and items["default/pinned"]["actual"] is None
    assert items["default/pinned"]["cache"] == {"name": None, "id": "imc-gone"}


def test_json_format_is_a_results_object():
    items = report.results(snapshot())
    data = orjson.loads(report.format_json(items))
    assert list(data) == ["results"] and len(data["results"]) == 3


def test_table_and_csv_formats():
    items = report.results(snapshot())
    table = report.format_table(items)
    lines = table.splitlines()
    assert lines[0].split() == ["NAMESPACE", "POD", "DECISION", "CACHE", "ACTUAL", "ACTUAL", "CACHE", "DISAGREES"]
    assert lines[1].split() == ["default", "api", "hit", "web-cache", "miss", "yes"]
    assert lines[-1] == "3 ECI pods: 1 fail, 2 hit; ECI reported on 2, 1 disagrees with the prediction"
    rows = list(csv.DictReader(io.StringIO(report.format_csv(items))))
    assert rows[2] == {
        "namespace": "default",
        "pod": "web",
        "decision": "hit",
        "cache": "web-cache",
        "actual": "hit",
        "actual_cache": "imc-web-cache",
        "disagrees": "",
    }


def test_unreadable_kubeconfig_exits_2_with_one_line(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    report.add_arguments(parser)
    missing = tmp_path / "nope.yaml"
    assert report.run(parser.parse_args(["--kubeconfig", str(missing)])) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(missing) in err and "does not exist" in err
