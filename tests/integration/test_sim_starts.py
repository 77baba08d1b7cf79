"""Pod starts in `imc sim` at --speed 3: misses and pods with matching off pull their images at registry speed, hits
read them from the cache's disk; the sim's timestamps and kubelet events show a third of the model's seconds."""

from __future__ import annotations

import statistics
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from kubernetes import client

from core.caches import AUTO_CREATED_PREFIX
from core.images import normalise_image
from core.policy import AUTO_IMC, INSTANCE_ID, MATCHED_CACHE
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


# timestamps have one-second precision, so starts must last seconds: at 3 a miss takes ~6 s and a hit ~1 s, and a
# hit's slow scheduling tail almost never reaches a miss's second (at 4 it would in about 1 run of 400)
SPEED = 3


@pytest.fixture(scope="module")
def real_speed_sim(start_sim_factory):
    """A sim of its own at --speed 3 (SPEED)."""
    return start_sim_factory("empty", ("--speed", str(SPEED)))


def test_off_pods_pull_like_misses_and_hits_start_faster_as_modelled(real_speed_sim):
    api = new_api_client(real_speed_sim)
    core = client.CoreV1Api(api)
    custom = client.CustomObjectsApi(api)
    repo = f"registry.example.com/starts-{uuid.uuid4().hex[:8]}"
    images = [f"{repo}/nginx:1.25", f"{repo}/redis:7.2"]  # 70 + 45 MiB in the catalogue
    for i in range(2):  # created before any cache holds the images: matching off pulls, a miss pulls too
        core.create_namespaced_pod("default", eci_pod(f"off-{i}", images, {AUTO_IMC: "false"}))
        core.create_namespaced_pod("default", eci_pod(f"miss-{i}", images))
    instance = core.read_namespaced_pod("miss-0", "default").metadata.annotations[INSTANCE_ID]

    def ready() -> str | None:  # the cache ECI auto-created for the first miss
        status = custom.get_cluster_custom_object(GROUP, VERSION, PLURAL, AUTO_CREATED_PREFIX + instance)["status"]
        return status.get("lastUpdatedTime") if status.get("phase") == "Ready" else None

    ready_at = parse_time(poll(ready, 30, "the auto-created cache to be Ready"))
    poll(lambda: datetime.now(UTC) >= ready_at + timedelta(seconds=1), 5, "the second after Ready")
    for i in range(3):
        core.create_namespaced_pod("default", eci_pod(f"hit-{i}", images))
    names = [f"{kind}-{i}" for kind, count in (("off", 2), ("miss", 2), ("hit", 3)) for i in range(count)]

    def all_running() -> bool:
        return all(core.read_namespaced_pod(n, "default").status.phase == "Running" for n in names)

    poll(all_running, 90, "every pod to start")
    result = imc_report("--kubeconfig", real_speed_sim.kubeconfig, "--format", "json")
    assert result.returncode == 0, result.stderr
    items = {i["name"]: i for i in orjson.loads(result.stdout)["results"]}
    caches = {c["status"]["imageCacheId"]: c for c in custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]}
    cached = [normalise_image(i) for i in images]
    for name in names:
        pod = api.sanitize_for_serialization(core.read_namespaced_pod(name, "default"))
        kind, item = name.split("-")[0], items[name]
        hit = caches.get(pod["metadata"]["annotations"].get(MATCHED_CACHE)) if kind == "hit" else None
        assert (item["actual"] or {}).get("outcome", item["decision"]) == kind and (hit is not None) == (kind == "hit")
        plan = start_plan(pod["spec"]["containers"], cached if hit else (), hit["spec"]["imageCacheSize"] if hit else None,
                          pod["metadata"]["uid"])
        # one-second timestamps: a start is within 10 % of the model's seconds over the speed, or within the second
        # it is written to; the kubelet reports the seconds that passed, the model's over the speed
        assert item["start_seconds"] == pytest.approx(plan.total_seconds / SPEED, rel=0.1, abs=1.0), name
        reported = {p["image"]: (p["source"], p["seconds"]) for p in item["pulls"]}
        assert reported == {normalise_image(p.image): (p.source, round(p.seconds / SPEED, 3)) for p in plan.pulls}
        assert {source for source, _ in reported.values()} == {"present" if hit else "pulled"}
        for pull in plan.pulls if not hit else ():  # at the registry rate the docs measured (flink: 386 MB in ~50 s)
            size_mib = pull.size_bytes / 2**20
            assert size_mib / 10 <= pull.seconds <= (1 + size_mib / 5) * 1.2, (name, pull)
    starts = {kind: [items[n]["start_seconds"] for n in names if n.startswith(kind)] for kind in ("off", "miss", "hit")}
    assert statistics.median(starts["off"]) >= 2.5 * statistics.median(starts["hit"]), starts
    assert min(starts["miss"] + starts["off"]) > max(starts["hit"]), starts
    # what a hit saved: the median of the pulls of the pods that pulled (off and miss alike), per image
    pulls = [p for n in names if not n.startswith("hit") for p in items[n]["pulls"]]
    expected = sum(statistics.median(p["seconds"] for p in pulls if p["image"] == image) for image in cached)
    for i in range(3):
        assert items[f"hit-{i}"]["saved_seconds"] == pytest.approx(expected, abs=0.002)
        assert items[f"hit-{i}"]["saved_from_pulls"] == 4 * len(images)  # four pods pulled each image
    api.close()
