"""Image references: the Docker reference grammar, normalisation and comparison (docs/eci-model.md section 5)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from core.errors import ImageRefError

DOCKER_HUB = "docker.io"
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
MAX_NAME_LENGTH = 255

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?")
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
# ACR endpoints of one region (public, VPC, international) and of one Enterprise instance.
_ACR_PERSONAL = re.compile(r"registry(?:-intl)?(?:-vpc)?\.([a-z0-9-]+)\.aliyuncs\.com")
_ACR_ENTERPRISE = re.compile(r"([a-z0-9-]+?)-registry(?:-vpc)?\.([a-z0-9-]+)\.cr\.aliyuncs\.com")


@dataclass(frozen=True)
class ImageRef:
    """A parsed, normalised image reference."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None
    # derived keys, computed once: matching thousands of pods reads them constantly
    normalised: str = field(init=False, repr=False, compare=False)
    repo_key: str = field(init=False, repr=False, compare=False)
    family_key: str = field(init=False, repr=False, compare=False)
    # the short form people write: nginx:1.25 for docker.io/library/nginx:1.25
    familiar: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        repo_key = f"{self.registry}/{self.repository}"
        version = f"@{self.digest}" if self.digest else f":{self.tag}"
        short = self.repository.removeprefix("library/") if self.registry == DOCKER_HUB else repo_key
        object.__setattr__(self, "repo_key", repo_key)
        object.__setattr__(self, "normalised", repo_key + version)
        object.__setattr__(self, "family_key", f"{registry_family(self.registry)}/{self.repository}")
        object.__setattr__(self, "familiar", short + version)

    @property
    def version(self) -> str:
        """The tag, or the digest when pinned by digest."""
        return self.digest or self.tag or "latest"


def registry_family(registry: str) -> str:
    """The registry family: ACR endpoints of one region (or one Enterprise instance) are one family."""
    match = _ACR_PERSONAL.fullmatch(registry)
    if match:
        return f"acr:{match.group(1)}"
    match = _ACR_ENTERPRISE.fullmatch(registry)
    if match:
        return f"acr-ee:{match.group(1)}.{match.group(2)}"
    return registry


def _split_domain(name: str) -> tuple[str, str]:
    """Split registry from path: a first component with '.' or ':' or 'localhost' is a registry."""
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return DOCKER_HUB, name


def parse_image(text: str) -> ImageRef:
    """Parse an image reference with the Docker grammar; ImageRefError when it does not follow it."""
    if not isinstance(text, str):
        raise ImageRefError(f"an image reference must be a string, not {type(text).__name__}")
    return _parse_cached(text)


@lru_cache(maxsize=65536)
def _parse_cached(text: str) -> ImageRef:
    ref = text.strip()
    if not ref:
        raise ImageRefError("empty image reference")
    if any(ch.isspace() for ch in ref):
        raise ImageRefError(f"image reference {text!r} contains white space")
    name, at, digest = ref.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        raise ImageRefError(f"image reference {text!r} has an invalid digest {digest!r}")
    tag = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise ImageRefError(f"image reference {text!r} has an invalid tag {tag!r}")
    registry, path = _split_domain(name)
    if registry != DOCKER_HUB and not _DOMAIN.fullmatch(registry):
        raise ImageRefError(f"image reference {text!r} has an invalid registry {registry!r}")
    if not path:
        raise ImageRefError(f"image reference {text!r} has no repository")
    for component in path.split("/"):
        if not _PATH_COMPONENT.fullmatch(component):
            hint = " (repository names must be lowercase)" if component.lower() != component else ""
            raise ImageRefError(f"image reference {text!r} has an invalid repository component {component!r}{hint}")
    if len(path) + len(registry) + 1 > MAX_NAME_LENGTH:
        raise ImageRefError(f"image reference {text[:40]!r}... is longer than {MAX_NAME_LENGTH} characters")
    registry = registry.lower()
    if registry in DOCKER_HUB_ALIASES:
        registry = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    if at:
        tag = None
    elif tag is None:
        tag = "latest"
    return ImageRef(registry, path, tag, digest if at else None)


def normalise_image(text: str) -> str:
    """The canonical text of an image reference; ImageRefError when it does not parse."""
    return parse_image(text).normalised


def compare_images(a: ImageRef, b: ImageRef) -> str | None:
    """How b matches a: 'exact', 'tag' (same repository, other tag), 'endpoint' (other ACR endpoint)."""
    if a.normalised == b.normalised:
        return "exact"
    if a.repo_key == b.repo_key:
        return "tag"
    if a.family_key == b.family_key:
        return "endpoint"
    return None
