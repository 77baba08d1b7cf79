"""Pod start and pull time read from what kubelets and ECI report."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.starts import (
    PRESENT,
    PULLED,
    ImagePull,
    PodStart,
    PullEstimate,
    go_duration_seconds,
    parse_pull_message,
    percentile,
    pod_start,
    pod_start_from_events,
    pull_estimates,
    pull_from_event,
    saving,
    savings,
    with_pulls,
)

CREATED = "2026-11-28T08:00:00Z"


def pulled_event(message: str, container: str = "web", at: str = "2026-11-28T08:00:20Z", uid: str = "u-1") -> dict:
    """A `Pulled` event as a kubelet (or ECI's virtual kubelet) writes it."""
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"web.{container}.{at}", "namespace": "shop"},
        "reason": "Pulled",
        "type": "Normal",
        "message": message,
        "involvedObject": {
            "kind": "Pod",
            "name": "web",
            "namespace": "shop",
            "uid": uid,
            "fieldPath": f"spec.containers{{{container}}}",
        },
        "source": {"component": "kubelet"},
        "firstTimestamp": at,
        "lastTimestamp": at,
        "count": 1,
    }


def pod(container_statuses: list | None = None, phase: str = "Pending", containers=("web",)) -> dict:
    status: dict = {
        "phase": phase,
        "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-28T08:00:01Z"}],
    }
    if container_statuses is not None:
        status["containerStatuses"] = container_statuses
    return {
        "metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "creationTimestamp": CREATED},
        "spec": {"containers": [{"name": c, "image": "nginx:1.25"} for c in containers]},
        "status": status,
    }


def running(name: str, started: str, restarts: int = 0, last_started: str | None = None) -> dict:
    status = {"name": name, "ready": True, "restartCount": restarts, "state": {"running": {"startedAt": started}}}
    if last_started:
        status["lastState"] = {
            "terminated": {"exitCode": 1, "reason": "Error", "startedAt": last_started, "finishedAt": started}
        }
    return status


def waiting(name: str, reason: str, message: str = "") -> dict:
    return {
        "name": name,
        "ready": False,
        "restartCount": 0,
        "state": {"waiting": {"reason": reason, "message": message}},
    }


@pytest.mark.parametrize(
    ("message", "image", "seconds", "size"),
    [
        ('Successfully pulled image "nginx:1.25" in 3.216s', "docker.io/library/nginx:1.25", 3.216, None),
        ('Successfully pulled image "nginx:1.25" in 3.216179001s', "docker.io/library/nginx:1.25", 3.216179001, None),
        (
            'Successfully pulled image "registry.cn-hangzhou.aliyuncs.com/acs/app:v2" in 3.2s (3.2s including waiting)',
            "registry.cn-hangzhou.aliyuncs.com/acs/app:v2",
            3.2,
            None,
        ),
        (
            'Successfully pulled image "nginx:1.25" in 1m2.5s (1m4.25s including waiting). Image size: 70984068 bytes.',
            "docker.io/library/nginx:1.25",
            62.5,
            70984068,
        ),
        (
            'Successfully pulled image "busybox" in 512ms (2.1s including waiting). Image size: 2155575 bytes.',
            "docker.io/library/busybox:latest",
            0.512,
            2155575,
        ),
    ],
)
def test_pulled_message_formats(message: str, image: str, seconds: float, size: int | None) -> None:
    pull = parse_pull_message(message)
    assert pull is not None
    assert (pull.image, pull.source, pull.size_bytes) == (image, PULLED, size)
    assert pull.seconds == pytest.approx(seconds)


def test_already_present_is_a_pull_of_zero_seconds() -> None:
    pull = parse_pull_message('Container image "nginx:1.25" already present on machine')
    assert pull == ImagePull("docker.io/library/nginx:1.25", 0.0, PRESENT)


def test_a_pull_without_a_duration_has_unknown_seconds() -> None:
    pull = parse_pull_message('Successfully pulled image "nginx:1.25"')
    assert pull is not None and pull.source == PULLED and pull.seconds is None


@pytest.mark.parametrize("text", ["3.2", "s", "", "3.2x", "1m2", None, 5])
def test_not_a_go_duration(text) -> None:
    assert go_duration_seconds(text) is None


def test_event_carries_time_and_container() -> None:
    pull = pull_from_event(pulled_event('Successfully pulled image "nginx:1.25" in 3.216s', container="side"))
    assert pull is not None
    assert pull.container == "side"
    assert pull.at == datetime(2026, 11, 28, 8, 0, 20, tzinfo=UTC)
    assert pull_from_event({**pulled_event("x"), "reason": "Pulling"}) is None


