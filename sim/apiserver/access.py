"""Who a request acts as and what it may do: the users' and demo people's RBAC bindings, impersonation and the self
reviews."""

from __future__ import annotations

from dataclasses import dataclass

from core import caches
from sim.apiserver.errors import ApiError, qualified
from sim.apiserver.identity import ADMIN_USER, VIEWER_USER
from sim.apiserver.people import (
    DEMO_VIEWER,
    DEMO_VIEWER_GROUP,
    DEMO_VIEWER_READS,
    DEMO_WRITER,
    DEMO_WRITER_GROUP,
    DEMO_WRITER_NAMESPACE,
    DEMO_WRITER_READS,
)
from sim.apiserver.resources import ALL_RESOURCES, NAMESPACES, READ_VERBS, SUBRESOURCES, Target
from sim.apiserver.validation import dns_label_problems, dns_subdomain_problems

AUTHENTICATED = "system:authenticated"
MASTERS = "system:masters"
UNAUTHENTICATED = "system:unauthenticated"
SERVICE_ACCOUNTS = "system:serviceaccounts"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
VIEWERS = "imc:viewers"
GROUPS_OF = {ADMIN_USER: (MASTERS, AUTHENTICATED), VIEWER_USER: (VIEWERS, AUTHENTICATED)}
DISCOVERY_URLS = ("/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/readyz", "/version", "/version/",
                  "/openapi", "/openapi/*")


@dataclass(frozen=True)
class Subject:
    """The user a request acts as, with its groups."""

    user: str
    groups: tuple[str, ...] = (AUTHENTICATED,)
    uid: str = ""


@dataclass(frozen=True)
class Rule:
    """One RBAC PolicyRule: verbs on resources of API groups, or on non-resource URLs."""

    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()

    def allows(self, verb: str, group: str, resource: str) -> bool:
        """Whether the rule grants `verb` on `resource` (`plural` or `plural/subresource`) of `group`."""
        return (
            not self.urls
            and ("*" in self.verbs or verb in self.verbs)
            and ("*" in self.api_groups or group in self.api_groups)
            and ("*" in self.resources or resource in self.resources)
        )

    def review(self) -> dict:
        """The rule as a SelfSubjectRulesReview lists it."""
        if self.urls:
            return {"verbs": list(self.verbs), "nonResourceURLs": list(self.urls)}
        return {"verbs": list(self.verbs), "apiGroups": list(self.api_groups), "resources": list(self.resources)}


# system:basic-user and system:discovery, which every authenticated user has
BASIC_RULES = (
    Rule(("create",), ("authorization.k8s.io",), ("selfsubjectaccessreviews", "selfsubjectrulesreviews")),
    Rule(("create",), ("authentication.k8s.io",), ("selfsubjectreviews",)),
    Rule(("get",), urls=DISCOVERY_URLS),
)
ADMIN_RULES = (Rule(("*",), ("*",), ("*",)), Rule(("*",), urls=("*",)))
HIDDEN_FROM_VIEWERS = ("secrets",)  # core resources Kubernetes' `view` role leaves out


def _viewer_rules() -> tuple[Rule, ...]:
    """get/list/watch on every stored resource and its subresources but Secrets, one rule per API group."""
    by_group: dict[str, list[str]] = {}
    for resource in ALL_RESOURCES:
        if not resource.stored or (resource.group == "" and resource.plural in HIDDEN_FROM_VIEWERS):
            continue
        by_group.setdefault(resource.group, []).extend(
            [resource.plural] + [f"{resource.plural}/{sub}" for sub in sorted(SUBRESOURCES)
                                 if resource.has_subresource(sub)])
    return tuple(Rule(READ_VERBS, (group,), tuple(names)) for group, names in by_group.items())


VIEWER_RULES = _viewer_rules()  # the `view` role: what sim-viewer has everywhere, what the demo people have in namespaces
CACHE_READ_RULES = tuple(rule for rule in VIEWER_RULES if caches.GROUP in rule.api_groups)
DEMO_WRITE_RULES = (
    Rule(("patch", "update"), ("apps",), ("deployments",)),  # a server-side dry run of a patch is a patch too
    Rule(("create",), ("",), ("events",)),  # imc's audit Event, in the namespace of the object written
)


