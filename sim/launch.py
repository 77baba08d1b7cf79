"""Start `imc sim` in its own process and wait until it answers (for tests and the dashboard)."""

from __future__ import annotations

import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sim.fleet import FLEET, FLEET_CONTEXTS, FLEET_VIEWER_CONTEXTS, cluster_state_dir

__all__ = ["FLEET_CONTEXTS", "FLEET_VIEWER_CONTEXTS", "READY_LINE", "SimProcess", "SimStartError", "start_sim"]

READY_LINE = re.compile(r"imc sim: serving (https://\S+) \(kubeconfig (.+)\)")
CLUSTER_LINE = re.compile(r"imc sim: context (\S+) serves (https://\S+)")  # a fleet's other clusters, before READY_LINE
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SimStartError(RuntimeError):
    """The built-in cluster did not come up."""


@dataclass
class SimProcess:
    """A running `imc sim`: where it serves, its kubeconfig, and how to stop it."""

    kubeconfig: str
    server: str
    process: subprocess.Popen
    state_dir: str
    output: list[str] = field(default_factory=list)
    servers: dict[str, str] = field(default_factory=dict)  # each cluster's context and where it serves

    def terminate(self) -> None:
        """SIGTERM the process group without waiting for it to end (stop() waits)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the process group, SIGKILL if it lingers; returns the exit code."""
        if self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        return self.process.returncode

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _drain(stream, lines: list[str], ready: threading.Event) -> None:
    """Read the child's stdout to the end, noting lines, so its pipe never fills."""
    for line in stream:
        lines.append(line.rstrip("\n"))
        if READY_LINE.search(line):
            ready.set()
    ready.set()


def _answers_version(server: str, ca_file: str) -> bool:
    """Whether GET /version answers 200 over TLS verified with the sim's CA."""
    context = ssl.create_default_context(cafile=ca_file)
    try:
        with urllib.request.urlopen(f"{server}/version", context=context, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def start_sim(
    scenario: str = "demo",
    state_dir: str | os.PathLike | None = None,
    port: int = 0,
    extra_args: Sequence[str] = (),
    timeout: float = 30.0,
    clusters: int = 1,
) -> SimProcess:
    """Run `python -m sim` in its own process group and wait until it serves; raises SimStartError.

    `clusters=2` starts the demo fleet in that one process (`imc sim --clusters 2`): its kubeconfig has the contexts
    FLEET_CONTEXTS (`sim`, `sim-beijing`) and FLEET_VIEWER_CONTEXTS, and `servers` names each cluster's URL.

    The server's log goes to STATE_DIR/sim.log. It stops by itself once this process is gone (`--stop-with-parent`),
    its state written, so a killed dashboard leaves no demo holding the state dir.
    """
    if state_dir is None:
        from sim.command import default_state_dir

        state_dir = default_state_dir()
    state_dir = Path(state_dir).expanduser().resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "sim", "--scenario", scenario, "--state-dir", str(state_dir),
               "--port", str(port), "--stop-with-parent", *extra_args]
    if clusters != 1:
        command += ["--clusters", str(clusters)]
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), environment.get("PYTHONPATH")]))
    environment["PYTHONUNBUFFERED"] = "1"
    log_path = state_dir / "sim.log"
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log_file, text=True, env=environment,
                                   start_new_session=True)
    lines: list[str] = []
    ready = threading.Event()
    threading.Thread(target=_drain, args=(process.stdout, lines, ready), daemon=True).start()
    deadline = time.monotonic() + timeout
    ready.wait(timeout)
    match = next((m for m in map(READY_LINE.search, lines) if m), None)

    def fail(reason: str) -> SimStartError:
        handle = SimProcess("", "", process, str(state_dir), lines)
        handle.stop()
        return SimStartError(f"imc sim {reason}; output: {' | '.join(lines)}; log ({log_path}): "
                             f"{log_path.read_text(errors='replace')[-2000:]}")

    if match is None:
        raise fail("did not print its serving line in time" if process.poll() is None else "exited")
    server, kubeconfig = match.group(1), match.group(2)
    servers = {FLEET_CONTEXTS[0]: server}
    servers.update(m.groups() for m in map(CLUSTER_LINE.search, lines) if m)
    for context, url in servers.items():
        ca_file = str(cluster_state_dir(state_dir, FLEET[FLEET_CONTEXTS.index(context)]) / "ca.crt")
        while not _answers_version(url, ca_file):
            if time.monotonic() > deadline or process.poll() is not None:
                raise fail(f"did not answer {url}/version")
            time.sleep(0.05)
    return SimProcess(kubeconfig, server, process, str(state_dir), lines, servers)
