"""The Image caches page's impact preview (dashboard/cache_impact.py over core.impact, the engine) and its actions'
pure parts (dashboard/cache_actions.py): what a change does to each workload's next pod, in words."""

from __future__ import annotations

from datetime import UTC, datetime

from core.impact import CacheChange, extended_expiry
from core.policy import IMC_ID
from dashboard.cache_actions import Cause, adoption, adoption_problems, suggested_name
from dashboard.cache_impact import impact_rows, kept_preview, preview, unchanged
from dashboard.frames import FrameKeeper
from kube.store import ClusterStore

AT = datetime(2026, 12, 1, tzinfo=UTC)


def cache(name: str, images: list[str], cache_id: str) -> dict:
    """A Ready ImageCache made long before AT."""
    return {"apiVersion": "eci.alibabacloud.com/v1", "kind": "ImageCache",
            "metadata": {"name": name, "creationTimestamp": "2026-11-01T00:00:00Z"},
            "spec": {"images": images},
            "status": {"phase": "Ready", "imageCacheId": cache_id, "lastUpdatedTime": "2026-11-01T00:10:00Z"}}


def deployment(name: str, images: list[str], annotations: dict | None = None) -> dict:
    """An ECI Deployment (no live pod: the page decides its template's next pod)."""
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "shop"},
            "spec": {"template": {"metadata": {"labels": {"alibabacloud.com/eci": "true"},
                                               "annotations": annotations or {}},
                                  "spec": {"containers": [{"name": "c", "image": image} for image in images]}}}}


CACHES = [cache("web", ["nginx:1.25"], "imc-web"), cache("web-and-redis", ["nginx:1.25", "redis:7"], "imc-both")]


def snapshot_of(deployments: list[dict], caches: list[dict] = CACHES):
    """A store snapshot holding these Deployments and caches, as the watch lists them."""
    store = ClusterStore(clock=lambda: AT)
    store.replace("imagecaches", caches, "1")
    store.replace("deployments", deployments, "1")
    return store.snapshot()


def impact_of(deployments: list[dict], caches: list[dict], change: CacheChange, at: datetime):
    """The page's preview of a change to these caches, for these Deployments."""
    return preview(snapshot_of(deployments, caches), change, at)


def test_deleting_the_only_cache_a_workload_hits_is_a_miss_with_auto_create():
    impact = impact_of([deployment("api", ["redis:7"])], CACHES, CacheChange("delete", "web-and-redis"), AT)
    rows = impact_rows(impact.workloads)
    assert list(rows["Workload"]) == ["Deployment/shop/api"]
    assert list(rows["What changes"]) == ["hit → miss, and ECI auto-creates a cache for it"]
    assert list(rows["Now"]) == ["hit web-and-redis"] and list(rows["After"]) == ["miss"]


def test_deleting_a_pinned_cache_fails_the_pin_and_leaves_the_others_alone():
    workloads = [deployment("pinned", ["nginx:1.25"], {IMC_ID: "imc-web"}), deployment("db", ["postgres:16"])]
    impact = impact_of(workloads, CACHES, CacheChange("delete", "web"), AT)
    rows = impact_rows(impact.workloads)
    assert list(rows["Workload"]) == ["Deployment/shop/pinned"] and unchanged(impact) == 1
    assert rows["What changes"][0].startswith("pinned → fail (ImageCacheNotFound")
    assert rows["Now"][0] == "hit web (pinned)" and rows["After"][0] == "fail (pins imc-web)"


def test_deleting_one_of_two_candidates_moves_the_workload_to_the_other():
    workloads = [deployment("web", ["nginx:1.25", "redis:7"])]
    chosen = impact_of(workloads, CACHES, CacheChange("delete", "web"), AT)
    assert chosen.workloads == () and unchanged(chosen) == 1  # it hits web-and-redis, which stays
    moved = impact_rows(impact_of(workloads, CACHES, CacheChange("delete", "web-and-redis"), AT).workloads)
    assert list(moved["What changes"]) == ["hits web instead"]


