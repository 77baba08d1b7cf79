"""What the simulated cluster holds at start (empty, demo, scale) and how the demo keeps moving."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta

from core.policy import AUTO_IMC, EXTRA_STORAGE, IMC_ID, MATCH_COUNT, PERFECT_MATCH
from core.timeutil import format_time
from core.workloads import ECI_LABEL
from sim.apiserver.config_objects import DOCKER_CONFIG_JSON
from sim.apiserver.patching import MERGE_PATCH
from sim.apiserver.resources import DEPLOYMENTS, IMAGECACHES, NAMESPACES, PODS, SECRETS, Target
from sim.eci.eci import cache_event, ready_status
from sim.past import PAST_HOURS, PYTORCH, PastJob, write_past
from sim.simulation import Simulation

log = logging.getLogger("imc.sim")
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
CHURN_LABEL = "imc.sim/churn"  # the demo scales and rolls only its own Deployments that carry it
ACR_SERVER = "registry.cn-hangzhou.aliyuncs.com"
ACR = f"{ACR_SERVER}/eci_open"
DEFAULT_SCALE_PODS = 10_000
BUILT_BEFORE = timedelta(minutes=30)  # scenario caches were built this long before the start


def deployment(name: str, images: list[str], replicas: int = 2, annotations: dict | None = None,
               eci: bool = True) -> dict:
    """A Deployment body whose pods run the given images."""
    labels = {"app": name}
    if eci:
        labels[ECI_LABEL] = "true"
    containers = [
        {"name": image.rsplit("/", 1)[-1].split(":")[0].replace("_", "-").replace(".", "-")[:40] + f"-{i}",
         "image": image, "imagePullPolicy": "IfNotPresent"}
        for i, image in enumerate(images)
    ]
    return {
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": labels, "annotations": annotations or {}},
                         "spec": {"containers": containers}},
        },
    }


def docker_registry_secret(name: str, server: str, username: str, password: str) -> dict:
    """A Secret body as `kubectl create secret docker-registry` makes it."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    config = {"auths": {server: {"username": username, "password": password, "auth": auth}}}
    encoded = base64.b64encode(json.dumps(config, separators=(",", ":")).encode()).decode()
    return {"metadata": {"name": name}, "type": DOCKER_CONFIG_JSON, "data": {".dockerconfigjson": encoded}}


class Scenario:
    """A starting state; `background()` gives coroutines that keep it moving."""

    def __init__(self, sim: Simulation, rng: random.Random) -> None:
        self.sim = sim
        self.api = sim.api
        self.rng = rng

    def populate(self) -> None:
        """Create the starting objects."""

    def background(self) -> list[Coroutine]:
        """Coroutines to run while serving."""
        return []

    def namespace(self, name: str) -> None:
        """Create a namespace."""
        self.api.create(NAMESPACES, "", {"metadata": {"name": name}, "status": {"phase": "Active"}},
                            internal=True)

    def ready_cache(self, name: str, images: list[str], size: int = 20, retention: int | None = None,
                    started: datetime | None = None, annotations: dict | None = None,
                    expires: datetime | None = None) -> dict:
        """A cache stored already built (Ready), created at `started` (default: BUILT_BEFORE ago)."""
        spec: dict = {"images": images, "imageCacheSize": size}
        if retention:
            spec["retentionDays"] = retention
        started = started or datetime.now(UTC) - BUILT_BEFORE
        body = {"metadata": {"name": name, "annotations": annotations or {}, "creationTimestamp": format_time(started)},
                "spec": spec, "status": ready_status(spec, started)}
        if expires is not None:
            body["status"]["expireDateTime"] = format_time(expires)
        return self.api.create(IMAGECACHES, "", body, internal=True)


