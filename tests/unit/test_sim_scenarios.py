"""Scenarios built in-process (no server): what the demo holds and what its churn touches."""

from __future__ import annotations

import random

from sim.apiserver.resources import DEPLOYMENTS, IMAGECACHES, NAMESPACES
from sim.scenarios import DemoScenario
from sim.simulation import build_simulation
from tests.unit.test_sim_server_parts import run_in_fresh_loop


def test_the_demo_churn_touches_only_its_own_deployments():
    async def run() -> tuple[dict, dict[str, int]]:
        sim = build_simulation(history=100_000, speed=1.0)
        demo = DemoScenario(sim, random.Random(1))
        demo.populate()
        sim.api.create(NAMESPACES, "", {"metadata": {"name": "mine"}})
        sim.api.create(DEPLOYMENTS, "mine", {"metadata": {"name": "mine"}, "spec": {
            "replicas": 1, "selector": {"matchLabels": {"app": "mine"}},
            "template": {"metadata": {"labels": {"app": "mine"}},
                         "spec": {"containers": [{"name": "a", "image": "nginx"}]}}}})
        for step in range(60):
            demo.churn_once(step)
        generations = {f"{d['metadata']['namespace']}/{d['metadata']['name']}": d["metadata"]["generation"]
                       for d in sim.store.objects(DEPLOYMENTS.key)}
        caches = [c["metadata"]["name"] for c in sim.store.objects(IMAGECACHES.key)]
        return generations, {"team caches": sum(1 for name in caches if name.startswith("team-cache-"))}

    generations, counts = run_in_fresh_loop(run())
    assert generations.pop("mine/mine") == 1
    assert sum(1 for g in generations.values() if g > 1) >= 5
    assert all(g == 1 for key, g in generations.items() if key.startswith("ml/"))
    assert 1 <= counts["team caches"] <= DemoScenario.MAX_CHURN_CACHES
