"""The outcome ledger: every ECI pod once and every cache phase change, in SQLite (WAL), kept across restarts.

A writer thread takes a store snapshot about once a second and stores what changed in one transaction, so the
watch threads do no ledger work and a crash loses at most the last second. Triggers keep the per-minute outcome
counts (the Overview charts), the decision totals and the start-time histograms (the metrics) in step with the
pods table, in the same transaction, so two processes on one file count each pod once.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.figures import FigureRow
from core.findings import brief
from core.owners import cronjob_of
from kube.ledger_rows import Batch, LedgerSettings, PendingChanges, PodRow, StoredPod, Tracker

log = logging.getLogger("imc.kube.ledger")

# A write waits this long for another process's transaction; past it the changes wait in memory for the next try,
# so a locked file never stalls the writer's diffing for long (a pod that comes and goes meanwhile is still seen).
BUSY_TIMEOUT_MS = 1000
SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite 3 database (sqlite.org/fileformat.html)
DURATION_BOUNDS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, math.inf)
SCHEMA_VERSION = 1
WORKLOAD_RULE_KEY = "workload_rule"  # set once the rows of CronJob runs were merged into their CronJob
POD_COLUMNS = PodRow._fields
_MINUTE = "CAST(coalesce({0}.created, {0}.first_seen) / 60 AS INTEGER)"
_CREATED = "coalesce(created, first_seen)"  # as indexed (pods_by_cluster_time): the index serves only this expression

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pods (
    cluster TEXT NOT NULL, uid TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    workload TEXT NOT NULL, created REAL, predicted TEXT NOT NULL, actual TEXT, outcome TEXT NOT NULL,
    cache_name TEXT, cache_id TEXT, disagrees INTEGER NOT NULL, start_seconds REAL, pull_seconds REAL,
    saved_seconds REAL, first_seen REAL NOT NULL, updated REAL NOT NULL, deleted REAL, saving_seconds REAL,
    PRIMARY KEY (cluster, uid)
);
CREATE INDEX IF NOT EXISTS pods_by_created ON pods (created);
CREATE INDEX IF NOT EXISTS pods_by_cluster_time ON pods (cluster, coalesce(created, first_seen));
CREATE TABLE IF NOT EXISTS cache_phases (
    cluster TEXT NOT NULL, name TEXT NOT NULL, id TEXT, phase TEXT NOT NULL, at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS cache_phases_by_time ON cache_phases (cluster, at);
CREATE TABLE IF NOT EXISTS outcome_minutes (
    cluster TEXT NOT NULL, minute INTEGER NOT NULL, outcome TEXT NOT NULL, pods INTEGER NOT NULL,
    PRIMARY KEY (cluster, minute, outcome)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS decision_totals (
    cluster TEXT NOT NULL, namespace TEXT NOT NULL, workload TEXT NOT NULL, outcome TEXT NOT NULL,
    pods INTEGER NOT NULL, PRIMARY KEY (cluster, namespace, workload, outcome)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS time_saved (
    cluster TEXT NOT NULL, namespace TEXT NOT NULL, workload TEXT NOT NULL, seconds REAL NOT NULL,
    PRIMARY KEY (cluster, namespace, workload)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS duration_bounds (le REAL PRIMARY KEY);
CREATE TABLE IF NOT EXISTS durations (
    cluster TEXT NOT NULL, metric TEXT NOT NULL, outcome TEXT NOT NULL, le REAL NOT NULL,
    count INTEGER NOT NULL, total REAL NOT NULL, PRIMARY KEY (cluster, metric, outcome, le)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS pods_inserted AFTER INSERT ON pods BEGIN
    INSERT INTO outcome_minutes VALUES (new.cluster, {_MINUTE.format("new")}, new.outcome, 1)
        ON CONFLICT DO UPDATE SET pods = pods + 1;
    INSERT INTO decision_totals VALUES (new.cluster, new.namespace, new.workload, new.outcome, 1)
        ON CONFLICT DO UPDATE SET pods = pods + 1;
END;
CREATE TRIGGER IF NOT EXISTS pods_outcome_changed AFTER UPDATE OF created, outcome ON pods
WHEN old.outcome IS NOT new.outcome OR old.created IS NOT new.created BEGIN
    UPDATE outcome_minutes SET pods = pods - 1
        WHERE cluster = old.cluster AND minute = {_MINUTE.format("old")} AND outcome = old.outcome;
    INSERT INTO outcome_minutes VALUES (new.cluster, {_MINUTE.format("new")}, new.outcome, 1)
        ON CONFLICT DO UPDATE SET pods = pods + 1;
END;
"""
# A duration counts once, when it is first known (histograms only grow, like Prometheus counters).
_DURATION_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS pods_{column}_{event} AFTER {what} ON pods
WHEN new.{column} IS NOT NULL {extra} BEGIN
    INSERT INTO durations SELECT new.cluster, '{metric}', new.outcome, le, 1, new.{column}
        FROM duration_bounds WHERE le >= new.{column} ORDER BY le LIMIT 1
        ON CONFLICT DO UPDATE SET count = count + 1, total = total + excluded.total;