@dataclass(frozen=True)
class Binding:
    """A built-in binding of rules to users and groups: everywhere, as a ClusterRoleBinding, or only in the
    named namespaces, as a RoleBinding in each."""

    rules: tuple[Rule, ...]
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()  # () = cluster-wide

    def applies(self, subject: Subject, namespace: str) -> bool:
        """Whether the binding gives its rules to the subject for a request in `namespace` ("": cluster scope)."""
        return ((not self.namespaces or namespace in self.namespaces)
                and (subject.user in self.users or any(group in self.groups for group in subject.groups)))


# ClusterRoleBindings first, then RoleBindings, in the order kube-apiserver's rule resolver visits them
BINDINGS = (
    Binding(ADMIN_RULES, users=(ADMIN_USER,), groups=(MASTERS,)),
    Binding(VIEWER_RULES, users=(VIEWER_USER,), groups=(VIEWERS,)),
    Binding(CACHE_READ_RULES, users=(DEMO_WRITER, DEMO_VIEWER), groups=(DEMO_WRITER_GROUP, DEMO_VIEWER_GROUP)),
    Binding(BASIC_RULES, groups=(AUTHENTICATED,)),
    Binding(VIEWER_RULES, users=(DEMO_WRITER,), groups=(DEMO_WRITER_GROUP,), namespaces=DEMO_WRITER_READS),
    Binding(DEMO_WRITE_RULES, users=(DEMO_WRITER,), groups=(DEMO_WRITER_GROUP,),
            namespaces=(DEMO_WRITER_NAMESPACE,)),
    Binding(VIEWER_RULES, users=(DEMO_VIEWER,), groups=(DEMO_VIEWER_GROUP,), namespaces=DEMO_VIEWER_READS),
)


def rules_of(subject: Subject, namespace: str = "") -> tuple[Rule, ...]:
    """The rules that apply to a subject in a namespace ("": at the cluster scope).

    As kube-apiserver's RBAC rule resolver (pkg/registry/rbac/validation/rule.go, VisitRulesFor): every
    ClusterRoleBinding's rules, then, only when the request names a namespace, that namespace's RoleBindings'. So a
    list across all namespaces needs a cluster-wide grant, and the RBAC authorizer
    (plugin/pkg/auth/authorizer/rbac/rbac.go) allows a request when one of these rules allows it.
    """
    return tuple(rule for binding in BINDINGS if binding.applies(subject, namespace) for rule in binding.rules)


def allowed(subject: Subject, verb: str, group: str, resource: str, namespace: str = "") -> bool:
    """Whether RBAC lets the subject do `verb` on `resource` (`plural` or `plural/subresource`) in `namespace`."""
    return any(rule.allows(verb, group, resource) for rule in rules_of(subject, namespace))


def request_namespace(target: Target) -> str:
    """The namespace a request is authorized in: its URL's, and a Namespace's own name for `/namespaces/NAME[/...]`
    (as apiserver's RequestInfoFactory reads `/namespaces/{namespace}`: staging/src/k8s.io/apiserver/pkg/endpoints/
    request/requestinfo.go)."""
    if target.resource is NAMESPACES:
        return target.name
    return target.namespace


def url_allowed(subject: Subject, verb: str, path: str) -> bool:
    """Whether RBAC lets the subject do `verb` on a non-resource URL."""
    for rule in rules_of(subject):
        if rule.urls and ("*" in rule.verbs or verb in rule.verbs):
            if any(url == path or (url.endswith("*") and path.startswith(url[:-1])) for url in rule.urls):
                return True
    return False


def forbidden(subject: Subject, verb: str, group: str, resource: str, name: str = "", namespace: str = "") -> ApiError:
    """403 worded as Kubernetes' RBAC words it."""
    plural = resource.split("/")[0]
    what = qualified(plural, group) + (f' "{name}"' if name else "")
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    return ApiError(
        403,
        f'{what} is forbidden: User "{subject.user}" cannot {verb} resource "{resource}" in API group "{group}"{where}',
        details={"name": name, "group": group, "kind": plural},
    )


