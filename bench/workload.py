"""Synthetic pods and ImageCaches at scale, shared by the benchmarks (deterministic for a seed)."""

from __future__ import annotations

import argparse
import random

from core.caches import API_VERSION, KIND

REGISTRIES = ("registry.cn-hangzhou.aliyuncs.com", "docker.io", "ghcr.io", "registry-vpc.cn-hangzhou.aliyuncs.com")


def sized_run(seed: int, **extra: int) -> tuple[argparse.Namespace, random.Random, list[str]]:
    """A workload benchmark's options (--pods, --caches and `extra` whole numbers), random source and image pool."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--caches", type=int, default=1_000)
    for name, default in extra.items():
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()
    rng = random.Random(seed)
    return args, rng, image_pool(3_000, rng)


def image_pool(size: int, rng: random.Random) -> list[str]:
    """Distinct image references across a few registries and tags."""
    pool = []
    for number in range(size):
        registry = REGISTRIES[number % len(REGISTRIES)]
        pool.append(f"{registry}/team{number % 37}/app{number}:v{rng.randint(1, 9)}.{rng.randint(0, 20)}")
    return pool


def make_caches(count: int, pool: list[str], rng: random.Random) -> list[dict]:
    """ImageCache objects, mostly Ready, each holding up to 20 images of the pool."""
    phases = ["Ready"] * 8 + ["Creating", "Failed"]
    caches = []
    for number in range(count):
        caches.append(
            {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "metadata": {
                    "name": f"cache-{number:04d}",
                    "creationTimestamp": f"2026-11-{1 + number % 27:02d}T00:00:00Z",
                },
                "spec": {
                    "images": rng.sample(pool, rng.randint(3, 20)),
                    "imageCacheSize": rng.choice([20, 25, 30, 40]),
                },
                "status": {"imageCacheId": f"imc-{number:08x}", "phase": rng.choice(phases), "progress": "100%"},
            }
        )
    return caches


def make_pods(count: int, pool: list[str], rng: random.Random, images_per_pod: int = 3) -> list[dict]:
    """ECI pods with a mix of image-cache annotations."""
    modes = [{}, {}, {"k8s.aliyun.com/imc-perfect-match": "true"}, {"k8s.aliyun.com/imc-match-count-request": "2"}]
    pods = []
    for number in range(count):
        images = rng.sample(pool, images_per_pod)
        pods.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"pod-{number:05d}",
                    "namespace": f"ns-{number % 20}",
                    "creationTimestamp": "2026-11-28T00:00:00Z",
                    "labels": {"alibabacloud.com/eci": "true", "app": f"app-{number % 300}"},
                    "annotations": dict(rng.choice(modes)),
                },
                "spec": {
                    "containers": [
                        {"name": f"c{i}", "image": image, "imagePullPolicy": "IfNotPresent"}
                        for i, image in enumerate(images)
                    ]
                },
            }
        )
    return pods


def owned_pods(pods: list[dict], workloads: int) -> list[dict]:
    """The pods spread over Deployments: each pod of a Deployment gets its template (images, annotations) and owner."""
    for number, pod in enumerate(pods):
        first = pods[number % workloads]
        deployment = f"app-{number % workloads:04d}"
        pod["metadata"]["namespace"] = first["metadata"]["namespace"]
        pod["metadata"]["annotations"] = first["metadata"]["annotations"]
        pod["spec"] = first["spec"]
        pod["metadata"]["labels"]["pod-template-hash"] = "7c9d"
        pod["metadata"]["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{deployment}-7c9d", "uid": deployment,
             "controller": True}
        ]
    return pods
