"""The caches as of a pod's creation: a deleted cache, an updated cache, a cache imc never saw."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.cache_history import CacheHistory, caches_as_of
from core.caches import cache_from_object
from core.outcomes import unseen_text
from kube.store import ClusterStore
from tests.fixtures.engine.builders import imagecache, pod

START = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """START plus some minutes."""
    return START + timedelta(minutes=minutes)


def stamp(moment: datetime) -> str:
    """RFC 3339 with Z, as the API server writes it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def eci_pod(name: str, images: list[str], created: datetime, matched: str | None = None) -> dict:
    """An ECI pod created at a moment; with `matched`, ECI's annotation of the cache it hit."""
    annotations = {"k8s.aliyun.com/eci-matched-image-cache": matched} if matched else None
    obj = pod(images, name=name, annotations=annotations)
    obj["metadata"]["creationTimestamp"] = stamp(created)
    obj["metadata"]["uid"] = f"uid-{name}"
    return obj


def ready_cache(name: str, images: list[str], ready: datetime, phase: str = "Ready") -> dict:
    """A cache created an hour before START, in a phase since `ready` (status.lastUpdatedTime)."""
    obj = imagecache(name, images, phase=phase, created=stamp(at(-60)))
    obj["status"]["lastUpdatedTime"] = stamp(ready)
    return obj


def store_at(clock: Clock) -> ClusterStore:
    """A listed, empty store on the test's clock."""
    store = ClusterStore(clock=clock)
    for kind in ("pods", "imagecaches", "events"):
        store.replace(kind, [], "1")
    return store


# ---- the pure history


def test_as_of_keeps_a_deleted_cache_for_pods_created_before_its_deletion():
    view = cache_from_object(ready_cache("web", ["nginx:1.25"], at(-30)))
    history = CacheHistory().seen(view, at(0)).deleted("web", at(10))
    assert [v.name for v in caches_as_of(history, at(5))] == ["web"]
    assert caches_as_of(history, at(10)) == ()
    assert caches_as_of(history, at(20)) == ()
    assert history.knows(view.id)


def test_as_of_gives_the_spec_and_phase_a_cache_had_then():
    old = cache_from_object(ready_cache("web", ["nginx:1.25"], at(-30)))
    updating = cache_from_object(ready_cache("web", ["nginx:1.25"], at(10), phase="Updating"))
    new = cache_from_object(ready_cache("web", ["nginx:1.27"], at(12)))
    history = CacheHistory().seen(old, at(0)).seen(updating, at(11)).seen(new, at(13))
    assert caches_as_of(history, at(5)) == (old,)
    # the new version starts at its status.lastUpdatedTime, not when the watch showed it a second later
    assert caches_as_of(history, at(10)) == (updating,)
    assert caches_as_of(history, at(12)) == (new,)
    assert history.epoch(at(5)) == 0 and history.epoch(at(30)) == len(history.changes) == 2


def test_a_cache_imc_learnt_of_later_is_given_as_first_seen():
    view = cache_from_object(ready_cache("web", ["nginx:1.25"], at(-30)))
    history = CacheHistory().seen(view, at(60))
    assert caches_as_of(history, at(0)) == (view,)  # its own timestamps say it was Ready then


def test_pruning_forgets_what_no_pod_needs():
    view = cache_from_object(ready_cache("web", ["nginx:1.25"], at(-30)))
    other = cache_from_object(ready_cache("db", ["redis:7"], at(-30)))
    history = CacheHistory().seen(view, at(0)).seen(other, at(0)).deleted("web", at(10))
    assert history.pruned(at(10)) is history
    pruned = history.pruned(at(11))
    assert list(pruned.versions) == ["db"] and not pruned.knows(view.id)
    assert list(history.pruned(at(0), max_ended=0).versions) == ["db"]


# ---- the store decides every pod on the caches of its creation


def test_a_deleted_cache_still_serves_the_pods_created_before_its_deletion():
    clock = Clock(at(0))
    store = store_at(clock)
    cache = ready_cache("web", ["nginx:1.25"], at(-30))
    store.apply("imagecaches", "ADDED", cache)
    cid = cache["status"]["imageCacheId"]
    store.apply("pods", "ADDED", eci_pod("before", ["nginx:1.25"], at(1), matched=cid))
    clock.now = at(10)
    store.apply("imagecaches", "DELETED", cache)
    store.apply("pods", "ADDED", eci_pod("after", ["nginx:1.25"], at(11)))
    pods = store.snapshot().pods
    assert (pods["default/before"].decision.outcome, pods["default/before"].decision.cache.name) == ("hit", "web")
    assert not pods["default/before"].disagrees
    assert pods["default/after"].decision.outcome == "miss"


