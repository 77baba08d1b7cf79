"""Connect to a cluster: a kubeconfig context or the in-cluster service account, with clear errors."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import config as kube_config
from kubernetes.client import ApiClient, Configuration
from kubernetes.config.config_exception import ConfigException

from core.identity import Identity
from kube.http import Request, RequestError, send

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
PROBE_TIMEOUT = (5.0, 10.0)


class ConnectError(Exception):
    """The cluster cannot be used; the message names the kubeconfig path, context and server."""


@dataclass
class Connection:
    """An ApiClient of its own (never the client's global configuration) and where it points."""

    api_client: ApiClient
    context: str
    server: str
    user: str
    in_cluster: bool
    kubeconfig: str | None = None
    person: Identity | None = None  # the signed-in person this connection acts as (kube.impersonation.acting_as)

    def close(self) -> None:
        """Close the client's connection pool."""
        self.api_client.close()


@dataclass(frozen=True)
class ConfigSource:
    """Where a connection would come from: a kubeconfig path or the in-cluster service account."""

    kind: str  # "kubeconfig" | "in-cluster"
    path: str | None = None


def in_cluster_available() -> bool:
    """True when running in a pod with a service account token."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and (SERVICE_ACCOUNT_DIR / "token").is_file()


def kubeconfig_paths(value: str | None = None) -> list[str]:
    """The kubeconfig files named by a value, $KUBECONFIG, else ~/.kube/config (existing or not)."""
    value = value if value is not None else os.environ.get("KUBECONFIG", "")
    paths = [os.path.expanduser(p) for p in value.split(os.pathsep) if p.strip()]
    return paths or [os.path.expanduser("~/.kube/config")]


def find_kubeconfig() -> ConfigSource | None:
    """Where `connect()` without arguments would connect; None when there is nothing at all."""
    existing = [p for p in kubeconfig_paths() if os.path.isfile(p)]
    if existing:
        return ConfigSource("kubeconfig", os.pathsep.join(existing))
    if in_cluster_available():
        return ConfigSource("in-cluster")
    if os.environ.get("KUBECONFIG", "").strip():
        # A KUBECONFIG that names no existing file is a mistake to report, not "no cluster".
        return ConfigSource("kubeconfig", os.environ["KUBECONFIG"])
    return None


def read_kubeconfig(paths: list[str]) -> dict:
    """The merged kubeconfig of these files (first file wins per name); ConnectError naming the bad file."""
    merged: dict[str, Any] = {"clusters": [], "contexts": [], "users": [], "current-context": None}
    found = False
    for path in paths:
        if not os.path.isfile(path):
            continue
        found = True
        try:
            with open(path, encoding="utf-8") as handle:
                data = yaml.safe_load(handle)
        except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConnectError(f"kubeconfig {path} cannot be read: {_first_line(exc)}") from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConnectError(f"kubeconfig {path} is not a kubeconfig (a YAML mapping was expected)")
        for section in ("clusters", "contexts", "users"):
            entries = data.get(section) or []
            if not isinstance(entries, list):
                raise ConnectError(f"kubeconfig {path}: {section} must be a list")
            names = {e.get("name") for e in merged[section]}
            merged[section] += [e for e in entries if isinstance(e, dict) and e.get("name") not in names]
        merged["current-context"] = merged["current-context"] or data.get("current-context")
    if not found:
        raise ConnectError(f"kubeconfig {os.pathsep.join(paths)} does not exist")
    return merged


def kubeconfig_contexts(kubeconfig: str | None = None) -> list[str]:
    """The contexts of a kubeconfig (path, else $KUBECONFIG, else ~/.kube/config), one per cluster: a context naming
    a cluster an earlier context names (the sim's `sim-viewer` beside `sim`) is left out; ConnectError when none."""
    paths = kubeconfig_paths(kubeconfig)
    seen: set = set()
    contexts = []
    for entry in read_kubeconfig(paths)["contexts"]:
        cluster = (entry.get("context") or {}).get("cluster") if isinstance(entry.get("context"), dict) else None
        if entry.get("name") and (cluster is None or cluster not in seen):
            seen.add(cluster)
            contexts.append(str(entry["name"]))
    if not contexts:
        raise ConnectError(f"kubeconfig {os.pathsep.join(paths)} has no context")
    return contexts


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _named(entries: list[dict], name: str | None) -> dict:
    for entry in entries:
        if entry.get("name") == name:
            return entry
    return {}


def connect(kubeconfig: str | None = None, context: str | None = None, probe: bool = True) -> Connection:
    """Connect with a kubeconfig (path, else $KUBECONFIG, else ~/.kube/config) or in-cluster; ConnectError."""
    context = context or os.environ.get("IMC_CONTEXT") or None
    if kubeconfig is None and find_kubeconfig() == ConfigSource("in-cluster"):
        connection = _connect_in_cluster()
        if probe:
            _probe(connection, "in-cluster service account")
        return connection
    paths = kubeconfig_paths(kubeconfig)
    where = os.pathsep.join(paths)
    merged = read_kubeconfig(paths)
    names = [c.get("name") for c in merged["contexts"]]
    chosen = context or merged["current-context"]
    if not chosen:
        raise ConnectError(
            f"kubeconfig {where} has no current-context; pick one of: {', '.join(map(str, names)) or 'none'}"
        )
    if chosen not in names:
        raise ConnectError(
            f"kubeconfig {where} has no context {chosen!r}; it has: {', '.join(map(str, names)) or 'none'}"
        )
    ctx = _named(merged["contexts"], chosen).get("context") or {}
    cluster = _named(merged["clusters"], ctx.get("cluster")).get("cluster") or {}
    configuration = Configuration()
    try:
        kube_config.load_kube_config(
            config_file=where, context=chosen, client_configuration=configuration, persist_config=False
        )
    except (ConfigException, OSError, ValueError, TypeError, KeyError) as exc:
        raise ConnectError(f"kubeconfig {where}, context {chosen!r}: {_first_line(exc)}") from None
    connection = Connection(
        api_client=ApiClient(configuration=configuration),
        context=chosen,
        server=configuration.host or str(cluster.get("server") or ""),
        user=str(ctx.get("user") or ""),
        in_cluster=False,
        kubeconfig=where,
    )
    if probe:
        _probe(connection, f"kubeconfig {where}, context {chosen!r}")
    return connection


def _connect_in_cluster() -> Connection:
    configuration = Configuration()
    try:
        kube_config.load_incluster_config(client_configuration=configuration)
    except ConfigException as exc:
        raise ConnectError(f"in-cluster configuration: {_first_line(exc)}") from None
    namespace_file = SERVICE_ACCOUNT_DIR / "namespace"
    namespace = namespace_file.read_text().strip() if namespace_file.is_file() else "default"
    return Connection(
        api_client=ApiClient(configuration=configuration),
        context="in-cluster",
        server=configuration.host,
        user=f"system:serviceaccount:{namespace}",
        in_cluster=True,
    )


def single_try_client(api_client: ApiClient) -> ApiClient:
    """A client of the same server and credentials whose requests are never retried (its own connection pool).

    The kubernetes client's pool retries a request that timed out (urllib3's default, 3 times), which multiplies a
    timeout by four; a check that must answer in bounded time makes one try.
    """
    configuration = copy.deepcopy(api_client.configuration)
    configuration.retries = False
    return ApiClient(configuration=configuration)


def _probe(connection: Connection, where: str) -> None:
    """One authenticated request, so a wrong server, certificate or credential shows now, clearly."""
    try:
        send(connection.api_client, Request("GET", "/api"), timeout=PROBE_TIMEOUT)
    except RequestError as exc:
        if exc.status == 403:
            return  # authenticated; discovery is merely not granted
        connection.close()
        raise ConnectError(describe_failure(exc, connection.server, where, connection.user)) from None


def describe_failure(exc: RequestError, server: str, where: str, user: str = "") -> str:
    """One clear line for a failed request to a server."""
    if exc.status == 0 and exc.reason == "TLSError":
        return f"TLS failure talking to {server} ({where}): {exc.message}"
    if exc.status == 0:
        return f"cannot reach {server} ({where}): {exc.message}"
    if exc.status == 401:
        who = f" of user {user!r}" if user else ""
        return f"{server} rejected the credentials{who} ({where}): 401 Unauthorized"
    if exc.status == 403:
        return f"{server} refused access ({where}): {exc}"
    return f"{server} answered {exc} ({where})"
