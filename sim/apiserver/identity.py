"""The server's identity kept in the state dir: a CA, the serving certificate, bearer tokens; the kubeconfig."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

ADMIN_USER = "sim-admin"
VIEWER_USER = "sim-viewer"
SERVING_NAMES = ("localhost",)
SERVING_IPS = ("127.0.0.1",)


@dataclass(frozen=True)
class Identity:
    """Paths of the TLS material and the tokens of the two users."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    admin_token: str
    viewer_token: str

    def user_of(self, token: str) -> str | None:
        """The user a bearer token belongs to, or None (any text: compared as bytes)."""
        given = token.encode("utf-8", "surrogateescape")
        if secrets.compare_digest(given, self.admin_token.encode()):
            return ADMIN_USER
        if secrets.compare_digest(given, self.viewer_token.encode()):
            return VIEWER_USER
        return None


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _new_key():
    """A fresh P-256 private key."""
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _make_ca(state_dir: Path) -> None:
    """Generate the CA certificate and key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "imc-sim-ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    _write_private(state_dir / "ca.key", _key_pem(key))
    (state_dir / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _serving_cert_covers(path: Path, hosts: tuple[str, ...]) -> bool:
    """Whether an existing serving certificate names every host and is still valid."""
    from cryptography import x509

    if not path.exists():
        return False
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    if cert.not_valid_after_utc < dt.datetime.now(dt.UTC) + dt.timedelta(days=1):
        return False
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = {str(v) for v in san.get_values_for_type(x509.IPAddress)} | set(san.get_values_for_type(x509.DNSName))
    return all(host in names for host in hosts)


def _make_serving_cert(state_dir: Path, hosts: tuple[str, ...]) -> None:
    """Issue the serving certificate for the given hosts from the CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_key = serialization.load_pem_private_key((state_dir / "ca.key").read_bytes(), None)
    ca_cert = x509.load_pem_x509_certificate((state_dir / "ca.crt").read_bytes())
    key = _new_key()
    alt_names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "imc-sim")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(state_dir / "server.key", _key_pem(key))
    (state_dir / "server.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def serving_hosts(host: str) -> tuple[str, ...]:
    """Names the serving certificate must carry for a listen address."""
    extra = () if host in ("0.0.0.0", "::", "") else (host,)
    return tuple(dict.fromkeys(SERVING_IPS + SERVING_NAMES + extra))


def load_identity(state_dir: Path, host: str = "127.0.0.1") -> Identity:
    """Load the identity kept in the state dir, creating whatever is missing (first start)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    if not (state_dir / "ca.crt").exists() or not (state_dir / "ca.key").exists():
        _make_ca(state_dir)
        (state_dir / "server.crt").unlink(missing_ok=True)
    hosts = serving_hosts(host)
    if not _serving_cert_covers(state_dir / "server.crt", hosts) or not (state_dir / "server.key").exists():
        _make_serving_cert(state_dir, hosts)
    tokens_path = state_dir / "tokens.json"
    tokens = json.loads(tokens_path.read_text()) if tokens_path.exists() else {}
    if not tokens.get("admin") or not tokens.get("viewer"):
        tokens = {"admin": secrets.token_urlsafe(32), "viewer": secrets.token_urlsafe(32)}
        _write_private(tokens_path, json.dumps(tokens).encode())
    return Identity(
        state_dir / "ca.crt", state_dir / "server.crt", state_dir / "server.key", tokens["admin"], tokens["viewer"]
    )


def client_host(host: str) -> str:
    """The address clients use for a listen address (wildcards become loopback)."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class KubeconfigCluster:
    """One served cluster as a kubeconfig names it: its admin context (the viewer's is `<context>-viewer`)."""

    context: str
    server: str
    identity: Identity


def kubeconfig_document(clusters: list[KubeconfigCluster]) -> dict:
    """The kubeconfig of served clusters: per cluster an admin context and a read-only `-viewer` one; the first
    cluster's users are `sim-admin` and `sim-viewer`, another's are prefixed with its context; the first is current."""
    document: dict = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    for number, cluster in enumerate(clusters):
        admin, viewer = (ADMIN_USER, VIEWER_USER) if number == 0 else (f"{cluster.context}-admin",
                                                                         f"{cluster.context}-viewer")
        ca_data = base64.b64encode(cluster.identity.ca_cert.read_bytes()).decode()
        document["clusters"].append({"name": cluster.context,
                                     "cluster": {"server": cluster.server, "certificate-authority-data": ca_data}})
        document["users"] += [{"name": admin, "user": {"token": cluster.identity.admin_token}},
                              {"name": viewer, "user": {"token": cluster.identity.viewer_token}}]
        document["contexts"] += [
            {"name": cluster.context, "context": {"cluster": cluster.context, "user": admin, "namespace": "default"}},
            {"name": f"{cluster.context}-viewer",
             "context": {"cluster": cluster.context, "user": viewer, "namespace": "default"}},
        ]
    document["current-context"] = clusters[0].context
    document["preferences"] = {}
    return document


def write_kubeconfig(path: Path, server: str, identity: Identity, more: tuple[KubeconfigCluster, ...] = ()) -> None:
    """Write the kubeconfig with contexts `sim` (admin, current) and `sim-viewer` (read-only), and those of `more`
    clusters (a fleet's)."""
    config = kubeconfig_document([KubeconfigCluster("sim", server, identity), *more])
    temporary = path.with_name(path.name + ".tmp")
    _write_private(temporary, yaml.safe_dump(config, sort_keys=False).encode())
    os.replace(temporary, path)
