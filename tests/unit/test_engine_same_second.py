"""Issue 14's engine findings: a cache in the pod's own second cannot be ordered; a pin that buys nothing.

Timestamps have one-second precision. The engine keeps deciding such a cache as after the pod (its pod's
own auto-created cache is), but says that ECI, deciding on its live state, may have used it.
"""

from __future__ import annotations

import pytest

from core.policy import INSTANCE_ID
from tests.fixtures.engine.builders import AT, PIN, imagecache, pod, run_engine

SAME = AT  # the pod's own second: AT is 2026-11-28T08:00:00Z
BEFORE, AFTER = "2026-11-28T07:59:59Z", "2026-11-28T08:00:01Z"


def cache(name: str, images: list[str], ready: str | None = None, created: str = "2026-11-01T00:00:00Z", **kw) -> dict:
    obj = imagecache(name, images, created=created, **kw)
    if ready:
        obj["status"]["lastUpdatedTime"] = ready
    return obj


def decide_one(annotations: dict, caches: list[dict]):
    [(decision, result)] = run_engine(pod(["nginx:1", "redis:7"], annotations=annotations), caches, at=AT)
    return decision, {f["code"]: f for f in result["findings"]}


@pytest.mark.parametrize(
    ("caches", "words"),
    [
        ([cache("fresh", ["nginx:1"], ready=SAME)], "fresh (imc-fresh) became Ready in the pod's own second"),
        ([cache("fresh", ["nginx:1"], created=SAME)], "fresh (imc-fresh) was created in the pod's own second"),
    ],
    ids=["ready", "created"],
)
def test_a_cache_of_the_pods_own_second_is_a_warning_not_a_silent_miss(caches, words) -> None:
    decision, findings = decide_one({}, caches)
    assert decision.outcome == "miss"  # the decision stands: counted as after the pod
    assert findings["same-second"]["severity"] == "warning"
    assert words in findings["same-second"]["message"] and "ECI may have used it" in findings["same-second"]["message"]


@pytest.mark.parametrize("ready", [BEFORE, AFTER])
def test_a_cache_of_another_second_is_ordered(ready: str) -> None:
    decision, findings = decide_one({}, [cache("fresh", ["nginx:1"], ready=ready)])
    assert decision.outcome == ("hit" if ready == BEFORE else "miss")
    assert "same-second" not in findings


def test_the_pods_own_auto_created_cache_comes_after_without_a_finding() -> None:
    own = cache("auto-create-for-eci-123", ["nginx:1", "redis:7"], ready=SAME, created=SAME)
    decision, findings = decide_one({INSTANCE_ID: "eci-123"}, [own])
    assert decision.outcome == "miss" and "same-second" not in findings
    _, findings = decide_one({INSTANCE_ID: "eci-456"}, [own])  # another pod's auto-created cache is unordered
    assert "same-second" in findings


def test_a_same_second_cache_that_would_not_have_won_is_not_mentioned() -> None:
    chosen = cache("both", ["nginx:1", "redis:7"], ready=BEFORE)
    decision, findings = decide_one({}, [chosen, cache("fresh", ["nginx:1"], ready=SAME)])
    assert (decision.outcome, decision.cache.name) == ("hit", "both")
    assert "same-second" not in findings
    decision, findings = decide_one(
        {}, [cache("one", ["nginx:1"], ready=BEFORE), cache("fresh", ["nginx:1", "redis:7"], ready=SAME)]
    )
    assert decision.cache.name == "one" and "fresh" in findings["same-second"]["message"]


def test_a_pin_to_a_cache_ready_in_the_pods_own_second() -> None:
    decision, findings = decide_one({PIN: "imc-fresh"}, [cache("fresh", ["nginx:1"], ready=SAME)])
    assert [e.reason for e in decision.events] == ["ImageCacheNotComplete"]
    assert "became Ready in the pod's own second" in findings["same-second"]["message"]


def test_a_pin_to_a_ready_cache_holding_none_of_the_images_is_a_warning() -> None:
    decision, findings = decide_one({PIN: "imc-other"}, [cache("other", ["busybox:1"])])
    assert decision.outcome == "hit"
    assert findings["pin-holds-none"]["severity"] == "warning"
    assert "buys nothing" in findings["pin-holds-none"]["message"]
    assert "automatic annotations" in findings["pin-holds-none"]["message"]
    assert "images-pulled" not in findings
    _, findings = decide_one({PIN: "imc-half"}, [cache("half", ["nginx:1"])])
    assert findings["images-pulled"]["severity"] == "info" and "pin-holds-none" not in findings


@pytest.mark.parametrize(
    ("pinned", "words"),
    [
        (cache("later", ["nginx:1"], ready=AFTER), "was not Ready yet when the pod was created (Ready since "
                                                    f"{AFTER})"),
        (cache("later", ["nginx:1"], phase="Creating"), "was not Ready when the pod was created; it is Creating now"),
    ],
    ids=["ready-now", "still-creating"],
)
def test_a_pin_not_ready_at_creation_is_described_at_creation_not_now(pinned, words) -> None:
    decision, findings = decide_one({PIN: "imc-later"}, [pinned])
    assert decision.outcome == "fail"
    message = findings["pin-not-ready"]["message"]
    assert f"later {words}: pod creation fails" == message
    assert " is Ready" not in message
