"""The demo fleet (`imc sim --clusters 2`) and `imc report` over several contexts, against real sims and clients."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
import uuid
from pathlib import Path

import orjson
import pytest
import yaml
from kubernetes import client

from bench.waits import free_port, poll, scaled
from sim.apiserver.people import DEMO_VIEWER, DEMO_WRITER
from sim.launch import FLEET_CONTEXTS, _answers_version
from sim.server import ServedCluster, SimConfig, serve
from tests.integration.conftest import TEST_SPEED, new_api_client, run_kubectl
from tests.integration.test_report import imc_report

pytestmark = pytest.mark.integration
NO_HISTORY = {"IMC_HISTORY": "off"}  # the figures from the pods alive now, never this machine's history file


def report(*args: str):
    """`imc report` as a user runs it, without history."""
    return imc_report(*args, env=NO_HISTORY)


@pytest.fixture(scope="module")
def fleet(start_sim_factory):
    """The demo fleet: `sim` (cn-hangzhou) and `sim-beijing` (cn-beijing), in one `imc sim --clusters 2`."""
    return start_sim_factory("demo", ("--clusters", "2", "--speed", TEST_SPEED))


def namespaces(sim, context: str) -> set[str]:
    api_client = new_api_client(sim, context)
    try:
        return {n.metadata.name for n in client.CoreV1Api(api_client).list_namespace().items}
    finally:
        api_client.close()


def test_the_fleet_serves_each_context_its_own_cluster(fleet, tmp_path):
    assert set(fleet.servers) == set(FLEET_CONTEXTS) and len(set(fleet.servers.values())) == 2
    hangzhou, beijing = namespaces(fleet, "sim"), namespaces(fleet, "sim-beijing")
    assert {"shop", "data", "ml"} <= hangzhou and not {"payments", "analytics", "search"} & hangzhou
    assert {"payments", "analytics", "search"} <= beijing and not {"shop", "data", "ml"} & beijing
    cache = str(tmp_path / "kubectl-cache")
    caches = {context: set(run_kubectl(fleet, "get", "imagecaches", "-o", "name", context=context,
                                       cache_dir=cache).stdout.split()) for context in FLEET_CONTEXTS}
    assert "imagecache.eci.alibabacloud.com/nginx-base" in caches["sim"] - caches["sim-beijing"]
    assert "imagecache.eci.alibabacloud.com/payments-jvm" in caches["sim-beijing"] - caches["sim"]
    refused = run_kubectl(fleet, "create", "namespace", "viewer-may-not", context="sim-beijing-viewer",
                          cache_dir=cache, check=False)
    assert refused.returncode != 0 and "forbidden" in refused.stderr.lower()


def test_the_demo_people_are_in_each_cluster_and_see_only_their_namespaces(fleet, tmp_path):
    cache = str(tmp_path / "kubectl-cache")

    def can(context: str, *args: str) -> str:
        return run_kubectl(fleet, "auth", "can-i", *args, context=context, cache_dir=cache, check=False).stdout.strip()

    assert can("sim", "patch", "deployments", "-n", "shop", "--as", DEMO_WRITER) == "yes"
    assert can("sim", "list", "pods", "-n", "shop", "--as", DEMO_VIEWER) == "yes"
    for context in FLEET_CONTEXTS:
        assert can(context, "list", "imagecaches", "--as", DEMO_VIEWER) == "yes"
        assert can(context, "list", "pods", "-n", "payments", "--as", DEMO_WRITER) == "no"
    listed = run_kubectl(fleet, "get", "pods", "-n", "shop", "-o", "name", "--as", DEMO_VIEWER, context="sim",
                         cache_dir=cache).stdout.split()
    assert listed, "the demo's shop has pods, and the viewer sees them"


def test_a_pod_created_in_one_context_is_not_in_the_other(fleet, tmp_path):
    name = f"only-beijing-{uuid.uuid4().hex[:6]}"
    api_client = new_api_client(fleet, "sim-beijing")
    try:
        core = client.CoreV1Api(api_client)
        core.create_namespace({"metadata": {"name": name}})
        core.create_namespaced_pod(name, {"metadata": {"name": name},
                                          "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}})
    finally:
        api_client.close()
    cache = str(tmp_path / "kubectl-cache")
    there = run_kubectl(fleet, "get", "pods", "-n", name, "-o", "name", context="sim-beijing", cache_dir=cache)
    assert there.stdout.split() == [f"pod/{name}"]
    elsewhere = run_kubectl(fleet, "get", "pods", "-A", "-o", "name", context="sim", cache_dir=cache)
    assert f"pod/{name}" not in elsewhere.stdout.split()
    assert name not in namespaces(fleet, "sim")


def clusters_of(items: list[dict]) -> dict[str, set[str]]:
    """Per cluster, the namespaces of its reported pods."""
    found: dict[str, set[str]] = {}
    for item in items:
        found.setdefault(item["cluster"], set()).add(item["namespace"])
    return found


def test_report_of_two_contexts_names_each_pods_cluster_in_every_format(fleet):
    both = ("--kubeconfig", fleet.kubeconfig, "--context", "sim", "--context", "sim-beijing")
    result = report(*both, "--format", "json")
    assert result.returncode == 0, result.stderr
    document = orjson.loads(result.stdout)
    found = clusters_of(document["results"])
    assert set(found) == {"sim", "sim-beijing"}
    assert "shop" in found["sim"] and "payments" in found["sim-beijing"]
    assert not found["sim"] & {"payments", "analytics", "search"}
    assert [part["cluster"] for part in document["clusters"]] == ["sim", "sim-beijing"]
    assert all(part["figures"]["pods"] > 0 for part in document["clusters"])
    table = report(*both)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split()[:3] == ["CLUSTER", "NAMESPACE", "POD"]
    assert any(line.startswith("sim-beijing: Last 24 h") for line in table.stdout.splitlines())
    rows = list(csv.DictReader(io.StringIO(report(*both, "--format", "csv").stdout)))
    assert next(iter(rows[0])) == "cluster" and {row["cluster"] for row in rows} == {"sim", "sim-beijing"}


def test_all_contexts_reports_each_cluster_once(fleet):
    result = report("--kubeconfig", fleet.kubeconfig, "--all-contexts", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert [part["cluster"] for part in orjson.loads(result.stdout)["clusters"]] == ["sim", "sim-beijing"]


def with_a_closed_context(fleet, tmp_path: Path) -> str:
    """The fleet's kubeconfig with one more context, `gone`, pointing at a port nobody listens on."""
    config = yaml.safe_load(Path(fleet.kubeconfig).read_text())
    gone = dict(config["clusters"][0], name="gone")
    gone["cluster"] = dict(gone["cluster"], server=f"https://127.0.0.1:{free_port()}")
    config["clusters"].append(gone)
    config["contexts"].append({"name": "gone", "context": {"cluster": "gone", "user": "sim-admin"}})
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_an_unreachable_context_is_one_line_and_the_others_are_reported(fleet, tmp_path):
    kubeconfig = with_a_closed_context(fleet, tmp_path)
    result = report("--kubeconfig", kubeconfig, "--all-contexts", "--format", "csv")
    assert result.returncode == 1
    errors = result.stderr.splitlines()
    assert len(errors) == 1 and errors[0].startswith("imc report: cannot reach") and "'gone'" in errors[0]
    assert {row["cluster"] for row in csv.DictReader(io.StringIO(result.stdout))} == {"sim", "sim-beijing"}
    missing = report("--kubeconfig", kubeconfig, "--context", "nosuch", "--context", "sim-beijing")
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == [missing.stderr.strip()] and "no context 'nosuch'" in missing.stderr
    assert "sim-beijing: Last 24 h" in missing.stdout and "nosuch: not reported" in missing.stdout
    none = report("--kubeconfig", kubeconfig, "--context", "gone", "--context", "nosuch")
    assert none.returncode == 2 and none.stdout == "" and len(none.stderr.splitlines()) == 2


