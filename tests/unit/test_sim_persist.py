"""How `imc sim` starts on its state dir (pure), and a state file moved aside whole."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sim.apiserver.persist import (
    FORMAT,
    SCHEMA,
    UNCLEAN_RV_GAP,
    StatePlan,
    frame,
    load_state,
    plan_start,
    set_aside,
    unframe,
)

WHERE = Path("/state/cluster.sqlite3")


def test_a_fresh_state_dir_starts_the_scenario_asked_else_the_default():
    assert plan_start(None, None, "demo", WHERE) == StatePlan("demo", resume=False)
    assert plan_start(None, "empty", "demo", WHERE) == StatePlan("empty", resume=False)


def test_a_stored_cluster_is_resumed_unless_another_scenario_is_asked():
    assert plan_start("empty", None, "demo", WHERE) == StatePlan("empty", resume=True)
    assert plan_start("scale", "scale", "demo", WHERE) == StatePlan("scale", resume=True)
    refused = plan_start("demo", "empty", "demo", WHERE)
    assert not refused.resume and "began as the demo scenario" in refused.refusal and "--reset" in refused.refusal


def test_set_aside_moves_the_file_and_its_sidecars(tmp_path):
    state = tmp_path / "cluster.sqlite3"
    for suffix, content in (("", b"main"), ("-wal", b"wal")):
        state.with_name(state.name + suffix).write_bytes(content)
    aside = set_aside(state, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert aside == tmp_path / "cluster.sqlite3.bad-20260102T030405Z"
    assert aside.read_bytes() == b"main" and Path(f"{aside}-wal").read_bytes() == b"wal"
    assert not state.exists() and not Path(f"{state}-wal").exists()


def test_a_batch_gives_back_what_was_framed_and_a_torn_one_is_refused():
    versions = [(("pods", "shop", "web-1"), (7, b'{"metadata":{"name":"web-1"}}')), (("events", "shop", "e"), (8, b""))]
    assert list(unframe(frame(versions))) == versions
    with pytest.raises(ValueError):
        list(unframe(frame(versions[:1])[:-3]))


def stored_file(path: Path, clean: str) -> Path:
    """A state file of one ConfigMap at version 10, stopped cleanly or not."""
    obj = b'{"metadata":{"name":"c","namespace":"default","resourceVersion":"10"}}'
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)
        conn.executemany("INSERT INTO meta VALUES (?, ?)", [("format", FORMAT), ("scenario", "empty"), ("rv", "10"),
                                                            ("clean", clean)])
        conn.execute("INSERT INTO batches (data) VALUES (?)", (frame([(("configmaps", "default", "c"), (10, obj))]),))
    conn.close()
    return path


def test_versions_jump_after_a_crash_and_go_on_after_a_clean_stop(tmp_path):
    clean = load_state(stored_file(tmp_path / "clean.sqlite3", "1"))
    crashed = load_state(stored_file(tmp_path / "crashed.sqlite3", "0"))
    assert [entry.obj["metadata"]["name"] for _, entry in crashed.objects] == ["c"]
    assert clean.rv == 10 and crashed.rv == 10 + UNCLEAN_RV_GAP
