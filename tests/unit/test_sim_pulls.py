"""The sim's start model: what a pod pays to start, and kubelet messages the engine reads back."""

from __future__ import annotations

import pytest

from core.starts import PRESENT, PULLED, parse_pull_message, percentile
from sim.eci.pulls import (
    MANIFEST_CHECK_SECONDS,
    MAX_SCHEDULING_SECONDS,
    PULL_JITTER,
    REGISTRY_MIB_PER_SECOND,
    SCHEDULING_MIN_SECONDS,
    disk_mib_per_second,
    go_duration,
    jitter,
    pull_policy,
    pulled_message,
    scheduling_seconds,
    start_plan,
)

NODE = "docker.io/library/node:22"  # 400 MiB in the catalogue


def container(name: str, image: str, policy: str | None = "IfNotPresent") -> dict:
    return {"name": name, "image": image, **({"imagePullPolicy": policy} if policy else {})}


def test_a_miss_pulls_at_registry_speed_and_a_hit_reads_the_cache_disk():
    miss = start_plan([container("app", "node:22")], (), None, "uid-1")
    (pull,) = miss.pulls
    assert pull.source == PULLED
    low, high = 1 - PULL_JITTER, 1 + PULL_JITTER
    assert 400 / REGISTRY_MIB_PER_SECOND * low <= pull.seconds <= (0.4 + 400 / REGISTRY_MIB_PER_SECOND) * high
    assert miss.total_seconds == pytest.approx(miss.setup_seconds + pull.seconds + miss.launch_seconds)
    hit = start_plan([container("app", "node:22")], (NODE,), 20, "uid-1")
    assert [(p.source, p.seconds) for p in hit.pulls] == [(PRESENT, 0.0)]
    assert hit.setup_seconds == miss.setup_seconds  # the same pod, scheduled alike
    read = hit.launch_seconds - miss.launch_seconds
    assert 400 / disk_mib_per_second(20) * low <= read <= 400 / disk_mib_per_second(20) * high
    assert hit.total_seconds < miss.total_seconds / 5


def test_the_cache_disk_reads_at_the_essd_pl1_baseline_of_its_size():
    assert disk_mib_per_second(20) == pytest.approx(130 * 1_000_000 / 2**20)
    assert disk_mib_per_second(460) == disk_mib_per_second(32768) == pytest.approx(350 * 1_000_000 / 2**20)


def test_hits_of_the_same_image_vary_with_a_longer_tail_above_the_median():
    starts = [start_plan([container("app", "nginx:1.25")], ("docker.io/library/nginx:1.25",), 20, f"uid-{i}")
              for i in range(400)]
    totals = [plan.total_seconds for plan in starts]
    median, p90 = percentile(totals, 0.5), percentile(totals, 0.9)
    assert 2 <= median <= 6 and p90 - median > 0.8
    assert all(SCHEDULING_MIN_SECONDS <= plan.scheduling_seconds <= MAX_SCHEDULING_SECONDS for plan in starts)
    assert scheduling_seconds("uid-7") == scheduling_seconds("uid-7")


def test_a_hit_reads_each_cached_image_once_and_a_pulled_image_never():
    both = start_plan([container("a", "node:22"), container("b", "node:22")], (NODE,), 20, "u")
    one = start_plan([container("a", "node:22")], (NODE,), 20, "u")
    assert both.launch_seconds == one.launch_seconds
    pulled_twice = start_plan([container("a", "node:22"), container("b", "node:22")], (), None, "u")
    assert [p.source for p in pulled_twice.pulls] == [PULLED, PRESENT]
    assert pulled_twice.launch_seconds < one.launch_seconds


def test_always_on_a_hit_pays_a_manifest_check_and_a_repeated_image_is_present():
    plan = start_plan(
        [container("a", "node:22", "Always"), container("b", "node:22"), container("c", "redis:7")], (NODE,), 20, "u"
    )
    assert [p.source for p in plan.pulls] == [PULLED, PRESENT, PULLED]
    assert plan.pulls[0].seconds == pytest.approx(MANIFEST_CHECK_SECONDS, rel=PULL_JITTER)


def test_jitter_is_bounded_and_the_same_for_the_same_pod_and_image():
    factors = [jitter(f"uid-{i}/node:22") for i in range(200)]
    assert all(1 - PULL_JITTER <= f <= 1 + PULL_JITTER for f in factors)
    assert len(set(factors)) > 150 and jitter("uid-1/node:22") == factors[1]


@pytest.mark.parametrize(
    ("image", "policy"), [("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.25", "IfNotPresent")]
)
def test_default_pull_policy(image, policy):
    assert pull_policy({"image": image}) == policy


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.8125, "812.5ms"), (12.3456, "12.346s"), (62.5, "1m2.5s"), (3.0, "3s")]
)
def test_go_durations(seconds, text):
    assert go_duration(seconds) == text


def test_messages_read_back_by_the_engine():
    plan = start_plan([container("a", "node:22"), container("b", "node:22")], (), None, "u")
    pulled, present = (parse_pull_message(pulled_message(p)) for p in plan.pulls)
    assert (pulled.image, pulled.source, pulled.size_bytes) == (NODE, PULLED, 400 * 1024 * 1024)
    assert pulled.seconds == pytest.approx(plan.pulls[0].seconds, abs=0.001)
    assert (present.image, present.source) == (NODE, PRESENT)
