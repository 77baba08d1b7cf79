"""The HTTP face of the simulated cluster: routing, authentication, authorisation and encoding."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from sim.apiserver import bodies, discovery, errors, logs, openapi_v2
from sim.apiserver.access import (
    GROUPS_OF,
    Subject,
    access_review,
    allowed,
    forbidden,
    impersonated,
    request_namespace,
    rules_review,
    self_review,
    token_of_review,
    token_review,
)
from sim.apiserver.errors import ApiError
from sim.apiserver.identity import Identity
from sim.apiserver.object_api import BUILT_IN_GROUPS, WARNINGS, DeleteOptions, ObjectApi, WriteOptions, patched
from sim.apiserver.patching import JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, merge_patch
from sim.apiserver.query import first_values, flag
from sim.apiserver.resources import (
    NO_CONTAINERS,
    SSARS,
    SSRRS,
    SSRS,
    SUBRESOURCES,
    TOKENREVIEWS,
    ResourceType,
    Target,
    find_resource,
)
from sim.apiserver.selectors import selector_from_query
from sim.apiserver.store import CONTINUE_TOO_OLD, Entry
from sim.apiserver.tables import render_table
from sim.apiserver.watching import WatchRequest, event_line, watch_stream

log = logging.getLogger("imc.sim.http")
JSON = "application/json"
APPLY_PATCH = "application/apply-patch+yaml"
OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
PUBLIC_PATHS = ("/version", "/healthz", "/readyz", "/livez")
FOLLOW_POLL_SECONDS = 0.5  # how often a followed log looks at its pod again


@dataclass
class ServerOptions:
    """Knobs of the HTTP layer."""

    drop_watch_events: int = 0  # close each watch stream after this many events (0: never)
    drop_watch_seconds: float = 0.0  # or after this many seconds (0: never)
    server_address: str = "127.0.0.1:0"


def json_response(body: object, status: int = 200) -> Response:
    """A JSON response encoded with orjson."""
    return Response(orjson.dumps(body), status_code=status, media_type=JSON)


def error_response(error: ApiError) -> Response:
    """A Status response for an ApiError."""
    return json_response(error.status(), error.code)


def parse_target(path: str) -> Target | str:
    """The resource a URL names, or the group version (`v1`, `G/V`) of a discovery URL; 404 otherwise."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise ApiError(404, "the server could not find the requested resource")
    api_version = f"{group}/{version}" if group else version
    if not rest:
        return api_version
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        resource = find_resource(group, version, rest[2])
        if resource is not None and resource.namespaced:
            namespace, rest = rest[1], rest[2:]
    resource = find_resource(group, version, rest[0])
    if resource is None or len(rest) > 3 or (namespace and not resource.namespaced):
        raise ApiError(404, "the server could not find the requested resource")
    subresource = rest[2] if len(rest) == 3 else None
    if subresource is not None and not resource.has_subresource(subresource):
        raise ApiError(404, "the server could not find the requested resource")
    return Target(resource, namespace, rest[1] if len(rest) >= 2 else "", subresource)


def verb_of(method: str, target: Target, query: dict) -> str:
    """The Kubernetes verb of a request."""
    if method == "GET":
        if target.name:
            return "get"
        return "watch" if flag(query, "watch") else "list"
    verbs = {"POST": "create", "PUT": "update", "PATCH": "patch"}
    if method in ("PUT", "PATCH") and not target.name:
        raise ApiError(405, f"the server does not allow this method on the requested resource ({method} on a "
                            "collection)", reason="MethodNotAllowed")
    if method in verbs:
        return verbs[method]
    if method == "DELETE":
        return "delete" if target.name else "deletecollection"
    raise ApiError(405, f"method {method} is not allowed")


def check_patch_type(content_type: str, resource: ResourceType) -> None:
    """415 for a patch media type the resource does not take (custom resources take no strategic merge patch)."""
    accepted = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH]
    if resource.group in BUILT_IN_GROUPS:
        accepted.append(STRATEGIC_MERGE_PATCH)
    if content_type not in accepted:
        raise ApiError(415, "the body of the request was in an unknown format - accepted media types include: "
                            + ", ".join(accepted), reason="UnsupportedMediaType")