def test_an_updated_cache_serves_earlier_pods_with_its_earlier_spec_and_none_while_updating():
    clock = Clock(at(0))
    store = store_at(clock)
    store.apply("imagecaches", "ADDED", ready_cache("web", ["nginx:1.25"], at(-30)))
    store.apply("pods", "ADDED", eci_pod("old", ["nginx:1.25"], at(1)))
    clock.now = at(10)
    store.apply("imagecaches", "MODIFIED", ready_cache("web", ["nginx:1.25"], at(10), phase="Updating"))
    store.apply("pods", "ADDED", eci_pod("during", ["nginx:1.25"], at(11)))
    clock.now = at(20)
    store.apply("imagecaches", "MODIFIED", ready_cache("web", ["nginx:1.27"], at(20)))
    store.apply("pods", "ADDED", eci_pod("new", ["nginx:1.25"], at(21)))
    pods = store.snapshot().pods
    assert pods["default/old"].decision.outcome == "hit"
    assert pods["default/old"].decision.cache.images == ("docker.io/library/nginx:1.25",)
    assert pods["default/during"].decision.outcome == "miss"  # an Updating cache is not usable
    assert pods["default/new"].decision.outcome == "miss"  # the cache holds nginx:1.27 now
    assert store.snapshot().index_at(at(5)).caches[0].images == ("docker.io/library/nginx:1.25",)


def test_a_hit_on_a_cache_imc_never_saw_is_no_disagreement():
    store = store_at(Clock(at(30)))
    store.apply("pods", "ADDED", eci_pod("cart", ["nginx:1.25"], at(1), matched="imc-gone"))
    record = store.snapshot().pods["default/cart"]
    assert record.decision.outcome == "miss"
    assert record.unseen_cache == "imc-gone"
    assert not record.disagrees
    assert unseen_text(record.unseen_cache) == "ECI used imc-gone (no longer exists)"


def test_a_hit_reported_before_the_caches_are_listed_waits_for_the_list():
    store = ClusterStore(clock=Clock(at(30)))
    cache = ready_cache("web", ["nginx:1.25"], at(-30))
    cid = cache["status"]["imageCacheId"]
    store.replace("pods", [eci_pod("cart", ["nginx:1.25"], at(1), matched=cid)], "1")
    assert store.snapshot().pods["default/cart"].unseen_cache is None  # not listed yet: unknown, not unseen
    store.replace("imagecaches", [cache], "1")
    assert store.snapshot().pods["default/cart"].unseen_cache is None
    store.replace("imagecaches", [], "2")  # deleted in a watch gap: remembered
    assert store.snapshot().pods["default/cart"].unseen_cache is None
    assert store.snapshot().pods["default/cart"].decision.outcome == "hit"


def test_a_deletion_seen_late_counts_from_its_deletion_timestamp():
    clock = Clock(at(0))
    store = store_at(clock)
    cache = ready_cache("web", ["nginx:1.25"], at(-30))
    store.apply("imagecaches", "ADDED", cache)
    clock.now = at(20)  # the watch shows the deletion late; the pod was created after the cache had gone
    store.apply("pods", "ADDED", eci_pod("between", ["nginx:1.25"], at(15)))
    gone = {**cache, "metadata": {**cache["metadata"], "deletionTimestamp": stamp(at(10))}}
    store.apply("imagecaches", "DELETED", gone)
    assert store.snapshot().pods["default/between"].decision.outcome == "miss"


def test_an_earlier_epochs_index_is_kept_across_later_changes_and_rebuilt_for_a_new_cache():
    web = cache_from_object(ready_cache("web", ["nginx:1.25"], at(-30)))
    db = cache_from_object(ready_cache("db", ["redis:7"], at(-30)))
    history = CacheHistory().seen(web, at(0)).seen(db, at(0)).deleted("db", at(10))
    early = history.index_at(at(5))
    later = history.seen(cache_from_object(ready_cache("web", ["nginx:1.27"], at(20))), at(20))
    assert later.index_at(at(5)) is early  # a change after the epoch leaves it as it was
    assert [c.images for c in later.index_at(at(25)).caches] == [("docker.io/library/nginx:1.27",)]
    added = later.seen(cache_from_object(ready_cache("api", ["node:22"], at(-30))), at(30))
    assert {c.name for c in added.index_at(at(5)).caches} == {"web", "db", "api"}  # a new cache: every epoch
    assert history.changed_at("db") == at(10) and later.changed_at("web") == at(20) and added.changed_at("api") is None


def test_a_cache_gone_while_the_watch_was_down_is_gone_from_the_outages_start():
    clock = Clock(at(0))
    store = store_at(clock)
    store.replace("imagecaches", [ready_cache("web", ["nginx:1.25"], at(-30))], "2")
    clock.now = at(10)
    store.set_error("imagecaches", "connection refused")  # e.g. the server restarted with another state
    clock.now = at(20)
    store.replace("pods", [eci_pod("restarted", ["nginx:1.25"], at(15))], "3")
    store.replace("imagecaches", [], "3")
    assert store.snapshot().pods["default/restarted"].decision.outcome == "miss"
