"""Jobs and CronJobs of the sim (pure parts): cron schedules, defaults, validation, status transitions, tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sim.apiserver.batch import (
    CONTROLLER_UID_LABEL,
    INSTANTIATE_ANNOTATION,
    PodCounts,
    finished_status,
    job_from_template,
    job_status,
    pods_wanted,
    scheduled_job_name,
)
from sim.apiserver.cron import ScheduleError, parse_schedule, schedule_problem
from sim.apiserver.defaults import apply_defaults
from sim.apiserver.protobuf import MAGIC, decode
from sim.apiserver.resources import CRONJOBS, JOBS
from sim.apiserver.tables import render_table
from sim.apiserver.validation import check_object, check_update
from sim.past import PAST_JOBS, cronjob_body, runs, schedule_of

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("schedule", "after", "expected"), [
    ("*/15 * * * *", datetime(2026, 1, 1, 10, 7, 30, tzinfo=UTC), datetime(2026, 1, 1, 10, 15, tzinfo=UTC)),
    ("*/15 * * * *", datetime(2026, 1, 1, 10, 15, tzinfo=UTC), datetime(2026, 1, 1, 10, 30, tzinfo=UTC)),
    ("0 9 * * mon-fri", datetime(2026, 12, 5, 10, 7, tzinfo=UTC), datetime(2026, 12, 7, 9, 0, tzinfo=UTC)),
    ("30 2 1 feb *", datetime(2026, 3, 1, tzinfo=UTC), datetime(2027, 2, 1, 2, 30, tzinfo=UTC)),
    ("5/20 * * * *", datetime(2026, 1, 1, 10, 26, tzinfo=UTC), datetime(2026, 1, 1, 10, 45, tzinfo=UTC)),
    # both day fields set: either matches (the 13th, or a Friday)
    ("0 0 13 * 5", datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 6, tzinfo=UTC)),
    ("@hourly", datetime(2026, 1, 1, 10, 7, tzinfo=UTC), datetime(2026, 1, 1, 11, 0, tzinfo=UTC)),
    ("@daily", datetime(2026, 1, 1, 10, 7, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)),
    ("@weekly", datetime(2026, 1, 1, 10, 7, tzinfo=UTC), datetime(2026, 1, 4, tzinfo=UTC)),
    ("@monthly", datetime(2026, 1, 31, 10, 7, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)),
    ("@yearly", datetime(2026, 1, 31, 10, 7, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ("@every 1h30m", datetime(2026, 1, 1, 10, 7, 12, 500, tzinfo=UTC), datetime(2026, 1, 1, 11, 37, 12, tzinfo=UTC)),
])
def test_schedules_activate_when_cron_says(schedule, after, expected):
    assert parse_schedule(schedule).next_after(after) == expected


def test_a_schedule_in_a_time_zone_runs_at_its_local_time():
    shanghai = ZoneInfo("Asia/Shanghai")
    at = parse_schedule("0 9 * * *").next_after(datetime(2026, 1, 1, 2, 0, tzinfo=UTC).astimezone(shanghai))
    assert at.astimezone(UTC) == datetime(2026, 1, 2, 1, 0, tzinfo=UTC)


def test_times_between_keeps_the_most_recent_missed_times():
    times = parse_schedule("* * * * *").times_between(NOW, NOW + timedelta(hours=5), limit=100)
    assert len(times) == 100 and times[-1] == NOW + timedelta(hours=5)


@pytest.mark.parametrize(("schedule", "message"), [
    ("bad", "expected exactly 5 fields, found 1: [bad]"),
    ("61 * * * *", "end of range (61) above maximum (59): 61"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ("@every soon", "failed to parse duration @every soon"),
])
def test_bad_schedules_are_refused_as_robfig_cron_words_it(schedule, message):
    with pytest.raises(ScheduleError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]").replace("*", r"\*")):
        parse_schedule(schedule)
    assert schedule_problem(schedule).startswith(f'Invalid value: "{schedule}": ')


def test_a_time_zone_in_the_schedule_is_refused():
    assert "use timeZone field instead" in schedule_problem("TZ=UTC 0 * * * *")


def job(spec: dict | None = None, uid: str = "u-1") -> dict:
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "default", "uid": uid},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "pi", "image": "perl:5.34"}]}}, **(spec or {})}}
    apply_defaults(JOBS.key, body)
    return body


def test_job_defaults_and_generated_selector():
    spec = job()["spec"]
    assert {k: spec[k] for k in ("completions", "parallelism", "backoffLimit", "completionMode", "suspend",
                                 "manualSelector")} == {"completions": 1, "parallelism": 1, "backoffLimit": 6,
                                                        "completionMode": "NonIndexed", "suspend": False,
                                                        "manualSelector": False}
    assert spec["selector"] == {"matchLabels": {CONTROLLER_UID_LABEL: "u-1"}}
    assert spec["template"]["metadata"]["labels"] == {
        "batch.kubernetes.io/controller-uid": "u-1", "batch.kubernetes.io/job-name": "pi",
        "controller-uid": "u-1", "job-name": "pi"}
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] == 30
    assert check_object(JOBS.key, job()) == []


def test_a_work_queue_job_keeps_completions_unset():
    spec = job({"parallelism": 3})["spec"]
    assert "completions" not in spec and spec["parallelism"] == 3


def test_job_validation():
    always = job()
    always["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    assert check_object(JOBS.key, always) == [
        ("spec.template.spec.restartPolicy", 'Unsupported value: "Always": supported values: "OnFailure", "Never"')]
    foreign = job({"selector": {"matchLabels": {"app": "x"}}})
    assert ("spec.selector", "Invalid value: `selector` not auto-generated") in check_object(JOBS.key, foreign)
    manual = job({"manualSelector": True, "selector": {"matchLabels": {"app": "x"}}})
    assert check_object(JOBS.key, manual) == [
        ("spec.template.metadata.labels", "Invalid value: `selector` does not match template `labels`")]
    manual["spec"]["template"]["metadata"] = {"labels": {"app": "x"}}
    assert check_object(JOBS.key, manual) == []
    assert ("spec.parallelism", "Invalid value: -1: must be greater than or equal to 0") in check_object(
        JOBS.key, job({"parallelism": -1}))


def test_a_jobs_selector_and_template_are_immutable():
    old = job()
    new = job()
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:5.36"
    new["spec"]["selector"] = {"matchLabels": {"x": "y"}}
    assert [field for field, _ in check_update(JOBS.key, old, new)] == ["spec.selector", "spec.template"]
    new = job()
    new["spec"]["suspend"] = True
    assert check_update(JOBS.key, old, new) == []


def cronjob(schedule: str = "*/5 * * * *", **spec) -> dict:
    body = {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "tick", "namespace": "default", "uid": "c-1"},
            "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure", "containers": [{"name": "a", "image": "busybox"}]}}}}, **spec}}
    apply_defaults(CRONJOBS.key, body)
    return body


def test_cronjob_defaults_and_validation():
    body = cronjob()
    assert {k: body["spec"][k] for k in ("concurrencyPolicy", "suspend", "successfulJobsHistoryLimit",
                                         "failedJobsHistoryLimit")} == {
        "concurrencyPolicy": "Allow", "suspend": False, "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1}
    assert "completions" not in body["spec"]["jobTemplate"]["spec"], "the template's JobSpec is not defaulted"
    assert check_object(CRONJOBS.key, body) == []
    assert check_object(CRONJOBS.key, cronjob("61 * * * *")) == [
        ("spec.schedule", 'Invalid value: "61 * * * *": end of range (61) above maximum (59): 61')]
    assert check_object(CRONJOBS.key, cronjob(timeZone="Mars/Olympus")) == [
        ("spec.timeZone", 'Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus')]
    assert check_object(CRONJOBS.key, cronjob(timeZone="Asia/Shanghai")) == []
    long_name = cronjob()
    long_name["metadata"]["name"] = "x" * 53
    assert [field for field, _ in check_object(CRONJOBS.key, long_name)] == ["metadata.name"]


def test_jobs_a_cronjob_makes():
    scheduled = datetime(2026, 11, 28, 12, 5, tzinfo=UTC)
    body = job_from_template(cronjob(), scheduled_job_name("tick", scheduled), scheduled)
    assert body["metadata"]["name"] == f"tick-{int(scheduled.timestamp()) // 60}"
    assert body["metadata"]["ownerReferences"][0] | {"kind": "CronJob", "uid": "c-1", "controller": True} == \
        body["metadata"]["ownerReferences"][0]
    assert body["metadata"]["annotations"] == {"batch.kubernetes.io/cronjob-scheduled-timestamp":
                                               "2026-11-28T12:05:00Z"}
    manual = job_from_template(cronjob(), "manual-1", None)
    assert manual["metadata"]["annotations"] == {INSTANTIATE_ANNOTATION: "manual"}


def pod(phase: str, ready: bool = False, deleting: bool = False) -> dict:
    metadata = {"name": "p", "deletionTimestamp": "2026-11-28T12:00:00Z"} if deleting else {"name": "p"}
    return {"metadata": metadata, "status": {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}}


def test_job_status_runs_then_completes_as_1_32_writes_it():
    body = job({"completions": 2, "parallelism": 2})
    counts = PodCounts.of([pod("Pending"), pod("Running", ready=True)])
    assert pods_wanted(body, counts) == 0
    running = job_status(body, counts, NOW)
    assert running == {"startTime": "2026-11-28T12:00:00Z", "active": 2, "ready": 1, "terminating": 0,
                       "uncountedTerminatedPods": {}}
    body["status"] = running
    later = NOW + timedelta(seconds=30)
    half = PodCounts.of([pod("Succeeded"), pod("Running", ready=True)])
    assert "conditions" not in job_status(body, half, later)
    done = job_status(body, PodCounts.of([pod("Succeeded"), pod("Succeeded")]), later)
    assert [(c["type"], c["reason"], c["status"]) for c in done["conditions"]] == [
        ("SuccessCriteriaMet", "CompletionsReached", "True"), ("Complete", "CompletionsReached", "True")]
    assert done["startTime"] == "2026-11-28T12:00:00Z" and done["completionTime"] == "2026-11-28T12:00:30Z"
    assert done["succeeded"] == 2 and "active" not in done
    body["status"] = done
    assert job_status(body, PodCounts.of([pod("Succeeded"), pod("Succeeded")]), later + timedelta(hours=1)) == done
    assert pods_wanted(body, PodCounts.of([])) == 0, "a finished Job makes no pods"


def test_pods_wanted_follows_parallelism_completions_and_backoff():
    assert pods_wanted(job({"completions": 5, "parallelism": 2}), PodCounts.of([])) == 2
    assert pods_wanted(job({"completions": 5, "parallelism": 2}), PodCounts.of([pod("Succeeded")] * 4)) == 1
    assert pods_wanted(job({"parallelism": 3}), PodCounts.of([pod("Succeeded")])) == 0
    assert pods_wanted(job({"suspend": True}), PodCounts.of([])) == 0
    assert pods_wanted(job({"backoffLimit": 1}), PodCounts.of([pod("Failed")])) == 1
    failing = job({"backoffLimit": 1})
    failed = job_status(failing, PodCounts.of([pod("Failed")] * 2), NOW)
    assert [c["type"] for c in failed["conditions"]] == ["FailureTarget", "Failed"] and "completionTime" not in failed
    assert pods_wanted(failing, PodCounts.of([pod("Failed")] * 2)) == 0
    assert PodCounts.of([pod("Running", deleting=True)]).terminating == 1


def test_a_finished_pod_has_the_past_status_shape():
    spec = {"containers": [{"name": "a", "image": "busybox"}]}
    status = finished_status({"spec": spec}, NOW, NOW + timedelta(seconds=3), NOW + timedelta(seconds=9))
    assert status["phase"] == "Succeeded"
    assert status["containerStatuses"][0]["state"]["terminated"] == {
        "exitCode": 0, "reason": "Completed", "startedAt": "2026-11-28T12:00:03Z", "finishedAt": "2026-11-28T12:00:09Z"}


def test_job_and_cronjob_tables_have_kubectls_columns():
    body = job({"completions": 2})
    body["metadata"]["creationTimestamp"] = "2026-11-28T11:58:00Z"
    body["status"] = {"startTime": "2026-11-28T11:58:00Z", "succeeded": 1, "active": 1}
    table = render_table(JOBS.key, [body], now=NOW)
    assert [(c["name"], c["priority"]) for c in table["columnDefinitions"]] == [
        ("Name", 0), ("Status", 0), ("Completions", 0), ("Duration", 0), ("Age", 0), ("Containers", 1),
        ("Images", 1), ("Selector", 1)]
    assert table["rows"][0]["cells"] == ["pi", "Running", "1/2", "2m", "2m", "pi", "perl:5.34",
                                         "batch.kubernetes.io/controller-uid=u-1"]
    body["status"] = job_status(body, PodCounts.of([pod("Succeeded")] * 2), NOW)
    assert render_table(JOBS.key, [body], now=NOW)["rows"][0]["cells"][1:4] == ["Complete", "2/2", "2m"]
    queue = job({"parallelism": 3})
    assert render_table(JOBS.key, [queue], now=NOW)["rows"][0]["cells"][1:4] == ["Running", "0/1 of 3", ""]
    cron = cronjob(timeZone="Asia/Shanghai")
    cron["metadata"]["creationTimestamp"] = "2026-11-28T10:00:00Z"
    cron["status"] = {"lastScheduleTime": "2026-11-28T11:55:00Z", "active": [{"name": "tick-1"}]}
    table = render_table(CRONJOBS.key, [cron], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age", "Containers", "Images",
        "Selector"]
    assert table["rows"][0]["cells"] == ["tick", "*/5 * * * *", "Asia/Shanghai", "False", 1, "5m", "120m", "a",
                                         "busybox", "<none>"]
    assert render_table(CRONJOBS.key, [cronjob()], now=NOW)["rows"][0]["cells"][2:6] == [
        "<none>", "False", 0, "<none>"]


def _varint(value: int) -> bytes:
    out = b""
    while True:
        byte, value = value & 0x7F, value >> 7
        out += bytes([byte | (0x80 if value else 0)])
        if not value:
            return out


def _field(number: int, value: bytes | int) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def test_protobuf_jobs_as_kubectl_create_job_from_sends_them():
    owner = _field(1, b"CronJob") + _field(3, b"tick") + _field(4, b"c-1") + _field(5, b"batch/v1") + _field(6, 1)
    metadata = _field(1, b"manual-1") + _field(12, _field(1, INSTANTIATE_ANNOTATION.encode()) + _field(2, b"manual")) \
        + _field(13, owner)
    container = _field(1, b"a") + _field(2, b"busybox")
    template = _field(2, _field(2, container) + _field(3, b"Never"))
    spec = _field(1, 0) + _field(6, template) + _field(10, 0)
    body = MAGIC + _field(1, _field(1, b"batch/v1") + _field(2, b"Job")) + _field(2, _field(1, metadata) + _field(2, spec))
    decoded = decode(body)
    assert decoded["metadata"]["ownerReferences"] == [{"kind": "CronJob", "name": "tick", "uid": "c-1",
                                                       "apiVersion": "batch/v1", "controller": True}]
    assert decoded["spec"]["parallelism"] == 0 and decoded["spec"]["suspend"] is False
    assert decoded["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    cron_spec = _field(1, b"@hourly") + _field(5, _field(2, _field(6, template)))
    cron = decode(MAGIC + _field(1, _field(1, b"batch/v1") + _field(2, b"CronJob")) + _field(2, _field(2, cron_spec)))
    assert cron["spec"]["schedule"] == "@hourly"
    assert cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"] == [{"name": "a", "image": "busybox"}]


def test_the_past_runs_follow_their_cronjobs_schedules():
    import random

    planned = runs(NOW, random.Random(3))
    assert planned
    for run in planned:
        schedule = parse_schedule(schedule_of(run.job))
        assert schedule.next_after(run.scheduled - timedelta(minutes=1)) == run.scheduled
        assert len(run.pods) == run.job.parallelism and all(at >= run.scheduled for at in run.pods)
    for past_job in PAST_JOBS:
        own = [run for run in planned if run.job is past_job]
        body = cronjob_body(past_job, NOW - timedelta(days=3), own)
        assert body["spec"]["successfulJobsHistoryLimit"] >= len(own), "the CronJob keeps every past Job"
        assert check_object(CRONJOBS.key, {**body, "spec": {**body["spec"], "concurrencyPolicy": "Allow"}}) == []
