"""Validation of the objects the simulated API server accepts, as (field, message) causes."""

from __future__ import annotations

import functools
import re

import orjson

from core.caches import validate_imagecache
from core.workloads import CONTAINER_LISTS
from sim.apiserver.batch import check_cronjob, check_job, check_job_update
from sim.apiserver.config_objects import check_config_update, check_configmap, check_secret, check_secret_update
from sim.apiserver.definitions import DNS_POLICIES, PULL_POLICIES, RESTART_POLICIES
from sim.apiserver.errors import ApiError, go_quoted, unsupported
from sim.apiserver.resources import (
    CONFIGMAPS,
    CRONJOBS,
    DEPLOYMENTS,
    IMAGECACHES,
    JOBS,
    NAMESPACES,
    PODS,
    REPLICASETS,
    SECRETS,
)
from sim.apiserver.selectors import matches_labels, requirements_from_label_selector

_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS_LABEL = re.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?")

# apimachinery's TotalAnnotationSizeLimitB (pkg/api/validation/objectmeta.go, ValidateAnnotationsSize)
MAX_ANNOTATIONS_BYTES = 256 * 1024
# etcd's default --max-request-bytes: kube-apiserver cannot store an object larger than this
MAX_STORED_BYTES = 1536 * 1024
ETCD_TOO_LARGE = "etcdserver: request is too large"

Causes = list[tuple[str, str]]

# apimachinery pkg/util/validation/validation.go (v0.32): qualified names (label and annotation keys), label values
_QUALIFIED_NAME = re.compile("([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_QUALIFIED_NAME_RULE = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                        "alphanumeric character")
_LABEL_VALUE = re.compile(f"({_QUALIFIED_NAME.pattern})?")
_LABEL_VALUE_RULE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                     "and must start and end with an alphanumeric character")
_DNS_SUBDOMAIN_RULE = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                       "and must start and end with an alphanumeric character")
_DNS_LABEL_RULE = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                   "start and end with an alphanumeric character")
MAX_QUALIFIED_NAME = 63  # qualifiedNameMaxLength, and LabelValueMaxLength
MAX_DNS_SUBDOMAIN = 253  # DNS1123SubdomainMaxLength
MAX_CACHED_CHARS = MAX_DNS_SUBDOMAIN + 1 + MAX_QUALIFIED_NAME  # the longest valid qualified name

# core validation's enums (pkg/apis/core/validation/validation.go: validateRestartPolicy, validateDNSPolicy,
# validatePullPolicy), in the order its "supported values" list them


def regex_error(rule: str, pattern: str, *examples: str) -> str:
    """apimachinery's RegexError: the rule, its examples and the regex it checks."""
    shown = " or ".join(f"'{example}', " for example in examples)  # sic: "'a',  or 'b', "
    return f"{rule} (e.g. {shown}regex used for validation is '{pattern}')"


def _length_and_format(value: str, limit: int, pattern: re.Pattern, rule: str, *examples: str) -> list[str]:
    """apimachinery's usual pair of checks: at most `limit` characters (bytes, as Go counts), then the regex."""
    problems = [f"must be no more than {limit} characters"] if len(value.encode()) > limit else []
    if not pattern.fullmatch(value):
        problems.append(regex_error(rule, pattern.pattern, *examples))
    return problems


def dns_subdomain_problems(value: str) -> list[str]:
    """apimachinery's IsDNS1123Subdomain."""
    return _length_and_format(value, MAX_DNS_SUBDOMAIN, _DNS_SUBDOMAIN, _DNS_SUBDOMAIN_RULE, "example.com")


def dns_label_problems(value: str) -> list[str]:
    """apimachinery's IsDNS1123Label."""
    return _length_and_format(value, MAX_QUALIFIED_NAME, _DNS_LABEL, _DNS_LABEL_RULE, "my-name", "123-abc")


def qualified_name_problems(value: str) -> tuple[str, ...]:
    """apimachinery's IsQualifiedName: an optional DNS subdomain prefix and '/', then a name of up to 63 characters."""
    return _cached(_qualified_name_problems, value)