class DemoScenario(Scenario):
    """A believable ECI cluster: every decision kind, caches in every phase, and it keeps moving."""

    CHURN_SECONDS = 12.0
    MAX_CHURN_CACHES = 4
    CHURN_IMAGES = ("nginx:1.27", "golang:1.23", "node:22", "redis:7.2", "alpine:3.20")

    def __init__(self, sim: Simulation, rng: random.Random) -> None:
        super().__init__(sim, rng)
        self.sim.eci.event_ttl = timedelta(hours=PAST_HOURS + 1)  # the past's Pulled events stay readable

    def populate(self) -> None:
        """Namespaces, caches, the past's pods, workloads."""
        for name in ("shop", "data", "ml"):
            self.namespace(name)
        now = datetime.now(UTC)
        pull_secret = docker_registry_secret("acr-pull", ACR_SERVER, "imc-demo@1234567890", "demo-only-not-a-password")
        pull_secret["metadata"]["creationTimestamp"] = format_time(now - timedelta(days=12))
        self.api.create(SECRETS, "default", pull_secret, internal=True)  # what the Create-cache form's hint names
        self.ready_cache("nginx-base", ["nginx:1.25", "busybox:1.36"], retention=30, started=now - timedelta(hours=5))
        self.ready_cache("shop-web", [f"{ACR}/nginx:1.14.2", f"{ACR}/busybox:1.30"], size=25, retention=14,
                         annotations={"k8s.aliyun.com/imc-enable-reuse": "true"}, started=now - timedelta(hours=4))
        python_ml = self.ready_cache("python-ml", ["python:3.12-slim", PYTORCH], size=30,
                                     started=now - timedelta(hours=3))
        self.ready_cache("redis-7", ["redis:7.2", "busybox:1.36"], retention=1,
                         started=now - timedelta(days=1) + timedelta(minutes=45))
        self.ready_cache("postgres-16", ["postgres:16"], size=40, retention=60)
        failed_spec = {"images": ["registry.example.invalid/team/legacy:1.0"], "imageCacheSize": 20}
        failed_status = {
            "imageCacheId": ready_status(failed_spec, now)["imageCacheId"],
            "phase": "Failed",
            "progress": "0%",
            "reason": "Failed to pull image registry.example.invalid/team/legacy:1.0: registry "
                      "registry.example.invalid cannot be resolved",
            "startTime": format_time(now - timedelta(minutes=20)),
            "lastUpdatedTime": format_time(now - timedelta(minutes=19)),
            "expireDateTime": format_time(now + timedelta(hours=23)),
        }
        failed_status["events"] = [cache_event(failed_status["reason"], "Warning", "PullImageFailed")]
        failed_metadata = {"name": "legacy-broken", "creationTimestamp": failed_status["startTime"]}
        self.api.create(IMAGECACHES, "", {"metadata": failed_metadata, "spec": failed_spec,
                                              "status": failed_status}, internal=True)
        write_past(self.sim, self.rng, now, lambda name, images, size, started, expires: self.ready_cache(
            name, images, size, started=started, expires=expires))
        building = {"name": "java-services", "creationTimestamp": format_time(now - timedelta(minutes=2))}
        java = self.api.create(IMAGECACHES, "", {"metadata": building,
                                                     "spec": {"images": ["eclipse-temurin:21-jre", "busybox:1.36"],
                                                              "retentionDays": 7}}, internal=True)
        workloads = [
            ("shop", deployment("web", [f"{ACR}/nginx:1.14.2", f"{ACR}/busybox:1.30"], 3,
                                {AUTO_IMC: "true", PERFECT_MATCH: "true"})),
            ("shop", deployment("cart", ["redis:7.2", "golang:1.23"], 2, {MATCH_COUNT: "1"})),
            ("shop", deployment("checkout", ["golang:1.23", "nginx:1.27"], 2, {PERFECT_MATCH: "true"})),
            ("default", deployment("hello", ["nginx:1.25"], 2)),
            ("default", deployment("batch", ["python:3.12-slim"], 1, {AUTO_IMC: "false"})),
            ("default", deployment("toolbox", ["busybox:1.36"], 1, eci=False)),
            ("data", deployment("etl", ["python:3.12-slim", "node:22"], 2)),
            ("data", deployment("postgres", ["postgres:16"], 1, {EXTRA_STORAGE: "20Gi"})),
            ("data", deployment("reporting", ["eclipse-temurin:21-jre"], 1,
                                {IMC_ID: java["status"]["imageCacheId"]})),
            ("ml", deployment("trainer", [PYTORCH], 1,
                              {IMC_ID: python_ml["status"]["imageCacheId"]})),
            ("ml", deployment("inference", ["tensorflow/tensorflow:2.17.0"], 1, {IMC_ID: "imc-2ze0notthere000000"})),
        ]
        for namespace, body in workloads:
            if namespace != "ml":  # the pinned ML workloads stay as they are
                body["metadata"]["labels"][CHURN_LABEL] = "true"
            self.api.create(DEPLOYMENTS, namespace, body)
        self.api.create(PODS, "default", {"metadata": {"name": "debug-shell", "labels": {"app": "debug"}},
                                              "spec": {"containers": [{"name": "shell", "image": "ubuntu:24.04"}]}})

    def background(self) -> list[Coroutine]:
        """The churn loop."""
        return [self.churn()]

    async def churn(self) -> None:
        """Every few seconds: scale or roll one of the demo's Deployments, or build a new cache."""
        counter = 0
        while True:
            await asyncio.sleep(self.CHURN_SECONDS / self.sim.scheduler.speed)
            counter += 1
            try:
                self.churn_once(counter)
            except Exception:  # noqa: BLE001 - a user may have deleted what the churn touches
                log.debug("demo churn step failed", exc_info=True)

    def churn_once(self, counter: int) -> None:
        """One churn step."""
        deployments = [d for d in self.sim.store.objects(DEPLOYMENTS.key)
                       if d["metadata"].get("labels", {}).get(CHURN_LABEL) == "true"]
        action = self.rng.choice(("scale", "roll", "cache"))
        if action == "cache":
            images = self.rng.sample(list(self.CHURN_IMAGES), 2)
            self.api.create(IMAGECACHES, "", {"metadata": {"name": f"team-cache-{counter}"},
                                                  "spec": {"images": images, "retentionDays": 3}})
            churned = sorted((c for c in self.sim.store.objects(IMAGECACHES.key)
                              if c["metadata"]["name"].startswith("team-cache-")),
                             key=lambda c: c["metadata"]["creationTimestamp"])
            for cache in churned[: max(0, len(churned) - self.MAX_CHURN_CACHES)]:
                self.api.delete(IMAGECACHES, "", cache["metadata"]["name"])
            return
        if not deployments:
            return
        target = self.rng.choice(deployments)
        namespace, name = target["metadata"]["namespace"], target["metadata"]["name"]
        if action == "scale":
            patch = {"spec": {"replicas": self.rng.randint(1, 4)}}
        else:
            patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: format_time(
                datetime.now(UTC))}}}}}
        self.api.patch(Target(DEPLOYMENTS, namespace, name), MERGE_PATCH, patch)


