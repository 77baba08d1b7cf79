"""deploy/: manifests parse and validate against the Kubernetes schema; RBAC matches what kube uses."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from kube.access import SSAR_PATH, WRITE_ACTIONS
from kube.resources import RESOURCES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S_VERSION = "1.32"


def documents(name: str) -> list[dict]:
    """The YAML documents of one file under deploy/."""
    return [doc for doc in yaml.safe_load_all((DEPLOY / name).read_text()) if doc is not None]


def all_documents() -> list[tuple[str, dict]]:
    """(file, document) for every manifest under deploy/."""
    return [(path.name, doc) for path in sorted(DEPLOY.glob("*.yaml")) if path.name != "kustomization.yaml"
            for doc in documents(path.name)]


def by_kind(kind: str, name: str | None = None) -> list[dict]:
    """Manifests of a kind (and name)."""
    return [d for _, d in all_documents() if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


@pytest.mark.parametrize("source, doc", all_documents(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_every_manifest_is_schema_valid(source, doc):
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_expected_objects_are_there():
    kinds = sorted((d["kind"], d["metadata"]["name"]) for _, d in all_documents())
    for expected in [
        ("Namespace", "imc-system"),
        ("ServiceAccount", "imc"),
        ("ClusterRole", "imc-reader"),
        ("ClusterRoleBinding", "imc-reader"),
        ("ClusterRole", "imc-writer"),
        ("ClusterRoleBinding", "imc-writer"),
        ("Deployment", "imc"),
        ("Service", "imc"),
    ]:
        assert expected in kinds


def verbs(role: dict) -> set[tuple[str, str, str]]:
    """(group, resource, verb) granted by a ClusterRole."""
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_reader_role_grants_exactly_the_list_and_watch_of_the_reflectors():
    (reader,) = by_kind("ClusterRole", "imc-reader")
    expected = {(r.group, r.plural, verb) for r in RESOURCES.values() for verb in ("list", "watch")}
    assert SSAR_PATH.startswith("/apis/authorization.k8s.io/")
    expected.add(("authorization.k8s.io", "selfsubjectaccessreviews", "create"))
    assert verbs(reader) == expected


def test_writer_role_grants_exactly_the_writes_and_their_audit_events():
    (writer,) = by_kind("ClusterRole", "imc-writer")
    expected = {(a.group, a.resource, a.verb) for a in WRITE_ACTIONS.values()} | {("", "events", "create")}
    assert verbs(writer) == expected


def test_bindings_name_the_service_account_the_deployment_runs_as():
    (account,) = by_kind("ServiceAccount", "imc")
    (deployment,) = by_kind("Deployment", "imc")
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]
    for binding in by_kind("ClusterRoleBinding"):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "imc", "namespace": account["metadata"]["namespace"]}
        ]
        assert by_kind("ClusterRole", binding["roleRef"]["name"])


def test_deployment_is_read_only_by_default_and_serves_the_dockerfile_port():
    (deployment,) = by_kind("Deployment", "imc")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    assert "IMC_ALLOW_WRITES" not in env  # in-cluster imc is read-only unless this is set
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    port = container["ports"][0]["containerPort"]
    assert f"EXPOSE {port}" in dockerfile and f'"--server.port", "{port}"' in dockerfile
    assert container["readinessProbe"]["httpGet"]["path"] == "/_stcore/health"
    (service,) = by_kind("Service", "imc")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == container["ports"][0]["name"]


def test_dockerfile_copies_what_the_package_needs():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    root = DEPLOY.parent
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (root / source).exists(), f"Dockerfile copies {source}, which the repository lacks"
    assert "USER 10001" in dockerfile


def test_metrics_port_is_served_scraped_and_monitored():
    (deployment,) = by_kind("Deployment", "imc")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert int(env["IMC_METRICS_PORT"]) == ports["metrics"] == 9108
    (service,) = by_kind("Service", "imc")
    metrics = next(p for p in service["spec"]["ports"] if p["name"] == "metrics")
    assert metrics["targetPort"] == "metrics"
    # scraped one way: the ServiceMonitor, not annotations too (a Prometheus doing both would scrape it twice)
    assert not [a for a in service["metadata"].get("annotations") or {} if a.startswith("prometheus.io/")]
    (monitor,) = [d for d in yaml.safe_load_all((DEPLOY / "monitoring" / "servicemonitor.yaml").read_text())]
    (rule,) = [d for d in yaml.safe_load_all((DEPLOY / "monitoring" / "prometheusrule.yaml").read_text())]
    assert monitor["metadata"]["labels"]["release"] == rule["metadata"]["labels"]["release"] != ""  # the chart's
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["selector"]["matchLabels"] == service["metadata"]["labels"]
    assert "EXPOSE 8501 9108" in (DEPLOY / "Dockerfile").read_text()


def test_the_ledger_lives_on_the_claimed_volume():
    (deployment,) = by_kind("Deployment", "imc")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert env["IMC_HISTORY_PATH"].startswith(mounts["history"] + "/")
    volume = next(v for v in pod["volumes"] if v["name"] == "history")
    (claim,) = by_kind("PersistentVolumeClaim")
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert deployment["spec"]["strategy"]["type"] == "Recreate"  # one writer of a ReadWriteOnce volume


def test_kustomization_lists_every_manifest_it_needs():
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (DEPLOY / resource).is_file()
    assert {"deployment.yaml", "service.yaml", "history-pvc.yaml", "monitoring/prometheusrule.yaml",
            "monitoring/servicemonitor.yaml"} <= set(kustomization["resources"])


def test_the_impersonator_role_may_impersonate_users_and_groups_only_and_is_opt_in():
    (role,) = by_kind("ClusterRole", "imc-impersonator")
    assert verbs(role) == {("", "users", "impersonate"), ("", "groups", "impersonate")}
    assert by_kind("ClusterRoleBinding", "imc-impersonator")
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert "rbac-impersonate.yaml" not in kustomization["resources"]
    assert "rbac-writes.yaml" not in kustomization["resources"]
