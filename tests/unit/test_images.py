"""Image references, docs/eci-model.md section 5: Docker grammar, normalisation, exact / partial / other endpoint."""

from __future__ import annotations

import pytest

from core.errors import ImageRefError, ImcError
from core.images import compare_images, normalise_image, parse_image

DIGEST = "sha256:" + "0123456789abcdef" * 4

NORMALISED = [
    # one path component on docker.io gets library/, no tag -> latest
    ("nginx", "docker.io/library/nginx:latest"),
    ("nginx:1.25", "docker.io/library/nginx:1.25"),
    ("library/nginx:1.25", "docker.io/library/nginx:1.25"),
    ("docker.io/nginx:1.25", "docker.io/library/nginx:1.25"),
    ("docker.io/library/nginx:1.25", "docker.io/library/nginx:1.25"),
    ("bitnami/redis", "docker.io/bitnami/redis:latest"),
    # index.docker.io and registry-1.docker.io are docker.io
    ("index.docker.io/library/nginx:1.25", "docker.io/library/nginx:1.25"),
    ("index.docker.io/nginx", "docker.io/library/nginx:latest"),
    ("registry-1.docker.io/bitnami/redis:7", "docker.io/bitnami/redis:7"),
    # a first component with "." or ":" or equal to localhost is a registry
    ("localhost/app", "localhost/app:latest"),
    ("localhost:5000/app:v1", "localhost:5000/app:v1"),
    ("myhost:5000/team/app", "myhost:5000/team/app:latest"),
    ("quay.io/coreos/etcd:v3.5.0", "quay.io/coreos/etcd:v3.5.0"),
    ("ghcr.io/owner/repo/sub:1", "ghcr.io/owner/repo/sub:1"),
    ("registry.cn-hangzhou.aliyuncs.com/ns/app", "registry.cn-hangzhou.aliyuncs.com/ns/app:latest"),
    ("registry-vpc.cn-hangzhou.aliyuncs.com/ns/app:2", "registry-vpc.cn-hangzhou.aliyuncs.com/ns/app:2"),
    # a first component without "." or ":" is a path on docker.io, not a registry
    ("myhost/team/app", "docker.io/myhost/team/app:latest"),
    # a digest wins over a tag
    (f"nginx@{DIGEST}", f"docker.io/library/nginx@{DIGEST}"),
    (f"nginx:1.25@{DIGEST}", f"docker.io/library/nginx@{DIGEST}"),
    (f"localhost:5000/app:v1@{DIGEST}", f"localhost:5000/app@{DIGEST}"),
    # tags may hold upper case, dots, dashes and underscores
    ("app:V1.2_rc-3", "docker.io/library/app:V1.2_rc-3"),
]

INVALID = [
    "",
    "   ",
    "Nginx",  # upper case repository
    "library/Nginx:1.25",
    "quay.io/CoreOS/etcd",
    "nginx:",
    ":1.25",
    "nginx::1",
    "nginx:bad tag",
    "nginx@sha256:xyz",  # not a digest
    "nginx@",
    "/nginx",
    "nginx/",
    "team//app",
    "-nginx",
    "nginx:" + "x" * 129,  # a tag is at most 128 characters
]


@pytest.mark.parametrize(("text", "expected"), NORMALISED)
def test_normalise(text: str, expected: str) -> None:
    assert normalise_image(text) == expected


@pytest.mark.parametrize(("text", "_"), NORMALISED)
def test_normalise_is_idempotent_and_parse_agrees(text: str, _: str) -> None:
    once = normalise_image(text)
    assert normalise_image(once) == once
    assert parse_image(once) == parse_image(text)


@pytest.mark.parametrize("text", INVALID)
def test_invalid_reference_raises_the_projects_error(text: str) -> None:
    with pytest.raises(ImageRefError) as info:
        parse_image(text)
    assert isinstance(info.value, ImcError) and isinstance(info.value, ValueError)
    with pytest.raises(ImageRefError):
        normalise_image(text)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("nginx", "docker.io/library/nginx:latest", "exact"),
        ("nginx:1.25", "index.docker.io/library/nginx:1.25", "exact"),
        ("bitnami/redis:7", "registry-1.docker.io/bitnami/redis:7", "exact"),
        (f"nginx:1.25@{DIGEST}", f"nginx@{DIGEST}", "exact"),
        # same repository, another tag: partial
        ("nginx:1.25", "nginx:1.24", "tag"),
        ("nginx", "nginx:1.25", "tag"),
        ("quay.io/coreos/etcd:v3.5.0", "quay.io/coreos/etcd:v3.4.0", "tag"),
        # ACR endpoints of one region are not assumed equal
        ("registry-vpc.cn-hangzhou.aliyuncs.com/ns/app:1", "registry.cn-hangzhou.aliyuncs.com/ns/app:1", "endpoint"),
        ("registry.cn-hangzhou.aliyuncs.com/ns/app:1", "registry-vpc.cn-hangzhou.aliyuncs.com/ns/app:1", "endpoint"),
        ("registry-intl.cn-hangzhou.aliyuncs.com/ns/app:1", "registry.cn-hangzhou.aliyuncs.com/ns/app:1", "endpoint"),
        ("registry-intl-vpc.cn-hangzhou.aliyuncs.com/ns/app:1", "registry-vpc.cn-hangzhou.aliyuncs.com/ns/app:1",
         "endpoint"),
        # unrelated
        ("nginx:1.25", "redis:1.25", None),
        ("nginx:1.25", "quay.io/library/nginx:1.25", None),
        ("localhost/app:1", "localhost:5000/app:1", None),
        ("bitnami/redis:7", "redis:7", None),
        ("registry.cn-hangzhou.aliyuncs.com/ns/app:1", "registry.cn-beijing.aliyuncs.com/ns/app:1", None),
    ],
)
def test_compare(a: str, b: str, expected: str | None) -> None:
    assert compare_images(parse_image(a), parse_image(b)) == expected


def test_acr_endpoints_are_never_exact() -> None:
    vpc = "registry-vpc.cn-shanghai.aliyuncs.com/eci_open/nginx:1.14.2"
    public = "registry.cn-shanghai.aliyuncs.com/eci_open/nginx:1.14.2"
    assert normalise_image(vpc) != normalise_image(public)
    assert compare_images(parse_image(vpc), parse_image(public)) != "exact"