@functools.lru_cache(maxsize=4096)  # the same few keys label most objects
def _qualified_name_problems(value: str) -> tuple[str, ...]:
    """IsQualifiedName's problems with a value."""
    name_rule = regex_error(_QUALIFIED_NAME_RULE, _QUALIFIED_NAME.pattern, "MyName", "my.name", "123-abc")
    parts = value.split("/")
    if len(parts) > 2:
        return (f"a qualified name {name_rule} with an optional DNS subdomain prefix and '/' (e.g. "
                "'example.com/MyName')",)
    problems = []
    if len(parts) == 2:
        prefix = parts[0]
        problems += ["prefix part must be non-empty"] if not prefix else [
            f"prefix part {problem}" for problem in dns_subdomain_problems(prefix)]
    name = parts[-1]
    if not name:
        problems.append("name part must be non-empty")
    elif len(name.encode()) > MAX_QUALIFIED_NAME:
        problems.append(f"name part must be no more than {MAX_QUALIFIED_NAME} characters")
    if not _QUALIFIED_NAME.fullmatch(name):
        problems.append(f"name part {name_rule}")
    return tuple(problems)


def label_value_problems(value: str) -> tuple[str, ...]:
    """apimachinery's IsValidLabelValue."""
    return _cached(_label_value_problems, value)


@functools.lru_cache(maxsize=4096)
def _label_value_problems(value: str) -> tuple[str, ...]:
    """IsValidLabelValue's problems with a value."""
    return tuple(_length_and_format(value, MAX_QUALIFIED_NAME, _LABEL_VALUE, _LABEL_VALUE_RULE, "MyValue", "my_value",
                                    "12345"))


def _cached(check, value: str) -> tuple[str, ...]:
    """A cached check's answer; a value longer than any valid key is checked afresh, so the cache holds no big
    strings."""
    return check(value) if len(value) <= MAX_CACHED_CHARS else check.__wrapped__(value)


def check_labels(labels: object, path: str) -> Causes:
    """apimachinery's ValidateLabels (pkg/apis/meta/v1/validation): each key a qualified name, each value a label
    value."""
    causes: Causes = []
    for key, value in labels.items() if isinstance(labels, dict) else ():
        causes += [(path, f"Invalid value: {go_quoted(key)}: {problem}") for problem in qualified_name_problems(key)]
        if isinstance(value, str):
            causes += [(path, f"Invalid value: {go_quoted(value)}: {problem}") for problem in label_value_problems(value)]
    return causes


def check_annotation_keys(annotations: object, path: str) -> Causes:
    """apimachinery's ValidateAnnotations (pkg/api/validation/objectmeta.go): each key a qualified name once
    lowercased."""
    return [(path, f"Invalid value: {go_quoted(key)}: {problem}")
            for key in (annotations if isinstance(annotations, dict) else ())
            for problem in qualified_name_problems(key.lower())]


def annotations_size(annotations: dict) -> int:
    """The size ValidateAnnotationsSize counts, the bytes of every key and value, up to the first entry past the
    limit (annotations that alias one big string are not all encoded)."""
    size = 0
    for key, value in annotations.items():
        size += len(key.encode()) + (len(value.encode()) if isinstance(value, str) else 0)
        if size > MAX_ANNOTATIONS_BYTES:
            break
    return size


def check_metadata(metadata: object, path: str = "metadata") -> Causes:
    """What kube-apiserver's ObjectMeta validation refuses of every object and pod template: invalid label keys and
    values, invalid annotation keys, annotations over 256 KiB in total."""
    if not isinstance(metadata, dict):
        return []
    annotations = metadata.get("annotations")
    causes = check_labels(metadata.get("labels"), f"{path}.labels")
    causes += check_annotation_keys(annotations, f"{path}.annotations")
    if isinstance(annotations, dict) and annotations_size(annotations) > MAX_ANNOTATIONS_BYTES:
        causes.append((f"{path}.annotations", f"Too long: may not be more than {MAX_ANNOTATIONS_BYTES} bytes"))
    return causes


