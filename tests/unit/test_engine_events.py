"""The events ECI writes for each decision (docs/eci-model.md section 4): reason, type, message, in order."""

from __future__ import annotations

import pytest

from tests.fixtures.engine.builders import (
    AUTO,
    AUTO_CREATED,
    EXTRA,
    LEGACY_PIN,
    MISSED,
    NOT_COMPLETE,
    NOT_FOUND,
    PIN,
    SUCCESS,
    imagecache,
    pod,
    run_engine,
)

READY = imagecache("ready", ["nginx:1.25"], cid="imc-2zeready0000000001")
CREATING = imagecache("creating", ["nginx:1.25"], cid="imc-2zecreating000001", phase="Creating")


@pytest.mark.parametrize(
    ("annotations", "caches", "expected"),
    [
        ({}, [READY], [(SUCCESS, "Normal", "Successfully hit image cache imc-2zeready0000000001")]),
        ({PIN: "imc-2zeready0000000001"}, [READY],
         [(SUCCESS, "Normal", "Successfully hit image cache imc-2zeready0000000001")]),
        ({}, [], [(MISSED, "Warning", "Missed image cache"), (AUTO_CREATED, "Normal", "is auto created")]),
        ({PIN: "imc-2zenothere0000001"}, [READY],
         [(NOT_FOUND, "Warning", "The specified image cache imc-2zenothere0000001 does not exist")]),
        ({LEGACY_PIN: "imc-2zecreating000001"}, [CREATING],
         [(NOT_COMPLETE, "Normal",
           "The production for specified image cache imc-2zecreating000001 is not yet complete")]),
        ({AUTO: "false"}, [READY], []),
    ],
    ids=["hit", "pinned-hit", "miss", "not-found", "not-complete", "off"],
)
def test_events_reason_type_and_message(annotations: dict, caches: list, expected: list) -> None:
    [(decision, _)] = run_engine(pod(["nginx:1.25"], annotations=annotations), caches)
    assert [(e.reason, e.type) for e in decision.events] == [(reason, kind) for reason, kind, _ in expected]
    for event, (_, _, words) in zip(decision.events, expected, strict=True):
        assert words in event.message, event.message


def test_not_eci_pod_gets_no_event() -> None:
    [(decision, result)] = run_engine(pod(["nginx:1.25"], labels={}), [READY])
    assert decision.events == [] or tuple(decision.events) == ()
    assert (result["decision"], result["eci"]) == ("not-eci", False)


@pytest.mark.parametrize(("extra", "size"), [(None, 30), ("20Gi", 50), ("10Gi", 40), ("abc", 30)])
def test_auto_created_cache_size(extra: str | None, size: int) -> None:
    """A miss auto-creates a cache of 30 GiB plus the extra ephemeral storage (a bad value counts 0)."""
    annotations = {EXTRA: extra} if extra else {}
    [(decision, _)] = run_engine(pod(["nginx:1.25"], annotations=annotations), [])
    assert (decision.outcome, decision.auto_create, decision.auto_cache_size_gib) == ("miss", True, size)
