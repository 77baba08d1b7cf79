"""The outcome ledger: rows from store snapshots, SQLite on disk (WAL), restarts, pruning, bad files contained."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime

import pytest

from kube.ledger import MAX_RETRY_SECONDS, Ledger, LedgerWriter
from kube.ledger_rows import LedgerSettings, ledger_settings, pod_workload
from kube.store import ClusterStore
from tests.fixtures.engine.builders import imagecache, pod

CREATED = "2026-11-28T08:00:00Z"
EPOCH = datetime.fromisoformat(CREATED.replace("Z", "+00:00")).timestamp()


def eci_pod(name: str, images: list[str], created: str = CREATED, owner: str | None = None, **kwargs) -> dict:
    """An ECI pod with a uid, a creation time and (optionally) a ReplicaSet owner."""
    obj = pod(images, name=name, **kwargs)
    meta = obj["metadata"]
    meta["creationTimestamp"] = created
    meta["uid"] = f"uid-{name}"
    if owner:
        meta["labels"] = {**(meta.get("labels") or {}), "pod-template-hash": "5d8f9"}
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": f"{owner}-5d8f9", "controller": True}]
    return obj


def missed(pod_name: str) -> dict:
    """ECI's ImageCacheMissed event about a pod."""
    return {
        "kind": "Event",
        "metadata": {"name": f"{pod_name}.missed", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": pod_name, "namespace": "default", "uid": f"uid-{pod_name}"},
        "reason": "ImageCacheMissed", "message": "no cache matched", "lastTimestamp": CREATED,
        "source": {"component": "EciService"},
    }


class Clock:
    """A settable clock (epoch seconds) for the writer."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def writer_for(store: ClusterStore, path, now: float = EPOCH + 60, cluster: str = "prod") -> LedgerWriter:
    """A writer not started: the test calls flush() for each tick."""
    return LedgerWriter(store, Ledger(path), cluster, clock=Clock(now))


def by_name(ledger: Ledger, cluster: str = "prod") -> dict[str, tuple]:
    """The pod rows of a cluster by pod name."""
    return {row[3]: row for row in ledger.pods(cluster)}


def test_settings_from_the_environment(tmp_path):
    assert ledger_settings({"IMC_HISTORY": "off"}).path is None
    assert ledger_settings({"XDG_CACHE_HOME": str(tmp_path)}).path == tmp_path / "imc" / "history.sqlite3"
    chosen = ledger_settings({"IMC_HISTORY_PATH": str(tmp_path / "h.db"), "IMC_HISTORY_DAYS": "7"})
    assert chosen == LedgerSettings(tmp_path / "h.db", 7.0)
    wrong = ledger_settings({"IMC_HISTORY_PATH": "x.db", "IMC_HISTORY_DAYS": "soon"})
    assert wrong.days == 30 and "IMC_HISTORY_DAYS" in wrong.problem


def test_workload_is_the_deployment_behind_the_replicaset():
    assert pod_workload(eci_pod("web-5d8f9-abcde", ["nginx:1.25"], owner="web")) == "Deployment/web"
    job = {"metadata": {"ownerReferences": [{"kind": "Job", "name": "nightly", "controller": True}]}}
    assert pod_workload(job) == "Job/nightly"
    assert pod_workload(eci_pod("bare", ["nginx:1.25"])) == ""


def test_each_pod_is_stored_once_and_updated_as_eci_reports(tmp_path):
    store = ClusterStore()
    store.replace("imagecaches", [imagecache("web-cache", ["nginx:1.25"], created="2026-11-01T00:00:00Z")], "1")
    store.replace("events", [], "1")
    store.replace("pods", [eci_pod("web-1", ["nginx:1.25"], owner="web"), eci_pod("db-1", ["redis:7"])], "1")
    writer = writer_for(store, tmp_path / "h.db")
    assert writer.flush()
    rows = by_name(writer.ledger)
    assert rows["web-1"][4:] == ("Deployment/web", EPOCH, "hit", None, "hit", "web-cache",
                                 rows["web-1"][10], 0, None, None, None, None, None)
    assert rows["web-1"][10].startswith("imc-")
    assert rows["db-1"][6:9] == ("miss", None, "miss")
    store.apply("events", "ADDED", missed("web-1"))  # ECI says otherwise
    writer.flush()
    rows = by_name(writer.ledger)
    assert rows["web-1"][6:9] == ("hit", "miss", "miss") and rows["web-1"][11] == 1
    assert len(writer.ledger.pods("prod")) == 2
    # counted once, under the outcome the pod had when first stored
    assert sorted(writer.ledger.decision_totals()) == [("prod", "default", "", "miss", 1),
                                                       ("prod", "default", "Deployment/web", "hit", 1)]


def test_history_survives_a_restart_and_deleted_pods_still_count(tmp_path):
    path = tmp_path / "h.db"
    store = ClusterStore()
    store.replace("pods", [eci_pod("a", ["nginx:1.25"]), eci_pod("b", ["redis:7"])], "1")
    first = writer_for(store, path)
    first.flush()
    store.apply("pods", "DELETED", eci_pod("a", ["nginx:1.25"]))
    first.flush()
    first.ledger.close()

    fresh = ClusterStore()  # the app restarted: "a" is long gone, "b" was deleted while imc was down
    fresh.replace("pods", [eci_pod("c", ["nginx:1.25"], created="2026-11-28T08:05:00Z")], "2")
    second = writer_for(fresh, path, now=EPOCH + 600)
    second.flush()
    rows = by_name(second.ledger)
    assert sorted(rows) == ["a", "b", "c"]
    assert rows["a"][-1] == EPOCH + 60 and rows["b"][-1] == EPOCH + 600 and rows["c"][-1] is None
    minutes = second.ledger.outcome_minutes("prod", EPOCH - 3600, EPOCH + 3600)
    assert sorted(minutes) == [(int(EPOCH // 60), "miss", 2), (int(EPOCH // 60) + 5, "miss", 1)]
    stored = second.ledger.pod("prod", "default", "a")  # a deleted pod's deep link reads this row
    assert (*stored.row, stored.deleted) == rows["a"]
    assert second.ledger.pod("prod", "default", "nope") is None and second.ledger.pod("other", "default", "a") is None


def test_cache_use_counts_the_hits_of_each_cache_since_a_time(tmp_path):
    store = ClusterStore()
    store.replace("imagecaches", [imagecache("web-cache", ["nginx:1.25"]), imagecache("db-cache", ["redis:7"])], "1")
    store.replace("pods", [eci_pod("web-1", ["nginx:1.25"]), eci_pod("web-2", ["nginx:1.25"], created="2026-11-28T09:00:00Z"),
                           eci_pod("db-1", ["redis:7"], created="2026-11-20T00:00:00Z"), eci_pod("x", ["busybox:1"])], "1")
    writer = writer_for(store, tmp_path / "h.db")
    writer.flush()
    use = writer.ledger.cache_use("prod", EPOCH - 3600)  # db-1 hit db-cache before the window; x missed
    assert use == [("imc-web-cache", "web-cache", 2, EPOCH + 3600, 0.0)]
    assert writer.ledger.cache_use("other", 0) == []


def test_cache_phase_changes_are_recorded(tmp_path):
    store = ClusterStore()
    store.replace("imagecaches", [imagecache("ic", ["nginx:1.25"], phase="Creating")], "1")
    writer = writer_for(store, tmp_path / "h.db")
    writer.flush()
    store.apply("imagecaches", "MODIFIED", imagecache("ic", ["nginx:1.25"], phase="Ready"))
    writer.flush()
    store.apply("imagecaches", "DELETED", imagecache("ic", ["nginx:1.25"], phase="Ready"))
    writer.flush()
    assert [row[2] for row in writer.ledger.phases("prod")] == ["Creating", "Ready", "Deleted"]


def test_rows_older_than_the_retention_are_pruned(tmp_path):
    store = ClusterStore()
    store.replace("pods", [eci_pod("old", ["nginx:1.25"]), eci_pod("live", ["redis:7"])], "1")
    writer = writer_for(store, tmp_path / "h.db")
    writer.flush()
    store.apply("pods", "DELETED", eci_pod("old", ["nginx:1.25"]))
    writer.flush()
    assert writer.ledger.prune(EPOCH + 29 * 86400) == 0
    assert writer.ledger.prune(EPOCH + 31 * 86400) == 1
    assert sorted(by_name(writer.ledger)) == ["live"]  # a pod still running stays, however old
    assert writer.ledger.decision_totals()  # the counters keep counting what was pruned
    assert sum(row[4] for row in writer.ledger.decision_totals()) == 2


def test_two_processes_on_one_file_both_write_and_count_each_pod_once(tmp_path):
    path = tmp_path / "h.db"
    store = ClusterStore()
    store.replace("pods", [eci_pod(f"p{i}", ["nginx:1.25"]) for i in range(50)], "1")
    writers = [writer_for(store, path), writer_for(store, path)]
    threads = [threading.Thread(target=w.flush) for w in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(w.ledger.problem is None for w in writers)
    assert len(writers[0].ledger.pods("prod")) == 50
    assert writers[1].ledger.decision_totals() == [("prod", "default", "", "miss", 50)]
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_unwritable_path_is_a_problem_not_a_crash(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    ledger = Ledger(blocker / "h.db")
    assert not ledger.writable and "cannot be written" in ledger.problem
    store = ClusterStore()
    store.replace("pods", [eci_pod("a", ["nginx:1.25"])], "1")
    writer = LedgerWriter(store, ledger, "prod")
    assert writer.flush() is False
    assert store.snapshot().pods["default/a"].decision.outcome == "miss"  # the live view is untouched


def test_a_damaged_file_is_a_problem_and_nothing_is_overwritten(tmp_path):
    path = tmp_path / "h.db"
    path.write_bytes(b"this is not SQLite at all" * 100)
    ledger = Ledger(path)
    assert not ledger.writable and "damaged" in ledger.problem
    assert ledger.outcome_minutes("prod", 0, 1e10) == []
    assert path.read_bytes().startswith(b"this is not SQLite")


def test_a_full_disk_keeps_the_changes_for_the_next_tick(tmp_path):
    path = tmp_path / "h.db"
    Ledger(path).close()
    limit = {"pages": 0}

    def tiny(conn: sqlite3.Connection) -> None:
        used = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {limit['pages'] or used}")

    store = ClusterStore()
    store.replace("pods", [eci_pod(f"pod-with-a-long-name-{i:05d}", ["nginx:1.25"]) for i in range(400)], "1")
    writer = LedgerWriter(store, Ledger(path, setup=tiny), "prod", clock=Clock(EPOCH))
    assert writer.flush() is False
    assert "disk is full" in writer.ledger.problem
    limit["pages"] = 100_000
    writer.ledger.close()
    writer.ledger = Ledger(path, setup=tiny)  # room again (space freed)
    assert writer.flush() is False  # not retried at once: a failing file is retried with backoff
    writer.clock.now += 2
    assert writer.flush() is True and writer.ledger.problem is None
    assert len(writer.ledger.pods("prod")) == 400


def test_start_seconds_fill_the_histograms_once(tmp_path):
    ledger = Ledger(tmp_path / "h.db")
    from kube.ledger_rows import Batch, PodRow

    row = PodRow("prod", "u1", "ns", "p", "", EPOCH, "hit", "hit", "hit", "c", "imc-1", 0, None, None)
    ledger.store("prod", Batch(pods=[row]), EPOCH)
    ledger.store("prod", Batch(pods=[row._replace(start_seconds=3.5, pull_seconds=0.4)]), EPOCH + 1)
    ledger.store("prod", Batch(pods=[row._replace(start_seconds=3.5, pull_seconds=0.4)]), EPOCH + 2)
    buckets = {(b.metric, b.le): (b.count, b.total) for b in ledger.durations()}
    assert buckets == {("start", 5.0): (1, 3.5), ("pull", 1.0): (1, 0.4)}


@pytest.mark.parametrize("value", ["off", "OFF", "0"])
def test_history_off(value):
    assert ledger_settings({"IMC_HISTORY": value}).path is None


def test_start_and_pull_seconds_come_from_the_pods_start(tmp_path):
    started = eci_pod("web-1", ["nginx:1.25"])
    name = started["spec"]["containers"][0]["name"]
    started["status"] = {"phase": "Running", "containerStatuses": [
        {"name": name, "state": {"running": {"startedAt": "2026-11-28T08:00:12Z"}}}]}
    pulled = {
        "kind": "Event", "metadata": {"name": "web-1.pulled", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "default", "uid": "uid-web-1",
                           "fieldPath": f"spec.containers{{{name}}}"},
        "reason": "Pulled", "type": "Normal", "lastTimestamp": "2026-11-28T08:00:10Z",
        "message": 'Successfully pulled image "nginx:1.25" in 8.5s (8.5s including waiting)',
    }
    store = ClusterStore()
    store.replace("events", [pulled], "1")
    store.replace("pods", [started, eci_pod("starting", ["nginx:1.25"])], "1")
    writer = writer_for(store, tmp_path / "h.db")
    writer.flush()
    rows = by_name(writer.ledger)
    assert rows["web-1"][12:14] == (12.0, 8.5)
    assert rows["starting"][12:14] == (None, None)  # still starting: no figure, not a zero
    assert {(b.metric, b.le, b.count) for b in writer.ledger.durations()} == {("start", 20.0, 1), ("pull", 10.0, 1)}


def test_outcome_buckets_sum_the_minutes_in_sql(tmp_path):
    from kube.ledger_rows import Batch, PodRow

    ledger = Ledger(tmp_path / "h.db")
    base = int(EPOCH // 3600) * 3600
    rows = [PodRow("prod", f"u{i}", "ns", f"p{i}", "", base + i * 600, "hit", None, outcome, None, None, 0, None,
                   None) for i, outcome in enumerate(["hit", "hit", "miss", "hit", "hit", "hit", "fail"])]
    ledger.store("prod", Batch(pods=rows), base)
    assert sorted(ledger.outcome_buckets("prod", base, base + 7200, 3600)) == [
        (base, "hit", 5), (base, "miss", 1), (base + 3600, "fail", 1)]
    assert ledger.outcome_buckets("other", base, base + 7200, 3600) == []


LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()  # until the test closes our stdin
conn.execute("COMMIT")
"""


@contextlib.contextmanager
def locked_by_another_process(path):
    """Another process holds an exclusive lock on the SQLite file until the block ends."""
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        yield locker
    finally:
        locker.stdin.close()
        assert locker.wait(30) == 0


def test_pods_that_come_and_go_while_another_process_locks_the_file_are_all_stored(tmp_path):
    path = tmp_path / "h.db"
    store = ClusterStore()
    store.replace("pods", [eci_pod(f"before-{i}", ["nginx:1.25"]) for i in range(3)], "1")
    writer = writer_for(store, path)
    assert writer.flush() and writer.behind == 0
    with locked_by_another_process(path):
        for i in range(20):
            store.apply("pods", "ADDED", eci_pod(f"during-{i}", ["nginx:1.25"]))
        assert writer.flush() is False
        assert "busy" in writer.ledger.problem and writer.behind == 20
        writer.clock.now += 1
        for i in range(5):  # short-lived: created and deleted while the file is locked
            store.apply("pods", "DELETED", eci_pod(f"during-{i}", ["nginx:1.25"]))
        writer.flush()
        assert writer.behind == 25  # 20 new pods, then 5 of them gone
    writer.clock.now += MAX_RETRY_SECONDS
    assert writer.flush() is True and writer.behind == 0 and writer.ledger.problem is None
    rows = by_name(writer.ledger)
    assert sorted(rows) == sorted([f"before-{i}" for i in range(3)] + [f"during-{i}" for i in range(20)])
    deleted = {name for name, row in rows.items() if row[-1] is not None}
    assert deleted == {f"during-{i}" for i in range(5)}
    assert {rows[name][-1] for name in deleted} == {EPOCH + 61}  # when the deletion was seen, not when stored
    assert writer.ledger.decision_totals() == [("prod", "default", "", "miss", 23)]


def test_the_queue_is_bounded_and_says_so_past_the_bound(tmp_path, caplog):
    path = tmp_path / "h.db"
    store = ClusterStore()
    store.replace("pods", [], "1")
    writer = LedgerWriter(store, Ledger(path), "prod", clock=Clock(EPOCH), max_pending=10)
    writer.flush()
    with locked_by_another_process(path):
        for i in range(8):
            store.apply("pods", "ADDED", eci_pod(f"a-{i}", ["nginx:1.25"]))
        writer.flush()
        for i in range(4):
            store.apply("pods", "ADDED", eci_pod(f"b-{i}", ["nginx:1.25"]))
        writer.flush()
        assert writer.behind == 12 and writer.overflow is None  # under the bound when queued: one tick may pass it
        store.apply("pods", "ADDED", eci_pod("c-0", ["nginx:1.25"]))
        store.apply("pods", "ADDED", eci_pod("lost", ["nginx:1.25"]))
        with caplog.at_level(logging.WARNING, logger="imc.kube.ledger"):
            writer.flush()
        assert writer.behind == 12  # nothing more queued past the bound
        assert "the most imc keeps in memory (10)" in writer.overflow
        assert "pods that come and go are not recorded" in caplog.text
        store.apply("pods", "DELETED", eci_pod("lost", ["nginx:1.25"]))  # came and went past the bound
        writer.flush()
    writer.clock.now += MAX_RETRY_SECONDS
    assert writer.flush() is True and writer.overflow is None and writer.behind == 0
    # what was queued, and the store's state when the file freed; only the pod that came and went past the bound
    # is missing
    assert sorted(by_name(writer.ledger)) == sorted([f"a-{i}" for i in range(8)] + [f"b-{i}" for i in range(4)]
                                                    + ["c-0"])


def test_another_programs_sqlite_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "theirs.db"
    theirs = sqlite3.connect(path)
    theirs.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    theirs.execute("CREATE TABLE pods (name TEXT)")  # even a table of the same name is not imc's
    theirs.executemany("INSERT INTO invoices (total) VALUES (?)", [(i * 1.5,) for i in range(100)])
    theirs.commit()
    theirs.close()
    before = path.read_bytes()
    ledger = Ledger(path)
    assert not ledger.readable and not ledger.writable
    assert "another program's SQLite database" in ledger.problem and "'invoices'" in ledger.problem
    assert "untouched" in ledger.problem and str(path) in ledger.problem
    store = ClusterStore()
    store.replace("pods", [eci_pod("a", ["nginx:1.25"])], "1")
    assert LedgerWriter(store, ledger, "prod").flush() is False
    assert ledger.pods("prod") == []
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["theirs.db"]  # no -wal or -shm beside it
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).execute("PRAGMA user_version = 1").close()  # a database without tables is imc's to fill
    assert Ledger(empty).writable