def test_events_with_one_message_each_keep_their_own_time_and_container() -> None:
    """An "already present" message is the same text on every pod of an image: each event's pull is its own."""
    message = 'Container image "nginx:1.25" already present on machine'
    first = pull_from_event(pulled_event(message, container="web", at="2026-11-28T08:00:20Z"))
    second = pull_from_event(pulled_event(message, container="side", at="2026-11-28T09:30:00Z"))
    assert (first.container, first.at) == ("web", datetime(2026, 11, 28, 8, 0, 20, tzinfo=UTC))
    assert (second.container, second.at) == ("side", datetime(2026, 11, 28, 9, 30, tzinfo=UTC))
    assert (first.image, first.source, first.seconds) == (second.image, second.source, second.seconds)


@pytest.mark.parametrize(
    ("field_path", "container"),
    [("spec.initContainers{setup}", "setup"), ("spec.containers{web}", "web"), ("spec", None), (7, None)],
)
def test_container_named_by_the_field_path(field_path, container) -> None:
    event = pulled_event('Successfully pulled image "nginx:1.25" in 1s')
    event["involvedObject"]["fieldPath"] = field_path
    assert pull_from_event(event).container == container


def test_event_time_falls_back_to_the_events_creation() -> None:
    event = pulled_event('Successfully pulled image "nginx:1.25" in 1s')
    del event["firstTimestamp"], event["lastTimestamp"]
    event["metadata"]["creationTimestamp"] = "2026-11-28T08:00:30Z"
    assert pull_from_event(event).at == datetime(2026, 11, 28, 8, 0, 30, tzinfo=UTC)
    event["eventTime"] = "2026-11-28T08:00:25.123456Z"
    assert pull_from_event(event).at == datetime(2026, 11, 28, 8, 0, 25, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("pulls", "expected"),
    [
        ((), None),
        ((ImagePull("a", 0.0, PRESENT), ImagePull("b", 0.0, PRESENT)), 0),  # `imc report` has printed 0, not 0.0
        ((ImagePull("a", 1.5, PULLED), ImagePull("b", 0.0, PRESENT), ImagePull("c", 2.25, PULLED)), 3.75),
        ((ImagePull("a", 1.5, PULLED), ImagePull("b", None, PULLED)), None),  # one pull of unknown length
    ],
)
def test_pull_seconds_adds_the_registry_pulls(pulls, expected) -> None:
    start = PodStart(1.0, None, pulls)
    assert start.pull_seconds == expected and type(start.pull_seconds) is type(expected)


def test_started_pod_measures_creation_to_last_container() -> None:
    events = [
        pulled_event('Successfully pulled image "nginx:1.25" in 18.5s (18.5s including waiting)'),
        pulled_event('Container image "nginx:1.25" already present on machine', container="side"),
    ]
    statuses = [running("web", "2026-11-28T08:00:21Z"), running("side", "2026-11-28T08:00:23Z")]
    start = pod_start_from_events(pod(statuses, "Running", ("web", "side")), events)
    assert start is not None
    assert start.start_seconds == 23.0
    assert start.waiting_reason is None
    assert start.scheduled == datetime(2026, 11, 28, 8, 0, 1, tzinfo=UTC)
    # the second container finds the image the first pulled: one registry pull
    assert [(p.image, p.source, p.seconds) for p in start.pulls] == [("docker.io/library/nginx:1.25", PULLED, 18.5)]
    assert start.pull_seconds == 18.5


@pytest.mark.parametrize("statuses", [
    [running("web", "2026-11-28T08:00:21Z"), running("side", "2026-11-28T08:00:23Z")],
    [waiting("web", "ImagePullBackOff", "pull failed"), running("side", "2026-11-28T08:00:23Z")],
])
def test_a_start_given_other_pulls_equals_the_start_read_again_with_them(statuses) -> None:
    one = pulled_event('Successfully pulled image "nginx:1.25" in 18.5s (18.5s including waiting)')
    other = pulled_event('Container image "redis:7" already present on machine', container="side")
    the_pod = pod(statuses, "Running", ("web", "side"))
    first = pod_start(the_pod, [pull_from_event(one)])
    assert first is not None
    again = pod_start(the_pod, [pull_from_event(one), pull_from_event(other)])
    assert with_pulls(first, [pull_from_event(one), pull_from_event(other)]) == again
    assert again != first


def test_pod_mid_start_has_no_figure_yet() -> None:
    start = pod_start_from_events(pod([waiting("web", "ContainerCreating")]), [])
    assert start is not None
    assert start.start_seconds is None and start.waiting_reason is None and start.starting
    assert start.pull_seconds is None
    # one container up, the other still creating: still no figure
    statuses = [running("web", "2026-11-28T08:00:05Z"), waiting("side", "ContainerCreating")]
    assert pod_start(pod(statuses, containers=("web", "side"))).start_seconds is None
    # no container status at all yet
    assert pod_start(pod(None)).starting


def test_restarted_container_counts_its_first_start() -> None:
    statuses = [running("web", "2026-11-28T08:05:00Z", restarts=1, last_started="2026-11-28T08:00:07Z")]
    start = pod_start(pod(statuses, "Running"))
    assert start.start_seconds == 7.0
    finished = [{"name": "web", "state": {"terminated": {"startedAt": "2026-11-28T08:00:04Z", "exitCode": 0}}}]
    assert pod_start(pod(finished, "Succeeded")).start_seconds == 4.0


