"""The cluster's objects kept in its state dir, as a real cluster keeps them in etcd (SQLite, written in batches).

Every change is noted in memory (the newest version of each object, or its deletion); a thread writes what was noted
every `WRITE_SECONDS` as one row of the `batches` table (the objects' JSON as the store encoded it, framed), in one
transaction, and `close()` writes the rest. One blob per batch costs SQLite a few ms of CPU per MiB, several times
less than a row per object. Once the batches since the last snapshot hold more bytes than the cluster itself (and at
least `MIN_COMPACT_BYTES`), the next write replaces them all with a snapshot of every object (in rows of up to
`SNAPSHOT_CHUNK_BYTES`), as etcd compacts its log into a snapshot: each change is written about twice at most. Loading
replays the rows in order. A crash loses at most the last `WRITE_SECONDS`; a transaction is all or nothing, so the file
always holds one consistent moment.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from sim.apiserver.store import Change, Entry, Store, object_key

log = logging.getLogger("imc.sim")
STATE_FILE = "cluster.sqlite3"
FORMAT = "2"  # meta `format`: the framing of the batches table
WRITE_SECONDS = 0.5
# After a crash the versions given in the last unwritten moment are unknown: versions jump this far past the stored one,
# so a client holding one of them gets 410 rather than a watch that skips what is new (etcd loses no commit; we may).
UNCLEAN_RV_GAP = 1_000_000
MIN_COMPACT_BYTES = 16 * 1024 * 1024
SNAPSHOT_CHUNK_BYTES = 8 * 1024 * 1024
SIDECARS = ("-wal", "-shm")  # SQLite's own files beside a database in WAL mode
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
"""
_SET_META = "INSERT OR REPLACE INTO meta VALUES (?, ?)"
StateKey = tuple[str, str, str]  # resource key, namespace, name
Version = tuple[int, bytes]  # resourceVersion and JSON of an object; (rv, b"") once deleted


class StateError(Exception):
    """The state file cannot be read as a stored cluster (damaged, or not imc's)."""


@dataclass(frozen=True)
class StoredCluster:
    """What a state file holds: the scenario the cluster began as, its resourceVersion, its objects."""

    scenario: str
    rv: int
    objects: list[tuple[str, Entry]]
    size: int = 0  # bytes of its batches (its last snapshot and the batches since)


def frame(versions: Iterable[tuple[StateKey, Version]]) -> bytes:
    """Versions as one blob: per object a JSON header line [resource, namespace, name, rv, length] (length -1: deleted),
    then its JSON."""
    parts = []
    for (resource, namespace, name), (rv, raw) in versions:
        parts.append(orjson.dumps([resource, namespace, name, rv, len(raw) if raw else -1]))
        parts.append(b"\n")
        parts.append(raw)
    return b"".join(parts)


def unframe(data: bytes) -> Iterator[tuple[StateKey, Version]]:
    """The versions of a blob made by `frame`; ValueError when it is not one."""
    view = memoryview(data)
    at = 0
    while at < len(data):
        line_end = data.index(b"\n", at)
        resource, namespace, name, rv, length = orjson.loads(view[at:line_end])
        at = line_end + 1
        raw = b"" if length < 0 else bytes(view[at:at + length])
        if len(raw) != max(length, 0):
            raise ValueError("a batch ends inside an object")
        at += max(length, 0)
        yield (str(resource), str(namespace), str(name)), (int(rv), raw)


def _connect(path: Path) -> sqlite3.Connection:
    """A connection to the state file in WAL mode, usable from the writer thread; the file (and SQLite's files beside
    it, which take its mode) readable by this user only: it holds the cluster's Secrets, as etcd's data dir does."""
    path.touch(mode=0o600)
    path.chmod(0o600)
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
            latest: dict[StateKey, Version] = {}
            size = 0
            for (data,) in conn.execute("SELECT data FROM batches ORDER BY id"):
                latest.update(unframe(data))
                size += len(data)
        finally:
            conn.close()
        objects = []
        for (resource, _, _), (rv, raw) in latest.items():
            if raw:
                obj = orjson.loads(raw)
                if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
                    raise StateError(f"a stored {resource} is not an object")
                objects.append((resource, Entry(obj, raw, rv)))
        rv = int(meta.get("rv", "1")) + (0 if meta.get("clean") == "1" else UNCLEAN_RV_GAP)
        return StoredCluster(meta.get("scenario", ""), rv, objects, size)
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


