"""The cluster's objects kept in its state dir, as a real cluster keeps them in etcd (SQLite, written in batches).

Every change is noted in memory (the latest version of each object, or its deletion); a thread writes what was noted
in one transaction every `WRITE_SECONDS`, and `close()` writes the rest. A write costs what changed since the last
one, whatever the size of the cluster, and the event loop never waits for the disk. A crash loses at most the last
`WRITE_SECONDS` of changes; a transaction is all or nothing, so the file always holds one consistent moment.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from sim.apiserver.store import Change, Entry, ObjectKey, Store, object_key

log = logging.getLogger("imc.sim")
STATE_FILE = "cluster.sqlite3"
FORMAT = "1"  # meta `format`: the layout of the objects table
WRITE_SECONDS = 0.5
SIDECARS = ("-wal", "-shm")  # SQLite's own files beside a database in WAL mode
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, rv INTEGER NOT NULL, object BLOB NOT NULL,
    PRIMARY KEY (resource, namespace, name)
) WITHOUT ROWID;
"""
_UPSERT = "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?)"
_DELETE = "DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ?"
_SET_META = "INSERT OR REPLACE INTO meta VALUES (?, ?)"


class StateError(Exception):
    """The state file cannot be read as a stored cluster (damaged, or not imc's)."""


@dataclass(frozen=True)
class StoredCluster:
    """What a state file holds: the scenario the cluster began as, its resourceVersion, its objects."""

    scenario: str
    rv: int
    objects: list[tuple[str, Entry]]


def _connect(path: Path) -> sqlite3.Connection:
    """A connection to the state file in WAL mode, usable from the writer thread."""
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")  # in WAL mode a commit survives a crash of the process
    return conn


def load_state(path: Path) -> StoredCluster | None:
    """The cluster stored at `path`, or None when there is none; StateError when the file cannot be read as one."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta"))
            if meta.get("format") != FORMAT:
                raise StateError(f"it is not a cluster state of format {FORMAT} (meta format {meta.get('format')!r})")
            objects = []
            for resource, rv, raw in conn.execute("SELECT resource, rv, object FROM objects"):
                obj = orjson.loads(raw)
                if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
                    raise StateError(f"a stored {resource} is not an object")
                objects.append((resource, Entry(obj, bytes(raw), int(rv))))
            return StoredCluster(meta.get("scenario", ""), int(meta.get("rv", "1")), objects)
        finally:
            conn.close()
    except (sqlite3.Error, orjson.JSONDecodeError, ValueError, TypeError) as exc:
        raise StateError(str(exc) or type(exc).__name__) from None


def set_aside(path: Path, now: datetime | None = None) -> Path:
    """Move a state file that cannot be used (and SQLite's files beside it) to `<name>.bad-<time>`; returns where."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.bad-{stamp}")
    for suffix in ("", *SIDECARS):
        source = path.with_name(path.name + suffix)
        if source.exists():
            source.replace(aside.with_name(aside.name + suffix))
    return aside


def remove_state(path: Path) -> None:
    """Forget the stored cluster (`imc sim --reset`)."""
    for suffix in ("", *SIDECARS):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


@dataclass(eq=False)
class Persister:
    """Keeps a store's objects in the state file: notes every change, writes them in batches on its own thread."""

    path: Path
    scenario: str
    interval: float = WRITE_SECONDS
    problem: str | None = None  # why the last write failed (the changes wait for the next one)
    _noted: dict[tuple[str, ObjectKey], Entry | None] = field(default_factory=dict)
    _rv: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _conn: sqlite3.Connection | None = None

    def attach(self, store: Store) -> None:
        """Open the file, note every later change of `store`, and start writing (what the store holds now is
        written first: a fresh cluster's objects, or nothing new for a resumed one)."""
        self._conn = _connect(self.path)
        self._conn.executescript(SCHEMA)
        with self._conn:
            self._conn.executemany(_SET_META, [("format", FORMAT), ("scenario", self.scenario),
                                               ("rv", str(store.rv))])
        self._rv = store.rv
        store.add_listener(self.note)
        self._thread = threading.Thread(target=self._run, name="imc-sim-persist", daemon=True)
        self._thread.start()

    def note(self, change: Change) -> None:
        """Remember the newest version of a changed object (None once deleted) for the next write."""
        key = (change.resource, object_key(change.entry.obj))
        with self._lock:
            self._noted[key] = None if change.type == "DELETED" else change.entry
            self._rv = change.rv

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.write()

    def write(self) -> int:
        """Write what changed since the last write in one transaction; returns how many objects."""
        with self._lock:
            noted, self._noted = self._noted, {}
            rv = self._rv
        if not noted or self._conn is None:
            return 0
        upserts = [(resource, *key, entry.rv, entry.raw) for (resource, key), entry in noted.items()
                   if entry is not None]
        deletes = [(resource, *key) for (resource, key), entry in noted.items() if entry is None]
        try:
            with self._conn:
                self._conn.executemany(_DELETE, deletes)
                self._conn.executemany(_UPSERT, upserts)
                self._conn.execute(_SET_META, ("rv", str(rv)))
        except sqlite3.Error as exc:
            with self._lock:  # kept for the next try; newer versions noted meanwhile win
                self._noted = {**noted, **self._noted}
            if self.problem is None:
                log.warning("imc sim: cannot write the cluster state to %s (%s); retrying", self.path, exc)
            self.problem = str(exc)
            return 0
        self.problem = None
        return len(noted)

    def close(self) -> None:
        """Stop the thread and write what is left (a clean shutdown loses nothing)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.write()
        if self._conn is not None:
            self._conn.close()
            self._conn = None


@dataclass(frozen=True)
class StatePlan:
    """How a sim starts on its state dir: the scenario it runs, whether it resumes the stored cluster, and why not
    when it may not start (`refusal`)."""

    scenario: str
    resume: bool
    refusal: str | None = None


def plan_start(stored_scenario: str | None, asked: str | None, default: str, where: Path) -> StatePlan:
    """Resume the stored cluster, start `asked` (else `default`) afresh when none is stored, and refuse to run a
    stored cluster as another scenario than it began as (the user says which with --reset)."""
    if stored_scenario is None:
        return StatePlan(asked or default, resume=False)
    if asked is None or asked == stored_scenario:
        return StatePlan(stored_scenario, resume=True)
    return StatePlan(asked, resume=False, refusal=(
        f"{where} holds a cluster that began as the {stored_scenario} scenario; run without --scenario (or with "
        f"--scenario {stored_scenario}) to resume it, or add --reset to start a fresh {asked} cluster"))


def lock_state_dir(state_dir: Path):
    """Hold the state dir for this process (an open file with an exclusive lock, kept open while serving); None
    when another process holds it."""
    import fcntl
    import os

    handle = (state_dir / "cluster.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
