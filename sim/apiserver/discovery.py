"""Discovery documents (`/version`, `/api`, `/apis`, resource lists) and the minimal `/openapi/v3`."""

from __future__ import annotations

import hashlib

import orjson

from sim.apiserver.definitions import definition_of, definitions, v3_schemas
from sim.apiserver.resources import ResourceType, group_versions

VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-imc-sim",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def core_versions(server_address: str) -> dict:
    """`GET /api`."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_groups() -> dict:
    """`GET /apis`: every non-core group with its single version."""
    groups = []
    for api_version in group_versions():
        if "/" not in api_version:
            continue
        group, version = api_version.split("/")
        entry = {"groupVersion": api_version, "version": version}
        groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(group: str) -> dict | None:
    """`GET /apis/GROUP`."""
    for entry in api_groups()["groups"]:
        if entry["name"] == group:
            return {"kind": "APIGroup", "apiVersion": "v1", **entry}
    return None


def resource_list(api_version: str) -> dict | None:
    """`GET /api/v1` or `GET /apis/G/V`: the APIResourceList."""
    resources = group_versions().get(api_version)
    if resources is None:
        return None
    entries = [entry for resource in resources for entry in resource.discovery()]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": api_version, "resources": entries}


def _openapi_path(api_version: str) -> str:
    """`api/v1` or `apis/G/V`, as /openapi/v3 names a group version."""
    return "api/v1" if api_version == "v1" else f"apis/{api_version}"


def _object_path(resource: ResourceType) -> str:
    """The URL template of one object of a resource."""
    prefix = "/" + _openapi_path(resource.api_version)
    if resource.namespaced:
        return f"{prefix}/namespaces/{{namespace}}/{resource.plural}/{{name}}"
    return f"{prefix}/{resource.plural}/{{name}}"


def openapi_document(api_version: str, schemas: dict[str, dict] | None = None) -> dict | None:
    """A minimal OpenAPI v3 document for one group version.

    Enough for kubectl: a PATCH operation per kind carrying `x-kubernetes-group-version-kind`
    and a `fieldValidation` parameter, so kubectl leaves validation to this server; `schemas`
    (kind → OpenAPI schema, e.g. a CRD's) become components, so `kubectl explain` works for them.
    """
    resources = group_versions().get(api_version)
    if resources is None:
        return None
    paths = {}
    for resource in resources:
        if not resource.stored:
            continue
        gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
        parameters = [
            {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
        ]
        if resource.namespaced:
            parameters.append({"name": "namespace", "in": "path", "required": True, "schema": {"type": "string"}})
        operation = {
            "operationId": f"patch{resource.kind}",
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
            "parameters": parameters,
            "responses": {"200": {"description": "OK"}},
        }
        paths[_object_path(resource)] = {"patch": operation}
    built_in = tuple(name for resource in resources
                     if (name := definition_of(resource.group, resource.version, resource.kind)))
    components = dict(v3_schemas(built_in))
    for resource in resources:
        if resource.kind in (schemas or {}):
            gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
            components[custom_definition_name(resource)] = {**schemas[resource.kind], "x-kubernetes-group-version-kind": [gvk]}
    return {"openapi": "3.0.0", "info": {"title": "imc sim", "version": "v1.32.0"}, "paths": paths,
            "components": {"schemas": components}}


def openapi_root(schemas_of=lambda api_version: None) -> dict:
    """`GET /openapi/v3`: where each group version's document lives (hash = content digest)."""
    paths = {}
    for api_version in group_versions():
        document = openapi_document(api_version, schemas_of(api_version))
        digest = hashlib.sha256(orjson.dumps(document)).hexdigest()[:32].upper()
        path = _openapi_path(api_version)
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}


def custom_definition_name(resource: ResourceType) -> str:
    """The definition name of a custom kind (`com.alibabacloud.eci.v1.ImageCache`)."""
    return ".".join(reversed(resource.group.split("."))) + f".{resource.version}.{resource.kind}"


def openapi_v2(schemas_of=lambda api_version: None) -> dict:
    """`GET /openapi/v2`: every served kind's definition and a PATCH operation per kind (with fieldValidation)."""
    paths, custom = {}, {}
    for api_version, resources in group_versions().items():
        schemas = schemas_of(api_version) or {}
        for resource in resources:
            if not resource.stored:
                continue
            gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
            parameters = [{"name": name, "in": "query", "type": "string", "uniqueItems": True}
                          for name in ("dryRun", "fieldManager", "fieldValidation")]
            paths[_object_path(resource)] = {"patch": {
                "operationId": f"patch{resource.kind}", "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk, "parameters": parameters,
                "consumes": ["application/json-patch+json", "application/merge-patch+json",
                             "application/apply-patch+yaml"], "responses": {"200": {"description": "OK"}}}}
            if resource.kind in schemas:
                custom[custom_definition_name(resource)] = {**schemas[resource.kind],
                                                            "x-kubernetes-group-version-kind": [gvk]}
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": paths,
            "definitions": {**definitions(), **custom}}


def aggregated_discovery(core: bool, version: str = "v2") -> dict:
    """`GET /api` or `/apis` as an apidiscovery.k8s.io APIGroupDiscoveryList (what kubectl asks for first)."""
    items = []
    for api_version in group_versions():
        if ("/" not in api_version) != core:
            continue
        group, group_version = api_version.split("/") if "/" in api_version else ("", api_version)
        entries = resource_list(api_version)["resources"]
        resources: dict[str, dict] = {}
        for entry in entries:
            if "/" in entry["name"]:
                continue
            resources[entry["name"]] = {
                "resource": entry["name"],
                "responseKind": {"group": group, "version": group_version, "kind": entry["kind"]},
                "scope": "Namespaced" if entry["namespaced"] else "Cluster",
                "singularResource": entry["singularName"],
                "verbs": entry["verbs"],
                **{key: entry[key] for key in ("shortNames", "categories") if key in entry},
            }
        for entry in entries:
            if "/" in entry["name"]:
                parent, subresource = entry["name"].split("/", 1)
                resources[parent].setdefault("subresources", []).append({
                    "subresource": subresource,
                    "responseKind": {"group": entry.get("group", group), "version": entry.get("version", group_version),
                                     "kind": entry["kind"]},
                    "verbs": entry["verbs"],
                })
        items.append({"metadata": {"name": group, "creationTimestamp": None},
                      "versions": [{"version": group_version, "resources": list(resources.values()),
                                    "freshness": "Current"}]})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{version}",
            "metadata": {}, "items": items}
