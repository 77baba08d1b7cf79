"""The built-in registry catalog: which images exist and how big they are."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from core.errors import ImcError
from core.images import parse_image

# Compressed sizes in MiB of the images the demo uses (close to the real ones).
KNOWN_SIZES_MIB = {
    "nginx": 70,
    "busybox": 2,
    "redis": 45,
    "python": 50,
    "postgres": 150,
    "golang": 300,
    "node": 400,
    "eclipse-temurin": 190,
    "pytorch/pytorch": 3200,
    "tensorflow/tensorflow": 2100,
    "eci_open/nginx": 45,
    "eci_open/busybox": 1,
    "alpine": 4,
    "ubuntu": 30,
}
MISSING_TAG = "does-not-exist"
INVALID_SUFFIX = ".invalid"


@dataclass(frozen=True)
class CatalogImage:
    """What the registry says about one image reference."""

    reference: str
    size_mib: int = 0
    reason: str = ""  # why the registry does not have it; "" when it does

    @property
    def exists(self) -> bool:
        """The registry has the image."""
        return not self.reason


def look_up(reference: str) -> CatalogImage:
    """An image as the built-in registry knows it: unknown registries (`*.invalid`) and tag `does-not-exist` fail."""
    try:
        ref = parse_image(reference)
    except ImcError as exc:
        return CatalogImage(reference, reason=f"invalid reference: {exc}")
    if ref.registry.split(":")[0].endswith(INVALID_SUFFIX):
        return CatalogImage(reference, reason=f"registry {ref.registry} cannot be resolved")
    if ref.tag == MISSING_TAG:
        return CatalogImage(reference, reason=f"manifest for {ref.familiar} not found: manifest unknown")
    short = ref.repository.removeprefix("library/")
    size = KNOWN_SIZES_MIB.get(short) or KNOWN_SIZES_MIB.get(short.rsplit("/", 1)[-1])
    if size is None:
        digest = hashlib.sha256(ref.normalised.encode()).digest()
        size = 20 + int.from_bytes(digest[:2], "big") % 480
    return CatalogImage(reference, size)
