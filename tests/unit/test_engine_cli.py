"""`imc explain`, run as a user runs it (a process: exit code, stdout, stderr), per issue 2.

`imc explain --caches PATH [--caches PATH ...] [--at RFC3339] [--format text|json]
[--fail-on miss,fail,off] MANIFEST...`; PATH and MANIFEST are YAML or JSON, multi-document or
a `kind: List`, or `-` for stdin. Exit 0, 1 when --fail-on names a decision that occurred, 2 on
bad input with one clear line on stderr (file, document number, what is wrong), no traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.fixtures.engine.builders import FIXTURES, HIT_EVENTS, MISS_EVENTS, NOT_FOUND, REPO, imagecache

EX1, EX2 = str(FIXTURES / "seed_example1.yaml"), str(FIXTURES / "seed_example2.yaml")
CACHES1 = str(FIXTURES / "caches_example1.yaml")  # kind: List
CACHES2 = str(FIXTURES / "caches_example2.yaml")  # two documents
NGINX_ONLY = str(FIXTURES / "caches_nginx_only.yaml")  # one document
PINNED = "imc-2ze5tm5gehgtiiga****"
NGINX = "registry.cn-shanghai.aliyuncs.com/eci_open/nginx:1.14.2"
BUSYBOX = "registry.cn-shanghai.aliyuncs.com/eci_open/busybox:1.30"
RESULT_KEYS = {"workload", "eci", "decision", "cache", "events", "auto_create", "images", "candidates", "findings"}
CANDIDATE_KEYS = {"name", "id", "verdict", "exact", "partial", "reasons"}


@dataclass
class Run:
    rc: int
    out: str
    err: str

    def results(self) -> list[dict]:
        doc = json.loads(self.out)
        assert set(doc) >= {"results"}
        return doc["results"]


def imc(*args: str, stdin: str | None = None, process: bool = False) -> Run:
    """`imc explain ARGS`: in its own process from the repository when there is stdin to feed (or
    `process`), else through `cli.main` in this process (the same code, without a Python start-up)."""
    if process or stdin is not None:
        proc = subprocess.run(
            [sys.executable, "cli.py", "explain", *args],
            cwd=REPO,
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            timeout=120,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)
    import cli

    out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main(["explain", *args])
        except SystemExit as exc:  # argparse's own errors
            rc = exc.code
    texts = []
    for stream in (out, err):
        stream.flush()
        texts.append(stream.buffer.getvalue().decode())
    return Run(rc, *texts)


def explain_json(*args: str, stdin: str | None = None) -> list[dict]:
    run = imc("--format", "json", *args, stdin=stdin)
    assert run.rc == 0, run.err
    return run.results()


def test_example1_json_shape_and_hit() -> None:
    [r] = explain_json("--caches", CACHES1, EX1)
    assert set(r) >= RESULT_KEYS
    assert r["workload"] == "Deployment/default/test"
    assert r["eci"] is True
    assert r["decision"] == "hit"
    assert r["cache"] == {"name": "eci-open-both", "id": "imc-2zebothbothboth0001"}
    assert r["events"] == list(HIT_EVENTS)
    assert r["auto_create"] is False
    assert sorted(r["images"]) == sorted([NGINX, BUSYBOX])
    assert sorted(c["name"] for c in r["candidates"]) == ["eci-open-both", "eci-open-nginx-only"]
    for c in r["candidates"]:
        assert set(c) >= CANDIDATE_KEYS
        assert c["verdict"] in {"chosen", "outranked", "rejected"}
        assert isinstance(c["exact"], int) and isinstance(c["partial"], int)
        assert isinstance(c["reasons"], list)
    verdicts = {c["name"]: (c["verdict"], c["id"], c["exact"]) for c in r["candidates"]}
    assert verdicts == {
        "eci-open-both": ("chosen", "imc-2zebothbothboth0001", 2),
        "eci-open-nginx-only": ("rejected", "imc-2zenginxonly000002", 1),
    }
    for f in r["findings"]:
        assert set(f) >= {"severity", "code", "message"} and f["severity"] in {"error", "warning", "info"}


def test_example1_misses_a_cache_holding_only_nginx() -> None:
    [r] = explain_json("--caches", NGINX_ONLY, EX1)
    assert (r["decision"], r["cache"], r["events"], r["auto_create"]) == ("miss", None, list(MISS_EVENTS), True)
    assert [c["verdict"] for c in r["candidates"]] == ["rejected"]


def test_example2_hits_the_pinned_cache_from_a_multi_document_file() -> None:
    [r] = explain_json("--caches", CACHES2, EX2)
    assert r["decision"] == "hit"
    assert r["cache"] == {"name": "pinned-by-example2", "id": PINNED}
    assert r["events"] == list(HIT_EVENTS)


def test_example2_fails_when_the_pinned_id_is_absent() -> None:
    [r] = explain_json("--caches", NGINX_ONLY, EX2)
    assert r["decision"] == "fail"
    assert r["cache"]["id"] == PINNED
    assert r["events"] == [NOT_FOUND]
    assert r["auto_create"] is False


def test_several_manifests_and_caches_give_results_in_input_order() -> None:
    results = explain_json("--caches", CACHES1, "--caches", CACHES2, EX2, EX1)
    # Example 1 sees all four caches: "unrelated" (30 GiB) holds both images too and its size is
    # closest to the 30 GiB temporary storage, so it outranks eci-open-both (20 GiB)
    assert [(r["decision"], r["cache"]["name"]) for r in results] == [
        ("hit", "pinned-by-example2"),
        ("hit", "unrelated"),
    ]
    verdicts = {c["name"]: c["verdict"] for c in results[1]["candidates"]}
    assert verdicts == {
        "unrelated": "chosen",
        "eci-open-both": "outranked",
        "eci-open-nginx-only": "rejected",
        "pinned-by-example2": "rejected",
    }
    assert len(results[0]["candidates"]) == 4  # every cache of both files


def test_manifest_as_a_kind_list(tmp_path: Path) -> None:
    items = [yaml.safe_load(Path(p).read_text()) for p in (EX1, EX2)]
    listing = tmp_path / "deployments.yaml"
    listing.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    assert [r["decision"] for r in explain_json("--caches", NGINX_ONLY, str(listing))] == ["miss", "fail"]


def test_json_manifest_and_caches(tmp_path: Path) -> None:
    manifest, caches = tmp_path / "deploy.json", tmp_path / "caches.json"
    manifest.write_text(json.dumps(yaml.safe_load(Path(EX1).read_text())))
    caches.write_text(json.dumps(yaml.safe_load(Path(CACHES1).read_text())))
    [r] = explain_json("--caches", str(caches), str(manifest))
    assert r["cache"]["name"] == "eci-open-both"


def test_caches_from_stdin() -> None:
    [r] = explain_json("--caches", "-", EX1, stdin=Path(CACHES1).read_text())
    assert r["cache"]["name"] == "eci-open-both"


def test_manifest_from_stdin() -> None:
    [r] = explain_json("--caches", CACHES1, "-", stdin=Path(EX1).read_text())
    assert (r["workload"], r["decision"]) == ("Deployment/default/test", "hit")


@pytest.mark.parametrize(
    ("at", "decision"),
    [("2026-11-26T00:00:00Z", "hit"), ("2026-11-28T00:00:00Z", "miss"), ("2026-11-26T08:00:00+08:00", "hit")],
)
def test_at_decides_expiry(tmp_path: Path, at: str, decision: str) -> None:
    caches = tmp_path / "caches.yaml"
    both = imagecache("both", [NGINX, BUSYBOX], created="2026-11-01T00:00:00Z", expire="2026-11-27T00:00:00Z")
    caches.write_text(yaml.safe_dump(both))
    [r] = explain_json("--caches", str(caches), "--at", at, EX1)
    assert r["decision"] == decision


@pytest.mark.parametrize(
    ("manifest", "caches", "fail_on", "rc"),
    [
        (EX1, NGINX_ONLY, "miss", 1),
        (EX1, CACHES1, "miss", 0),
        (EX1, NGINX_ONLY, "fail,off", 0),
        (EX2, NGINX_ONLY, "fail", 1),
        (EX2, NGINX_ONLY, "miss,fail,off", 1),
        (EX2, CACHES2, "miss,fail,off", 0),
    ],
    ids=["miss-on-miss", "hit-on-miss", "miss-on-fail-off", "fail-on-fail", "fail-on-all", "hit-on-all"],
)
def test_fail_on(manifest: str, caches: str, fail_on: str, rc: int) -> None:
    run = imc("--format", "json", "--caches", caches, "--fail-on", fail_on, manifest)
    assert run.rc == rc, run.err
    assert len(run.results()) == 1  # the report is printed whatever the exit code


def test_text_format_names_decision_and_cache() -> None:
    run = imc("--caches", CACHES1, EX1)
    assert run.rc == 0, run.err
    assert "eci-open-both" in run.out and "hit" in run.out.lower()
    assert "Deployment/default/test" in run.out
    # every cache is told, with why the other one was not chosen
    assert "eci-open-nginx-only" in run.out and "1 of 2" in run.out


POD = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: nginx}]\n"


@pytest.mark.parametrize(
    ("files", "args", "words"),
    [
        ({"broken.yaml": "kind: Pod\nmetadata: {name: [\n"}, ["--caches", CACHES1, "broken.yaml"], ["broken.yaml"]),
        (
            {"second.yaml": POD + "---\nkind: Pod\nmetadata:\n  name: x\n bad: indent\n"},
            ["--caches", CACHES1, "second.yaml"],
            ["second.yaml", r"\b2\b"],
        ),
        (
            {"kinds.yaml": POD + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"},
            ["--caches", CACHES1, "kinds.yaml"],
            ["kinds.yaml", "ConfigMap", r"\b2\b"],
        ),
        ({}, ["--caches", CACHES1, "nope.yaml"], ["nope.yaml"]),
        ({}, ["--caches", "gone.yaml", EX1], ["gone.yaml"]),
        ({"badcaches.yaml": "items: [\n"}, ["--caches", "badcaches.yaml", EX1], ["badcaches.yaml"]),
    ],
    ids=["yaml-does-not-parse", "second-document-broken", "unknown-kind", "missing-manifest",
         "missing-caches", "caches-do-not-parse"],
)
def test_bad_input_exits_2_with_one_clear_line(tmp_path: Path, files: dict, args: list, words: list) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    run = imc(*[str(tmp_path / a) if a.endswith(".yaml") and "/" not in a else a for a in args])
    assert run.rc == 2, (run.rc, run.out, run.err)
    assert "Traceback" not in run.err
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    for word in words:
        assert re.search(word, lines[0]), (word, lines[0])


def test_bad_input_in_a_real_process_is_one_line_and_no_traceback(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: Pod\nmetadata: {name: [\n")
    run = imc("--caches", CACHES1, str(broken), process=True)
    assert (run.rc, run.out) == (2, "")
    assert "Traceback" not in run.err
    assert len(run.err.strip().splitlines()) == 1 and "broken.yaml" in run.err


def test_a_real_process_prints_the_json_report() -> None:
    run = imc("--format", "json", "--caches", CACHES1, EX1, process=True)
    assert run.rc == 0, run.err
    assert [r["decision"] for r in run.results()] == ["hit"]


@pytest.mark.parametrize(
    ("option", "value"), [("--at", "yesterday"), ("--fail-on", "hits"), ("--format", "xml")]
)
def test_bad_option_exits_2_without_traceback(option: str, value: str) -> None:
    run = imc("--caches", CACHES1, option, value, EX1)
    assert run.rc == 2
    assert "Traceback" not in run.err and value in run.err


BLOCKED = ("kubernetes", "uvicorn", "streamlit")
BLOCKER = f"""
import sys

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ImportError(f"{{name}} is blocked for this test")
        return None