BEIJING_ACR_SERVER = "registry.cn-beijing.aliyuncs.com"
BEIJING_ACR = f"{BEIJING_ACR_SERVER}/eci_open"
SPARK = "apache/spark:3.5.1"
BEIJING_PAST_JOBS = (
    PastJob("analytics", "nightly-agg", ("python:3.11-slim", SPARK), 30, 2, {PERFECT_MATCH: "true"}),
    PastJob("payments", "reconcile", (f"{BEIJING_ACR}/openjdk:17-jre",), 60, 1),
    PastJob("search", "reindex", ("elasticsearch:8.15.0",), 45, 1, {AUTO_IMC: "false"}),
)


class BeijingDemoScenario(DemoScenario):
    """The fleet's second demo cluster (cn-beijing): other teams, namespaces, images and caches, its own past."""

    CHURN_IMAGES = ("node:20", "python:3.11-slim", "openresty/openresty:1.25", "memcached:1.6", "alpine:3.20")

    def populate(self) -> None:
        """Namespaces, caches, the past's pods, workloads."""
        for name in ("payments", "analytics", "search"):
            self.namespace(name)
        now = datetime.now(UTC)
        pull_secret = docker_registry_secret("acr-pull", BEIJING_ACR_SERVER, "imc-demo@1234567890",
                                             "demo-only-not-a-password")
        self.api.create(SECRETS, "payments", pull_secret, internal=True)
        self.ready_cache("payments-jvm", [f"{BEIJING_ACR}/openjdk:17-jre", f"{BEIJING_ACR}/envoy:1.31"], size=30,
                         retention=30, started=now - timedelta(hours=6))
        spark = self.ready_cache("analytics-spark", ["python:3.11-slim", SPARK], size=40,
                                 started=now - timedelta(hours=5))
        self.ready_cache("search-es", ["elasticsearch:8.15.0"], size=30, retention=7,
                         started=now - timedelta(hours=2))
        write_past(self.sim, self.rng, now, lambda name, images, size, started, expires: self.ready_cache(
            name, images, size, started=started, expires=expires), BEIJING_PAST_JOBS)
        building = {"name": "ingest-node", "creationTimestamp": format_time(now - timedelta(minutes=1))}
        self.api.create(IMAGECACHES, "", {"metadata": building,
                                          "spec": {"images": ["node:20", "busybox:1.36"], "retentionDays": 7}},
                        internal=True)
        workloads = [
            ("payments", deployment("api", [f"{BEIJING_ACR}/openjdk:17-jre", f"{BEIJING_ACR}/envoy:1.31"], 3,
                                    {PERFECT_MATCH: "true"})),
            ("payments", deployment("ledger", ["postgres:15", "pgbouncer/pgbouncer:1.23"], 2, {AUTO_IMC: "true"})),
            ("analytics", deployment("notebook", ["jupyter/base-notebook:2024-07-29"], 1, {AUTO_IMC: "false"})),
            ("analytics", deployment("spark-driver", [SPARK], 1, {IMC_ID: spark["status"]["imageCacheId"]})),
            ("search", deployment("es", ["elasticsearch:8.15.0"], 2, {MATCH_COUNT: "1"})),
            ("search", deployment("ingest", ["node:20"], 1)),
        ]
        for namespace, body in workloads:
            if namespace != "analytics":  # the pinned and the notebook stay as they are
                body["metadata"]["labels"][CHURN_LABEL] = "true"
            self.api.create(DEPLOYMENTS, namespace, body)


