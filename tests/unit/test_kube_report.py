"""`imc report` results and formats, from a store filled in-process (no server)."""

from __future__ import annotations

import argparse
import csv
import io

import orjson

import cli
from core import render
from core.figures import figures_dict
from core.matching import CacheIndex, explain
from kube import report
from kube.slim import KEPT_EVENT_REASONS
from kube.store import ClusterStore
from kube.watch import EVENT_SELECTORS
from tests.fixtures.engine.builders import PIN, imagecache
from tests.unit.test_kube_store import eci_pod, event, pulled


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
    assert web["actual"] == {"outcome": "hit", "cache_id": "imc-web-cache", "reasons": ["SuccessfulHitImageCache"],
                             "cache_gone": False}
    assert web["disagrees"] is False
    assert items["default/api"]["decision"] == "hit" and items["default/api"]["disagrees"] is True
    assert items["default/pinned"]["decision"] == "fail" and items["default/pinned"]["actual"] is None
    assert items["default/pinned"]["cache"] == {"name": None, "id": "imc-gone"}


def test_json_format_is_a_results_object():
    items = report.results(snapshot())
    data = orjson.loads(render.report_json(items))
    assert list(data) == ["results"] and len(data["results"]) == 3


def test_table_and_csv_formats():
    items = report.results(snapshot())
    table = render.report_table(items)
    lines = table.splitlines()
    assert lines[0].split() == ["NAMESPACE", "POD", "DECISION", "CACHE", "ACTUAL", "ACTUAL", "CACHE", "DISAGREES"]
    assert lines[1].split() == ["default", "api", "hit", "web-cache", "miss", "yes"]
    assert lines[-1] == "3 ECI pods: 1 fail, 2 hit; ECI reported on 2, 1 disagrees with the prediction"
    rows = list(csv.DictReader(io.StringIO(render.report_csv(items))))
    assert rows[2] == {
        "namespace": "default",
        "pod": "web",
        "decision": "hit",
        "cache": "web-cache",
        "actual": "hit",
        "actual_cache": "imc-web-cache",
        "disagrees": "",
        # no start yet, no pull seen: nothing known, and the saving unknown rather than zero
        "start_seconds": "",
        "pull_seconds": "",
        "pulls": "",
        "saved_seconds": "",
        "saved_from_pulls": "",
        "waiting_reason": "",
    }