END;
"""
DURATION_METRICS = {"start_seconds": "start", "pull_seconds": "pull"}
# A saving counts once, when first known (the upsert never replaces it), under the workload the pod was counted in.
_SAVED_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS pods_saved_{event} AFTER {what} ON pods
WHEN new.saved_seconds IS NOT NULL {extra} BEGIN
    INSERT INTO time_saved VALUES (new.cluster, new.namespace, new.workload, max(new.saved_seconds, 0))
        ON CONFLICT DO UPDATE SET seconds = seconds + excluded.seconds;
END;
"""
# pods columns added after schema 1: added to an older file on open
ADDED_COLUMNS = {"saved_seconds": "REAL", "saving_seconds": "REAL"}
KEPT_FIRST = ("saved_seconds", "saving_seconds")  # estimated when the pod was first seen started: never replaced


def _schema() -> str:
    triggers = [
        _DURATION_TRIGGER.format(column=column, metric=metric, event=event, what=what, extra=extra)
        for column, metric in DURATION_METRICS.items()
        for event, what, extra in (
            ("inserted", "INSERT", ""),
            ("known", f"UPDATE OF {column}", f"AND old.{column} IS NULL"),
        )
    ]
    triggers += [_SAVED_TRIGGER.format(event=event, what=what, extra=extra) for event, what, extra in (
        ("inserted", "INSERT", ""), ("known", "UPDATE OF saved_seconds", "AND old.saved_seconds IS NULL"))]
    return SCHEMA + "".join(triggers)


def _merge_cronjob_runs(conn: sqlite3.Connection) -> None:
    """Once per file: rows written when a CronJob's pods were counted under each run (`Job/<cronjob>-<minute>`)
    move to their CronJob (`core.owners`), so the old runs are no longer one series each."""
    if conn.execute("SELECT 1 FROM meta WHERE key = ?", (WORKLOAD_RULE_KEY,)).fetchone():
        return
    runs = {workload: f"CronJob/{cronjob}" for (workload,) in conn.execute(
        "SELECT DISTINCT workload FROM decision_totals WHERE workload LIKE 'Job/%' "
        "UNION SELECT DISTINCT workload FROM pods WHERE workload LIKE 'Job/%'")
        if (cronjob := cronjob_of(workload.removeprefix("Job/"))) is not None}
    for old, new in runs.items():
        conn.execute("INSERT INTO decision_totals SELECT cluster, namespace, ?, outcome, pods FROM decision_totals "
                     "WHERE workload = ? ON CONFLICT DO UPDATE SET pods = pods + excluded.pods", (new, old))
        conn.execute("DELETE FROM decision_totals WHERE workload = ?", (old,))
        conn.execute("UPDATE pods SET workload = ? WHERE workload = ?", (new, old))
    conn.execute("INSERT INTO meta VALUES (?, ?)", (WORKLOAD_RULE_KEY, "top-owner"))


