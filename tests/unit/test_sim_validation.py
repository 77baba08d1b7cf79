"""Names, labels, annotation keys and enums refused with kube-apiserver v1.32's messages (issue 23 item 3)."""

from __future__ import annotations

import pytest

from sim.apiserver.errors import invalid
from sim.apiserver.resources import DEPLOYMENTS, PODS
from sim.apiserver.validation import check_object

QUALIFIED_NAME_RULE = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                       "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                       "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
LABEL_VALUE_RULE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
                    "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
                    "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
SUBDOMAIN_RULE = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                  "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
                  "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


def pod(metadata: dict | None = None, **spec) -> dict:
    container = {"name": "a", "image": "nginx", **spec.pop("container", {})}
    return {"metadata": {"name": "p", **(metadata or {})}, "spec": {"containers": [container], **spec}}


@pytest.mark.parametrize(("labels", "cause"), [
    ({"bad key": "v"}, f'Invalid value: "bad key": name part {QUALIFIED_NAME_RULE}'),
    ({"a/b/c": "v"}, f"Invalid value: \"a/b/c\": a qualified name {QUALIFIED_NAME_RULE} with an optional DNS "
                     "subdomain prefix and '/' (e.g. 'example.com/MyName')"),
    ({"/name": "v"}, 'Invalid value: "/name": prefix part must be non-empty'),
    ({"Example.com/name": "v"}, f'Invalid value: "Example.com/name": prefix part {SUBDOMAIN_RULE}'),
    ({"k" * 64: "v"}, f'Invalid value: "{"k" * 64}": name part must be no more than 63 characters'),
    ({"app": "-web-"}, f'Invalid value: "-web-": {LABEL_VALUE_RULE}'),
    ({"app": "v" * 64}, f'Invalid value: "{"v" * 64}": must be no more than 63 characters'),
])
def test_invalid_labels_are_refused_as_apimachinery_words_them(labels, cause):
    assert check_object(PODS.key, pod({"labels": labels})) == [("metadata.labels", cause)]


def test_an_invalid_annotation_key_is_refused_in_a_pod_template_too_and_only_it():
    labels = {"app": "web", "app.kubernetes.io/name": "web", "empty": "", "A_b.c-1": "X_y.z-2"}
    annotations = {"Example.COM/Any_Case": "anything at all", "kubectl.kubernetes.io/x": "", "not valid": "x"}
    template = {"metadata": {"labels": labels, "annotations": annotations},
                "spec": {"containers": [{"name": "a", "image": "nginx"}]}}
    deployment = {"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"app": "web"}},
                                                      "template": template}}
    assert check_object(DEPLOYMENTS.key, deployment) == [
        ("spec.template.metadata.annotations", f'Invalid value: "not valid": name part {QUALIFIED_NAME_RULE}')]


@pytest.mark.parametrize(("spec", "cause"), [
    ({"restartPolicy": "Sometimes"},
     ("spec.restartPolicy", 'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"')),
    ({"dnsPolicy": "Google"}, ("spec.dnsPolicy", 'Unsupported value: "Google": supported values: '
                                                 '"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"')),
    ({"container": {"imagePullPolicy": "Sometimes"}}, ("spec.containers[0].imagePullPolicy", 'Unsupported value: '
                                                       '"Sometimes": supported values: "Always", "IfNotPresent", "Never"')),
])
def test_enum_values_outside_the_supported_ones_are_refused(spec, cause):
    assert check_object(PODS.key, pod(**spec)) == [cause]


def test_a_deployment_template_must_restart_always():
    template = {"metadata": {"labels": {"app": "web"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "a", "image": "nginx"}]}}
    deployment = {"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"app": "web"}},
                                                      "template": template}}
    assert check_object(DEPLOYMENTS.key, deployment) == [
        ("spec.template.spec.restartPolicy", 'Unsupported value: "Never": supported values: "Always"')]


def test_several_causes_are_bracketed_once_each_as_apimachinery_aggregates_them():
    one = invalid("Pod", "", "p", [("spec.a", "Required value")])
    many = invalid("Pod", "", "p", [("spec.a", "Required value"), ("spec.b", "Required value"),
                                    ("spec.a", "Required value")])
    assert one.message == 'Pod "p" is invalid: spec.a: Required value'
    assert many.message == 'Pod "p" is invalid: [spec.a: Required value, spec.b: Required value]'