class ScaleScenario(Scenario):
    """Many ECI pods and caches for benchmarks, created in-process without waiting."""

    def __init__(self, sim: Simulation, rng: random.Random, pods: int = DEFAULT_SCALE_PODS, caches: int = 1_000) -> None:
        super().__init__(sim, rng)
        self.pods = pods
        self.caches = max(1, caches)

    def populate(self) -> None:
        """`caches` Ready caches of three images each; `pods` ECI pods, mostly hitting one of them."""
        namespaces = [f"scale-{i:02d}" for i in range(10)]
        for name in namespaces:
            self.namespace(name)
        started = datetime.now(UTC) - timedelta(hours=1)
        image_sets = []
        for i in range(self.caches):
            images = [f"registry.cn-hangzhou.aliyuncs.com/scale/app-{i}-{part}:v{i % 7}" for part in ("web", "side",
                                                                                                       "init")]
            image_sets.append(images)
            self.ready_cache(f"scale-cache-{i:04d}", images, retention=30, started=started)
        for i in range(self.pods):
            images = image_sets[i % self.caches]
            annotations = {AUTO_IMC: "false"} if i % 20 == 19 else {}
            body = {
                "metadata": {"name": f"app-{i:05d}", "labels": {"app": f"app-{i % self.caches}", ECI_LABEL: "true"},
                             "annotations": annotations},
                "spec": {"containers": [{"name": f"c{n}", "image": image, "imagePullPolicy": "IfNotPresent"}
                                        for n, image in enumerate(images)]},
            }
            self.api.create(PODS, namespaces[i % len(namespaces)], body)


def build_scenario(name: str, sim: Simulation, pods: int | None, caches: int | None, seed: int | None) -> Scenario:
    """The scenario called `name`."""
    rng = random.Random(seed)
    if name == "demo":
        return DemoScenario(sim, rng)
    if name == "demo-beijing":
        return BeijingDemoScenario(sim, rng)
    if name == "scale":
        return ScaleScenario(sim, rng, pods if pods is not None else DEFAULT_SCALE_PODS, caches if caches is not None else 1_000)
    if name == "empty":
        return Scenario(sim, rng)
    raise ValueError(f"unknown scenario {name!r}")
