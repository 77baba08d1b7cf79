"""`imc report` against `imc sim`: every ECI pod explained, one clear line when the cluster is unreachable."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import yaml
from kubernetes import client

from core.policy import IMC_ID
from core.timeutil import parse_time
from core.workloads import is_eci_pod
from kube.report import results, take_snapshot
from kube.store import ClusterStore
from sim.scenarios import deployment
from tests.integration.conftest import new_api_client, poll, raw_list, run_kubectl

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def imc_report(*args: str, timeout: float = 120, encoding: str | None = None,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `imc report` as a user would (with stdout in `encoding`, when given, and `env` added)."""
    extra = {**({"PYTHONIOENCODING": encoding} if encoding else {}), **(env or {})}
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "report", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(ROOT),
        env={**os.environ, **extra} if extra else None,
    )


@pytest.mark.xdist_group("scale")  # shares the session's scale_sim
def test_report_explains_every_pod_of_the_scale_cluster(scale_sim):
    sim = scale_sim
    result = imc_report("--kubeconfig", sim.kubeconfig, "--format", "json")
    assert result.returncode == 0, result.stderr
    items = orjson.loads(result.stdout)["results"]
    api_client = new_api_client(sim)
    pods = raw_list(api_client, "/api/v1/pods", [])["items"]
    api_client.close()
    eci = {
        f"{p['metadata']['namespace']}/{p['metadata']['name']}"
        for p in pods
        if is_eci_pod(p["metadata"].get("labels") or {}, p["spec"].get("nodeName"))
    }
    assert len(eci) >= 10_000
    assert {item["pod"] for item in items} == eci
    first = items[0]
    for field in ("workload", "decision", "cache", "events", "candidates", "findings", "actual", "disagrees"):
        assert field in first
    assert {item["decision"] for item in items} <= {"hit", "miss", "fail", "off"}


def test_report_table_and_csv_of_one_namespace_as_the_viewer(sim_server, namespace, api_client):
    image = f"registry.example.com/{namespace}/web:1"
    custom = client.CustomObjectsApi(api_client)
    group = ("eci.alibabacloud.com", "v1", "imagecaches")
    custom.create_cluster_custom_object(*group, {"metadata": {"name": f"{namespace}-web"}, "spec": {"images": [image]}})

    def ready() -> dict | None:
        obj = custom.get_cluster_custom_object(*group, f"{namespace}-web")
        return obj if (obj.get("status") or {}).get("phase") == "Ready" else None

    ready_since = parse_time(poll(ready, 20, "the cache to be Ready")["status"]["lastUpdatedTime"])
    # one-second timestamps: a cache Ready in a pod's own second counts as Ready after it
    poll(lambda: datetime.now(UTC) >= ready_since + timedelta(seconds=1), 5, "the second after Ready")
    client.AppsV1Api(api_client).create_namespaced_deployment(namespace, deployment("rep", [image], replicas=2))

    def both_hit() -> bool:
        listed = orjson.loads(run_kubectl(sim_server, "get", "events", "-n", namespace, "-o", "json").stdout)
        return sum(1 for e in listed["items"] if e["reason"] == "SuccessfulHitImageCache") >= 2

    poll(both_hit, 20, "ECI to decide both pods")
    args = ("--kubeconfig", sim_server.kubeconfig, "--context", "sim-viewer", "-n", namespace)
    result = imc_report(*args, "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["namespace"], r["decision"], r["cache"], r["actual"], r["disagrees"]) for r in rows] == [
        (namespace, "hit", f"{namespace}-web", "hit", "")
    ] * 2
    table = imc_report(*args)
    assert table.returncode == 0
    assert "2 ECI pods: 2 hit; ECI reported on 2, 0 disagree with the prediction" in table.stdout.splitlines()