def template_metadata(resource_key: str, obj: dict) -> list[tuple[str, object]]:
    """(path, metadata) of the templates inside an object, which kube-apiserver validates as ObjectMeta too."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    if resource_key in (DEPLOYMENTS.key, REPLICASETS.key, JOBS.key):
        template = spec.get("template")
        return [("spec.template.metadata", template.get("metadata"))] if isinstance(template, dict) else []
    if resource_key == CRONJOBS.key and isinstance(job := spec.get("jobTemplate"), dict):
        job_spec = job.get("spec") if isinstance(job.get("spec"), dict) else {}
        template = job_spec.get("template") if isinstance(job_spec.get("template"), dict) else {}
        return [("spec.jobTemplate.metadata", job.get("metadata")),
                ("spec.jobTemplate.spec.template.metadata", template.get("metadata"))]
    return []


def json_size_floor(value: object, stop: int) -> int:
    """A lower bound of a value's JSON size in bytes (the characters of its strings), counted until it passes `stop`:
    a value that aliases one big string many times is not encoded to learn that it is too large."""
    size, pending = 0, [value]
    while pending and size <= stop:
        item = pending.pop()
        if type(item) is str:
            size += len(item)
        elif type(item) is dict:
            pending.extend(item.values())
        elif type(item) is list:
            pending.extend(item)
    return size


def fit_for_storage(obj: dict, apply: bool) -> dict:
    """The object as kube-apiserver gets it stored; etcd's refusal when its JSON is too large.

    Over the limit, a write other than apply is retried without managedFields, as kube-apiserver's create, update
    and patch handlers do (endpoints/handlers: isTooLargeError). kube-apiserver v1.32 relays etcd's error as it
    relays any error it has no Status for (apimachinery ErrorToAPIStatus): 500, no reason, etcd's message, which
    kubectl prints as "Error from server: etcdserver: request is too large".
    """
    if fits_etcd(obj):
        return obj
    metadata = obj.get("metadata") or {}
    if not apply and metadata.get("managedFields"):
        slimmer = {**obj, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}
        if fits_etcd(slimmer):
            return slimmer
    raise ApiError(500, ETCD_TOO_LARGE, reason=None)


def fits_etcd(obj: dict) -> bool:
    """Whether an object's JSON is within etcd's request limit (encoded only when its strings alone are)."""
    return json_size_floor(obj, MAX_STORED_BYTES) <= MAX_STORED_BYTES and len(orjson.dumps(obj)) <= MAX_STORED_BYTES


def check_name(name: object, label: bool = False) -> Causes:
    """metadata.name must be an RFC 1123 subdomain (a label for namespaces), as apimachinery's NameIsDNSSubdomain
    and NameIsDNSLabel word it."""
    if not isinstance(name, str) or not name:
        return [("metadata.name", "Required value: name or generateName is required")]
    problems = dns_label_problems(name) if label else dns_subdomain_problems(name)
    return [("metadata.name", f"Invalid value: {go_quoted(name)}: {problem}") for problem in problems]


def check_pod_spec(spec: object, path: str) -> Causes:
    """A pod spec needs containers, each with a unique name and an image."""
    if not isinstance(spec, dict):
        return [(path, "Required value")]
    causes: Causes = []
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return [(f"{path}.containers", "Required value")]
    for list_name in CONTAINER_LISTS:
        seen: set[str] = set()
        for position, container in enumerate(spec.get(list_name) or []):
            causes += check_container(container, f"{path}.{list_name}[{position}]", seen)
    causes += check_enum(spec, "restartPolicy", RESTART_POLICIES, path)
    causes += check_enum(spec, "dnsPolicy", DNS_POLICIES, path)
    return causes + check_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")


def check_enum(obj: dict, name: str, supported: tuple[str, ...], path: str) -> Causes:
    """An enum field set to a value outside its supported ones (unset or empty, it is defaulted)."""
    value = obj.get(name)
    return [(f"{path}.{name}", unsupported(value, supported))] if isinstance(value, str) and value and \
        value not in supported else []


def check_container(container: object, where: str, seen: set[str]) -> Causes:
    """A container needs a name not in `seen` (which it joins) and an image."""
    if not isinstance(container, dict):
        return [(where, "Invalid value: must be an object")]
    causes: Causes = []
    name = container.get("name")
    if not name:
        causes.append((f"{where}.name", "Required value"))
    elif name in seen:
        causes.append((f"{where}.name", f'Duplicate value: "{name}"'))
    seen.add(name or "")
    if not container.get("image"):
        causes.append((f"{where}.image", "Required value"))
    return causes + check_enum(container, "imagePullPolicy", PULL_POLICIES, where)


def check_deployment(obj: dict) -> Causes:
    """A Deployment needs a selector that selects its template's labels, replicas >= 0, a valid pod spec."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [("spec", "Required value")]
    causes: Causes = []
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        causes.append(("spec.replicas", f"Invalid value: {replicas!r}: must be greater than or equal to 0"))
    selector = spec.get("selector")
    template = spec.get("template") if isinstance(spec.get("template"), dict) else {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not isinstance(selector, dict) or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        causes.append(("spec.selector", "Required value"))
    elif (problem := selector_problem(selector, labels)) == "mismatch":
        causes.append(("spec.template.metadata.labels", "Invalid value: `selector` does not match template `labels`"))
    elif problem:
        causes.append(("spec.selector", f"Invalid value: {problem}"))
    causes += check_pod_spec(template.get("spec"), "spec.template.spec")
    restart = (template.get("spec") or {}).get("restartPolicy") if isinstance(template.get("spec"), dict) else None
    if restart in RESTART_POLICIES and restart != "Always":  # apps validation: a ReplicaSet's pods always restart
        causes.append(("spec.template.spec.restartPolicy", unsupported(restart, ("Always",))))
    return causes


def selector_problem(selector: dict, labels: dict) -> str | None:
    """Why a label selector does not select these labels: its parse error, "mismatch", or None when it does."""
    try:
        requirements = requirements_from_label_selector(selector)
    except ValueError as exc:
        return str(exc)
    return None if matches_labels(requirements, labels) else "mismatch"


def check_imagecache(obj: dict) -> Causes:
    """The ImageCache rules of the engine (docs/eci-model.md section 1)."""
    return [(error.field, error.message) for error in validate_imagecache(obj) if error.field != "metadata.name"]


def check_object(resource_key: str, obj: dict) -> Causes:
    """Every cause that makes an object of this resource invalid."""
    metadata = obj.get("metadata", {})
    causes = check_name(metadata.get("name"), label=resource_key == NAMESPACES.key) + check_metadata(metadata)
    for path, template in template_metadata(resource_key, obj):
        causes += check_metadata(template, path)
    if resource_key == PODS.key:
        causes += check_pod_spec(obj.get("spec"), "spec")
    elif resource_key == DEPLOYMENTS.key:
        causes += check_deployment(obj)
    elif resource_key == IMAGECACHES.key:
        causes += check_imagecache(obj)
    elif resource_key == SECRETS.key:
        causes += check_secret(obj)
    elif resource_key == CONFIGMAPS.key:
        causes += check_configmap(obj)
    elif resource_key == JOBS.key:
        causes += check_job(obj, check_pod_spec, selector_problem)
    elif resource_key == CRONJOBS.key:
        causes += check_cronjob(obj, check_pod_spec)
    return causes


def check_update(resource_key: str, old: dict, new: dict) -> Causes:
    """Fields an update may not change."""
    if resource_key == SECRETS.key:
        return check_secret_update(old, new)
    if resource_key == CONFIGMAPS.key:
        return check_config_update(old, new, ("data", "binaryData"))
    if resource_key == JOBS.key:
        return check_job_update(old, new)
    old_spec, new_spec = (spec if isinstance(spec := obj.get("spec"), dict) else {} for obj in (old, new))
    if resource_key == DEPLOYMENTS.key and old_spec.get("selector") != new_spec.get("selector"):
        return [("spec.selector", "Invalid value: field is immutable")]
    if resource_key == PODS.key:
        def without_images(spec: dict) -> dict:
            return {
                **spec,
                "containers": [{**c, "image": ""} if isinstance(c, dict) else c for c in spec.get("containers") or []],
                "initContainers": [{**c, "image": ""} if isinstance(c, dict) else c
                                   for c in spec.get("initContainers") or []],
                "nodeName": "",
            }

        if without_images(old_spec) != without_images(new_spec):
            return [("spec", "Forbidden: pod updates may not change fields other than `spec.containers[*].image`")]
    return []