def write_options(query: dict, user_agent: str = "") -> WriteOptions:
    """dryRun, fieldManager (else the user agent's name), fieldValidation and force of a request; 400/422 for
    values Kubernetes refuses."""
    dry_run = query.get("dryRun") or ""
    if dry_run not in ("", "All"):
        raise ApiError(400, f'dryRun: Unsupported value: "{dry_run}": supported values: "All"')
    field_manager = query.get("fieldManager") or None
    if field_manager and len(field_manager) > 128:
        raise ApiError(422, "fieldManager: Too long: may not be more than 128 bytes", reason="Invalid")
    validation = query.get("fieldValidation") or "Warn"
    if validation not in ("Strict", "Warn", "Ignore"):
        raise ApiError(400, f"fieldValidation must be one of Ignore, Warn, Strict, not {validation}")
    field_manager = field_manager or user_agent.split("/")[0][:128] or None
    return WriteOptions(dry_run == "All", field_manager, validation, force=flag(query, "force"))


def delete_options(query: dict, body: object, dry_run: bool) -> DeleteOptions:
    """A delete's options from its query and its DeleteOptions body (JSON or protobuf); 400 for bad values."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ApiError(400, f"the DeleteOptions body must be an object, not a {type(body).__name__}")
    asked_dry_run = body.get("dryRun") or []
    if not isinstance(asked_dry_run, list) or any(value != "All" for value in asked_dry_run):
        raise ApiError(400, f'dryRun: Unsupported value: {orjson.dumps(asked_dry_run).decode()}: supported values: "All"')
    preconditions = body.get("preconditions")
    if preconditions is not None and (not isinstance(preconditions, dict) or not all(
            isinstance(preconditions.get(key) or "", str) for key in ("uid", "resourceVersion"))):
        raise ApiError(400, "DeleteOptions.preconditions must be an object with string uid and resourceVersion")
    dry_run = dry_run or bool(asked_dry_run)
    propagation = query.get("propagationPolicy") or body.get("propagationPolicy")
    orphan = flag(query, "orphanDependents") if "orphanDependents" in query else body.get("orphanDependents")
    if not propagation and orphan is not None:
        propagation = "Orphan" if orphan is True else "Background"
    if propagation not in (None, "Orphan", "Background", "Foreground"):
        raise ApiError(400, f'propagationPolicy: Unsupported value: "{propagation}": supported values: "Background", '
                            '"Foreground", "Orphan"')
    grace = query.get("gracePeriodSeconds", body.get("gracePeriodSeconds"))
    try:
        grace = None if grace in (None, "") else int(grace)
    except (ValueError, TypeError):
        raise ApiError(400, f"gracePeriodSeconds must be a whole number, not {grace!r}") from None
    if grace is not None and not -2**63 <= grace < 2**63:
        raise ApiError(400, "gracePeriodSeconds must fit in 64 bits")
    return DeleteOptions(preconditions, dry_run, propagation or "Background", grace)


def aggregated_version(accept: str) -> str | None:
    """The apidiscovery version (v2, v2beta1) an Accept header asks for first, if any."""
    for media in accept.split(","):
        parameters = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in media.split(";")[1:])}
        if parameters.get("g") == "apidiscovery.k8s.io" and parameters.get("as") == "APIGroupDiscoveryList" and \
                parameters.get("v") in ("v2", "v2beta1"):
            return parameters["v"]
    return None


def content_type_of(request: Request, default: str = "") -> str:
    """The media type of a request body, without parameters."""
    return request.headers.get("content-type", default).split(";")[0].strip()


def wants_table(request: Request) -> bool:
    """Whether the client asked for a meta.k8s.io/v1 Table."""
    return "as=Table" in request.headers.get("accept", "")


def _encode_continue(snapshot_id: str, offset: int, rv: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"id": snapshot_id, "offset": offset, "rv": rv})).decode()


def _decode_continue(token: str) -> tuple[str, int, int]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        return str(data["id"]), int(data["offset"]), int(data.get("rv", 0))
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "continue key is not valid") from None


class ApiServer:
    """Request handling of the simulated API server."""

    def __init__(self, api: ObjectApi, identity: Identity, options: ServerOptions) -> None:
        self.api = api
        self.store = api.store
        self.identity = identity
        self.options = options

    def app(self) -> Starlette:
        """The Starlette application."""
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        return Starlette(routes=[Route("/{path:path}", self.handle, methods=methods),
                                 WebSocketRoute("/{path:path}", self.handle_websocket)])

    async def handle_websocket(self, websocket: WebSocket) -> None:
        """A WebSocket upgrade (exec, attach, portforward from kr8s or the official client's stream()): refused with
        the Status a plain request gets, as the HTTP answer to the handshake, so the client shows why."""
        scope = {**websocket.scope, "type": "http", "method": "GET"}
        try:
            target = parse_target(scope["path"])
        except ApiError:
            target = None
        if isinstance(target, Target) and target.subresource in NO_CONTAINERS:
            response = await self.handle(Request(scope, websocket.receive, websocket.send))
        else:
            response = error_response(ApiError(400, "imc sim serves WebSocket upgrades only to answer exec, attach "
                                                    "and portforward with an error; use plain HTTP requests"))
        await websocket.send_denial_response(response)

    def authenticate(self, request: Request) -> Subject:
        """Who a request acts as: its bearer token's user, or whom it may impersonate; 401 without a valid token."""
        header = request.headers.get("authorization", "")
        user = self.identity.user_of(header[7:].strip()) if header.lower().startswith("bearer ") else None
        if not user:
            raise ApiError(401, "Unauthorized")
        return impersonated(Subject(user, GROUPS_OF[user]), request.headers.get("impersonate-user"),
                            request.headers.getlist("impersonate-group"), request.headers.get("impersonate-uid"))

    async def handle(self, request: Request) -> Response:
        """Every request: authenticate, route, answer; ApiErrors become Status responses."""
        warnings: list[str] = []
        WARNINGS.set(warnings)  # each request runs in its own task, so in its own context
        try:
            response = await self.dispatch(request)
        except ApiError as error:
            response = error_response(error)
        except Exception:  # noqa: BLE001 - a server answers 500, it does not die
            log.exception("internal error on %s %s", request.method, request.url.path)
            response = error_response(ApiError(500, "internal error"))
        for warning in dict.fromkeys(warnings):
            escaped = warning.replace('"', '\\"')
            response.headers.append("Warning", f'299 - "{escaped}"')
        log.debug("%s %s %s", request.method, request.url.path, response.status_code)
        return response

    async def dispatch(self, request: Request) -> Response:
        """Route one request."""
        path = request.url.path.rstrip("/") or "/"
        if path == "/version":
            return json_response(discovery.VERSION_INFO)
        if path in PUBLIC_PATHS:
            return Response(b"ok", media_type="text/plain")
        subject = self.authenticate(request)
        if path in ("/api", "/apis") and (version := aggregated_version(request.headers.get("accept", ""))):
            media_type = f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
            return Response(orjson.dumps(discovery.aggregated_discovery(path == "/api", version)),
                            media_type=media_type)
        if path == "/api":
            return json_response(discovery.core_versions(self.options.server_address))
        if path == "/apis":
            return json_response(discovery.api_groups())
        if path.startswith("/openapi/"):
            return self.openapi(path, request.headers.get("accept", ""))
        if path.startswith("/apis/") and path.count("/") == 2:
            group = discovery.api_group(path.split("/")[2])
            if group is None:
                raise ApiError(404, "the server could not find the requested resource")
            return json_response(group)
        target = parse_target(path)
        if isinstance(target, str):
            document = discovery.resource_list(target)
            if document is None:
                raise ApiError(404, "the server could not find the requested resource")
            return json_response(document)
        query = first_values(request.query_params.multi_items())
        verb = verb_of(request.method, target, query)
        if target.subresource in NO_CONTAINERS and verb == "get":
            verb = "create"  # kube-apiserver 1.31+ asks for create on these even for a GET (a websocket upgrade)
        verbs = SUBRESOURCES[target.subresource][2] if target.subresource else target.resource.verbs
        if verb not in verbs:
            raise ApiError(405, f"{verb} is not supported on {target.resource.plural}"
                                + (f"/{target.subresource}" if target.subresource else ""))
        resource = target.resource
        plural = f"{resource.plural}/{target.subresource}" if target.subresource else resource.plural
        namespace = request_namespace(target)
        if not allowed(subject, verb, resource.group, plural, namespace):
            raise forbidden(subject, verb, resource.group, plural, target.name, namespace)
        return await self.serve_resource(request, subject, verb, target, query)

    def openapi(self, path: str, accept: str = "") -> Response:
        """`/openapi/v2`, `/openapi/v3` and its per-group-version documents."""
        if path == "/openapi/v2":
            swagger = discovery.openapi_v2(self.api.custom_schemas)
            if "protobuf" in accept:  # what kubectl asks for
                return Response(openapi_v2.document(swagger), media_type=OPENAPI_V2_PROTOBUF)
            return json_response(swagger)
        if path == "/openapi/v3":
            return json_response(discovery.openapi_root(self.api.custom_schemas))
        prefix = "/openapi/v3/"
        rest = path[len(prefix):] if path.startswith(prefix) else ""
        api_version = rest.removeprefix("api/") if rest.startswith("api/") else rest.removeprefix("apis/")
        document = discovery.openapi_document(api_version, self.api.custom_schemas(api_version)) if rest else None
        if document is None:
            raise ApiError(404, "the server could not find the requested resource")
        return json_response(document)

    async def read_body(self, request: Request) -> object:
        """The decoded request body (JSON, YAML, protobuf), read only up to the size limit; 400/413/415."""
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > bodies.MAX_BODY_BYTES:
            raise bodies.too_large()
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > bodies.MAX_BODY_BYTES:
                raise bodies.too_large()
            chunks.append(chunk)
        raw = b"".join(chunks)
        return bodies.decode(raw, content_type_of(request, JSON)) if raw else None

    async def serve_resource(self, request: Request, subject: Subject, verb: str, target: Target, query: dict) -> Response:
        """get, list, watch, create, update, patch, delete, deletecollection."""
        resource, api = target.resource, self.api
        options = write_options(query, request.headers.get("user-agent", ""))
        if target.subresource == "scale":
            return await self.scale(request, verb, target, options)
        if target.subresource == "eviction":
            return self.evict(target, query, await self.read_body(request), options)
        if target.subresource == "log":
            pod, now = api.get(resource, target.namespace, target.name).obj, datetime.now(UTC)
            container = logs.container_of(pod, query)
            lines = logs.container_lines(pod, container, now)
            text = logs.shown_text(lines, query, now)
            if flag(query, "follow"):
                return StreamingResponse(self.followed_log(target, pod, container, len(lines), query, text),
                                         media_type="text/plain")
            return Response(text, media_type="text/plain")
        if target.subresource in NO_CONTAINERS:
            api.get(resource, target.namespace, target.name)  # 404 for a missing pod first, as Kubernetes answers
            raise ApiError(400, f"{target.subresource} is not available on the built-in cluster: imc sim simulates "
                                f"pods and runs no containers, so there is no process to reach in pod "
                                f"{target.namespace}/{target.name}")
        if verb == "get":
            entry = api.get(resource, target.namespace, target.name)
            if wants_table(request):
                return json_response(render_table(resource.key, [entry.obj], str(entry.rv),
                                                  query.get("includeObject", "Metadata")))
            return Response(entry.raw, media_type=JSON)
        if verb == "list":
            return self.list(request, target, query)
        if verb == "watch":
            return self.watch(request, target, query)
        if resource is SSARS:
            return json_response(access_review(subject, await self.read_body(request)), 201)
        if resource is SSRRS:
            body = await self.read_body(request)
            return json_response(rules_review(subject, body), 201)
        if resource is SSRS:
            return json_response(self_review(subject), 201)
        if resource is TOKENREVIEWS:
            body = await self.read_body(request)
            user = self.identity.user_of(token_of_review(body))
            return json_response(token_review(body, Subject(user, GROUPS_OF[user]) if user else None), 201)
        if verb == "create":
            body = await self.read_body(request)
            return json_response(api.create(resource, target.namespace, body, options), 201)
        if verb == "update":
            body = await self.read_body(request)
            return json_response(api.update(target, body, options))
        if verb == "patch":
            return await self.patch(request, target, options)
        delete = delete_options(query, await self.read_body(request), options.dry_run)
        if verb == "delete":
            return json_response(api.delete(resource, target.namespace, target.name, delete))
        selector = selector_from_query(query.get("labelSelector"), query.get("fieldSelector"), resource.key)
        deleted = [
            api.delete(resource, target.namespace, entry.obj["metadata"]["name"], replace(delete, preconditions=None))
            for entry in list(self.store.entries(resource.key, target.namespace or None))
            if selector.matches(entry.obj)
        ]
        return json_response({"kind": resource.list_kind, "apiVersion": resource.api_version,
                              "metadata": {"resourceVersion": str(self.store.rv)}, "items": deleted})

    async def patch(self, request: Request, target: Target, options: WriteOptions) -> Response:
        """PATCH, including server-side apply (create when missing, else merge the applied configuration)."""
        content_type = content_type_of(request)
        check_patch_type(content_type, target.resource)
        body = await self.read_body(request)
        api, resource = self.api, target.resource
        if content_type == APPLY_PATCH:
            if not request.query_params.get("fieldManager"):
                raise ApiError(422, "fieldManager is required for apply requests", reason="Invalid")
            options = replace(options, operation="Apply")
            if self.store.get(resource.key, target.namespace, target.name) is None:
                if isinstance(body, dict):
                    body.setdefault("metadata", {}).setdefault("name", target.name)
                return json_response(api.create(resource, target.namespace, body, options), 201)
            if target.subresource is None:
                return json_response(api.apply(resource, target.namespace, target.name, body, options))
            content_type = MERGE_PATCH
            body = merge_patch({}, body)
        return json_response(api.patch(target, content_type, body, options))

    async def followed_log(self, target: Target, pod: dict, container: str, sent: int, query: dict,
                           text: str) -> AsyncIterator[bytes]:
        """`kubectl logs -f`: the text so far (of `sent` lines), then each new line until the container ends or the
        pod is gone."""
        yield text.encode()
        uid = pod["metadata"].get("uid")
        while not logs.has_ended(pod, container):
            await asyncio.sleep(FOLLOW_POLL_SECONDS)
            entry = self.store.get(target.resource.key, target.namespace, target.name)
            if entry is None or entry.obj["metadata"].get("uid") != uid:
                return
            pod = entry.obj
            try:
                lines = logs.container_lines(pod, container, datetime.now(UTC))
            except ApiError:  # its status was rewritten to not started: nothing more to follow
                return
            if len(lines) > sent:
                yield logs.log_text(lines[sent:], flag(query, "timestamps")).encode()
                sent = len(lines)

    def evict(self, target: Target, query: dict, body: object, options: WriteOptions) -> Response:
        """POST pods/NAME/eviction (policy/v1 Eviction): a delete with the Eviction's deleteOptions."""
        if not isinstance(body, dict) or body.get("kind") not in (None, "Eviction"):
            raise ApiError(400, "the request body must be a policy/v1 Eviction")
        metadata = body.get("metadata") or {}
        name = (metadata.get("name") if isinstance(metadata, dict) else None) or target.name
        if name != target.name:
            raise ApiError(400, f"name in URL does not match name in Eviction object: {target.name} != {name}")
        self.api.delete(target.resource, target.namespace, target.name,
                            delete_options(query, body.get("deleteOptions"), options.dry_run))
        return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201},
                             201)

    async def scale(self, request: Request, verb: str, target: Target, options: WriteOptions) -> Response:
        """GET, PUT or PATCH of the scale subresource."""
        api = self.api
        if verb == "get":
            return json_response(api.scale_of(target.resource, target.namespace, target.name))
        body = await self.read_body(request)
        if verb == "patch":
            check_patch_type(content_type_of(request), target.resource)
            body = patched(api.scale_of(target.resource, target.namespace, target.name), content_type_of(request),
                           body)
        return json_response(api.set_scale(target.resource, target.namespace, target.name, body, options))

    def list_version(self, query: dict) -> int:
        """The resourceVersion a list is served at: 410 for an Exact one no longer kept, 504 for a future one."""
        asked, match = query.get("resourceVersion", ""), query.get("resourceVersionMatch", "")
        if match and match not in ("Exact", "NotOlderThan"):
            raise ApiError(400, f'resourceVersionMatch: Unsupported value: "{match}": supported values: "Exact", '
                                '"NotOlderThan"')
        if asked in ("", "0"):
            if match == "Exact":
                raise ApiError(400, 'resourceVersionMatch "Exact" is forbidden for resourceVersion "0"')
            return self.store.rv
        try:
            version = int(asked)
        except ValueError:
            raise errors.expired(f"too old resource version: {asked}") from None
        if version > self.store.rv:
            raise ApiError(504, f"Timeout: Too large resource version: {version}, current: {self.store.rv}",
                           reason="Timeout", details={"causes": [{"reason": "ResourceVersionTooLarge",
                                                                  "message": "Too large resource version"}],
                                                      "retryAfterSeconds": 1})
        if match != "Exact":
            return self.store.rv
        if not self.store.can_resume(version):
            raise errors.expired(f"too old resource version: {version} ({self.store.evicted_rv + 1})")
        return version

    def list(self, request: Request, target: Target, query: dict) -> Response:
        """A list, paged with limit/continue; every page carries the first page's resourceVersion."""
        resource = target.resource
        token = query.get("continue")
        limit = int(query["limit"]) if query.get("limit", "").isdigit() else 0
        selector = selector_from_query(query.get("labelSelector"), query.get("fieldSelector"), resource.key)
        if token:
            snapshot_id, offset, token_rv = _decode_continue(token)
            if not self.store.can_continue(token_rv):
                raise errors.expired(CONTINUE_TOO_OLD)
            snapshot = self.store.load_snapshot(snapshot_id)
            entries, rv = snapshot.entries, snapshot.rv
        else:
            rv = self.list_version(query)
            all_entries = self.store.entries(resource.key, target.namespace or None) if rv == self.store.rv else \
                self.store.entries_at(resource.key, target.namespace or None, rv)
            entries = list(all_entries) if selector.empty else [e for e in all_entries if selector.matches(e.obj)]
            offset, snapshot_id = 0, ""
        page: list[Entry] = entries[offset:offset + limit] if limit else entries[offset:]
        next_token, remaining = "", 0
        if limit and offset + limit < len(entries):
            if not snapshot_id:
                snapshot_id = self.store.save_snapshot(rv, entries)
            next_token = _encode_continue(snapshot_id, offset + limit, rv)
            remaining = len(entries) - offset - limit
        if wants_table(request):
            table = render_table(resource.key, (e.obj for e in page), str(rv), query.get("includeObject", "Metadata"),
                                 next_token)
            return json_response(table)
        metadata: dict = {"resourceVersion": str(rv)}
        if next_token:
            metadata["continue"] = next_token
            # ListMeta.remainingItemCount: "If the list request contained label or field selectors, then the number
            # of remaining items is unknown and the field will be left unset and omitted during serialization."
            if selector.empty:
                metadata["remainingItemCount"] = remaining
        head = orjson.dumps({"kind": resource.list_kind, "apiVersion": resource.api_version, "metadata": metadata})
        body = head[:-1] + b',"items":[' + b",".join(e.raw for e in page) + b"]}"
        return Response(body, media_type=JSON)

    def watch(self, request: Request, target: Target, query: dict) -> Response:
        """A watch stream (JSON lines, or one-row Tables for kubectl get -w)."""
        resource = target.resource
        selector = selector_from_query(query.get("labelSelector"), query.get("fieldSelector"), resource.key)
        timeout = float(query["timeoutSeconds"]) if query.get("timeoutSeconds", "").isdigit() else 0.0
        if self.options.drop_watch_seconds:
            timeout = min(timeout or self.options.drop_watch_seconds, self.options.drop_watch_seconds)
        watch_request = WatchRequest(
            resource,
            target.namespace,
            selector,
            query.get("resourceVersion", ""),
            flag(query, "allowWatchBookmarks"),
            timeout,
            flag(query, "sendInitialEvents"),
        )
        if wants_table(request):
            include = query.get("includeObject", "Metadata")

            def encode(event_type: str, entry: Entry) -> bytes:
                table = render_table(resource.key, [entry.obj], str(entry.rv), include)
                return event_line(event_type, orjson.dumps(table))
        else:

            def encode(event_type: str, entry: Entry) -> bytes:
                return event_line(event_type, entry.raw)

        stream = watch_stream(self.store, watch_request, encode, self.options.drop_watch_events)
        return StreamingResponse(stream, media_type=JSON)
