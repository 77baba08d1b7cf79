"""The watch history compacted as kube-apiserver has etcd compacted (issue 23 item 7)."""

from __future__ import annotations

from sim.apiserver.store import COMPACTION_SECONDS, Store


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def namespace(name: str) -> dict:
    return {"metadata": {"name": name}}


def test_each_interval_compacts_to_the_version_the_previous_one_began_at():
    clock = Clock()
    store = Store(compaction_seconds=COMPACTION_SECONDS, clock=clock)
    first = store.put("namespaces", namespace("a")).rv
    clock.now += COMPACTION_SECONDS
    second = store.put("namespaces", namespace("b")).rv  # the first interval ends: compacts to its start (rv 1)
    assert store.can_resume(1)
    clock.now += COMPACTION_SECONDS / 2
    store.put("namespaces", namespace("c"))
    assert store.can_resume(1)  # within an interval nothing more is dropped
    clock.now += COMPACTION_SECONDS / 2
    assert not store.can_resume(first - 1) and store.can_resume(first)  # compacted to where interval 2 began
    assert [change.rv for change in store.history] == [second, second + 1]


def test_idle_intervals_compact_to_now_and_zero_never_compacts():
    clock = Clock()
    store = Store(compaction_seconds=COMPACTION_SECONDS, clock=clock)
    last = store.put("namespaces", namespace("a")).rv
    clock.now += 3 * COMPACTION_SECONDS
    assert not store.can_resume(last - 1) and store.can_resume(last) and not store.history
    never = Store(compaction_seconds=0, clock=clock)
    kept = never.put("namespaces", namespace("a")).rv
    clock.now += 100 * COMPACTION_SECONDS
    assert never.can_resume(kept - 1)
