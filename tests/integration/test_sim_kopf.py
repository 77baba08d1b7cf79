"""kopf (from PyPI) runs a standalone operator against the sim: create, update, and delete held by its finalizer."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.integration.conftest import poll

pytestmark = pytest.mark.integration
OPERATOR = Path(__file__).with_name("kopf_operator.py")
ARGS = ("eci.alibabacloud.com", "v1", "imagecaches")
KOPF_FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"


@pytest.fixture
def kopf_log(sim_server, tmp_path):
    """Run the operator (kopf run --standalone) against the shared sim; yields the path of its log."""
    log = tmp_path / "handled.log"
    log.touch()
    env = {**os.environ, "KUBECONFIG": str(sim_server.kubeconfig), "IMC_KOPF_LOG": str(log)}
    with open(tmp_path / "kopf.out", "wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "kopf", "run", "--standalone", "--all-namespaces",
                                    str(OPERATOR)], env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield log
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def logged(log: Path, line: str) -> bool:
    """Whether the operator noted a line."""
    return line in log.read_text().splitlines()


def test_kopf_sees_create_update_and_delete_through_its_finalizer(api_client, kopf_log):
    custom = client.CustomObjectsApi(api_client)
    name = f"kopf-{uuid.uuid4().hex[:8]}"
    body = {"apiVersion": "eci.alibabacloud.com/v1", "kind": "ImageCache", "metadata": {"name": name},
            "spec": {"images": [f"registry.cn-hangzhou.aliyuncs.com/imc-kopf/{name}:1"]}}
    custom.create_cluster_custom_object(*ARGS, body)
    poll(lambda: logged(kopf_log, f"create {name}"), timeout=60, message="kopf's on.create")
    assert KOPF_FINALIZER in custom.get_cluster_custom_object(*ARGS, name)["metadata"]["finalizers"]
    poll(lambda: custom.get_cluster_custom_object(*ARGS, name).get("status", {}).get("phase") == "Ready",
         message="the ImageCache Ready (ECI updates a cache only then)")
    custom.patch_cluster_custom_object(*ARGS, name, {"spec": {"retentionDays": 9}})
    poll(lambda: logged(kopf_log, f"update {name}"), timeout=30, message="kopf's on.update")
    custom.delete_cluster_custom_object(*ARGS, name)
    poll(lambda: logged(kopf_log, f"delete {name}"), timeout=30, message="kopf's on.delete")

    def gone() -> bool:
        try:
            custom.get_cluster_custom_object(*ARGS, name)
        except ApiException as error:
            return error.status == 404
        return False

    poll(gone, timeout=30, message="the ImageCache to go once kopf removed its finalizer")
