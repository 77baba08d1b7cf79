"""connect() and find_kubeconfig(): clear messages naming path, context and server (no cluster needed)."""

from __future__ import annotations

import pytest
import yaml

from kube.connect import ConfigSource, ConnectError, connect, find_kubeconfig


def write_kubeconfig(path, server="https://127.0.0.1:9", current="dev", contexts=("dev",)) -> str:
    """A kubeconfig with token users, one cluster and these contexts."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": name, "context": {"cluster": "c", "user": "u"}} for name in contexts],
        "current-context": current,
    }
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConnectError, match=r"kubeconfig .*nope does not exist"):
        connect(kubeconfig=str(tmp_path / "nope"))


def test_unparsable_file(tmp_path):
    bad = tmp_path / "config"
    bad.write_text("clusters: [unclosed\n")
    with pytest.raises(ConnectError, match=f"kubeconfig {bad} cannot be read"):
        connect(kubeconfig=str(bad))
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConnectError, match="not a kubeconfig"):
        connect(kubeconfig=str(bad))


def test_unknown_context_lists_the_known_ones(tmp_path, monkeypatch):
    monkeypatch.delenv("IMC_CONTEXT", raising=False)
    path = write_kubeconfig(tmp_path / "config", contexts=("dev", "prod"))
    with pytest.raises(ConnectError, match=r"has no context 'staging'; it has: dev, prod"):
        connect(kubeconfig=path, context="staging")
    monkeypatch.setenv("IMC_CONTEXT", "qa")
    with pytest.raises(ConnectError, match=r"has no context 'qa'"):
        connect(kubeconfig=path)


def test_no_current_context(tmp_path, monkeypatch):
    monkeypatch.delenv("IMC_CONTEXT", raising=False)
    path = write_kubeconfig(tmp_path / "config", current="")
    with pytest.raises(ConnectError, match="no current-context; pick one of: dev"):
        connect(kubeconfig=path)


def test_unreachable_server_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("IMC_CONTEXT", raising=False)
    path = write_kubeconfig(tmp_path / "config")
    with pytest.raises(ConnectError) as info:
        connect(kubeconfig=path)
    message = str(info.value)
    assert message.startswith("cannot reach https://127.0.0.1:9 (kubeconfig ")
    assert "context 'dev'" in message and path in message


def test_unprobed_connection_has_its_own_client(tmp_path, monkeypatch):
    monkeypatch.delenv("IMC_CONTEXT", raising=False)
    path = write_kubeconfig(tmp_path / "config", contexts=("dev", "prod"))
    dev = connect(kubeconfig=path, probe=False)
    prod = connect(kubeconfig=path, context="prod", probe=False)
    assert (dev.context, prod.context, dev.server, dev.user) == ("dev", "prod", "https://127.0.0.1:9", "u")
    assert dev.api_client.configuration is not prod.api_client.configuration
    assert not dev.in_cluster


def test_find_kubeconfig(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    assert find_kubeconfig() is None
    (tmp_path / ".kube").mkdir()
    default = write_kubeconfig(tmp_path / ".kube" / "config")
    assert find_kubeconfig() == ConfigSource("kubeconfig", default)
    other = write_kubeconfig(tmp_path / "other")
    monkeypatch.setenv("KUBECONFIG", other)
    assert find_kubeconfig() == ConfigSource("kubeconfig", other)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    assert find_kubeconfig() == ConfigSource("kubeconfig", str(tmp_path / "missing"))
