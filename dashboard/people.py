"""A signed-in person's view of a cluster: imc acting as them, showing what they may see.

The live store stays the one shared watch: a person's view filters its snapshots (`kube.store.visible_part`), made
once per store version and per set of rights, and the view models of a set of rights are kept by one keeper, shared
by every person who has the same rights. Nothing here opens a watch or logs who anyone is.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from core.identity import ClaimMapping, Identity
from kube.access import AccessChecker, Visibility
from kube.impersonation import acting_as
from kube.store import visible_part

MAX_PEOPLE = 256  # people's connections kept (each its own client and pool): the least recently seen go first
MAX_RIGHTS = 16  # sets of rights whose filtered snapshots and view models are kept, per cluster


def claim_mapping(environ: Mapping[str, str]) -> ClaimMapping:
    """Which ID-token claims name a person and their groups, and the prefixes (IMC_OIDC_USERNAME_CLAIM,
    IMC_OIDC_USERNAME_PREFIX, IMC_OIDC_GROUPS_CLAIM, IMC_OIDC_GROUPS_PREFIX; kube-apiserver's --oidc-* flags)."""
    default = ClaimMapping()

    def setting(name: str, fallback: str) -> str:
        value = environ.get(name)
        return fallback if value is None else value.strip()

    return ClaimMapping(setting("IMC_OIDC_USERNAME_CLAIM", default.username_claim) or default.username_claim,
                        setting("IMC_OIDC_USERNAME_PREFIX", default.username_prefix),
                        setting("IMC_OIDC_GROUPS_CLAIM", default.groups_claim),
                        setting("IMC_OIDC_GROUPS_PREFIX", default.groups_prefix))


def configured_mapping() -> ClaimMapping:
    """`claim_mapping` of this process's environment."""
    return claim_mapping(os.environ)


class Kept:
    """At most `size` things by key, the least recently used dropped first; thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The thing of this key, built (once) when there is none."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        made = build()
        with self._lock:
            found = self._items.setdefault(key, made)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return found

    def peek(self, key: Hashable) -> Any:
        """The thing of this key, or None."""
        with self._lock:
            return self._items.get(key)

    def put(self, key: Hashable, value: Any) -> None:
        """Keep this thing under the key."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        """How many are kept."""
        with self._lock:
            return len(self._items)


@dataclass
class Person:
    """One signed-in person on one cluster: imc's connection acting as them, and their SSAR answers (cached 60 s)."""

    connection: Any
    access: AccessChecker


PEOPLE = Kept(MAX_PEOPLE)
KEEPERS = Kept(MAX_RIGHTS * 4)
SNAPSHOTS = Kept(MAX_RIGHTS * 4)
NAMESPACES = Kept(4)  # id(snapshot) -> (snapshot, its namespaces): the latest of a few clusters (each pins its snapshot)


def person_on(cluster: Any, identity: Identity) -> Person:
    """The person's connection and checker on this cluster (made once, kept while they are among the last seen)."""
    def build() -> Person:
        connection = acting_as(cluster.connection, identity)
        return Person(connection, AccessChecker(connection))

    return PEOPLE.get((cluster.context, cluster.server, identity), build)


def namespaces_of(snapshot: Any) -> frozenset[str]:
    """The namespaces the store knows of: those of its pods and Deployments (found once per snapshot: every run of
    every signed-in session asks, and at 50,000 pods one pass over the keys is ~10 ms)."""
    found = NAMESPACES.peek(id(snapshot))
    if found is not None and found[0] is snapshot:
        return found[1]
    keys = [*snapshot.pods, *snapshot.deployments]
    made = frozenset(key.rpartition("/")[0] for key in keys if "/" in key)
    NAMESPACES.put(id(snapshot), (snapshot, made))
    return made


class PersonStore:
    """A shared store as some rights see it: its snapshot filtered, the same filtered object while it is the same."""

    def __init__(self, store: Any, visibility: Visibility, key: Hashable) -> None:
        self.store = store
        self.visibility = visibility
        self.key = key

    def snapshot(self) -> Any:
        """The store's latest snapshot, filtered once per version for every session with these rights."""
        source = self.store.snapshot()
        found = SNAPSHOTS.peek(self.key)
        if found is not None and found[0] is source:
            return found[1]
        made = visible_part(source, self.visibility.namespaces, self.visibility.caches)
        SNAPSHOTS.put(self.key, (source, made))
        return made


def seen_by(cluster: Any, identity: Identity, keeper: Callable[[], Any]) -> Any:
    """The cluster as the person sees it: their connection and checker (every write, dry-run and check as them), and,
    unless they may see everything, the store filtered to what they may see with a keeper per set of rights and no
    ledger (its figures are the whole cluster's). `keeper` makes a new FrameKeeper."""
    if cluster.connection is None:
        return cluster
    person = person_on(cluster, identity)
    visibility = person.access.visibility(namespaces_of(cluster.store.snapshot()))
    view = dataclasses.replace(cluster, connection=person.connection, access=person.access, person=identity,
                               visibility=visibility)
    if visibility.namespaces is None and visibility.caches:
        return view
    key = (cluster.context, cluster.server, visibility.namespaces, visibility.caches)
    return dataclasses.replace(view, store=PersonStore(cluster.store, visibility, key), live=None,
                               keeper=KEEPERS.get(key, keeper))
