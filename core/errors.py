"""The project's own error types: every bad input surfaces as one of these."""


class ImcError(ValueError):
    """Base of every error imc raises on bad input."""


class ImageRefError(ImcError):
    """An image reference that does not follow the Docker reference grammar."""


class ManifestError(ImcError):
    """A manifest that cannot be read as Kubernetes objects."""


class ManifestTooLarge(ManifestError):
    """A manifest past a size limit: its text, or what its documents expand to once YAML aliases are resolved."""