def impersonated(subject: Subject, user: str | None, groups: list[str], uid: str | None = None) -> Subject:
    """The subject a request acts as after its Impersonate-User/-Group/-Uid headers; 403 without the right.

    As apiserver's impersonation filter (pkg/endpoints/filters/impersonation.go): a ServiceAccount's user name
    (`system:serviceaccount:NS:NAME`) brings its groups unless groups are given, and system:authenticated is added
    unless it or system:unauthenticated is among them.
    """
    if not user:
        if groups or uid:
            raise ApiError(400, "requested impersonation of groups or a uid without impersonating a user")
        return subject
    account = service_account_of(user)
    # (resource, name, namespace) checked: a ServiceAccount by its name in its own namespace
    asked = [("serviceaccounts", account[1], account[0]) if account else ("users", user, "")]
    asked += [("groups", group, "") for group in groups] + ([("uids", uid, "")] if uid else [])
    for resource, name, namespace in asked:
        group = "authentication.k8s.io" if resource == "uids" else ""
        if not allowed(subject, "impersonate", group, resource, namespace):
            raise forbidden(subject, "impersonate", group, resource, name, namespace)
    if account and not groups:
        groups = [SERVICE_ACCOUNTS, f"{SERVICE_ACCOUNTS}:{account[0]}"]
    if not {AUTHENTICATED, UNAUTHENTICATED} & set(groups):
        groups = [*groups, AUTHENTICATED]
    return Subject(user, tuple(dict.fromkeys(groups)), uid or "")


def service_account_of(user: str) -> tuple[str, str] | None:
    """(namespace, name) of a ServiceAccount's user name, as serviceaccount.SplitUsername reads it, else None."""
    if not user.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    parts = user[len(SERVICE_ACCOUNT_PREFIX):].split(":")
    if len(parts) != 2 or dns_label_problems(parts[0]) or dns_subdomain_problems(parts[1]):
        return None
    return parts[0], parts[1]


def rules_review(subject: Subject, body: object) -> dict:
    """A SelfSubjectRulesReview answered for the subject: the rules that apply in its spec.namespace.

    As kube-apiserver's selfsubjectrulesreview storage (pkg/registry/authorization/selfsubjectrulesreview/rest.go):
    400 without a namespace; the answer carries only the status.
    """
    spec = body.get("spec") if isinstance(body, dict) else None
    namespace = spec.get("namespace") if isinstance(spec, dict) else None
    if not isinstance(namespace, str) or not namespace:
        raise ApiError(400, "no namespace on request")
    rules = rules_of(subject, namespace)
    return {
        "kind": "SelfSubjectRulesReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {},
        "status": {
            "resourceRules": [rule.review() for rule in rules if not rule.urls],
            "nonResourceRules": [rule.review() for rule in rules if rule.urls],
            "incomplete": False,
        },
    }


def self_review(subject: Subject) -> dict:
    """A SelfSubjectReview (`kubectl auth whoami`) for the subject."""
    return {
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "status": {"userInfo": user_info(subject)},
    }


def user_info(subject: Subject) -> dict:
    """A subject as authentication.k8s.io's UserInfo."""
    info = {"username": subject.user, "groups": list(subject.groups)}
    return {**info, "uid": subject.uid} if subject.uid else info


def token_of_review(body: object) -> str:
    """The token a TokenReview asks about; 400 as kube-apiserver's tokenreview storage answers a review without one
    (pkg/registry/authentication/tokenreview/storage.go)."""
    spec = body.get("spec") if isinstance(body, dict) else None
    token = spec.get("token") if isinstance(spec, dict) else None
    if not isinstance(token, str) or not token:
        raise ApiError(400, "token is required for TokenReview in authentication")
    return token


def token_review(body: dict, subject: Subject | None) -> dict:
    """A TokenReview answered: the token's user and groups (those `auth whoami` shows), or not authenticated."""
    spec = body["spec"]
    status: dict = {"user": {}}
    if subject is not None:
        status = {"authenticated": True, "user": user_info(subject)}
    if spec.get("audiences"):
        status["audiences"] = spec["audiences"]
    return {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1", "metadata": {"creationTimestamp": None},
            "spec": spec, "status": status}


def access_review(subject: Subject, body: object) -> dict:
    """A SelfSubjectAccessReview answered for the subject."""
    if not isinstance(body, dict) or not isinstance(body.get("spec"), dict):
        raise ApiError(400, "a SelfSubjectAccessReview needs a spec")
    spec = body["spec"]
    attributes = spec.get("resourceAttributes") or {}
    if attributes:
        resource = attributes.get("resource", "")
        if attributes.get("subresource"):
            resource += "/" + attributes["subresource"]
        ok = allowed(subject, attributes.get("verb", ""), attributes.get("group", ""), resource,
                     attributes.get("namespace") or "")
    else:
        attributes = spec.get("nonResourceAttributes") or {}
        ok = url_allowed(subject, attributes.get("verb", ""), attributes.get("path", ""))
    return {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": {"allowed": ok, "reason": "allowed by the sim's RBAC" if ok else ""},
    }