def test_an_update_misses_while_updating_and_an_image_dropped_loses_the_hit():
    workloads = [deployment("api", ["redis:7"])]
    during = impact_of(workloads, CACHES, CacheChange("update", "web-and-redis", ("nginx:1.25", "redis:7")), AT)
    assert list(impact_rows(during.while_updating)["What changes"]) == [
        "hit → miss, and ECI auto-creates a cache for it"]
    after = impact_of(workloads, CACHES, CacheChange("update", "web-and-redis", ("nginx:1.25",)), AT)
    assert list(impact_rows(after.workloads)["After"]) == ["miss"]
    kept = impact_of(workloads, CACHES, CacheChange("update", "web-and-redis", ("docker.io/library/redis:7",)), AT)
    assert kept.workloads == ()  # the same image, written another way


def test_adding_a_cache_that_holds_more_images_wins_the_workload():
    workloads = [deployment("api", ["redis:7", "busybox:1.36"])]
    proposed = {"metadata": {"name": "api-images"}, "spec": {"images": ["redis:7", "busybox:1.36"]}}
    impact = impact_of(workloads, CACHES, CacheChange("add", "api-images", cache=proposed), AT)
    assert list(impact_rows(impact.workloads)["What changes"]) == ["hits api-images instead"]


def test_an_adoption_keeps_the_images_and_size_and_is_named_after_its_workload():
    spec = {"images": ["nginx:1.25"], "imageCacheSize": 40}
    assert suggested_name(Cause("shop", "Deployment", "web"), "auto-create-for-eci-1") == "web-images"
    assert suggested_name(None, "auto-create-for-eci-1") == "eci-1-images"
    adopted = adoption(" web-images ", spec)
    assert adopted == {"metadata": {"name": "web-images"}, "spec": {"images": ["nginx:1.25"], "imageCacheSize": 40}}
    assert adoption_problems(adopted, {}) == []
    assert adoption_problems(adopted, {"web-images": {}}) == ["an ImageCache named web-images already exists"]
    assert adoption_problems(adoption("Web", spec), {})[0].startswith("metadata.name: 'Web' must be lowercase")


def test_an_extension_moves_the_expiry_by_the_added_days():
    assert extended_expiry(AT, 7, 30) == datetime(2026, 12, 24, tzinfo=UTC)
    assert extended_expiry(AT, 7, 7) is None and extended_expiry(AT, None, 30) is None
    assert extended_expiry(AT, 7, None) is None


def test_the_impact_is_kept_per_store_version_and_change():
    store = ClusterStore(clock=lambda: AT)
    store.replace("imagecaches", CACHES, "1")
    store.replace("deployments", [deployment("api", ["redis:7"])], "1")
    keeper = FrameKeeper()
    delete = CacheChange("delete", "web-and-redis")
    first = kept_preview(keeper.frames_of(store.snapshot()), delete)
    # a live refresh of the same version, the same change (an equal one): the impact is not computed again
    assert kept_preview(keeper.frames_of(store.snapshot()), CacheChange("delete", "web-and-redis")) is first
    proposed = {"metadata": {"name": "api-images"}, "spec": {"images": ["redis:7"]}}
    added = kept_preview(keeper.frames_of(store.snapshot()), CacheChange("add", "api-images", cache=proposed))
    assert added is not first and added is kept_preview(
        keeper.frames_of(store.snapshot()), CacheChange("add", "api-images", cache=dict(proposed)))
    store.replace("deployments", [deployment("api", ["redis:7"]), deployment("db", ["redis:7", "nginx:1.25"])], "2")
    later = kept_preview(keeper.frames_of(store.snapshot()), delete)
    assert later is not first
    assert list(impact_rows(later.workloads)["Workload"]) == ["Deployment/shop/api", "Deployment/shop/db"]
