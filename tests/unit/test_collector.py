"""The garbage collector's pacing: what survives a full collection is frozen; a full collection frees it again."""

from __future__ import annotations

import gc
import threading

import pytest

from bench.waits import poll
from core.collector import collect_everything, pace_collector
from dashboard.startup import collect_now_and_then


@pytest.fixture
def pacing():
    """The process's collector callbacks and frozen objects as they were, after the test."""
    before = list(gc.callbacks)
    yield
    gc.callbacks[:] = before
    gc.unfreeze()


def pacers() -> list:
    return [callback for callback in gc.callbacks if getattr(callback, "paces", False)]


def test_what_survives_a_full_collection_is_frozen(pacing):
    gc.callbacks[:] = [c for c in gc.callbacks if not getattr(c, "paces", False)]
    gc.unfreeze()
    pace_collector()
    survivor = [object() for _ in range(10)]
    gc.collect()
    assert gc.get_freeze_count() >= len(survivor)


def test_a_younger_collection_freezes_nothing(pacing):
    gc.unfreeze()
    pace_collector()
    gc.collect(0)
    assert gc.get_freeze_count() == 0


def test_collecting_everything_unfreezes_and_frees_a_frozen_cycle(pacing):
    pace_collector(lambda action: None)  # nothing frozen by the pacer in this test
    gc.unfreeze()
    cycle = [[]]
    cycle[0].append(cycle)
    gc.freeze()
    assert gc.get_freeze_count() > 0
    del cycle
    collect_everything()
    assert gc.get_freeze_count() == 0
    assert not any(type(o) is list and len(o) == 1 and o[0] is o for o in gc.get_objects())


def test_one_pacer_however_often_it_is_asked_for(pacing):
    pace_collector()
    pace_collector()
    assert len(pacers()) == 1


def test_the_pacer_runs_the_freeze_where_it_is_told(pacing):
    scheduled = []
    pace_collector(scheduled.append)
    gc.unfreeze()
    gc.collect()
    assert scheduled == [gc.freeze]
    assert gc.get_freeze_count() == 0


def test_the_dashboards_collector_thread_collects_everything_until_told_to_stop(pacing):
    gc.freeze()
    assert gc.get_freeze_count() > 0
    stop = threading.Event()
    collector = threading.Thread(target=collect_now_and_then, args=(stop, 0.01), daemon=True)
    collector.start()
    poll(lambda: gc.get_freeze_count() == 0, 10, "the collector thread to unfreeze and collect")
    stop.set()
    collector.join(10)
    assert not collector.is_alive()
