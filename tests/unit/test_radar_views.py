"""The cache radar's view model (issue 22): expiring, failed, unused and auto-created caches, and cost vs saving."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.policy import IMC_ID, INSTANCE_ID
from dashboard.radar_views import matching, price_setting, radar, window_days
from kube.store import ClusterStore
from tests.fixtures.engine.builders import imagecache, pod

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def owned(name: str, images: list[str], deployment: str, annotations: dict | None = None) -> dict:
    obj = pod(images, name=name, annotations=annotations)
    obj["metadata"].update(creationTimestamp="2026-11-28T08:00:00Z", uid=f"uid-{name}")
    obj["metadata"]["labels"]["pod-template-hash"] = "5d8f"
    obj["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": f"{deployment}-5d8f", "controller": True}]
    return obj


def store() -> ClusterStore:
    """web hits soon (expiring in 2 days), api pins it; old is unused; broke failed; an auto-created cache of web."""
    filled = ClusterStore(clock=lambda: NOW)
    filled.replace("imagecaches", [
        imagecache("soon", ["nginx:1.25"], created="2026-11-20T00:00:00Z", expire="2026-11-30T09:00:00Z"),
        imagecache("later", ["redis:7"], created="2026-11-20T00:00:00Z", expire="2026-12-20T00:00:00Z", size=30),
        imagecache("old", ["busybox:1.36"], created="2026-11-01T00:00:00Z", size=100),
        {**imagecache("broke", ["acme/x:1"], phase="Failed"),
         "status": {"phase": "Failed", "lastUpdatedTime": "2026-11-28T06:00:00Z", "imageCacheId": "imc-broke"}},
        imagecache("auto-create-for-eci-web1", ["acme/new:1"], created="2026-11-28T08:00:01Z"),
    ], "1")
    filled.replace("pods", [
        owned("web-1", ["nginx:1.25"], "web"),
        owned("web-2", ["nginx:1.25"], "web"),
        owned("api-1", ["nginx:1.25"], "api", annotations={IMC_ID: "imc-soon"}),
        owned("db-1", ["redis:7"], "db"),
        owned("new-1", ["acme/new:1"], "newapp", annotations={INSTANCE_ID: "eci-web1"}),
    ], "1")
    return filled


def test_the_radar_lists_each_kind_of_cache_with_its_workloads() -> None:
    snapshot = store().snapshot()
    seen = radar(snapshot.caches, snapshot.pods, [], NOW, window_days=7)
    assert list(seen.expiring["Cache"]) == ["soon"]
    row = seen.expiring.iloc[0]
    assert (row["Workloads"], row["Hit by"], row["Pinned by"]) == (2, "default/Deployment/api, default/Deployment/web",
                                                                   "default/Deployment/api")
    assert list(seen.failed["Cache"]) == ["broke"]
    assert seen.failed.iloc[0]["Removed"] == datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
    assert list(seen.unused["Cache"]) == ["old", "auto-create-for-eci-web1"]  # its own pod missed before it
    assert seen.unused.iloc[0]["History"] == "no hit in 7 d"
    assert list(seen.auto_created["Caused by"]) == ["default/Deployment/newapp"]
    found = matching(seen, " SOON ")  # the search: by name, any case
    assert list(found.expiring["Cache"]) == list(found.cost["Cache"]) == ["soon"] and found.unused.empty


def test_cost_puts_the_cache_that_costs_most_and_saves_least_first() -> None:
    snapshot = store().snapshot()
    # the ledger: soon saved an hour in 3 hits, later 10 s in 1 hit
    use = [("imc-soon", "soon", 3, NOW.timestamp(), 3600.0), ("imc-later", "later", 1, NOW.timestamp(), 10.0)]
    seen = radar(snapshot.caches, snapshot.pods, use, NOW, window_days=7, price=0.3)
    order = list(seen.cost["Cache"])
    assert order[0] == "old" and order.index("later") < order.index("soon")  # old: 100 GiB × 7 d, saved nothing
    old = seen.cost.iloc[0]
    assert old["GiB-days"] == 700.0 and old["Estimated cost"] == pytest.approx(7.0)
    assert seen.total_money == pytest.approx(seen.total_gib_days / 30 * 0.3)
    assert seen.cost.set_index("Cache").loc["soon", "Time saved (h)"] == 1.0


def test_without_history_live_pods_decide_what_is_unused() -> None:
    snapshot = store().snapshot()
    seen = radar(snapshot.caches, snapshot.pods, None, NOW)
    assert set(seen.unused["History"]) == {"no history kept"} and seen.notes


@pytest.mark.parametrize(("value", "price", "problem"),
                         [("", None, False), ("0.05", 0.05, False), ("cheap", None, True), ("-1", None, True),
                          ("nan", None, True)])
def test_the_price_comes_from_the_environment_and_a_bad_one_says_so(value: str, price, problem: bool) -> None:
    setting = price_setting({"IMC_PRICE_PER_GIB_MONTH": value})
    assert setting.per_gib_month == price and bool(setting.problem) is problem


@pytest.mark.parametrize(("text", "days"), [(None, 7), ("30", 30), ("0", 1), ("99", 30), ("week", 7), (" 3 ", 3)])
def test_a_links_window_is_read_within_bounds(text, days: int) -> None:
    assert window_days(text) == days