def _add_columns(conn: sqlite3.Connection) -> None:
    """Add to an older file's pods table the columns it lacks (before the triggers that read them are made)."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(pods)")}
    if have:
        for column, kind in ADDED_COLUMNS.items():
            if column not in have:
                conn.execute(f"ALTER TABLE pods ADD COLUMN {column} {kind}")


_UPSERT = (
    f"INSERT INTO pods ({', '.join(POD_COLUMNS)}, first_seen, updated) "
    f"VALUES ({', '.join('?' * len(POD_COLUMNS))}, ?, ?) "
    "ON CONFLICT (cluster, uid) DO UPDATE SET "
    + ", ".join(f"{c} = coalesce(pods.{c}, excluded.{c})" if c in KEPT_FIRST else f"{c} = excluded.{c}"
                for c in POD_COLUMNS[2:])
    + ", updated = excluded.updated, deleted = NULL"
)


def describe(exc: BaseException, path: Path | str) -> str:
    """One line on what is wrong with the ledger file, for the warning badge."""
    text = str(exc).strip() or type(exc).__name__
    lowered = text.lower()
    if "not a database" in lowered or "malformed" in lowered:
        return f"history file {path} is damaged ({text}); move it away and imc starts a new one"
    if "full" in lowered:
        return f"history file {path}: the disk is full ({text}); the newest history is not being saved"
    if "locked" in lowered or "busy" in lowered:
        return (f"history file {path} is busy in another process ({text}); the changes wait in memory and are "
                "written when it frees")
    return f"history file {path} cannot be written ({text})"


def foreign_file(path: Path) -> str | None:
    """Why the file at path is not imc's to open (another program's SQLite database, or not SQLite at all), read
    without changing a byte; None for imc's own file, an empty one, or none."""
    untouched = "imc leaves it untouched: move it away, or set IMC_HISTORY_PATH to another file"
    try:
        if not path.exists():
            return None
        if not path.is_file():  # a FIFO would block the open, a device is no database
            return f"history file {path} is not a regular file; {untouched}"
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError:
        return None  # the normal open says what is wrong with the path
    if not header:
        return None
    if header != SQLITE_HEADER:
        return f"history file {path} is not a SQLite file (damaged, or another program's file); {untouched}"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            ours = "meta" in tables and conn.execute("SELECT 1 FROM meta WHERE key = 'schema'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None  # locked or damaged: the normal open says so, and changes nothing either
    if not tables or ours:
        return None
    return (f"history file {path} is another program's SQLite database (tables {brief(sorted(tables))}), not imc's "
            f"history; {untouched}")


@dataclass(frozen=True)
class DurationBucket:
    """One histogram bucket's own count (not cumulative) and the sum of the values in it."""

    cluster: str
    metric: str  # "start" | "pull"
    outcome: str
    le: float
    count: int
    total: float


class Ledger:
    """The SQLite file: open (read-write, else read-only), store batches, answer the charts and the metrics."""

    def __init__(self, path: Path | str, days: float = 30.0, setup: Callable[[sqlite3.Connection], None] | None = None
                 ) -> None:
        self.path = Path(path)
        self.days = days
        self.read_only = False
        self.problem: str | None = None
        self.generation = 0  # bumps on every stored batch: readers re-query only when it moved
        self._setup = setup
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._open()

    # ---- opening

    def _open(self) -> None:
        foreign = foreign_file(self.path)
        if foreign:
            self.problem = foreign  # not even read: its tables are not imc's, whatever their names
            log.warning("imc history: %s", self.problem)
            return
        try:
            self._conn = self._connect(read_only=False)
            self.read_only = False
            self.problem = None
        except (sqlite3.Error, OSError) as exc:
            self._close()
            problem = describe(exc, self.path)
            try:
                self._conn = self._connect(read_only=True)
                self.read_only = True
                self.problem = f"{problem}; showing the history it holds, read-only"
            except (sqlite3.Error, OSError):
                self._close()
                self.problem = problem
        if self.problem:
            log.warning("imc history: %s", self.problem)

    def _connect(self, read_only: bool) -> sqlite3.Connection:
        if read_only:
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False,
                                   timeout=BUSY_TIMEOUT_MS / 1000)
            conn.execute("SELECT count(*) FROM pods").fetchone()  # fails at once on a damaged or foreign file
            return conn
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000,
                               isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
                raise sqlite3.OperationalError("cannot switch the file to WAL mode")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            _add_columns(conn)
            for statement in _statements(_schema()):
                conn.execute(statement)
            conn.executemany("INSERT OR IGNORE INTO duration_bounds VALUES (?)", [(b,) for b in DURATION_BOUNDS])
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            _merge_cronjob_runs(conn)
            conn.execute("COMMIT")
            if self._setup is not None:
                self._setup(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._close()

    @property
    def readable(self) -> bool:
        """True when the file is open (read-write or read-only)."""
        return self._conn is not None

    @property
    def writable(self) -> bool:
        """True when batches can be stored."""
        return self._conn is not None and not self.read_only

    # ---- writing

    def _transaction(self, work: Callable[[sqlite3.Connection], int], retry_open: bool = False) -> int | None:
        """Run work in one write transaction; its result, or None (and `problem` says why) when it failed."""
        with self._lock:
            if not self.writable and retry_open:
                self._retry_open()
            if not self.writable:
                return None
            conn = self._conn
            assert conn is not None
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = work(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                self._fail(exc)
                return None
            self.generation += 1
            return result

    def store(self, cluster: str, batch: Batch, now: float) -> bool:
        """Store one batch seen at `now` in one transaction; False (and `problem` says why) when it could not be."""
        pending = PendingChanges()
        pending.add(batch, now)
        return self.write(cluster, pending)

    def write(self, cluster: str, pending: PendingChanges) -> bool:
        """Store queued changes in one transaction, each at the time it was seen; False (and `problem` says why)
        when they could not be (they stay queued)."""

        def work(conn: sqlite3.Connection) -> int:
            for rows in (pending.first, pending.latest):
                conn.executemany(_UPSERT, [(*row, at, at) for row, at in rows.values()])
            conn.executemany("UPDATE pods SET deleted = ? WHERE cluster = ? AND uid = ? AND deleted IS NULL",
                             [(at, cluster, uid) for uid, at in pending.gone.items()])
            conn.executemany("INSERT INTO cache_phases VALUES (?, ?, ?, ?, ?)", pending.phases)
            return len(pending)

        if self._transaction(work, retry_open=True) is None:
            return False
        self.problem = None
        return True

    def mark_gone_except(self, cluster: str, live_uids: Iterable[str], now: float) -> bool:
        """After a fresh list: pods of the cluster the ledger thinks alive but the list lacks were deleted meanwhile."""

        def work(conn: sqlite3.Connection) -> int:
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS live (uid TEXT PRIMARY KEY)")
            conn.execute("DELETE FROM temp.live")
            conn.executemany("INSERT OR IGNORE INTO temp.live VALUES (?)", ((u,) for u in live_uids))
            return conn.execute("UPDATE pods SET deleted = ? WHERE cluster = ? AND deleted IS NULL "
                                "AND uid NOT IN (SELECT uid FROM temp.live)", (now, cluster)).rowcount

        return self._transaction(work) is not None

    def prune(self, now: float) -> int:
        """Drop pods deleted, and cache phases and chart minutes seen, more than `days` ago; the rows dropped."""
        cutoff = now - self.days * 86400

        def work(conn: sqlite3.Connection) -> int:
            dropped = conn.execute("DELETE FROM pods WHERE coalesce(created, first_seen) < ? AND deleted IS NOT NULL "
                                   "AND deleted < ?", (cutoff, cutoff)).rowcount
            conn.execute("DELETE FROM cache_phases WHERE at < ?", (cutoff,))
            conn.execute("DELETE FROM outcome_minutes WHERE minute < ? OR pods <= 0", (int(cutoff // 60),))
            return dropped

        return self._transaction(work) or 0

    def _fail(self, exc: sqlite3.Error) -> None:
        problem = describe(exc, self.path)
        if problem != self.problem:
            log.warning("imc history: %s", problem)
        self.problem = problem
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            self._close()  # damaged: reopen later (someone may have moved it away)

    def _retry_open(self) -> None:
        self._close()
        self._open()

    # ---- reading

    def _query(self, sql: str, parameters: tuple = ()) -> list[tuple]:
        with self._lock:
            if self._conn is None:
                return []
            try:
                return self._conn.execute(sql, parameters).fetchall()
            except sqlite3.Error as exc:
                self._fail(exc)
                return []

    def outcome_minutes(self, cluster: str, start: float, end: float) -> list[tuple[int, str, int]]:
        """(minute since the epoch, outcome, pods created in it) for pods created in [start, end)."""
        return self._query(
            "SELECT minute, outcome, pods FROM outcome_minutes WHERE cluster = ? AND minute >= ? AND minute < ? "
            "AND pods > 0", (cluster, int(start // 60), math.ceil(end / 60)))

    def outcome_buckets(self, cluster: str, start: float, end: float, width: int) -> list[tuple[int, str, int]]:
        """(bucket start in epoch seconds, outcome, pods) for pods created in [start, end), summed in SQL."""
        return self._query(
            "SELECT minute * 60 / ? * ? AS bucket, outcome, sum(pods) FROM outcome_minutes "
            "WHERE cluster = ? AND minute >= ? AND minute < ? AND pods > 0 GROUP BY bucket, outcome",
            (width, width, cluster, int(start // 60), math.ceil(end / 60)))

    def decision_totals(self) -> list[tuple[str, str, str, str, int]]:
        """(cluster, namespace, workload, outcome, pods ever seen) over every cluster in the file."""
        return self._query("SELECT cluster, namespace, workload, outcome, pods FROM decision_totals")

    def time_saved(self) -> list[tuple[str, str, str, float]]:
        """(cluster, namespace, workload, seconds saved by its hits) over every cluster in the file."""
        return self._query("SELECT cluster, namespace, workload, seconds FROM time_saved")

    def cache_use(self, cluster: str, start: float) -> list[tuple[str | None, str | None, int, float, float]]:
        """Per cache hit by pods created since `start`: (cache ID, cache name, hits, newest hit's creation, seconds
        saved by them)."""
        return self._query(
            "SELECT cache_id, max(cache_name), count(*), max(created), total(saved_seconds) FROM pods "
            "WHERE cluster = ? AND outcome = 'hit' AND created >= ? GROUP BY coalesce(cache_id, cache_name)",
            (cluster, start))

    def window_rows(self, cluster: str, start: float, end: float, namespace: str | None = None) -> list[FigureRow]:
        """The `core.figures` rows of a cluster's pods (of one namespace, when given) created in [start, end) (an old
        row's floored saving where its unfloored one was not kept)."""
        return [FigureRow(*row) for row in self._query(
            f"SELECT {_CREATED}, outcome, start_seconds, coalesce(saving_seconds, saved_seconds) FROM pods "
            f"WHERE cluster = ?1 AND {_CREATED} >= ?2 AND {_CREATED} < ?3 AND (?4 IS NULL OR namespace = ?4)",
            (cluster, start, end, namespace))]

    def durations(self) -> list[DurationBucket]:
        """Every duration histogram bucket, over every cluster in the file."""
        return [DurationBucket(*row) for row in self._query(
            "SELECT cluster, metric, outcome, le, count, total FROM durations ORDER BY cluster, metric, outcome, le")]

    def pods(self, cluster: str) -> list[tuple]:
        """Every pod row of a cluster (tests and `imc` tooling; the charts read the minute counts)."""
        return self._query(f"SELECT {', '.join(POD_COLUMNS)}, deleted FROM pods WHERE cluster = ? "
                           "ORDER BY namespace, name", (cluster,))

    def pod(self, cluster: str, namespace: str, name: str) -> StoredPod | None:
        """The newest row of the pod namespace/name and when it was seen deleted, or None when the ledger has none."""
        found = self._query(f"SELECT {', '.join(POD_COLUMNS)}, deleted FROM pods WHERE cluster = ? AND namespace = ? "
                            "AND name = ? ORDER BY coalesce(created, first_seen) DESC LIMIT 1",
                            (cluster, namespace, name))
        return StoredPod(PodRow(*found[0][:-1]), found[0][-1]) if found else None

    def pod_count(self, cluster: str) -> int:
        """How many pods of a cluster the ledger holds (-1 when it cannot be read)."""
        found = self._query("SELECT count(*) FROM pods WHERE cluster = ?", (cluster,))
        return found[0][0] if found else -1

    def phases(self, cluster: str) -> list[tuple]:
        """Every cache phase change of a cluster, oldest first."""
        return self._query("SELECT name, id, phase, at FROM cache_phases WHERE cluster = ? ORDER BY at, rowid",
                           (cluster,))


def _statements(script: str) -> list[str]:
    """The statements of a script, triggers kept whole (sqlite3.complete_statement finds the ends)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [s for s in statements if s.strip(";\n ")]


PRUNE_EVERY_SECONDS = 3600.0
MAX_RETRY_SECONDS = 15.0  # the longest wait between tries of a failing file: a freed file is written within it
# Changes kept in memory while the file cannot be written (about 600 bytes each: about 30 MB at the bound).
# Past it, the writer stops diffing until the queue is stored, then stores the store's state as it is by then:
# what is alive then is kept, but a pod that came and went in between is not.
MAX_PENDING_CHANGES = 50_000


class LedgerWriter(threading.Thread):
    """About once a second: the store's snapshot, diffed against the last one seen, queued and stored as one batch.

    Every tick diffs, even while the file is locked: the changes queue in memory (up to MAX_PENDING_CHANGES) and are
    stored when the file frees, so a pod that came and went meanwhile is still recorded.
    """

    def __init__(self, store: Any, ledger: Ledger, cluster: str, interval: float = 1.0,
                 clock: Callable[[], float] = time.time, max_pending: int = MAX_PENDING_CHANGES,
                 wait_for_sync: float = 0.0) -> None:
        """`wait_for_sync`: seconds from now in which nothing is diffed until every kind of the store was listed
        (at 50,000 pods, pods listed before their events would each be stored twice while the lists run)."""
        super().__init__(name="imc-ledger", daemon=True)
        self.store = store
        self.ledger = ledger
        self.cluster = cluster
        self.interval = interval
        self.clock = clock
        self.max_pending = max_pending
        self.tracker = Tracker(cluster)
        self.pending = PendingChanges()
        self._sync_deadline = clock() + wait_for_sync
        self.overflow: str | None = None  # set while the queue is full and changes go unrecorded
        self._version = -1
        self._synced = False  # the last diffed snapshot had the pods listed
        self._reconciled = False
        self._pruned_at = -math.inf
        self._failures = 0
        self._retry_at = -math.inf
        self._stopping = threading.Event()
        self._tick_lock = threading.Lock()

    @property
    def behind(self) -> int:
        """How many changes wait in memory to be stored."""
        return len(self.pending)

    def run(self) -> None:
        """Tick until stopped, then store what is left (one last try, whatever the backoff)."""
        while not self._stopping.wait(self.interval):
            self.flush()
        self._retry_at = -math.inf
        self.flush()

    def stop(self, timeout: float = 5.0) -> None:
        """Store the last changes and end the thread; say so when some could not be stored."""
        self._stopping.set()
        if self.is_alive():
            self.join(timeout)
        if self.behind:
            log.warning("imc history: %d changes were not stored before the end: %s", self.behind,
                        self.ledger.problem or "the writer did not finish in time")

    def flush(self) -> bool:
        """One tick: queue what changed since the last snapshot and store the queue; True when the ledger is up to
        date."""
        with self._tick_lock:
            try:
                return self._tick()
            except Exception as exc:  # noqa: BLE001 - history must never take the live view down
                log.exception("imc history: writing failed")
                self.ledger.problem = f"history is not being saved: {type(exc).__name__}: {exc}"
                return False

    def _tick(self) -> bool:
        now = self.clock()
        self._queue(now)
        if now < self._retry_at:
            return False  # a failing file is retried with backoff; the changes keep queueing meanwhile
        if not self._store(now):
            return False
        if now - self._pruned_at >= PRUNE_EVERY_SECONDS and self.ledger.writable:
            self.ledger.prune(now)  # after a store that worked: a busy file is not waited for twice
            self._pruned_at = now
        if self.overflow is not None:  # the queue was full: what changed since is diffed and stored now
            self.overflow = None
            log.warning("imc history: the queued changes are stored; recording every change again")
            self._queue(now)
            if not self._store(now):
                return False
        if not self._reconciled and self._synced:
            live = (row.uid for _, row in self.tracker.pods.values() if row is not None)
            self._reconciled = self.ledger.mark_gone_except(self.cluster, live, now)
        return self.ledger.problem is None

    def _queue(self, now: float) -> None:
        """Diff the store's snapshot against the last one seen and queue the changes, unless the queue is full."""
        snapshot = self.store.snapshot()
        if snapshot.version == self._version:
            return
        if now < self._sync_deadline and not all(snapshot.synced.values()):
            return  # the first lists are still coming: diffed once they are all in
        if len(self.pending) >= self.max_pending:
            if self.overflow is None:
                self.overflow = (f"{len(self.pending):,} changes wait for the history file, the most imc keeps in "
                                 f"memory ({self.max_pending:,}); until the file frees, pods that come and go are "
                                 "not recorded")
                log.warning("imc history: %s (%s)", self.overflow, self.ledger.problem or "the file is not writable")
            return
        batch, pods, phases = self.tracker.changes(snapshot, now)
        self.pending.add(batch, now)
        self.tracker.accept(pods, phases)
        self._version = snapshot.version
        self._synced = bool(snapshot.synced.get("pods"))

    def _store(self, now: float) -> bool:
        """Store the queue; on failure it stays queued and the next try waits (backoff)."""
        if not self.pending:
            return True
        if not self.ledger.write(self.cluster, self.pending):
            self._failures += 1
            self._retry_at = now + min(MAX_RETRY_SECONDS, 2.0 ** self._failures)
            return False
        self._failures = 0
        self.pending.clear()
        return True


def open_ledger(settings: LedgerSettings) -> Ledger | None:
    """The ledger of these settings, or None when history is off."""
    if settings.path is None:
        return None
    if settings.problem:
        log.warning("imc history: %s", settings.problem)
    return Ledger(settings.path, settings.days)