def snapshot_chunks(live: dict[StateKey, Version], chunk_bytes: int = SNAPSHOT_CHUNK_BYTES) -> Iterator[bytes]:
    """Every live object, framed in blobs of about `chunk_bytes`."""
    chunk: list[tuple[StateKey, Version]] = []
    size = 0
    for key, version in live.items():
        chunk.append((key, version))
        size += len(version[1])
        if size >= chunk_bytes:
            yield frame(chunk)
            chunk, size = [], 0
    if chunk:
        yield frame(chunk)


@dataclass(eq=False)
class Persister:
    """Keeps a store's objects in the state file: notes every change, writes them in batches on its own thread."""

    path: Path
    scenario: str
    interval: float = WRITE_SECONDS
    problem: str | None = None  # why the last write failed (the changes wait for the next one)
    _noted: dict[StateKey, Version] = field(default_factory=dict)
    _live: dict[StateKey, Version] = field(default_factory=dict)  # what the file holds (the writer thread's own)
    _live_bytes: int = 0
    _logged_bytes: int = 0  # written in batches since the last snapshot
    _rv: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _conn: sqlite3.Connection | None = None

    def attach(self, store: Store, stored: StoredCluster | None = None) -> None:
        """Open the file, note every later change of `store`, and start writing; `stored` is what the file holds
        already (a resumed cluster), else the file starts empty."""
        self._conn = _connect(self.path)
        self._conn.executescript(SCHEMA)
        for resource, entry in stored.objects if stored is not None else ():
            self._live[(resource, *object_key(entry.obj))] = (entry.rv, entry.raw)
            self._live_bytes += len(entry.raw)
        self._logged_bytes = max(0, stored.size - self._live_bytes) if stored is not None else 0
        with self._conn:
            self._conn.executemany(_SET_META, [("format", FORMAT), ("scenario", self.scenario),
                                               ("rv", str(store.rv)), ("clean", "0")])
        self._rv = store.rv
        store.add_listener(self.note)
        self._thread = threading.Thread(target=self._run, name="imc-sim-persist", daemon=True)
        self._thread.start()

    def note(self, change: Change) -> None:
        """Remember the newest version of a changed object (deleted: no JSON) for the next write."""
        key = (change.resource, *object_key(change.entry.obj))
        with self._lock:
            self._noted[key] = (change.rv, b"" if change.type == "DELETED" else change.entry.raw)
            self._rv = change.rv

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.write()

    def write(self) -> int:
        """Write what changed since the last write in one transaction (as a snapshot of everything once the batches
        outgrow the cluster); returns how many objects changed."""
        with self._lock:
            noted, self._noted = self._noted, {}
            rv = self._rv
        if not noted or self._conn is None:
            return 0
        for key, version in noted.items():  # as the file will hold them (noted again if this write fails)
            self._live_bytes -= len(self._live.pop(key, (0, b""))[1])
            if version[1]:
                self._live[key] = version
                self._live_bytes += len(version[1])
        batch = frame(noted.items())
        compact = self._logged_bytes + len(batch) > max(self._live_bytes, MIN_COMPACT_BYTES)
        try:
            with self._conn:
                if compact:
                    self._conn.execute("DELETE FROM batches")
                    self._conn.executemany("INSERT INTO batches (data) VALUES (?)",
                                           ((chunk,) for chunk in snapshot_chunks(self._live)))
                else:
                    self._conn.execute("INSERT INTO batches (data) VALUES (?)", (batch,))
                self._conn.execute(_SET_META, ("rv", str(rv)))
        except sqlite3.Error as exc:
            with self._lock:  # kept for the next try; newer versions noted meanwhile win
                self._noted = {**noted, **self._noted}
            if self.problem is None:
                log.warning("imc sim: cannot write the cluster state to %s (%s); retrying", self.path, exc)
            self.problem = str(exc)
            return 0
        self._logged_bytes = 0 if compact else self._logged_bytes + len(batch)
        self.problem = None
        return len(noted)

    def close(self) -> None:
        """Stop the thread and write what is left (a clean shutdown loses nothing)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.write()
        if self._conn is not None:
            if not self._noted:  # all written: the next start may go on from the stored version
                with self._conn:
                    self._conn.execute(_SET_META, ("clean", "1"))
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
