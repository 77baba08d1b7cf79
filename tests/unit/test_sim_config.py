"""The sim's ConfigMap and Secret rules (pure): base64 as Go decodes it, config keys, stringData, types, immutability,
tables, field selectors, protobuf bodies and who may read them."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from sim.apiserver.access import Subject, allowed, rules_of
from sim.apiserver.config_objects import (
    IMMUTABLE_MESSAGE,
    KEY_MESSAGE,
    MAX_DATA_BYTES,
    base64_error_offset,
    check_configmap,
    check_key,
    check_secret,
    check_secret_update,
    default_secret,
)
from sim.apiserver.definitions import decode_check, definition_of
from sim.apiserver.errors import ApiError
from sim.apiserver.identity import ADMIN_USER, VIEWER_USER
from sim.apiserver.protobuf import decode
from sim.apiserver.selectors import selector_from_query
from sim.apiserver.tables import render_table
from sim.apiserver.validation import check_object, check_update
from sim.scenarios import docker_registry_secret

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(("text", "offset"), [
    ("Yg==", None), ("YWJj", None), ("YWJj\nZGVm", None), ("", None),
    ("billy", 4),  # the offset kube-apiserver reported for it (kubernetes/kubernetes#31548)
    ("not base64!", 3), ("abc", 0), ("Yg=", 3), ("Y===", 1), ("Yg==x", 4), ("Yg=x", 2), ("é", 0),
])
def test_base64_errors_are_where_gos_decoder_puts_them(text, offset):
    assert base64_error_offset(text) == offset


def test_only_base64_data_decodes_and_the_error_is_gos():
    secret = definition_of("", "v1", "Secret")
    assert decode_check({"data": {"a": "Yg=="}, "stringData": {"b": "not base64 at all"}}, secret).mismatches == []
    assert decode_check({"data": {"a": "not base64!"}}, secret).mismatches == ["illegal base64 data at input byte 3"]
    configmap = definition_of("", "v1", "ConfigMap")
    assert decode_check({"data": {"a": "plain text!"}}, configmap).mismatches == []
    assert decode_check({"binaryData": {"a": "abc"}}, configmap).mismatches == ["illegal base64 data at input byte 0"]


@pytest.mark.parametrize("key", ["a", "KEY_NAME", "key-name", "key.name", ".dockerconfigjson", "tls.crt", "." + "x" * 252])
def test_config_keys_that_are_valid(key):
    assert check_key(key, "data") == []


@pytest.mark.parametrize(("key", "problem"), [
    ("a b", KEY_MESSAGE), ("", KEY_MESSAGE), ("a/b", KEY_MESSAGE), (".", "must not be '.'"), ("..", "must not be '..'"),
    ("..a", "must not start with '..'"), ("x" * 254, "must be no more than 253 characters"),
])
def test_config_keys_that_are_not(key, problem):
    causes = check_key(key, "data")
    assert (f"data[{key}]", f'Invalid value: "{key}": {problem}') in causes


def test_string_data_is_merged_into_data_and_not_kept():
    secret = {"metadata": {"name": "s"}, "data": {"a": b64("old"), "b": b64("kept")}, "stringData": {"a": "new"}}
    default_secret(secret)
    assert secret == {"metadata": {"name": "s"}, "data": {"a": b64("new"), "b": b64("kept")}, "type": "Opaque"}
    empty = {"metadata": {"name": "e"}, "data": {}, "type": "kubernetes.io/tls"}
    default_secret(empty)
    assert empty == {"metadata": {"name": "e"}, "type": "kubernetes.io/tls"}


def test_secret_types_need_their_keys():
    def causes(kind: str, data: dict) -> list[tuple[str, str]]:
        return check_secret({"metadata": {"name": "s"}, "type": kind, "data": data})

    assert causes("kubernetes.io/dockerconfigjson", {"a": b64("x")}) == [("data[.dockerconfigjson]", "Required value")]
    bad_json = causes("kubernetes.io/dockerconfigjson", {".dockerconfigjson": b64("[1]")})
    assert [field for field, _ in bad_json] == ["data[.dockerconfigjson]"]
    assert "<secret contents redacted>" in bad_json[0][1]
    assert causes("kubernetes.io/dockerconfigjson", {".dockerconfigjson": b64('{"auths": {}}')}) == []
    assert causes("kubernetes.io/tls", {"tls.crt": ""}) == [("data[tls.key]", "Required value")]
    assert len(causes("kubernetes.io/basic-auth", {})) == 2
    assert causes("kubernetes.io/basic-auth", {"password": ""}) == []
    assert causes("kubernetes.io/service-account-token", {}) == [
        ("metadata.annotations[kubernetes.io/service-account.name]", "Required value")]
    assert causes("example.com/anything", {}) == causes("Opaque", {}) == []


def test_data_is_at_most_one_mebibyte_decoded():
    half = base64.b64encode(b"x" * (MAX_DATA_BYTES // 2)).decode()
    assert check_secret({"data": {"a": half, "b": half}}) == []
    assert check_secret({"data": {"a": half, "b": half, "c": b64("x")}}) == [
        ("data", f"Too long: must have at most {MAX_DATA_BYTES} bytes")]
    text = "x" * (MAX_DATA_BYTES // 2)
    assert check_configmap({"data": {"a": text}, "binaryData": {"b": base64.b64encode(text.encode()).decode()}}) == []
    assert [field for field, _ in check_configmap({"data": {"a": text, "b": text + "x"}})] == [""]


def test_configmap_keys_are_not_in_both_maps():
    causes = check_configmap({"data": {"a": "1", "b": "2"}, "binaryData": {"a": b64("1")}})
    assert causes == [("data[a]", 'Invalid value: "a": duplicate of key present in binaryData'),
                      ("binaryData[a]", 'Invalid value: "a": duplicate of key present in data')]
    assert check_object("configmaps", {"metadata": {"name": "c"}, "data": {"bad key": "1"}})[0][0] == "data[bad key]"


def test_type_never_changes_and_immutable_data_stays():
    opaque = {"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": b64("1")}}
    assert check_secret_update(opaque, {**opaque, "data": {"a": b64("2")}}) == []
    assert check_secret_update(opaque, {**opaque, "type": "kubernetes.io/tls"}) == [
        ("type", 'Invalid value: "kubernetes.io/tls": field is immutable')]
    frozen = {**opaque, "immutable": True}
    assert check_secret_update(frozen, {**frozen, "metadata": {"name": "s", "labels": {"a": "b"}}}) == []
    assert check_secret_update(frozen, {**frozen, "data": {"a": b64("2")}}) == [("data", IMMUTABLE_MESSAGE)]
    assert check_secret_update(frozen, opaque) == [("immutable", IMMUTABLE_MESSAGE)]
    configmap = {"metadata": {"name": "c"}, "immutable": True, "binaryData": {"a": b64("1")}}
    assert check_update("configmaps", configmap, {**configmap, "binaryData": {}}) == [("binaryData", IMMUTABLE_MESSAGE)]
    assert check_update("configmaps", {**configmap, "immutable": False}, {**configmap, "data": {"b": "2"}}) == []


def test_tables_have_upstreams_columns():
    secret = {"metadata": {"name": "s", "creationTimestamp": "2026-11-28T11:59:00Z"}, "type": "Opaque",
              "data": {"a": "", "b": ""}}
    table = render_table("secrets", [secret], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Type", "Data", "Age"]
    assert table["rows"][0]["cells"] == ["s", "Opaque", 2, "60s"]
    configmap = {"metadata": {"name": "c", "creationTimestamp": "2026-11-28T11:00:00Z"}, "data": {"a": ""},
                 "binaryData": {"b": ""}}
    table = render_table("configmaps", [configmap, {"metadata": {"name": "empty"}}], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert [row["cells"] for row in table["rows"]] == [["c", 2, "60m"], ["empty", 0, "<unknown>"]]


def test_secrets_select_by_type_and_configmaps_do_not():
    selector = selector_from_query(None, "type=kubernetes.io/dockerconfigjson,metadata.namespace=default", "secrets")
    pull = {"metadata": {"name": "p", "namespace": "default"}, "type": "kubernetes.io/dockerconfigjson"}
    assert selector.matches(pull)
    assert not selector.matches({**pull, "type": "Opaque"})
    with pytest.raises(ApiError, match="field label not supported: type"):
        selector_from_query(None, "type=Opaque", "configmaps")


def message(*fields: tuple[int, bytes | int]) -> bytes:
    """Protobuf fields: bytes length-delimited, ints as varints (all below 128 here)."""
    encoded = b""
    for number, value in fields:
        if isinstance(value, int):
            encoded += bytes([number << 3, value])
        else:
            encoded += bytes([number << 3 | 2, len(value)]) + value
    return encoded


def test_protobuf_secret_and_configmap_bodies():
    type_meta = message((1, b"v1"), (2, b"Secret"))
    secret = message((1, message((1, b"pull"), (3, b"default"))), (2, message((1, b"a"), (2, b"\x00\xffb"))),
                     (3, b"Opaque"), (4, message((1, b"s"), (2, b"text"))), (5, 0))
    assert decode(b"k8s\x00" + message((1, type_meta), (2, secret))) == {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pull", "namespace": "default"},
        "data": {"a": base64.b64encode(b"\x00\xffb").decode()}, "type": "Opaque", "stringData": {"s": "text"},
        "immutable": False}
    configmap = message((1, message((1, b"c"))), (2, message((1, b"k"), (2, b"v"))),
                        (3, message((1, b"bin"), (2, b"\x01"))), (4, 1))
    decoded = decode(b"k8s\x00" + message((1, message((1, b"v1"), (2, b"ConfigMap"))), (2, configmap)))
    assert decoded["data"] == {"k": "v"} and decoded["binaryData"] == {"bin": "AQ=="} and decoded["immutable"] is True


def test_the_viewer_reads_everything_but_secrets():
    viewer, admin = Subject(VIEWER_USER, ("imc:viewers",)), Subject(ADMIN_USER, ("system:masters",))
    for resource in ("configmaps", "pods", "pods/log", "events", "namespaces"):
        assert allowed(viewer, "list", "", resource), resource
    assert allowed(viewer, "watch", "apps", "deployments") and allowed(viewer, "get", "eci.alibabacloud.com",
                                                                        "imagecaches/status")
    assert not any(allowed(viewer, verb, "", "secrets") for verb in ("get", "list", "watch"))
    assert not allowed(viewer, "create", "", "configmaps")
    assert allowed(admin, "get", "", "secrets")
    assert not any("secrets" in rule.resources or "*" in rule.resources for rule in rules_of(viewer))


def test_the_demos_pull_secret_is_what_kubectl_makes():
    secret = docker_registry_secret("acr-pull", "registry.example.com", "me", "pw")
    default_secret(secret)
    assert check_secret(secret) == []
    config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    assert config["auths"]["registry.example.com"]["auth"] == b64("me:pw")
