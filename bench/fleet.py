"""One kubeconfig over several `imc sim` clusters, as a user with several clusters has it (tests, screenshots, bench).

Each sim writes its own kubeconfig (contexts `sim` admin and `sim-viewer`); `merge_kubeconfigs` takes each one's admin
context and renames its cluster, user and context to one name (`east`, `west`), so the file reads like a real fleet's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml

ADMIN_CONTEXT = "sim"


def merge_kubeconfigs(kubeconfigs: Mapping[str, str | Path], path: Path, current: str | None = None) -> Path:
    """Write one kubeconfig with a context per entry (name → a sim's kubeconfig), the first (or `current`) current."""
    merged: dict = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": [],
                    "current-context": current or next(iter(kubeconfigs)), "preferences": {}}
    for name, source in kubeconfigs.items():
        config = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
        context = next(c for c in config["contexts"] if c["name"] == ADMIN_CONTEXT)["context"]
        cluster = next(c for c in config["clusters"] if c["name"] == context["cluster"])["cluster"]
        user = next(u for u in config["users"] if u["name"] == context["user"])["user"]
        merged["clusters"].append({"name": name, "cluster": cluster})
        merged["users"].append({"name": f"{name}-admin", "user": user})
        merged["contexts"].append({"name": name, "context": {"cluster": name, "user": f"{name}-admin",
                                                             "namespace": "default"}})
    path.write_text(yaml.safe_dump(merged, sort_keys=False), encoding="utf-8")
    os.chmod(path, 0o600)  # it holds the sims' tokens
    return path