def test_image_pull_backoff_says_why() -> None:
    message = 'Back-off pulling image "nginx:1.25"'
    start = pod_start(pod([waiting("web", "ImagePullBackOff", message)]))
    assert (start.start_seconds, start.waiting_reason, start.waiting_message) == (None, "ImagePullBackOff", message)
    assert not start.starting
    failed = pod(None, "Failed")
    failed["status"].update(reason="ProviderFailed", message="no stock")
    assert pod_start(failed).waiting_reason == "ProviderFailed"


def test_events_of_a_former_pod_of_the_same_name_are_ignored() -> None:
    event = pulled_event('Successfully pulled image "nginx:1.25" in 3s', uid="someone-else")
    assert pod_start_from_events(pod([waiting("web", "ContainerCreating")]), [event]).pulls == ()


@pytest.mark.parametrize(
    "value",
    [
        None,
        1,
        "x",
        [],
        {},
        {"metadata": None},
        {"metadata": {"creationTimestamp": 5}},
        {"metadata": {"creationTimestamp": "no"}},
    ],
)
def test_hostile_pods(value) -> None:
    assert pod_start(value) is None
    assert pod_start_from_events(value, [None, 1, {"reason": "Pulled", "message": 3}]) is None


@pytest.mark.parametrize(
    "status",
    [
        None,
        [],
        "x",
        {"containerStatuses": "x", "conditions": {"a": 1}},
        {"containerStatuses": [None, 1, {"name": 3, "state": []}], "conditions": [None, "x"]},
        {"containerStatuses": [{"name": "web", "state": {"running": {"startedAt": "never"}}}]},
        {"containerStatuses": [{"name": "web", "state": {"waiting": {"reason": 7}}}], "phase": ["Failed"]},
    ],
)
def test_hostile_statuses_never_raise(status) -> None:
    value = {"metadata": {"creationTimestamp": CREATED}, "spec": {"containers": "x"}, "status": status}
    start = pod_start_from_events(
        value,
        [
            {"reason": "Pulled", "message": None, "involvedObject": "x"},
            {"reason": "Pulled", "message": 'Container image "" already present on machine', "firstTimestamp": 1},
        ],
    )
    assert start is not None and start.start_seconds is None


def _hit_start(*pulls: ImagePull):
    return pod_start(pod([running("web", "2026-11-28T08:00:03Z")], "Running"), pulls)


def test_saving_is_the_median_observed_pull_less_what_the_hit_paid() -> None:
    image = "docker.io/library/nginx:1.25"
    misses = [_hit_start(ImagePull(image, s, PULLED)) for s in (20.0, 30.0, 25.0)]
    estimates = pull_estimates(misses)
    assert estimates == {image: PullEstimate(image, 25.0, 3)}
    present = saving(_hit_start(ImagePull(image, 0.0, PRESENT)), [image], estimates)
    assert (present.seconds, present.observed) == (25.0, 3)
    checked = saving(_hit_start(ImagePull(image, 0.5, PULLED)), [image], estimates)  # imagePullPolicy: Always
    assert checked.seconds == pytest.approx(24.5)


def test_saving_is_unknown_never_zero_without_observed_pulls() -> None:
    image, other = "docker.io/library/nginx:1.25", "docker.io/library/redis:7"
    estimates = {image: PullEstimate(image, 25.0, 3)}
    both = _hit_start(ImagePull(image, 0.0, PRESENT), ImagePull(other, 0.0, PRESENT))
    unknown = saving(both, [image, other], estimates)
    assert unknown.seconds is None and unknown.unknown_images == (other,)
    assert saving(_hit_start(), [image], estimates).seconds == 25.0  # its own pull no longer reported (events expire)
    assert saving(None, [other], estimates).seconds is None


def test_percentile() -> None:
    assert percentile([], 0.5) is None
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([5.0, 1.0, 10.0], 0.9) == pytest.approx(9.0)


def test_savings_learn_from_misses_and_credit_hits() -> None:
    image = "docker.io/library/nginx:1.25"
    miss = _hit_start(ImagePull(image, 30.0, PULLED))
    always = _hit_start(ImagePull(image, 0.4, PULLED))  # a hit's manifest check is not a registry pull of a miss
    estimates, saved = savings(
        [
            ("m", "miss", miss, [image]),
            ("h", "hit", always, [image]),
            ("f", "fail", miss, [image]),
            ("s", "hit", pod_start(pod([waiting("web", "ContainerCreating")])), [image]),  # no saving until started
        ]
    )
    assert estimates[image].median_seconds == 30.0 and estimates[image].observed == 1
    assert set(saved) == {"h"} and saved["h"].seconds == pytest.approx(29.6)
