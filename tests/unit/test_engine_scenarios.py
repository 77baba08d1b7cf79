"""The scenario table: every rule and every precedence of docs/eci-model.md, sections 2, 3 and 5.

Each record is a pod (annotations, images, labels) or a workload, a set of ImageCaches
(phase, images, size, created, expiry) and a moment `at`; and what ECI does, per
`docs/eci-model.md`: the decision, the chosen cache, the events in
order, whether a cache is auto-created, each cache's verdict, its exact/partial counts and
key words that the findings or reasons must contain. The expectations come from that model
(and, where marked, DEVELOPERS.md), not from running the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.fixtures.engine.builders import (
    AUTO,
    COUNT,
    EXTRA,
    HIT_EVENTS,
    LEGACY_AUTO,
    LEGACY_PIN,
    MISS_EVENTS,
    NEW,
    NOT_COMPLETE,
    NOT_FOUND,
    OLD,
    PERFECT,
    PIN,
    cache_id,
    candidate,
    imagecache,
    pod,
    run_engine,
    texts,
    workload,
)

NGINX, REDIS, BUSY = "nginx:1.25", "redis:7", "busybox:1.36"
N_NORM, R_NORM, B_NORM = (
    "docker.io/library/nginx:1.25",
    "docker.io/library/redis:7",
    "docker.io/library/busybox:1.36",
)
DIGEST = "sha256:" + "ab" * 32
ACR_VPC = "registry-vpc.cn-hangzhou.aliyuncs.com/team/app:1.0"
ACR_PUBLIC = "registry.cn-hangzhou.aliyuncs.com/team/app:1.0"
VERDICTS = {"chosen", "outranked", "rejected"}
SEVERITIES = {"error", "warning", "info"}


@dataclass(frozen=True)
class Scenario:
    """One row: the input, then what docs/eci-model.md says ECI does."""

    id: str
    rule: str  # the rule of docs/eci-model.md it pins down
    images: tuple[str, ...] = (NGINX,)
    caches: tuple[dict, ...] = ()
    annotations: dict = field(default_factory=dict)
    init_images: tuple[str, ...] = ()
    labels: dict | None = None  # None: the ECI label
    node_name: str | None = None
    pull_policy: str = "IfNotPresent"
    kind: str = "Pod"
    own_annotations: dict = field(default_factory=dict)  # on a workload's own metadata
    at: str = "2026-11-28T08:00:00Z"
    # expected
    outcome: str = "hit"
    cache: str | None = None  # hit: the chosen cache
    pinned: str | None = None  # fail: the pinned id
    events: tuple[str, ...] = HIT_EVENTS
    auto_create: bool = False
    auto_size: int | None = None
    verdicts: dict = field(default_factory=dict)  # cache name -> verdict
    counts: dict = field(default_factory=dict)  # cache name -> (exact, partial)
    words: tuple[str, ...] = ()  # in the findings or any reason
    finding_words: tuple[str, ...] = ()  # in the findings
    reason_words: dict = field(default_factory=dict)  # cache name -> words in its reasons
    images_out: tuple[str, ...] | None = None  # normalised, de-duplicated (any order)

    def manifest(self) -> dict:
        if self.kind == "Pod":
            return pod(
                list(self.images),
                init_images=self.init_images,
                annotations=self.annotations,
                labels=self.labels,
                node_name=self.node_name,
                pull_policy=self.pull_policy,
            )
        return workload(
            self.kind,
            list(self.images),
            template_annotations=self.annotations,
            own_annotations=self.own_annotations,
        )


def miss(**kw) -> dict:
    """Expectations of a miss: ECI pulls, emits Missed then AutoCreated, auto-creates a 30 GiB cache."""
    return {"outcome": "miss", "events": MISS_EVENTS, "auto_create": True, "auto_size": 30, **kw}


def no_cache(outcome: str, **kw) -> dict:
    """Expectations of `off` and `not-eci`: no cache, no event, nothing auto-created."""
    return {"outcome": outcome, "events": (), "auto_create": False, **kw}


def fail(event: str, pinned: str, **kw) -> dict:
    return {"outcome": "fail", "events": (event,), "auto_create": False, "pinned": pinned, **kw}


IC = imagecache
BOTH = IC("both", [NGINX, REDIS])
ONLY_N = IC("only-n", [NGINX], created=NEW)

SCENARIOS = [
    # ---- 3.1 pinned ------------------------------------------------------------------------
    Scenario(
        "pin-ready-hit-whatever-overlap",
        "pin Ready -> hit whatever the overlap; images not in the cache are pulled (say so)",
        images=(NGINX, REDIS),
        annotations={PIN: cache_id("pinned")},
        caches=(IC("pinned", [BUSY]), BOTH),
        cache="pinned",
        verdicts={"pinned": "chosen", "both": "rejected"},
        counts={"pinned": (0, 0)},
        words=("pull", "nginx", "redis"),
    ),
    Scenario(
        "pin-beats-auto",
        "a pin beats automatic matching; the auto annotations are ignored (say so)",
        images=(NGINX, REDIS),
        annotations={PIN: cache_id("pinned"), AUTO: "true", PERFECT: "true", COUNT: "2"},
        caches=(IC("pinned", [NGINX]), IC("better", [NGINX, REDIS], created=NEW, size=30)),
        cache="pinned",
        verdicts={"pinned": "chosen", "better": "rejected"},
        finding_words=("ignor",),
    ),
    Scenario(
        "pin-beats-auto-off",
        "a pin acts even with eci-auto-imc false (off is 'false and no pin')",
        annotations={PIN: cache_id("pinned"), AUTO: "false"},
        caches=(IC("pinned", [NGINX]),),
        cache="pinned",
        verdicts={"pinned": "chosen"},
    ),
    Scenario(
        "pin-not-found-fails",
        "pinned ID not among the caches -> fail, ImageCacheNotFound, even if another cache matches",
        annotations={PIN: "imc-missing0000"},
        caches=(IC("other", [NGINX]),),
        **fail(NOT_FOUND, "imc-missing0000", verdicts={"other": "rejected"}, words=("imc-missing0000",)),
    ),
    Scenario(
        "pin-not-found-no-caches",
        "pinned ID with no cache at all -> fail, ImageCacheNotFound",
        annotations={PIN: "imc-missing0000"},
        **fail(NOT_FOUND, "imc-missing0000"),
    ),
    Scenario(
        "pin-creating-not-complete",
        "pinned cache not Ready (Creating) -> fail, ImageCacheNotComplete",
        annotations={PIN: cache_id("pinned")},
        caches=(IC("pinned", [NGINX], phase="Creating"), IC("ready", [NGINX])),
        **fail(NOT_COMPLETE, cache_id("pinned"), verdicts={"pinned": "rejected", "ready": "rejected"},
               reason_words={"pinned": ("creating", "not ready")}),
    ),
    Scenario(
        "pin-failed-not-complete",
        "pinned cache not Ready (Failed) -> fail, ImageCacheNotComplete",
        annotations={PIN: cache_id("pinned")},
        caches=(IC("pinned", [NGINX], phase="Failed"),),
        **fail(NOT_COMPLETE, cache_id("pinned"), verdicts={"pinned": "rejected"},
               reason_words={"pinned": ("failed", "not ready")}),
    ),
    Scenario(
        "legacy-pin-hit",
        "legacy eci-image-snapshot-id is a pin",
        annotations={LEGACY_PIN: cache_id("pinned")},
        caches=(IC("pinned", [BUSY]), IC("other", [NGINX], created=NEW)),
        cache="pinned",
        verdicts={"pinned": "chosen", "other": "rejected"},
    ),
    Scenario(
        "legacy-pin-not-found",
        "legacy pin not found -> fail, ImageCacheNotFound",
        annotations={LEGACY_PIN: "imc-gone"},
        caches=(IC("other", [NGINX]),),
        **fail(NOT_FOUND, "imc-gone"),
    ),
    # ---- 3.2 / 3.3 automatic or off ------------------------------------------------------
    Scenario(
        "auto-default-true",
        "eci-auto-imc defaults to true: no annotation at all still matches",
        caches=(IC("c", [NGINX]),),
        cache="c",
        verdicts={"c": "chosen"},
        counts={"c": (1, 0)},
        images_out=(N_NORM,),
    ),
    Scenario(
        "auto-explicit-true",
        "eci-auto-imc true matches",
        annotations={AUTO: "true"},
        caches=(IC("c", [NGINX]),),
        cache="c",
    ),
    Scenario(
        "legacy-auto-true",
        "legacy eci-image-cache true = automatic matching",
        annotations={LEGACY_AUTO: "true"},
        caches=(IC("c", [NGINX]),),
        cache="c",
    ),
    Scenario(
        "auto-off",
        "eci-auto-imc false and no pin -> off: no cache, the pod pulls",
        annotations={AUTO: "false"},
        caches=(IC("c", [NGINX]),),
        **no_cache("off"),
    ),
    Scenario(
        "auto-bad-bool-defaults-true",
        "bad boolean 'yes' is a finding and falls back to the default (true)",
        annotations={AUTO: "yes"},
        caches=(IC("c", [NGINX]),),
        cache="c",
        finding_words=("yes",),
    ),
    Scenario(
        "perfect-bad-bool-defaults-false",
        "bad imc-perfect-match 'yes' falls back to false: 1 exact of 2 suffices",
        images=(NGINX, REDIS),
        annotations={PERFECT: "yes"},
        caches=(IC("c", [NGINX]),),
        cache="c",
        finding_words=("yes",),
    ),
    # requirement: perfect match
    Scenario(
        "perfect-needs-all",
        "perfect match: a cache with 1 of 2 images is rejected, the one with both hits",
        images=(NGINX, REDIS),
        annotations={PERFECT: "true"},
        caches=(BOTH, ONLY_N),
        cache="both",
        verdicts={"both": "chosen", "only-n": "rejected"},
        counts={"both": (2, 0), "only-n": (1, 0)},
        reason_words={"only-n": ("1 of 2",)},
    ),
    Scenario(
        "perfect-allows-more-images-in-cache",
        "perfect match: every pod image in the cache; the cache may hold more",
        images=(NGINX, REDIS),
        annotations={PERFECT: "true"},
        caches=(IC("superset", [BUSY, REDIS, NGINX, "alpine:3.20"]),),
        cache="superset",
        counts={"superset": (2, 0)},
    ),
    Scenario(
        "perfect-miss",
        "perfect match with no cache holding all images -> miss, Missed then AutoCreated",
        images=(NGINX, REDIS),
        annotations={PERFECT: "true"},
        caches=(ONLY_N,),
        **miss(verdicts={"only-n": "rejected"}, reason_words={"only-n": ("1 of 2",)}),
    ),
    Scenario(
        "perfect-beats-count",
        "imc-perfect-match beats imc-match-count-request: count 1 would pass, perfect does not",
        images=(NGINX, REDIS),
        annotations={PERFECT: "true", COUNT: "1"},
        caches=(ONLY_N,),
        **miss(verdicts={"only-n": "rejected"}),
    ),
    # requirement: match count N
    Scenario(
        "count-2-of-3",
        "match-count 2: at least 2 exact; a cache with 1 is rejected",
        images=(NGINX, REDIS, BUSY),
        annotations={COUNT: "2"},
        caches=(BOTH, IC("only-n", [NGINX], created=NEW, size=30)),
        cache="both",
        verdicts={"both": "chosen", "only-n": "rejected"},
        counts={"both": (2, 0), "only-n": (1, 0)},
        reason_words={"only-n": ("1 of 3",)},
    ),
    Scenario(
        "count-2-miss",
        "match-count 2 with only 1 exact anywhere -> miss",
        images=(NGINX, REDIS, BUSY),
        annotations={COUNT: "2"},
        caches=(ONLY_N,),
        **miss(verdicts={"only-n": "rejected"}),
    ),
    *[
        Scenario(
            f"count-invalid-{label}",
            f"bad count {value!r} is a finding and is ignored: the default needs 1 exact",
            images=(NGINX, REDIS),
            annotations={COUNT: value},
            caches=(IC("partial", ["nginx:1.24", "redis:6"]),),
            **miss(verdicts={"partial": "rejected"}, counts={"partial": (0, 2)},
                   finding_words=("match-count", *extra)),
        )
        for label, value, extra in [("minus", "-1", ("-1",)), ("abc", "abc", ("abc",)), ("zero", "0", ())]
    ],
    Scenario(
        "count-invalid-still-matches",
        "an ignored count does not stop the default requirement (1 exact) from hitting",
        images=(NGINX, REDIS),
        annotations={COUNT: "abc"},
        caches=(IC("c", [NGINX]),),
        cache="c",
        finding_words=("abc",),
    ),
    Scenario(
        "count-unsatisfiable",
        "a count larger than the pod's image count is reported; no cache can satisfy it",
        images=(NGINX, REDIS),
        annotations={COUNT: "3"},
        caches=(BOTH,),
        **miss(verdicts={"both": "rejected"}, counts={"both": (2, 0)}, finding_words=("3",)),
    ),
    # requirement: default (at least one exact)
    Scenario(
        "default-needs-one-exact",
        "partial matches (same repository, other tag) never satisfy the requirement",
        images=(NGINX, REDIS),
        caches=(IC("partial", ["nginx:1.24"]),),
        **miss(verdicts={"partial": "rejected"}, counts={"partial": (0, 1)}),
    ),
    Scenario(
        "counts-are-per-pod-image",
        "one pod image held twice (two spellings) is 1 exact; count 2 of 2 is then not met",
        images=(NGINX, REDIS),
        annotations={COUNT: "2"},
        caches=(IC("twice", [NGINX, "docker.io/library/nginx:1.25", "nginx:1.24", "redis:6", "redis:5"]),),
        **miss(verdicts={"twice": "rejected"}, counts={"twice": (1, 1)}),
    ),
    # candidate conditions
    Scenario(
        "creating-not-candidate",
        "only Ready caches are candidates (Creating -> rejected, not Ready)",
        caches=(IC("c", [NGINX], phase="Creating"),),
        **miss(verdicts={"c": "rejected"}, reason_words={"c": ("creating", "not ready")}),
    ),
    Scenario(
        "failed-not-candidate",
        "a Failed cache is not a candidate; a Ready one is",
        caches=(IC("broken", [NGINX], phase="Failed", created=NEW), IC("ok", [NGINX])),
        cache="ok",
        verdicts={"broken": "rejected", "ok": "chosen"},
        reason_words={"broken": ("failed",)},
    ),
    Scenario(
        "expired-not-candidate",
        "a cache past expireDateTime is not a candidate",
        caches=(IC("old", [NGINX], expire="2026-11-27T00:00:00Z"),),
        **miss(verdicts={"old": "rejected"}, reason_words={"old": ("expired", "2026-11-27")}),
    ),
    Scenario(
        "expired-with-offset",
        "expireDateTime 2026-11-28T10:00:00+08:00 is 02:00 UTC, before `at` (08:00 UTC): expired",
        caches=(IC("old", [NGINX], expire="2026-11-28T10:00:00+08:00"),),
        **miss(verdicts={"old": "rejected"}, reason_words={"old": ("expired",)}),
    ),
    Scenario(
        "expiring-at-that-instant-not-yet-past",
        "'not past expireDateTime': at the very instant of expireDateTime it is not yet past",
        caches=(IC("c", [NGINX], expire="2026-11-28T08:00:00Z"),),
        cache="c",
    ),
    Scenario(
        "created-in-the-same-second-not-candidate",
        "DEVELOPERS.md: timestamps have one-second precision; a cache created in the pod's own second is after it",
        caches=(IC("c", [NGINX], created="2026-11-28T08:00:00Z"),),
        **miss(verdicts={"c": "rejected"}, reason_words={"c": ("created after the pod",)}),
    ),
    Scenario(
        "created-a-second-before-candidate",
        "DEVELOPERS.md: decided at creation; a cache created the second before is a candidate",
        caches=(IC("c", [NGINX], created="2026-11-28T07:59:59Z"),),
        cache="c",
    ),
    Scenario(
        "not-yet-expired-candidate",
        "a cache whose expireDateTime is still ahead is a candidate",
        caches=(IC("c", [NGINX], expire="2026-11-29T00:00:00Z"),),
        cache="c",
    ),
    Scenario(
        "created-after-at-not-candidate",
        "DEVELOPERS.md: decided at creation; caches created later are not candidates",
        caches=(IC("later", [NGINX], created="2026-11-28T09:00:00Z"),),
        **miss(verdicts={"later": "rejected"}),
    ),
    Scenario(
        "size-30-fits",
        "imageCacheSize 30 fits the 30 GiB temporary storage",
        caches=(IC("c", [NGINX], size=30),),
        cache="c",
    ),
    Scenario(
        "size-31-too-big",
        "imageCacheSize 31 does not fit the 30 GiB temporary storage",
        caches=(IC("big", [NGINX], size=31),),
        **miss(verdicts={"big": "rejected"}, reason_words={"big": ("31", "30")}),
    ),
    Scenario(
        "extra-storage-fits-bigger",
        "eci-extra-ephemeral-storage 20Gi: storage 50, a 40 GiB cache fits",
        annotations={EXTRA: "20Gi"},
        caches=(IC("big", [NGINX], size=40),),
        cache="big",
    ),
    Scenario(
        "extra-storage-still-too-big",
        "eci-extra-ephemeral-storage 20Gi: a 51 GiB cache does not fit 50",
        annotations={EXTRA: "20Gi"},
        caches=(IC("huge", [NGINX], size=51),),
        **miss(auto_size=50, verdicts={"huge": "rejected"}, reason_words={"huge": ("51",)}),
    ),
    Scenario(
        "miss-auto-size-with-extra",
        "miss: the auto-created cache is 30 GiB + extra storage",
        annotations={EXTRA: "20Gi"},
        **miss(auto_size=50),
    ),
    Scenario(
        "miss-no-caches",
        "miss with no cache at all: Missed, AutoCreated, 30 GiB",
        **miss(images_out=(N_NORM,)),
    ),
    # ranking
    Scenario(
        "rank-exact-beats-partial",
        "rank (a): more exact matches first, even against more partial, a closer size and newer",
        images=(NGINX, REDIS, BUSY),
        caches=(IC("two-exact", [NGINX, REDIS], size=20),
                IC("one-exact", [NGINX, "redis:6", "busybox:1.35"], size=30, created=NEW)),
        cache="two-exact",
        verdicts={"two-exact": "chosen", "one-exact": "outranked"},
        counts={"two-exact": (2, 0), "one-exact": (1, 2)},
    ),
    Scenario(
        "rank-partial-breaks-exact-tie",
        "rank (a): equal exact, more same-repository-other-tag matches wins over size and age",
        images=(NGINX, REDIS),
        caches=(IC("with-partial", [NGINX, "redis:6"], size=20),
                IC("exact-only", [NGINX], size=30, created=NEW)),
        cache="with-partial",
        verdicts={"with-partial": "chosen", "exact-only": "outranked"},
        counts={"with-partial": (1, 1), "exact-only": (1, 0)},
    ),
    Scenario(
        "rank-size-closest",
        "rank (b): same match degree, the size closest to 30 GiB wins over a newer cache",
        caches=(IC("a-small", [NGINX], size=20, created=NEW), IC("b-close", [NGINX], size=25)),
        cache="b-close",
        verdicts={"b-close": "chosen", "a-small": "outranked"},
        reason_words={"a-small": ("gib", "b-close")},
    ),
    Scenario(
        "rank-size-closest-with-extra",
        "rank (b): with 20Gi extra the storage is 50, so 45 GiB is closer than 30",
        annotations={EXTRA: "20Gi"},
        caches=(IC("a-thirty", [NGINX], size=30, created=NEW), IC("b-forty-five", [NGINX], size=45)),
        cache="b-forty-five",
        verdicts={"b-forty-five": "chosen", "a-thirty": "outranked"},
    ),
    Scenario(
        "rank-newest",
        "rank (c): same degree and size, the newest creationTimestamp wins over the name",
        caches=(IC("alpha", [NGINX], created=OLD), IC("zeta", [NGINX], created=NEW)),
        cache="zeta",
        verdicts={"zeta": "chosen", "alpha": "outranked"},
        reason_words={"alpha": ("older", "zeta")},
    ),
    Scenario(
        "rank-name",
        "rank (d): all else equal, the name decides (first in order)",
        caches=(IC("beta", [NGINX]), IC("alpha", [NGINX])),
        cache="alpha",
        verdicts={"alpha": "chosen", "beta": "outranked"},
    ),
    Scenario(
        "rank-acr-endpoint-partial-counts",
        "rank (a): an image from the other ACR endpoint counts as partial and ranks the cache higher",
        images=(NGINX, ACR_VPC),
        caches=(IC("with-endpoint", [NGINX, ACR_PUBLIC]), IC("nginx-only", [NGINX], size=30, created=NEW)),
        cache="with-endpoint",
        verdicts={"with-endpoint": "chosen", "nginx-only": "outranked"},
        counts={"with-endpoint": (1, 1), "nginx-only": (1, 0)},
    ),
    Scenario(
        "default-cache-size-is-20",
        "section 1: imageCacheSize defaults to 20, so a 25 GiB cache is closer to the 30 GiB storage",
        caches=(IC("no-size", [NGINX], size=None, created=NEW), IC("size-25", [NGINX], size=25)),
        cache="size-25",
        verdicts={"size-25": "chosen", "no-size": "outranked"},
    ),
    Scenario(
        "no-status-not-candidate",
        "a cache with no status yet has no phase: not Ready, not a candidate",
        caches=({"apiVersion": "eci.alibabacloud.com/v1", "kind": "ImageCache",
                 "metadata": {"name": "fresh", "creationTimestamp": OLD}, "spec": {"images": [NGINX]}},),
        **miss(verdicts={"fresh": "rejected"}, reason_words={"fresh": ("not ready",)}),
    ),
    # ECI or not
    Scenario(
        "not-eci-no-label",
        "no ECI label and no virtual-kubelet node -> not-eci, caches do not apply",
        labels={"app": "web"},
        caches=(IC("c", [NGINX]),),
        **no_cache("not-eci"),
    ),
    Scenario(
        "not-eci-label-false",
        "label alibabacloud.com/eci 'false' is not ECI",
        labels={"alibabacloud.com/eci": "false"},
        caches=(IC("c", [NGINX]),),
        **no_cache("not-eci"),
    ),
    Scenario(
        "not-eci-ordinary-node",
        "nodeName not starting with virtual-kubelet is not ECI",
        labels={},
        node_name="cn-hangzhou.192.168.0.12",
        caches=(IC("c", [NGINX]),),
        **no_cache("not-eci"),
    ),
    Scenario(
        "not-eci-pin-does-not-apply",
        "image caches do not apply to a non-ECI pod, not even a pin to a missing cache (no fail)",
        labels={},
        annotations={PIN: "imc-missing0000"},
        caches=(IC("c", [NGINX]),),
        **no_cache("not-eci"),
    ),
    Scenario(
        "eci-by-virtual-kubelet-node",
        "nodeName virtual-kubelet-* makes a pod ECI without the label",
        labels={},
        node_name="virtual-kubelet-cn-hangzhou-k",
        caches=(IC("c", [NGINX]),),
        cache="c",
    ),
    # images of the pod
    Scenario(
        "init-containers-count-perfect",
        "init containers' images are images of the pod: perfect match needs them too",
        images=(NGINX,),
        init_images=(BUSY,),
        annotations={PERFECT: "true"},
        caches=(IC("all", [NGINX, BUSY]), IC("no-init", [NGINX], created=NEW)),
        cache="all",
        verdicts={"all": "chosen", "no-init": "rejected"},
        reason_words={"no-init": ("1 of 2",)},
        images_out=(N_NORM, B_NORM),
    ),
    Scenario(
        "init-container-image-alone-matches",
        "a cache holding only the init container's image satisfies 'at least 1 exact'",
        images=(NGINX,),
        init_images=(BUSY,),
        caches=(IC("init-only", [BUSY]),),
        cache="init-only",
        counts={"init-only": (1, 0)},
    ),
    Scenario(
        "duplicates-after-normalisation",
        "nginx, docker.io/library/nginx:latest and index.docker.io/library/nginx are one image",
        images=("nginx", "docker.io/library/nginx:latest"),
        init_images=("index.docker.io/library/nginx",),
        annotations={PERFECT: "true"},
        caches=(IC("c", ["nginx:latest"]),),
        cache="c",
        counts={"c": (1, 0)},
        images_out=("docker.io/library/nginx:latest",),
    ),
    Scenario(
        "duplicates-make-count-unsatisfiable",
        "after de-duplication there is 1 image, so a count of 2 cannot be satisfied",
        images=("nginx", "docker.io/library/nginx:latest"),
        annotations={COUNT: "2"},
        caches=(IC("c", ["nginx:latest"]),),
        **miss(verdicts={"c": "rejected"}, images_out=("docker.io/library/nginx:latest",)),
    ),
    Scenario(
        "invalid-image-is-a-finding",
        "an invalid reference (uppercase repository) is a finding, not a crash",
        images=("Nginx:1.25", REDIS),
        caches=(IC("c", [REDIS]),),
        cache="c",
        finding_words=("nginx:1.25",),
    ),
    Scenario(
        "pull-policy-always",
        "imagePullPolicy Always is a finding (the kubelet pulls anyway)",
        pull_policy="Always",
        caches=(IC("c", [NGINX]),),
        cache="c",
        finding_words=("always",),
    ),
    # section 5 through the engine
    Scenario(
        "docker-hub-aliases-exact",
        "index.docker.io and registry-1.docker.io are docker.io: exact matches",
        images=(NGINX, "library/redis:7"),
        annotations={PERFECT: "true"},
        caches=(IC("c", ["index.docker.io/library/nginx:1.25", "registry-1.docker.io/library/redis:7"]),),
        cache="c",
        counts={"c": (2, 0)},
        images_out=(N_NORM, R_NORM),
    ),
    Scenario(
        "digest-exact",
        "a digest wins over the tag: nginx:1.25@sha256:X equals nginx@sha256:X",
        images=(f"nginx:1.25@{DIGEST}",),
        caches=(IC("c", [f"docker.io/library/nginx@{DIGEST}"]),),
        cache="c",
        counts={"c": (1, 0)},
        images_out=(f"docker.io/library/nginx@{DIGEST}",),
    ),
    Scenario(
        "digest-vs-tag-not-exact",
        "a digest reference and a tag-only reference of one repository are not an exact match",
        images=(f"nginx@{DIGEST}",),
        caches=(IC("c", [NGINX]),),
        **miss(verdicts={"c": "rejected"}),
    ),
    Scenario(
        "acr-vpc-endpoint-partial",
        "ACR registry-vpc vs registry endpoint: partial, never exact; hint how it would match",
        images=(ACR_VPC,),
        caches=(IC("public", [ACR_PUBLIC]),),
        **miss(verdicts={"public": "rejected"}, counts={"public": (0, 1)}, words=(ACR_PUBLIC,)),
    ),
    Scenario(
        "acr-same-endpoint-exact",
        "the same ACR endpoint is exact and outranks the other endpoint's partial",
        images=(ACR_VPC,),
        caches=(IC("public", [ACR_PUBLIC], created=NEW), IC("vpc", [ACR_VPC])),
        cache="vpc",
        verdicts={"vpc": "chosen", "public": "rejected"},
        counts={"vpc": (1, 0), "public": (0, 1)},
    ),
    # workloads
    Scenario(
        "deployment-template-annotations-act",
        "on a Deployment the pod template's annotations act",
        kind="Deployment",
        annotations={PIN: cache_id("pinned")},
        caches=(IC("pinned", [BUSY]), IC("other", [NGINX], created=NEW)),
        cache="pinned",
    ),
    Scenario(
        "deployment-own-metadata-no-effect",
        "annotations on a Deployment's own metadata have no effect; a finding says so",
        kind="Deployment",
        own_annotations={PIN: cache_id("pinned"), AUTO: "false"},
        caches=(IC("pinned", [BUSY]), IC("other", [NGINX], created=NEW)),
        cache="other",
        verdicts={"other": "chosen", "pinned": "rejected"},
        finding_words=("template",),
    ),
    Scenario(
        "statefulset-own-metadata-no-effect",
        "the same mistake on a StatefulSet is a finding too",
        kind="StatefulSet",
        own_annotations={AUTO: "false"},
        caches=(IC("c", [NGINX]),),
        cache="c",
        finding_words=("template",),
    ),
]


def _check(s: Scenario, decision, result: dict) -> None:
    assert decision.outcome == s.outcome, (decision.outcome, result["findings"])
    assert tuple(result["events"]) == s.events
    assert result["auto_create"] is s.auto_create
    assert result["eci"] is (s.outcome != "not-eci")
    if s.auto_size is not None:
        assert decision.auto_cache_size_gib == s.auto_size
    if s.outcome == "hit":
        assert decision.cache is not None and decision.cache.name == s.cache
        assert result["cache"] == {"name": s.cache, "id": candidate(result, s.cache)["id"]}
    elif s.outcome == "fail":
        assert decision.pinned_id == s.pinned
        assert result["cache"]["id"] == s.pinned
    else:
        assert decision.cache is None and result["cache"] is None
    # every cache gets exactly one verdict, with reasons in words unless it is the chosen one
    names = [c["metadata"]["name"] for c in s.caches]
    assert sorted(c["name"] for c in result["candidates"]) == sorted(names)
    chosen = [c["name"] for c in result["candidates"] if c["verdict"] == "chosen"]
    assert chosen == ([s.cache] if s.outcome == "hit" else [])
    for entry in result["candidates"]:
        assert entry["verdict"] in VERDICTS
        if entry["verdict"] != "chosen":
            assert entry["reasons"] and all(isinstance(r, str) and r.strip() for r in entry["reasons"])
    for name, verdict in s.verdicts.items():
        assert candidate(result, name)["verdict"] == verdict, candidate(result, name)
    for name, (exact, partial) in s.counts.items():
        entry = candidate(result, name)
        assert (entry["exact"], entry["partial"]) == (exact, partial), entry
    everything = texts(result)
    for word in s.words:
        assert word.lower() in everything, (word, everything)
    findings = "\n".join(f"{f['code']} {f['message']}" for f in result["findings"]).lower()
    for word in s.finding_words:
        assert word.lower() in findings, (word, result["findings"])
    for name, words in s.reason_words.items():
        reasons = " ".join(candidate(result, name)["reasons"]).lower()
        for word in words:
            assert word.lower() in reasons, (word, name, reasons)
    assert all(f["severity"] in SEVERITIES and f["code"] and f["message"] for f in result["findings"])
    if s.images_out is not None:
        assert sorted(decision.images) == sorted(s.images_out) == sorted(result["images"])
        assert len(decision.images) == len(set(decision.images))


@pytest.mark.parametrize("s", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_scenario(s: Scenario) -> None:
    [(decision, result)] = run_engine(s.manifest(), list(s.caches), s.at)
    _check(s, decision, result)


HITS = [s for s in SCENARIOS if s.outcome == "hit" and len(s.caches) > 1]


@pytest.mark.parametrize("s", HITS, ids=[s.id for s in HITS])
def test_choice_does_not_depend_on_cache_order(s: Scenario) -> None:
    """Ranking ends with the name 'for a stable order': the input order of caches cannot matter."""
    [(decision, result)] = run_engine(s.manifest(), list(reversed(s.caches)), s.at)
    _check(s, decision, result)


def test_ids_are_unique() -> None:
    assert len({s.id for s in SCENARIOS}) == len(SCENARIOS)
