"""The demo fleet (`imc sim --clusters 2`) without a server: options, each cluster's config, kubeconfig and demo."""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import pytest
import yaml

from sim.apiserver.identity import KubeconfigCluster, load_identity, write_kubeconfig
from sim.apiserver.resources import IMAGECACHES, NAMESPACES, PODS
from sim.command import add_arguments, fleet_configs
from sim.fleet import FLEET_CONTEXTS, FLEET_VIEWER_CONTEXTS, cluster_scenario, fleet_of
from sim.launch import CLUSTER_LINE, READY_LINE
from sim.scenarios import BeijingDemoScenario, DemoScenario, build_scenario
from sim.server import SimConfig
from sim.simulation import build_simulation
from tests.unit.test_sim_server_parts import run_in_fresh_loop


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def config(tmp_path: Path, **changes) -> SimConfig:
    fields = dict(host="127.0.0.1", port=6443, state_dir=tmp_path, kubeconfig=tmp_path / "kubeconfig", scenario=None,
                  speed=1.0, drop_watch_events=0, drop_watch_seconds=0.0, history=1000, seed=7,
                  stop_with_parent=True)
    return SimConfig(**{**fields, **changes})


def test_one_cluster_is_the_default_and_two_make_the_fleet():
    assert parse().clusters == 1
    assert parse("--clusters", "2").clusters == 2
    assert FLEET_CONTEXTS == ("sim", "sim-beijing")
    assert FLEET_VIEWER_CONTEXTS == ("sim-viewer", "sim-beijing-viewer")


@pytest.mark.parametrize("count", ["0", "3", "two"])
def test_a_fleet_of_no_cluster_or_more_than_the_demo_has_is_a_usage_error(count, capsys):
    with pytest.raises(SystemExit) as exited:
        parse("--clusters", count)
    assert exited.value.code == 2
    assert "--clusters" in capsys.readouterr().err
    with pytest.raises(ValueError, match="1 to 2"):
        fleet_of(3)


def test_one_cluster_runs_exactly_as_asked(tmp_path):
    assert fleet_configs(config(tmp_path), 1) == [config(tmp_path)]


def test_the_second_cluster_has_its_own_state_dir_port_demo_and_seed_and_does_not_watch_the_parent(tmp_path):
    first, second = fleet_configs(config(tmp_path), 2)
    assert first == config(tmp_path)
    assert (second.name, second.state_dir, second.port) == ("sim-beijing", tmp_path / "beijing", 0)
    assert (second.scenario, second.default_scenario, second.seed) == (None, "demo-beijing", 8)
    assert second.kubeconfig == first.kubeconfig and not second.stop_with_parent


def test_asking_for_the_demo_gives_each_cluster_its_own_and_another_scenario_is_everywhere_the_same():
    hangzhou, beijing = fleet_of(2)
    assert cluster_scenario("demo", beijing) == ("demo-beijing", "demo-beijing")
    assert cluster_scenario("demo", hangzhou) == ("demo", "demo")
    assert cluster_scenario("empty", beijing) == ("empty", "empty")
    assert cluster_scenario(None, beijing) == (None, "demo-beijing")


def test_the_fleets_kubeconfig_has_an_admin_and_a_viewer_context_per_cluster_with_its_own_ca_and_tokens(tmp_path):
    hangzhou, beijing = load_identity(tmp_path / "a"), load_identity(tmp_path / "b")
    write_kubeconfig(tmp_path / "kubeconfig", "https://127.0.0.1:1", hangzhou,
                     (KubeconfigCluster("sim-beijing", "https://127.0.0.1:2", beijing),))
    document = yaml.safe_load((tmp_path / "kubeconfig").read_text())
    contexts = {c["name"]: c["context"] for c in document["contexts"]}
    assert list(contexts) == ["sim", "sim-viewer", "sim-beijing", "sim-beijing-viewer"]
    assert document["current-context"] == "sim"
    servers = {c["name"]: c["cluster"]["server"] for c in document["clusters"]}
    assert servers == {"sim": "https://127.0.0.1:1", "sim-beijing": "https://127.0.0.1:2"}
    tokens = {u["name"]: u["user"]["token"] for u in document["users"]}
    assert tokens[contexts["sim-beijing"]["user"]] == beijing.admin_token
    assert tokens[contexts["sim-beijing-viewer"]["user"]] == beijing.viewer_token
    assert tokens[contexts["sim"]["user"]] == hangzhou.admin_token != beijing.admin_token
    cas = {c["name"]: c["cluster"]["certificate-authority-data"] for c in document["clusters"]}
    assert cas["sim"] != cas["sim-beijing"]


def test_the_fleets_lines_name_each_cluster_before_the_ready_line():
    assert CLUSTER_LINE.search("imc sim: context sim-beijing serves https://127.0.0.1:4321").groups() == (
        "sim-beijing", "https://127.0.0.1:4321")
    assert not READY_LINE.search("imc sim: context sim-beijing serves https://127.0.0.1:4321")


def test_the_beijing_demo_holds_other_namespaces_caches_and_pods_than_the_first():
    async def run() -> dict[str, tuple[set, set, int]]:
        held = {}
        for name in ("demo", "demo-beijing"):
            sim = build_simulation(history=100_000, speed=1.0)
            build_scenario(name, sim, None, None, 1).populate()
            namespaces = {n["metadata"]["name"] for n in sim.store.objects(NAMESPACES.key)}
            caches = {c["metadata"]["name"] for c in sim.store.objects(IMAGECACHES.key)}
            held[name] = (namespaces, caches, sum(1 for _ in sim.store.objects(PODS.key)))
        return held

    held = run_in_fresh_loop(run())
    assert {"payments", "analytics", "search"} <= held["demo-beijing"][0]
    assert not {"shop", "data", "ml"} & held["demo-beijing"][0]
    assert not {"payments", "analytics", "search"} & held["demo"][0]
    assert {"payments-jvm", "analytics-spark", "search-es"} <= held["demo-beijing"][1]
    assert not {"nginx-base", "shop-web"} & held["demo-beijing"][1]
    assert held["demo-beijing"][2] > 20  # its own past: finished CronJob pods


def test_the_beijing_demo_churns_its_own_images():
    async def run() -> set[str]:
        sim = build_simulation(history=100_000, speed=1.0)
        demo = BeijingDemoScenario(sim, random.Random(2))
        demo.populate()
        for step in range(40):
            demo.churn_once(step)
        return {image for c in sim.store.objects(IMAGECACHES.key) if c["metadata"]["name"].startswith("team-cache-")
                for image in c["spec"]["images"]}

    images = run_in_fresh_loop(run())
    assert images and images <= set(BeijingDemoScenario.CHURN_IMAGES)
    assert BeijingDemoScenario.CHURN_IMAGES != DemoScenario.CHURN_IMAGES
