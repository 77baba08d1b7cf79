"""The product document's two example Deployments, verbatim (tests/fixtures/engine/seed_example*.yaml).

Example 1: automatic matching with perfect match, nginx:1.14.2 + busybox:1.30.
Example 2: pinned to imc-2ze5tm5gehgtiiga****; the cache "must be in the Ready state ... otherwise
pod creation fails".
"""

from __future__ import annotations

import pytest
import yaml

from tests.fixtures.engine.builders import (
    FIXTURES,
    HIT_EVENTS,
    MISS_EVENTS,
    NOT_COMPLETE,
    NOT_FOUND,
    candidate,
    imagecache,
    run_engine,
)

NGINX = "registry.cn-shanghai.aliyuncs.com/eci_open/nginx:1.14.2"
BUSYBOX = "registry.cn-shanghai.aliyuncs.com/eci_open/busybox:1.30"
PINNED = "imc-2ze5tm5gehgtiiga****"


def load(name: str) -> list[dict]:
    """The fixture's objects, a `kind: List` unwrapped."""
    docs = [d for d in yaml.safe_load_all((FIXTURES / name).read_text()) if d]
    return [item for d in docs for item in (d["items"] if d.get("kind") == "List" else [d])]


def only(results):
    assert len(results) == 1, "a Deployment is one pod template, whatever its replicas"
    return results[0]


def test_example1_hits_the_cache_holding_both_images() -> None:
    [deployment] = load("seed_example1.yaml")
    decision, result = only(run_engine(deployment, load("caches_example1.yaml")))
    assert decision.outcome == "hit"
    assert decision.cache.name == "eci-open-both"
    assert result["cache"] == {"name": "eci-open-both", "id": "imc-2zebothbothboth0001"}
    assert result["events"] == list(HIT_EVENTS)
    assert result["auto_create"] is False
    assert result["workload"] == "Deployment/default/test"
    assert result["eci"] is True
    assert sorted(result["images"]) == sorted([NGINX, BUSYBOX])
    assert candidate(result, "eci-open-both")["verdict"] == "chosen"
    assert candidate(result, "eci-open-both")["exact"] == 2
    # the newer nginx-only cache fails the perfect match: 1 of 2 images
    nginx_only = candidate(result, "eci-open-nginx-only")
    assert nginx_only["verdict"] == "rejected"
    assert nginx_only["exact"] == 1
    assert "1 of 2" in " ".join(nginx_only["reasons"])


def test_example1_misses_a_cache_holding_only_nginx() -> None:
    [deployment] = load("seed_example1.yaml")
    decision, result = only(run_engine(deployment, load("caches_nginx_only.yaml")))
    assert decision.outcome == "miss"
    assert result["events"] == list(MISS_EVENTS)
    assert result["auto_create"] is True
    assert decision.auto_cache_size_gib == 30
    assert result["cache"] is None
    assert candidate(result, "eci-open-nginx-only")["verdict"] == "rejected"


def test_example2_hits_the_pinned_ready_cache() -> None:
    [deployment] = load("seed_example2.yaml")
    decision, result = only(run_engine(deployment, load("caches_example2.yaml")))
    assert decision.outcome == "hit"
    assert result["cache"] == {"name": "pinned-by-example2", "id": PINNED}
    assert result["events"] == list(HIT_EVENTS)
    assert candidate(result, "pinned-by-example2")["verdict"] == "chosen"
    # the newer, bigger cache holding the same image is not considered: the pin beats auto
    assert candidate(result, "unrelated")["verdict"] == "rejected"


@pytest.mark.parametrize(
    ("caches", "event", "name"),
    [
        ([], NOT_FOUND, None),
        ([imagecache("someone-else", [NGINX], cid="imc-2ze0000000000000")], NOT_FOUND, None),
        ([imagecache("pinned", [NGINX], cid=PINNED, phase="Creating")], NOT_COMPLETE, "pinned"),
        ([imagecache("pinned", [NGINX], cid=PINNED, phase="Preparing")], NOT_COMPLETE, "pinned"),
    ],
    ids=["no-caches", "other-id", "creating", "preparing"],
)
def test_example2_fails_without_a_ready_pinned_cache(caches, event, name) -> None:
    [deployment] = load("seed_example2.yaml")
    decision, result = only(run_engine(deployment, caches))
    assert decision.outcome == "fail"
    assert result["events"] == [event]
    assert result["auto_create"] is False
    assert decision.pinned_id == PINNED
    assert result["cache"]["id"] == PINNED
    if name:  # the pinned cache exists but is not Ready: it is rejected as not Ready
        entry = candidate(result, name)
        assert entry["verdict"] == "rejected"
        assert "not ready" in " ".join(entry["reasons"]).lower()