sys.meta_path.insert(0, Blocker())
import cli
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("args", [["explain", "--help"], ["--help"], ["explain", "--format", "json", "--caches",
                                                                      CACHES1, EX1]])
def test_explain_runs_without_the_kubernetes_client_uvicorn_or_streamlit(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-c", BLOCKER, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    if "--help" in args:
        assert proc.stdout.startswith("usage: imc")
    else:
        assert [result["decision"] for result in json.loads(proc.stdout)["results"]] == ["hit"]


def test_the_blocker_blocks() -> None:
    proc = subprocess.run([sys.executable, "-c", BLOCKER, "report", "--kubeconfig", "/nonexistent"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "kubernetes is blocked" in proc.stderr


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_explain_prints_non_ascii_names_to_a_terminal_that_cannot_show_them(tmp_path: Path, encoding: str) -> None:
    name = "web-名前-ü-😀"
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(yaml.safe_dump({"kind": "Pod", "metadata": {"name": name},
                                        "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}))
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    runs = [subprocess.run([sys.executable, "cli.py", "explain", *fmt, str(manifest)], cwd=REPO, env=env,
                           capture_output=True, timeout=120) for fmt in ([], ["--format", "json"])]
    for run in runs:
        assert (run.returncode, run.stderr) == (0, b"")
    assert runs[0].stdout.decode(encoding).splitlines()[0].startswith("Pod/default/web-\\u540d\\u524d-")
    assert json.loads(runs[1].stdout.decode(encoding))["results"][0]["workload"] == f"Pod/default/{name}"


# --without NAME / --with FILE: decide against the caches as changed, print the impact; --fail-on as ever (issue 22)
PROPOSED_BOTH = imagecache("proposed-both", [NGINX, BUSYBOX])


@pytest.mark.parametrize(
    ("args", "rc", "kind"),
    [
        (["--caches", CACHES2, "--without", "pinned-by-example2", "--fail-on", "fail", EX2], 1, "pin-fails"),
        (["--caches", CACHES2, "--without", "unrelated", "--fail-on", "fail", EX2], 0, None),
        (["--caches", CACHES1, "--without", "eci-open-both", "--fail-on", "miss", EX1], 1, "hit-to-miss"),
        (["--caches", NGINX_ONLY, "--with", "proposed.yaml", "--fail-on", "miss", EX1], 0, "now-hits"),
    ],
    ids=["deleting-a-pinned-cache-fails", "deleting-another-passes", "deleting-the-hit-misses",
         "a-proposed-cache-hits"],
)
def test_without_and_with_exit_codes(tmp_path: Path, args: list, rc: int, kind: str | None) -> None:
    (tmp_path / "proposed.yaml").write_text(yaml.safe_dump(PROPOSED_BOTH))
    args = [str(tmp_path / a) if a == "proposed.yaml" else a for a in args]
    run = imc("--format", "json", *args)
    assert run.rc == rc, run.err
    impact = json.loads(run.out)["impact"]
    assert [item["kind"] for item in impact["workloads"]] == ([kind] if kind else [])
    assert impact["breaks_pins"] is (kind == "pin-fails")


def test_without_prints_the_impact_as_text() -> None:
    run = imc("--caches", CACHES2, "--without", "pinned-by-example2", EX2)
    assert run.rc == 0, run.err
    assert "impact of deleting pinned-by-example2: 1 pinned → fail" in run.out
    assert "hit on pinned-by-example2 → fail (ImageCacheNotFound" in run.out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--caches", CACHES2, "--without", "nope", EX2], ["--without", "no cache named nope"]),
        (["--caches", CACHES2, "--with", "dup.yaml", EX2], ["--with", "pinned-by-example2 exists already"]),
        (["--caches", CACHES2, "--with", "gone.yaml", EX2], ["gone.yaml"]),
        (["--caches", CACHES2, "--with", EX1, EX2], ["not an ImageCache"]),
    ],
    ids=["unknown-name", "duplicate-proposed-name", "missing-file", "not-a-cache"],
)
def test_bad_without_or_with_exits_2_with_one_line(tmp_path: Path, args: list, words: list) -> None:
    (tmp_path / "dup.yaml").write_text(yaml.safe_dump(imagecache("pinned-by-example2", [NGINX])))
    args = [str(tmp_path / a) if a in ("dup.yaml", "gone.yaml") else a for a in args]
    run = imc(*args)
    assert run.rc == 2 and run.out == "", (run.rc, run.out, run.err)
    assert len(run.err.strip().splitlines()) == 1 and "Traceback" not in run.err
    for word in words:
        assert word in run.err, run.err
