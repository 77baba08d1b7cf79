"""Pod starts in `imc sim` at --speed 1: misses pull their images at registry speed, hits mount the cache."""

from __future__ import annotations

import statistics
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from kubernetes import client

from core.images import normalise_image
from core.policy import AUTO_IMC
from core.timeutil import parse_time
from sim.eci.pulls import start_plan
from tests.integration.conftest import new_api_client, poll
from tests.integration.test_report import imc_report

GROUP, VERSION, PLURAL = "eci.alibabacloud.com", "v1", "imagecaches"


def eci_pod(name: str, images: list[str], annotations: dict | None = None) -> dict:
    return {
        "metadata": {"name": name, "labels": {"alibabacloud.com/eci": "true"}, "annotations": annotations or {}},
        "spec": {
            "containers": [
                {"name": f"c{i}", "image": image, "imagePullPolicy": "IfNotPresent"} for i, image in enumerate(images)
            ]
        },
    }


@pytest.fixture(scope="module")
def real_speed_sim(start_sim_factory):
    """A sim of its own at --speed 1: timestamps have one-second precision, so starts must last seconds."""
    return start_sim_factory("empty", ("--speed", "1"))


def test_misses_start_slower_than_hits_as_modelled(real_speed_sim):
    api = new_api_client(real_speed_sim)
    core = client.CoreV1Api(api)
    repo = f"registry.example.com/starts-{uuid.uuid4().hex[:8]}"
    images = [f"{repo}/node:22", f"{repo}/golang:1.23"]  # 400 + 300 MiB in the catalogue
    for i in range(2):  # created before any cache holds the images, no auto-created cache: misses
        core.create_namespaced_pod("default", eci_pod(f"miss-{i}", images, {AUTO_IMC: "false"}))
    custom = client.CustomObjectsApi(api)
    custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, {"metadata": {"name": "starts"},
                                                                 "spec": {"images": images}})

    def ready() -> str | None:
        status = custom.get_cluster_custom_object(GROUP, VERSION, PLURAL, "starts").get("status") or {}
        return status.get("lastUpdatedTime") if status.get("phase") == "Ready" else None

    ready_at = parse_time(poll(ready, 30, "the cache to be Ready"))
    poll(lambda: datetime.now(UTC) >= ready_at + timedelta(seconds=1), 5, "the second after Ready")
    for i in range(2):
        core.create_namespaced_pod("default", eci_pod(f"hit-{i}", images))

    names = [f"{kind}-{i}" for kind in ("miss", "hit") for i in range(2)]

    def all_running() -> bool:
        return all(core.read_namespaced_pod(n, "default").status.phase == "Running" for n in names)

    poll(all_running, 60, "every pod to start", interval=0.5)
    result = imc_report("--kubeconfig", real_speed_sim.kubeconfig, "--format", "json")
    assert result.returncode == 0, result.stderr
    items = {i["name"]: i for i in orjson.loads(result.stdout)["results"]}
    cached = [normalise_image(i) for i in images]
    for name in names:
        pod = api.sanitize_for_serialization(core.read_namespaced_pod(name, "default"))
        hit = name.startswith("hit")
        plan = start_plan(pod["spec"]["containers"], cached if hit else (), hit, pod["metadata"]["uid"])
        item = items[name]
        assert (item["actual"] or {}).get("outcome", item["decision"]) == ("hit" if hit else "off")
        # one-second timestamps: a start is within 10 % of the model, or within the second it is written to
        assert item["start_seconds"] == pytest.approx(plan.total_seconds, rel=0.1, abs=1.0), name
        if not hit:
            assert item["start_seconds"] == pytest.approx(plan.total_seconds, rel=0.1), name
        reported = {p["image"]: (p["source"], p["seconds"]) for p in item["pulls"]}
        assert reported == {normalise_image(p.image): (p.source, round(p.seconds, 3)) for p in plan.pulls}
        assert {source for source, _ in reported.values()} == {"present" if hit else "pulled"}
    miss_starts = [items[f"miss-{i}"]["start_seconds"] for i in range(2)]
    hit_starts = [items[f"hit-{i}"]["start_seconds"] for i in range(2)]
    assert min(miss_starts) > 3 * max(hit_starts)
    # what a hit saved: the median of the two misses' pulls, per image
    pulls = [p for i in range(2) for p in items[f"miss-{i}"]["pulls"]]
    expected = sum(statistics.median(p["seconds"] for p in pulls if p["image"] == image) for image in cached)
    for i in range(2):
        assert items[f"hit-{i}"]["saved_seconds"] == pytest.approx(expected, abs=0.002)
        assert items[f"hit-{i}"]["saved_from_pulls"] == 4
    api.close()