def test_report_on_an_unreachable_cluster_exits_2_with_one_line(sim_server, tmp_path):
    config = yaml.safe_load(Path(sim_server.kubeconfig).read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = "https://127.0.0.1:9"
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    result = imc_report("--kubeconfig", str(path), "--format", "json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("imc report: cannot reach https://127.0.0.1:9")


def test_report_prints_non_ascii_text_to_an_ascii_terminal(sim_server, namespace, api_client):
    value = "是-ü-😀"
    pod = {"metadata": {"name": "odd", "labels": {"alibabacloud.com/eci": "true"},
                        "annotations": {"k8s.aliyun.com/eci-image-cache": value}},
           "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]}}
    client.CoreV1Api(api_client).create_namespaced_pod(namespace, pod)
    args = ("--kubeconfig", sim_server.kubeconfig, "-n", namespace)
    result = imc_report(*args, "--format", "json", encoding="ascii")
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    [item] = orjson.loads(result.stdout)["results"]
    assert any(value in finding["message"] for finding in item["findings"]), item["findings"]
    for fmt in ("table", "csv"):
        assert imc_report(*args, "--format", fmt, encoding="ascii").returncode == 0


def test_the_snapshot_reads_what_whole_lists_give(sim_server, namespace, api_client):
    """The report leaves on the server the events it never reads (Pulling here): its results are the same as from
    every object of the namespace listed whole."""
    cached, pulled = f"registry.example.com/{namespace}/web:1", f"registry.example.com/{namespace}/side:1"
    custom = client.CustomObjectsApi(api_client)
    group = ("eci.alibabacloud.com", "v1", "imagecaches")
    custom.create_cluster_custom_object(*group, {"metadata": {"name": f"{namespace}-web"},
                                                 "spec": {"images": [cached]}})

    def ready() -> dict | None:
        status = custom.get_cluster_custom_object(*group, f"{namespace}-web").get("status") or {}
        return status if status.get("phase") == "Ready" else None

    ready_since = parse_time(poll(ready, 20, "the cache to be Ready")["lastUpdatedTime"])
    # one-second timestamps: a cache Ready in a pod's own second counts as Ready after it
    poll(lambda: datetime.now(UTC) >= ready_since + timedelta(seconds=1), 5, "the second after Ready")
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_deployment(namespace, deployment("hits", [cached], replicas=2))
    apps.create_namespaced_deployment(namespace, deployment("pulls", [pulled, cached], replicas=2))

    def listed(*args: str) -> list[dict]:
        return orjson.loads(run_kubectl(sim_server, "get", *args, "-o", "json").stdout)["items"]

    def started() -> list[dict] | None:
        items = results(take_snapshot(api_client, namespace))
        done = len(items) == 4 and all(item["start_seconds"] is not None and item["actual"] for item in items)
        return items if done else None

    poll(started, 30, "every pod started, with ECI's word on it")

    def same() -> bool:
        store = ClusterStore()
        for kind, args in (("imagecaches", ()), ("events", ("-n", namespace)), ("pods", ("-n", namespace))):
            store.replace(kind, listed(kind, *args), "1")
        return results(take_snapshot(api_client, namespace)) == results(store.snapshot())

    poll(same, 20, "the narrowed snapshot's results to be those of the whole lists")
    assert any(event["reason"] == "Pulling" for event in listed("events", "-n", namespace))


def test_report_ends_its_process_after_the_exit_handlers(sim_server, namespace, tmp_path):
    """It leaves its objects to the OS, not its files: the client's copy of the kubeconfig's CA is removed."""
    result = imc_report("--kubeconfig", sim_server.kubeconfig, "-n", namespace, "--format", "json",
                        env={"TMPDIR": str(tmp_path)})
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    printed = orjson.loads(result.stdout)
    assert printed["results"] == [] and set(printed) == {"results", "figures"}, printed
    assert "certificate-authority-data" in Path(sim_server.kubeconfig).read_text()  # the client writes it to a file
    assert list(tmp_path.iterdir()) == []


def test_report_csv_quotes_a_formula_so_a_spreadsheet_shows_it_as_text(sim_server, namespace, api_client):
    """Issue 18 item 7 (OWASP CSV injection): a pin annotation written as a formula reaches the CSV as text."""
    formula = '=HYPERLINK("http://x","y")'
    pod = {"metadata": {"name": "pinned", "labels": {"alibabacloud.com/eci": "true"},
                        "annotations": {IMC_ID: formula}},
           "spec": {"containers": [{"name": "main", "image": "busybox:1.36", "imagePullPolicy": "IfNotPresent"}]}}
    client.CoreV1Api(api_client).create_namespaced_pod(namespace, pod)
    result = imc_report("--kubeconfig", sim_server.kubeconfig, "-n", namespace, "--format", "csv")
    assert result.returncode == 0, result.stderr
    [row] = csv.DictReader(io.StringIO(result.stdout))
    assert (row["pod"], row["decision"], row["cache"]) == ("pinned", "fail", "'" + formula)


def test_report_window_figures_come_from_the_history_file_when_kept_else_from_live_pods(sim_server, namespace,
                                                                                         tmp_path):
    from kube.ledger import Ledger
    from kube.ledger_rows import Batch
    from tests.unit.test_figures import ROWS, T

    now = datetime.now(UTC).timestamp()
    path = tmp_path / "history.sqlite3"
    ledger = Ledger(path)
    rows = [row._replace(cluster="itest", namespace=namespace, created=now - (T - row.created)) for row in ROWS]
    assert ledger.store("itest", Batch(pods=rows), now)
    ledger.close()
    args = ("--kubeconfig", sim_server.kubeconfig, "--namespace", namespace, "--window", "24h")
    kept = imc_report(*args, env={"IMC_HISTORY_PATH": str(path), "IMC_CLUSTER": "itest"})
    assert kept.returncode == 0, kept.stderr
    assert "Last 24 h (pods created in the last 24 h, from the history file):" in kept.stdout
    assert "8 pods decided (4 hit, 2 miss, 1 fail, 1 off); cache hit rate 57% of 7 pods" in kept.stdout
    figures = orjson.loads(imc_report(*args, "--format", "json", env={"IMC_HISTORY_PATH": str(path),
                                                                     "IMC_CLUSTER": "itest"}).stdout)["figures"]
    assert (figures["hit_start"], figures["saved_seconds"], figures["paid_more"]) == (
        {"median": 3.85, "p90": pytest.approx(22.35), "count": 4}, 38.0, 1)
    off = imc_report(*args, env={"IMC_HISTORY": "off"})  # the namespace has no pods: nothing to count
    assert off.returncode == 0, off.stderr
    assert "Last 24 h (pods created in the last 24 h that exist now (history is off)):" in off.stdout
    assert "0 pods decided" in off.stdout and "cache hit rate – of 0 pods" in off.stdout
    assert imc_report(*args[:-1], "2w").returncode == 2  # an unknown window: argparse's one line
