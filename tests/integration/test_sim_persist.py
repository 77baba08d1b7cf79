"""The built-in cluster keeps its objects in its state dir: a restart resumes the same cluster, as etcd keeps one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from bench.waits import poll
from core.caches import API_VERSION, GROUP, KIND, PLURAL, VERSION
from sim.apiserver.persist import STATE_FILE, StateError, load_state
from sim.apiserver.resources import IMAGECACHES, PODS, ResourceType
from sim.launch import SimProcess, SimStartError, start_sim
from tests.integration.conftest import TEST_SPEED, new_api_client, run_kubectl

CACHES = (GROUP, VERSION, PLURAL)
# the restart tests' sims: an update of two images lasts 2.1 s here (6.4 s of the model) and a pod's pull of nginx
# 2.6-3.9 s (8-12 s), well over the 0.2 s a stop takes when no client holds a connection; each test checks that its
# stop stored the work still under way
RESTART_SPEED = "3"


def make_objects(sim) -> dict:
    """A namespace with a ConfigMap and a Deployment the user patched, and a cache; returns what was created."""
    api_client = new_api_client(sim)
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    core.create_namespace({"metadata": {"name": "kept"}})
    config_map = core.create_namespaced_config_map("kept", {"metadata": {"name": "settings"}, "data": {"a": "1"}})
    apps.create_namespaced_deployment("kept", {
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web", "alibabacloud.com/eci": "true"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}})
    patched = apps.patch_namespaced_deployment("web", "kept", {"metadata": {"annotations": {"team": "shop"}}})
    cache = client.CustomObjectsApi(api_client).create_cluster_custom_object(
        *CACHES, {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "persist-cache"},
                  "spec": {"images": ["nginx:1.25"]}})
    pods = poll(lambda: core.list_namespaced_pod("kept").items, 30, "the Deployment's 2 pods Running",
                until=lambda pods: len(pods) == 2 and all(p.status.phase == "Running" for p in pods))
    listed = core.list_namespaced_config_map("kept").metadata.resource_version
    api_client.close()
    return {"config_map": config_map, "deployment": patched, "cache": cache, "pods": pods, "list_rv": listed}


def stored_object(state_dir: Path, resource: ResourceType, name: str) -> dict | None:
    """An object as the state file of a stopped sim holds it."""
    cluster = load_state(state_dir / STATE_FILE)
    return next((entry.obj for key, entry in cluster.objects if key == resource.key and
                 entry.obj["metadata"]["name"] == name), None) if cluster else None


def test_a_restarted_sim_resumes_its_objects_with_their_uids(start_sim_factory, tmp_path):
    first = start_sim_factory("empty", ("--speed", TEST_SPEED), state_dir=tmp_path)
    made = make_objects(first)
    assert first.stop() == 0
    second = start_sim_factory("empty", ("--speed", TEST_SPEED), state_dir=tmp_path)
    api_client = new_api_client(second)
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    config_map = core.read_namespaced_config_map("settings", "kept")
    assert (config_map.metadata.uid, config_map.metadata.creation_timestamp, config_map.data) == (
        made["config_map"].metadata.uid, made["config_map"].metadata.creation_timestamp, {"a": "1"})
    deployment = apps.read_namespaced_deployment("web", "kept")
    assert deployment.metadata.uid == made["deployment"].metadata.uid
    assert deployment.metadata.annotations["team"] == "shop", "the user's patch is kept"
    cache = client.CustomObjectsApi(api_client).get_cluster_custom_object(*CACHES, "persist-cache")
    assert cache["metadata"]["uid"] == made["cache"]["metadata"]["uid"]
    assert cache["status"]["imageCacheId"] == made["cache"]["status"]["imageCacheId"]
    # the Deployment's controller carries on from the stored pods: the same two, none made anew
    pods = core.list_namespaced_pod("kept")
    assert {p.metadata.uid for p in pods.items} == {p.metadata.uid for p in made["pods"]}
    assert int(pods.metadata.resource_version) >= int(made["list_rv"])
    written = core.create_namespaced_config_map("kept", {"metadata": {"name": "after"}})
    assert int(written.metadata.resource_version) > int(made["list_rv"]), "resourceVersions go on growing"
    with pytest.raises(ApiException) as stale:  # a watch from before the restart: 410 as upstream, not old data
        for _ in watch.Watch().stream(core.list_namespaced_config_map, "kept",
                                      resource_version=made["config_map"].metadata.resource_version,
                                      timeout_seconds=5):
            pass
    assert stale.value.status == 410
    api_client.close()
    assert "Traceback" not in (tmp_path / "sim.log").read_text()
    kept = list(tmp_path.glob(f"{STATE_FILE}*"))
    assert kept and all(path.stat().st_mode & 0o077 == 0 for path in kept), "Secrets are kept for this user only"


def test_reset_starts_afresh(start_sim_factory, tmp_path):
    first = start_sim_factory("empty", state_dir=tmp_path)
    run_kubectl(first, "create", "configmap", "forgotten", "--from-literal=a=1")
    assert first.stop() == 0
    second = start_sim_factory("empty", ("--reset",), state_dir=tmp_path)
    assert "NotFound" in run_kubectl(second, "get", "configmap", "forgotten", check=False).stderr
    assert run_kubectl(second, "get", "namespace", "default", "-o", "name").stdout.strip() == "namespace/default"


def test_a_state_file_that_cannot_be_read_is_set_aside(start_sim_factory, tmp_path):
    bad = b"SQLite format 3\x00" + b"not really" * 100
    (tmp_path / STATE_FILE).write_bytes(bad)
    sim = start_sim_factory("empty", state_dir=tmp_path)
    assert run_kubectl(sim, "get", "namespace", "default", "-o", "name").stdout.strip() == "namespace/default"
    aside = list(tmp_path.glob(f"{STATE_FILE}.bad-*"))
    assert [path.read_bytes() for path in aside] == [bad], "the bad file is kept, byte for byte"
    log = (tmp_path / "sim.log").read_text()
    assert f"the cluster state {tmp_path / STATE_FILE} cannot be read" in log and str(aside[0]) in log
    assert "Traceback" not in log


def test_a_killed_sim_keeps_what_it_wrote(start_sim_factory, tmp_path):
    first = start_sim_factory("empty", state_dir=tmp_path)
    uid = client.CoreV1Api(new_api_client(first)).create_namespaced_config_map(
        "default", {"metadata": {"name": "written"}}).metadata.uid

    def stored() -> bool:
        try:
            cluster = load_state(tmp_path / STATE_FILE)
        except StateError:  # not yet made
            return False
        return cluster is not None and any(entry.obj["metadata"]["name"] == "written" for _, entry in cluster.objects)

    poll(stored, 15, "the ConfigMap in the state file")
    os.killpg(first.process.pid, signal.SIGKILL)
    first.process.wait(10)
    second = start_sim_factory("empty", state_dir=tmp_path)
    assert client.CoreV1Api(new_api_client(second)).read_namespaced_config_map("written", "default").metadata.uid \
        == uid


def test_one_state_dir_serves_one_cluster(start_sim_factory, tmp_path):
    serving = start_sim_factory("empty", state_dir=tmp_path)
    with pytest.raises(SimStartError) as busy:
        start_sim_factory("empty", state_dir=tmp_path)
    assert f"{tmp_path} is in use by another imc sim" in str(busy.value)
    assert serving.stop() == 0


def test_a_stored_cluster_is_not_run_as_another_scenario(start_sim_factory, tmp_path):
    assert start_sim_factory("empty", state_dir=tmp_path).stop() == 0
    with pytest.raises(SimStartError) as refused:
        start_sim_factory("scale", ("--pods", "1", "--caches", "1"), state_dir=tmp_path)
    assert "holds a cluster that began as the empty scenario" in str(refused.value)
    assert "--reset" in str(refused.value) and "Traceback" not in str(refused.value)


def test_a_sim_stops_with_the_process_that_started_it(tmp_path):
    """A killed dashboard leaves no demo holding the state dir: its sim stops by itself, its state written."""
    script = ("import sys, time\nfrom sim.launch import start_sim\n"
              f"sim = start_sim('empty', state_dir={str(tmp_path)!r})\n"
              "print(sim.process.pid, sim.kubeconfig, flush=True)\ntime.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[2])
    try:
        pid, kubeconfig = parent.stdout.readline().split()
        started = SimProcess(kubeconfig, "", None, str(tmp_path))
        run_kubectl(started, "create", "configmap", "last-words")
    finally:
        parent.kill()
        parent.wait(10)
    poll(lambda: not running(int(pid)), 30, "the orphaned sim to stop")
    again = start_sim("empty", state_dir=tmp_path)
    try:
        assert run_kubectl(again, "get", "configmap", "last-words", "-o", "name").stdout.strip() == \
            "configmap/last-words", "its clean stop wrote the last change"
    finally:
        again.stop()


def running(pid: int) -> bool:
    """Whether a process is alive (a zombie nobody reaped has ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_an_update_under_way_at_a_restart_carries_on_to_ready(start_sim_factory, tmp_path):
    first = start_sim_factory("empty", ("--speed", RESTART_SPEED), state_dir=tmp_path)
    api_client = new_api_client(first)
    caches = client.CustomObjectsApi(api_client)
    caches.create_cluster_custom_object(*CACHES, {"apiVersion": API_VERSION, "kind": KIND,
                                                  "metadata": {"name": "updated"}, "spec": {"images": ["nginx:1.25"]}})
    poll(lambda: caches.get_cluster_custom_object(*CACHES, "updated")["status"]["phase"], 60,
         "the cache Ready before its update", until=lambda phase: phase == "Ready")
    caches.patch_cluster_custom_object(*CACHES, "updated", {"spec": {"images": ["nginx:1.25", "redis:7.2"]}})
    poll(lambda: caches.get_cluster_custom_object(*CACHES, "updated")["status"]["phase"], 30,
         "the cache Updating", until=lambda phase: phase == "Updating")
    api_client.close()
    assert first.stop() == 0
    assert stored_object(tmp_path, IMAGECACHES, "updated")["status"]["phase"] == "Updating", "stopped mid-update"
    second = start_sim_factory("empty", ("--speed", RESTART_SPEED), state_dir=tmp_path)
    api_client = new_api_client(second)
    cache = poll(lambda: client.CustomObjectsApi(api_client).get_cluster_custom_object(*CACHES, "updated"), 60,
                 "the update carried on to Ready after the restart",
                 until=lambda cache: cache["status"]["phase"] == "Ready")
    assert cache["spec"]["images"] == ["nginx:1.25", "redis:7.2"]
    api_client.close()
    assert "Traceback" not in (tmp_path / "sim.log").read_text()


def test_a_pod_starting_at_a_restart_carries_on_to_running(start_sim_factory, tmp_path):
    first = start_sim_factory("empty", ("--speed", RESTART_SPEED), state_dir=tmp_path)
    api_client = new_api_client(first)
    core = client.CoreV1Api(api_client)
    core.create_namespaced_pod("default", {
        "metadata": {"name": "starting", "labels": {"alibabacloud.com/eci": "true"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}})  # ~10 s of the model's pulling
    poll(lambda: core.read_namespaced_pod("starting", "default").status, 30, "the pod's containers being created",
         until=lambda status: status.phase == "Pending" and bool(status.container_statuses))
    api_client.close()
    assert first.stop() == 0
    assert stored_object(tmp_path, PODS, "starting")["status"]["phase"] == "Pending", "stopped while it started"
    second = start_sim_factory("empty", ("--speed", RESTART_SPEED), state_dir=tmp_path)
    api_client = new_api_client(second)
    poll(lambda: client.CoreV1Api(api_client).read_namespaced_pod("starting", "default").status.phase, 90,
         "the pod started before the restart to run after it", until=lambda phase: phase == "Running")
    api_client.close()
    assert "Traceback" not in (tmp_path / "sim.log").read_text()
