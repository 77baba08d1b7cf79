"""The demo starts with a past: pods created hours ago, hits and misses, with their starts and pulls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from kubernetes import client

from core.policy import MATCHED_CACHE
from tests.integration.conftest import new_api_client
from tests.integration.test_report import imc_report

pytestmark = pytest.mark.integration


def test_the_demo_starts_with_past_hits_and_misses_whose_savings_are_known(start_sim_factory):
    sim = start_sim_factory("demo", ("--seed", "3"))
    api = new_api_client(sim)
    core = client.CoreV1Api(api)
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    past = [p for p in core.list_pod_for_all_namespaces().items if p.metadata.creation_timestamp < hour_ago]
    assert all(p.status.phase == "Succeeded" for p in past)
    assert all(s.state.terminated.started_at >= p.metadata.creation_timestamp
               for p in past for s in p.status.container_statuses)
    hits = [p for p in past if MATCHED_CACHE in (p.metadata.annotations or {})]
    misses = [p for p in past if MATCHED_CACHE not in (p.metadata.annotations or {})]
    assert hits and misses
    events = core.list_event_for_all_namespaces().items
    reasons: dict[str, set[str]] = {}
    for event in events:
        reasons.setdefault(event.involved_object.name, set()).add(event.reason)
    assert any({"SuccessfulHitImageCache", "Pulled"} <= reasons.get(p.metadata.name, set()) for p in hits)
    assert any({"ImageCacheMissed", "Pulling", "Pulled"} <= reasons.get(p.metadata.name, set()) for p in misses)
    api.close()

    result = imc_report("--kubeconfig", sim.kubeconfig, "--format", "json")
    assert result.returncode == 0, result.stderr
    past_keys = {f"{p.metadata.namespace}/{p.metadata.name}" for p in past}
    reported = [r for r in orjson.loads(result.stdout)["results"] if r["pod"] in past_keys]
    assert len(reported) == len(past)
    assert any(r["saved_seconds"] is not None and r["saved_seconds"] > 10 for r in reported)
    assert all(r["start_seconds"] is not None for r in reported)
