"""Shared fixtures of the integration tests: a running `imc sim` and clients pointed at it.

- `start_sim_factory(scenario="empty", extra_args=(), timeout=30)` starts another sim (own state dir),
  stopped at the end of the session.
- `sim_server`: one session-wide sim, scenario "empty", `--speed 20` so cache builds and pod starts
  take well under a second. Tests share it: create your own namespace (`namespace` fixture) and
  use image names no other test uses.
- `scale_sim`: one session-wide sim of the scale scenario, for tests that only read it (mark them
  `@pytest.mark.xdist_group("scale")`).
- `api_client` / `viewer_api_client`: official-client ApiClients for the contexts `sim` and `sim-viewer`.
- `kubectl(*args, context=None, timeout=30, check=True)`: runs kubectl against `sim_server`; `kubectl_of(sim,
  cache_dir)` the same against another sim.
- `wait_until(predicate, timeout=15, message="")`: `bench.waits.poll`, polls until `predicate()` is truthy, returns
  its value (TimeoutError after `timeout` s times IMC_TEST_SLOWDOWN, naming `message` and the last value seen).

Every timeout here is stretched by IMC_TEST_SLOWDOWN (`bench.waits.scaled`); tests/README.md says how to stay
parallel-safe under pytest-xdist.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Callable

import pytest

from bench.waits import poll, scaled
from sim.launch import SimProcess, start_sim

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
TEST_SPEED = "20"


def run_kubectl(sim: SimProcess, *args: str, context: str | None = None, timeout: float = 30,
                check: bool = True, input_text: str | None = None, cache_dir: str | None = None
                ) -> subprocess.CompletedProcess:
    """kubectl against a sim; fails the test on a non-zero exit when `check`."""
    command = [KUBECTL, "--kubeconfig", sim.kubeconfig, "--request-timeout", "20s"]
    if cache_dir:
        command += ["--cache-dir", cache_dir]
    if context:
        command += ["--context", context]
    result = subprocess.run(command + list(args), capture_output=True, text=True, timeout=scaled(timeout),
                            input=input_text)
    if check and result.returncode != 0:
        pytest.fail(f"kubectl {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result


def new_api_client(sim: SimProcess, context: str = "sim"):
    """An official-client ApiClient for one context of a sim's kubeconfig (no global config)."""
    from kubernetes import config

    return config.new_client_from_config(config_file=sim.kubeconfig, context=context)


def raw_list(api_client, path: str, query: list[tuple[str, str]]) -> dict:
    """A list through the official client's transport, parsed with orjson (kubectl takes seconds per 10,000 pods)."""
    import orjson

    method, url, headers, body, post = api_client.param_serialize(
        "GET", path, query_params=query, header_params={"Accept": "application/json"}, auth_settings=["BearerToken"])
    return orjson.loads(api_client.call_api(method, url, headers, body, post, _request_timeout=scaled(60)).read())


@pytest.fixture(scope="session")
def start_sim_factory(tmp_path_factory):
    """Start extra sims with custom arguments; all are stopped at the end of the session."""
    started: list[SimProcess] = []

    def factory(scenario: str = "empty", extra_args: tuple[str, ...] | list[str] = (), timeout: float = 30,
                state_dir=None) -> SimProcess:
        directory = state_dir or tmp_path_factory.mktemp("sim-state")
        process = start_sim(scenario=scenario, state_dir=directory, extra_args=tuple(extra_args),
                            timeout=scaled(timeout))
        started.append(process)
        return process

    yield factory
    for process in started:
        process.terminate()  # all at once: each writes its state and exits while the others do (one by one took seconds)
    for process in started:
        process.stop()


@pytest.fixture(scope="session")
def sim_server(start_sim_factory) -> SimProcess:
    """The session's shared sim: scenario "empty", fast transitions."""
    return start_sim_factory("empty", ("--speed", TEST_SPEED))


@pytest.fixture(scope="session")
def scale_sim(start_sim_factory) -> SimProcess:
    """The scale scenario (10,000 pods, 1,000 caches), read-only: its tests share it, in one xdist group ("scale")
    so that it starts once."""
    return start_sim_factory("scale", timeout=120)


@pytest.fixture(scope="session")
def kubectl_cache_dir(tmp_path_factory) -> str:
    """A discovery cache of our own, so tests never read or write ~/.kube/cache."""
    return str(tmp_path_factory.mktemp("kubectl-cache"))


def kubectl_of(sim: SimProcess, cache_dir: str) -> Callable[..., subprocess.CompletedProcess]:
    """`run_kubectl` bound to one sim and a discovery cache (a call may still name another cache)."""

    def call(*args: str, **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault("cache_dir", cache_dir)
        return run_kubectl(sim, *args, **kwargs)

    return call


@pytest.fixture
def kubectl(sim_server, kubectl_cache_dir):
    """Run kubectl against the shared sim."""
    return kubectl_of(sim_server, kubectl_cache_dir)


@pytest.fixture
def wait_until():
    """The `poll` helper as a fixture."""
    return poll


@pytest.fixture(scope="session")
def api_client(sim_server):
    """ApiClient of the admin context `sim`."""
    client = new_api_client(sim_server, "sim")
    yield client
    client.close()


@pytest.fixture(scope="session")
def viewer_api_client(sim_server):
    """ApiClient of the read-only context `sim-viewer`."""
    client = new_api_client(sim_server, "sim-viewer")
    yield client
    client.close()


@pytest.fixture
def namespace(api_client) -> str:
    """A fresh namespace of the shared sim, deleted afterwards."""
    from kubernetes import client

    name = f"t-{uuid.uuid4().hex[:10]}"
    core = client.CoreV1Api(api_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)
