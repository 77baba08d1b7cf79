"""Server-side apply as kubectl does it: field ownership in managedFields, conflicts, --force-conflicts, removal."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {team: a, tier: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: main, image: busybox:1.36}
      - {name: side, image: busybox:1.36}
"""


def deployment(kubectl, namespace: str) -> dict:
    """The Deployment `web` as stored."""
    return json.loads(kubectl("get", "deployment", "web", "-n", namespace, "-o", "json", "--show-managed-fields")
                      .stdout)


def managers(obj: dict) -> dict[tuple[str, str], dict]:
    """managedFields by (manager, operation)."""
    return {(e["manager"], e["operation"]): e["fieldsV1"] for e in obj["metadata"]["managedFields"]}


def apply(kubectl, namespace: str, manifest: str, *flags: str, check: bool = True):
    """kubectl apply --server-side of a manifest."""
    return kubectl("apply", "--server-side", "-n", namespace, "-f", "-", *flags, input_text=manifest, check=check)


def test_apply_records_ownership_and_another_manager_taking_a_field_conflicts(kubectl, namespace):
    apply(kubectl, namespace, DEPLOYMENT)
    owned = managers(deployment(kubectl, namespace))[("kubectl", "Apply")]
    assert "f:replicas" in owned["f:spec"]
    assert set(owned["f:spec"]["f:template"]["f:spec"]["f:containers"]) == {'k:{"name":"main"}', 'k:{"name":"side"}'}
    rival = DEPLOYMENT.replace("replicas: 2", "replicas: 5")
    refused = apply(kubectl, namespace, rival, "--field-manager=rival", check=False)
    assert refused.returncode == 1
    assert 'Apply failed with 1 conflict: conflict with "kubectl" using apps/v1: .spec.replicas' in refused.stderr
    assert deployment(kubectl, namespace)["spec"]["replicas"] == 2
    apply(kubectl, namespace, rival, "--field-manager=rival", "--force-conflicts")
    taken = deployment(kubectl, namespace)
    assert taken["spec"]["replicas"] == 5
    assert "f:replicas" in managers(taken)[("rival", "Apply")]["f:spec"]
    assert "f:replicas" not in managers(taken)[("kubectl", "Apply")]["f:spec"]


def test_a_field_dropped_by_its_sole_owner_is_removed_and_a_shared_one_stays(kubectl, namespace):
    apply(kubectl, namespace, DEPLOYMENT)
    apply(kubectl, namespace, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: {tier: web}}\n",
          "--field-manager=other")
    trimmed = DEPLOYMENT.replace("labels: {team: a, tier: web}", "labels: {team: a}")
    trimmed = trimmed.replace("      - {name: side, image: busybox:1.36}\n", "")
    apply(kubectl, namespace, trimmed)
    after = deployment(kubectl, namespace)
    assert after["metadata"]["labels"] == {"team": "a", "tier": "web"}
    assert [c["name"] for c in after["spec"]["template"]["spec"]["containers"]] == ["main"]
    kubectl("label", "deployment", "web", "-n", namespace, "tier=changed", "--overwrite")
    assert ("other", "Apply") not in managers(deployment(kubectl, namespace))