def test_stopping_makes_one_last_try_whatever_the_backoff(tmp_path, caplog):
    path = tmp_path / "h.db"
    store = ClusterStore()
    store.replace("pods", [eci_pod("a", ["nginx:1.25"])], "1")
    writer = LedgerWriter(store, Ledger(path), "prod", interval=3600, clock=Clock(EPOCH))  # time stands still
    with locked_by_another_process(path):
        assert writer.flush() is False  # the next try waits for the backoff
    store.apply("pods", "ADDED", eci_pod("b", ["nginx:1.25"]))
    writer.start()
    writer.stop(timeout=30)
    assert sorted(by_name(writer.ledger)) == ["a", "b"] and writer.behind == 0
    writer = LedgerWriter(store, Ledger(path), "prod", interval=3600)
    store.apply("pods", "ADDED", eci_pod("c", ["nginx:1.25"]))
    with locked_by_another_process(path), caplog.at_level(logging.WARNING, logger="imc.kube.ledger"):
        writer.start()
        writer.stop(timeout=30)
    assert writer.behind == 3  # a, b and c: this writer had not stored them yet
    assert "3 changes were not stored before the end" in caplog.text and "busy" in caplog.text


def test_a_fifo_at_the_history_path_is_refused_not_waited_on(tmp_path):
    path = tmp_path / "h.db"
    os.mkfifo(path)
    opened: list[Ledger] = []
    thread = threading.Thread(target=lambda: opened.append(Ledger(path)), daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():  # stuck opening the FIFO: a writer end that closes at once lets it go
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(10)
        pytest.fail("opening the ledger waited on a FIFO")
    assert not opened[0].readable and "not a regular file" in opened[0].problem


def test_while_the_first_lists_come_nothing_is_diffed_until_every_kind_was_listed(tmp_path):
    store = ClusterStore()
    clock = Clock(EPOCH)
    writer = LedgerWriter(store, Ledger(tmp_path / "h.db"), "prod", clock=clock, wait_for_sync=60)
    store.replace("pods", [eci_pod("web-1", ["nginx:1.25"])], "1")
    writer.flush()
    assert by_name(writer.ledger) == {} and writer.behind == 0
    for kind in ("imagecaches", "deployments", "events"):
        store.replace(kind, [missed("web-1")] if kind == "events" else [], "1")
    writer.flush()
    stored = writer.ledger.pod("prod", "default", "web-1")
    assert stored is not None and stored.row.actual == "miss"  # stored once, with ECI's word already in


def test_a_kind_never_listed_delays_the_history_only_so_long(tmp_path):
    store = ClusterStore()
    clock = Clock(EPOCH)
    writer = LedgerWriter(store, Ledger(tmp_path / "h.db"), "prod", clock=clock, wait_for_sync=60)
    store.replace("pods", [eci_pod("web-1", ["nginx:1.25"])], "1")  # events forbidden, say: never listed
    writer.flush()
    assert by_name(writer.ledger) == {}
    clock.now += 61
    writer.flush()
    assert list(by_name(writer.ledger)) == ["web-1"]