def test_unreadable_kubeconfig_exits_2_with_one_line(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    cli.add_report_arguments(parser)
    missing = tmp_path / "nope.yaml"
    assert cli.run_report(parser.parse_args(["--kubeconfig", str(missing)])) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(missing) in err and "does not exist" in err


def test_start_pulls_and_saving_in_json_and_csv():
    store = ClusterStore()
    started = {"phase": "Running", "containerStatuses": [{"name": "c0", "state": {"running": {}}}]}
    pods = []
    for name, second in (("miss1", "30"), ("miss2", "40"), ("hit", "05"), ("new", None)):
        obj = eci_pod(name, ["nginx:1.25"])
        if second:
            obj["status"] = {
                **started,
                "containerStatuses": [
                    {"name": "c0", "state": {"running": {"startedAt": f"2026-11-28T08:00:{second}Z"}}}
                ],
            }
        pods.append(obj)
    store.replace("pods", pods, "1")
    store.replace(
        "events",
        [
            event("miss1", "ImageCacheMissed"),
            event("miss2", "ImageCacheMissed"),
            event("hit", "SuccessfulHitImageCache", "hit image cache imc-x"),
            pulled("miss1", 'Successfully pulled image "nginx:1.25" in 26s (26s including waiting)'),
            pulled("miss2", 'Successfully pulled image "nginx:1.25" in 36.5s (36.5s including waiting)'),
            pulled("hit", 'Container image "nginx:1.25" already present on machine'),
        ],
        "1",
    )
    items = {i["name"]: i for i in orjson.loads(render.report_json(report.results(store.snapshot())))["results"]}
    assert items["miss1"]["start_seconds"] == 30.0 and items["miss1"]["saved_seconds"] is None
    assert items["miss2"]["pulls"] == [{"image": "docker.io/library/nginx:1.25", "seconds": 36.5, "source": "pulled"}]
    hit = items["hit"]
    assert (hit["start_seconds"], hit["pull_seconds"], hit["saved_seconds"], hit["saved_from_pulls"]) == (
        5.0,
        0.0,
        31.25,
        2,
    )
    assert items["new"]["start_seconds"] is None and items["new"]["pulls"] == []
    rows = {r["pod"]: r for r in csv.DictReader(io.StringIO(render.report_csv(list(items.values()))))}
    assert (
        rows["hit"]["saved_seconds"] == "31.25" and rows["hit"]["pulls"] == "docker.io/library/nginx:1.25=0.0s:present"
    )
    assert rows["new"]["start_seconds"] == "" and rows["miss1"]["pull_seconds"] == "26.0"


def test_the_snapshot_leaves_on_the_server_only_events_the_store_never_reads():
    first, *fallbacks = report.SNAPSHOT_EVENT_SELECTORS
    clauses = first.split(",")
    assert clauses[0] == EVENT_SELECTORS[0]  # the Pod events the watch lists
    left_out = {clause.removeprefix("reason!=") for clause in clauses[1:]}
    assert all(clause.startswith("reason!=") for clause in clauses[1:]) and left_out
    assert not left_out & KEPT_EVENT_REASONS
    assert tuple(fallbacks) == EVENT_SELECTORS  # a server that refuses the clauses: the watch's selectors


def test_csv_cells_that_a_spreadsheet_would_run_get_a_quote_and_numbers_stay_numbers():
    """OWASP's CSV-injection rule for text; a finite number (negative too) is data and is written as it is."""
    cells = ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "a=b", "", None, -1.5, 2, float("-inf"), True]
    assert [render.csv_cell(value) for value in cells] == [
        "'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "'\rx", "a=b", "", "", "-1.5", "2", "'-inf", "True"]
    [item] = [i for i in report.results(snapshot()) if i["name"] == "web"]
    item = {**item, "namespace": "=cmd|' /C calc'!A0", "start_seconds": -0.5}
    [row] = csv.DictReader(io.StringIO(render.report_csv([item])))
    assert (row["namespace"], row["start_seconds"]) == ("'=cmd|' /C calc'!A0", "-0.5")


def test_a_hit_on_a_cache_deleted_before_the_report_is_no_disagreement():
    store = ClusterStore()
    store.replace("imagecaches", [imagecache("web-cache", ["nginx:1.25"])], "1")
    store.replace("events", [event("cart", "SuccessfulHitImageCache", "hit image cache imc-2ze12yz, eci")], "1")
    store.replace("pods", [eci_pod("cart", ["nginx:1.25"])], "1")
    items = report.results(store.snapshot())
    assert items[0]["actual"]["cache_gone"] is True and items[0]["disagrees"] is False
    table = render.report_table(items)
    assert "imc-2ze12yz (no longer exists)" in table
    assert "0 disagree with the prediction" in table


def whole_json(items, figures=None):
    """The JSON document as one indented orjson dump: what `report_json_chunks` must equal byte for byte."""
    document = {"results": items} if figures is None else {"results": items, "figures": figures_dict(figures)}
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def test_json_written_in_pieces_is_the_whole_documents_bytes():
    items = report.results(snapshot())
    figures = report.report_figures(snapshot(), "24 h", 1_796_486_400.0)
    odd = {"": [], "empty": {}, "text": "a\nb \u2028 é \"q\"", "nested": [{"x": [1, {"y": None}]}], "n": 1.5}
    many = [dict(odd, n=i) for i in range(2 * render.ITEMS_A_CHUNK + 1)]
    for case in ([], [{}], items, many):
        for fig in (None, figures):
            pieces = list(render.report_json_chunks(iter(case), fig))
            assert b"".join(pieces) == whole_json(case, fig)
            assert render.report_json(case, fig) == whole_json(case, fig).decode()
    assert len(list(render.report_json_chunks(iter(many)))) == 3 + 3  # opening, 3 batches, closing bracket, end


def test_csv_written_in_pieces_is_one_writers_text():
    item = report.results(snapshot())[0]
    many = [dict(item, name=f"p{i}") for i in range(render.ITEMS_A_CHUNK + 3)]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=render.REPORT_COLUMNS + render.REPORT_START_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(render.report_csv_row(i) for i in many)
    assert "".join(render.report_csv_chunks(iter(many))) == render.report_csv(many) == out.getvalue()


def test_json_pieces_go_to_stdout_as_bytes_and_to_a_text_only_stream_as_text(monkeypatch):
    raw = io.BytesIO()
    utf8 = io.TextIOWrapper(raw, encoding="utf-8")
    monkeypatch.setattr("sys.stdout", utf8)
    cli.write_pieces([b'{"a": "\xc3\xa9"}', "\n"])
    utf8.flush()
    assert raw.getvalue() == '{"a": "é"}\n'.encode()
    text = io.StringIO()
    monkeypatch.setattr("sys.stdout", text)
    cli.write_pieces([b'{"a": "\xc3\xa9"}'])
    assert text.getvalue() == '{"a": "é"}'


def test_events_stored_from_an_iterator_as_from_a_list():
    """`take_snapshot` stores events as their pages arrive: the store reads an iterator as it reads the list."""
    events = [event("web", "SuccessfulHitImageCache", "hit image cache imc-web-cache, eci"),
              pulled("web", 'Successfully pulled image "nginx:1.25" in 2.5s (2.5s including waiting)'),
              {"metadata": {}}, event("api", "ImageCacheMissed")]
    stores = []
    for given in (events, iter(events)):
        store = ClusterStore()
        store.replace("imagecaches", [imagecache("web-cache", ["nginx:1.25"])], "1")
        store.replace("events", given, "7")
        store.replace("pods", [eci_pod("web", ["nginx:1.25"]), eci_pod("api", ["nginx:1.25"])], "1")
        stores.append(store.snapshot())
    listed, iterated = stores
    assert report.results(listed) == report.results(iterated)
    assert listed.invalid == iterated.invalid and "events/<unnamed>" in iterated.invalid
    assert iterated.pods["default/web"].start is not None and iterated.pods["default/web"].start.pulls
