"""The built-in cluster's pods/log and pods/ephemeralcontainers rules, without a server."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from sim.apiserver.ephemeral import check_ephemeral, with_ephemeral
from sim.apiserver.errors import ApiError
from sim.apiserver.logs import container_lines, container_of, shown_text

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
STARTED = "2026-12-01T11:59:00Z"


def pod(phase: str = "Running", **states: dict) -> dict:
    """A two-container pod on the virtual node; `states` by container name (running since STARTED by default)."""
    return {
        "metadata": {"name": "web-1", "namespace": "shop", "creationTimestamp": "2026-12-01T11:58:58Z",
                     "annotations": {"k8s.aliyun.com/eci-matched-image-cache": "imc-web"}},
        "spec": {"nodeName": "virtual-kubelet-cn-hangzhou-k",
                 "containers": [{"name": "main", "image": "nginx:1.25"}, {"name": "side", "image": "busybox:1.36"}]},
        "status": {"phase": phase, "containerStatuses": [
            {"name": name, "image": image, "state": states.get(name, {"running": {"startedAt": STARTED}})}
            for name, image in (("main", "nginx:1.25"), ("side", "busybox:1.36"))]},
    }


def container_log(obj: dict, query: dict, now: datetime) -> str:
    """The text a log request gets, as the server puts it together."""
    lines = container_lines(obj, container_of(obj, query), now)
    return shown_text(lines, query, now)


def refused(obj: dict, **query: str) -> str:
    """The message of the 400/422 a log request gets."""
    with pytest.raises(ApiError) as caught:
        container_log(obj, query, NOW)
    return caught.value.message


def test_a_running_container_logs_when_it_started_and_from_which_cache():
    text = container_log(pod(), {"container": "main"}, NOW)
    assert text.startswith("imc sim: container main (nginx:1.25) started; ECI created the pod from image cache imc-web")
    assert text.endswith("\n") and text.count("\n") == 1


def test_a_finished_container_also_logs_how_it_exited():
    ended = {"terminated": {"startedAt": STARTED, "finishedAt": "2026-12-01T11:59:30Z", "exitCode": 0,
                            "reason": "Completed"}}
    lines = container_log(pod("Succeeded", main=ended), {"container": "main"}, NOW).splitlines()
    assert lines[1] == "imc sim: container main exited with code 0 (Completed)"


def test_timestamps_tail_since_and_limit_bytes_shape_the_text_as_kubernetes_does():
    ended = {"terminated": {"startedAt": STARTED, "finishedAt": "2026-12-01T11:59:30Z", "exitCode": 1,
                            "reason": "Error"}}
    obj = pod("Failed", main=ended)
    assert container_log(obj, {"container": "main", "timestamps": "true"}, NOW).startswith(
        "2026-12-01T11:59:00.000000000Z imc sim: container main")
    assert container_log(obj, {"container": "main", "tailLines": "1"}, NOW).startswith("imc sim: container main exited")
    assert container_log(obj, {"container": "main", "tailLines": "0"}, NOW) == ""
    assert container_log(obj, {"container": "main", "sinceSeconds": "45"}, NOW).count("\n") == 1  # only the exit
    since = (NOW - timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert container_log(obj, {"container": "main", "sinceTime": since}, NOW) == ""
    assert container_log(obj, {"container": "main", "limitBytes": "8"}, NOW) == "imc sim:"


def test_bad_options_are_refused_naming_them():
    assert "tailLines: Invalid value: -1" in refused(pod(), container="main", tailLines="-1")
    assert "limitBytes: Invalid value: 0: must be greater than 0" in refused(pod(), container="main", limitBytes="0")
    assert "sinceSeconds" in refused(pod(), container="main", sinceSeconds="soon")
    assert "at most one of `sinceTime` or `sinceSeconds`" in refused(
        pod(), container="main", sinceSeconds="5", sinceTime=STARTED)
    assert 'sinceTime: Invalid value: "yesterday"' in refused(pod(), container="main", sinceTime="yesterday")


def test_which_container_as_kube_apiserver_words_it():
    assert refused(pod()) == "a container name must be specified for pod web-1, choose one of: [main side]"
    assert refused(pod(), container="db") == "container db is not valid for pod web-1"
    assert refused(pod(), container="main", previous="true") == (
        'previous terminated container "main" in pod "web-1" not found')
    one = pod()
    one["spec"]["containers"].pop()
    assert container_log(one, {}, NOW).startswith("imc sim: container main")


def test_a_container_not_started_yet_is_waiting():
    waiting = pod("Pending", main={"waiting": {"reason": "ContainerCreating"}})
    assert refused(waiting, container="main") == (
        'container "main" in pod "web-1" is waiting to start: ContainerCreating')
    unscheduled = pod("Pending")
    del unscheduled["spec"]["nodeName"]
    assert refused(unscheduled, container="main") == "pod web-1 does not have a host assigned"


def test_a_status_nobody_should_have_written_still_logs():
    broken = pod(main={"running": {"startedAt": "not a time"}})
    assert container_log(broken, {"container": "main"}, NOW).startswith("imc sim: container main")


DEBUGGER = {"name": "debugger-1", "image": "busybox:1.36"}


def debugged(obj: dict, *containers: dict) -> dict:
    """What a write of pods/NAME/ephemeralcontainers with these containers stores."""
    written = copy.deepcopy(obj)
    written["spec"]["ephemeralContainers"] = list(containers)
    return with_ephemeral(copy.deepcopy(obj), written, "2026-12-01T12:00:00Z")


def test_an_ephemeral_container_is_added_and_runs_in_a_running_pod():
    after = debugged(pod(), DEBUGGER)
    assert check_ephemeral(pod(), after) == []
    assert after["spec"]["ephemeralContainers"] == [DEBUGGER]
    status = after["status"]["ephemeralContainerStatuses"][0]
    assert status["name"] == "debugger-1" and status["state"] == {"running": {"startedAt": "2026-12-01T12:00:00Z"}}
    log = container_log(after, {"container": "debugger-1"}, NOW)
    assert log.startswith("imc sim: container debugger-1 (busybox:1.36) started.")  # not from the pod's cache
    waiting = debugged(pod("Pending"), DEBUGGER)["status"]["ephemeralContainerStatuses"][0]["state"]
    assert waiting == {"waiting": {"reason": "PodNotRunning"}}


def test_only_the_ephemeral_containers_of_the_write_are_taken():
    written = pod()
    written["spec"]["ephemeralContainers"] = [DEBUGGER]
    written["spec"]["containers"][0]["image"] = "nginx:evil"
    written["metadata"]["labels"] = {"sneaked": "in"}
    after = with_ephemeral(pod(), written, "2026-12-01T12:00:00Z")
    assert after["spec"]["containers"][0]["image"] == "nginx:1.25" and "labels" not in after["metadata"]


def test_ephemeral_containers_may_only_be_added_each_named_anew_with_an_image():
    before = debugged(pod(), DEBUGGER)
    assert check_ephemeral(before, debugged(before)) == [
        ("spec.ephemeralContainers", 'Forbidden: existing ephemeral containers "debugger-1" may not be removed')]
    changed = debugged(before, {**DEBUGGER, "image": "alpine:3"})
    assert check_ephemeral(before, changed) == [
        ("spec.ephemeralContainers[0]", 'Forbidden: existing ephemeral containers "debugger-1" may not be changed')]
    assert check_ephemeral(pod(), debugged(pod(), {"name": "main", "image": "busybox:1.36"})) == [
        ("spec.ephemeralContainers[0].name", 'Duplicate value: "main"')]
    assert check_ephemeral(pod(), debugged(pod(), {"name": "d"}, {"image": "x"})) == [
        ("spec.ephemeralContainers[0].image", "Required value"), ("spec.ephemeralContainers[1].name", "Required value")]