def fleet_config(state_dir: Path, name: str, scenario: str) -> SimConfig:
    return SimConfig(host="127.0.0.1", port=0, state_dir=state_dir, kubeconfig=state_dir.parent / "kubeconfig",
                     scenario=scenario, speed=1.0, drop_watch_events=0, drop_watch_seconds=0.0, history=1000,
                     name=name)


def test_closing_one_cluster_of_a_fleet_leaves_the_other_answering(tmp_path):
    served: list[list[ServedCluster]] = []
    loop_of: list[asyncio.AbstractEventLoop] = []
    exit_codes: list[int] = []

    def started(clusters: list[ServedCluster]) -> None:
        loop_of.append(asyncio.get_running_loop())
        served.append(clusters)

    first = fleet_config(tmp_path / "sim", "sim", "empty")
    second = fleet_config(tmp_path / "sim" / "beijing", "sim-beijing", "empty")
    thread = threading.Thread(target=lambda: exit_codes.append(asyncio.run(
        serve(first, (second,), own_process=False, started=started))), daemon=True)
    thread.start()
    hangzhou, beijing = poll(lambda: served and served[0], 30, "the fleet to serve")
    loop = loop_of[0]
    try:
        assert _answers_version(beijing.url, str(beijing.identity.ca_cert))
        loop.call_soon_threadsafe(beijing.stop)
        poll(lambda: beijing.serving.done(), 10, "sim-beijing to stop")
        assert not _answers_version(beijing.url, str(beijing.identity.ca_cert))
        assert _answers_version(hangzhou.url, str(hangzhou.identity.ca_cert))
        configuration = client.Configuration()
        configuration.host = hangzhou.url
        configuration.ssl_ca_cert = str(hangzhou.identity.ca_cert)
        configuration.api_key = {"authorization": f"Bearer {hangzhou.identity.admin_token}"}
        api_client = client.ApiClient(configuration)
        try:
            client.CoreV1Api(api_client).create_namespace({"metadata": {"name": "still-here"}})
            assert "still-here" in {n.metadata.name for n in client.CoreV1Api(api_client).list_namespace().items}
        finally:
            api_client.close()
    finally:
        loop.call_soon_threadsafe(hangzhou.stop)
        thread.join(scaled(15))
    assert exit_codes == [0]
