"""Waiting on a server and a page, and starting the dashboard to wait on: shared by the tests and the benchmarks.

Plain Python, no pytest, so that a benchmarked process loads nothing of the test framework.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.findings import brief

ROOT = Path(__file__).resolve().parent.parent
HEADLESS_SHELL = "/usr/bin/chromium-headless-shell"  # Debian's build of Chromium's headless shell


def chromium_binary(environ: Mapping[str, str] = os.environ, shell_installed: bool | None = None) -> str:
    """IMC_CHROMIUM, else Chromium's headless shell where installed (what Playwright itself runs headless), else chromium.

    The shell is the same Blink without the desktop browser around it: the e2e layer took 315 CPU-s with it against
    400 with /usr/bin/chromium (tests/README.md)."""
    if environ.get("IMC_CHROMIUM"):
        return environ["IMC_CHROMIUM"]
    installed = Path(HEADLESS_SHELL).exists() if shell_installed is None else shell_installed
    return HEADLESS_SHELL if installed else "/usr/bin/chromium"


CHROMIUM = chromium_binary()
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SLOWDOWN_VARIABLE = "IMC_TEST_SLOWDOWN"
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"  # a Streamlit page whose script finished


def slowdown(environ: Mapping[str, str] = os.environ) -> float:
    """The factor every wait's timeout is multiplied by: IMC_TEST_SLOWDOWN (default 1) for a slow machine."""
    text = environ.get(SLOWDOWN_VARIABLE, "").strip()
    try:
        factor = float(text) if text else 1.0
    except ValueError:
        raise ValueError(f"{SLOWDOWN_VARIABLE} must be a number such as 2, not {text!r}") from None
    if not 0 < factor < float("inf"):
        raise ValueError(f"{SLOWDOWN_VARIABLE} must be above 0, not {text!r}")
    return factor


def scaled(seconds: float) -> float:
    """A timeout in seconds, stretched by IMC_TEST_SLOWDOWN."""
    return seconds * slowdown()


POLL_BACKOFF = 1.5  # each pause between tries this much longer than the last, up to `max_interval`


def poll(predicate: Callable[[], Any], timeout: float = 15.0, message: str = "", interval: float = 0.05,
         until: Callable[[Any], Any] = bool, max_interval: float = 0.5) -> Any:
    """Call `predicate` until `until` holds for what it returns (by default: until it is truthy) and return that;
    after `timeout` seconds (times IMC_TEST_SLOWDOWN) a TimeoutError naming what was waited for and what `predicate`
    last returned. Read a value and pass the test as `until` (`poll(count_pods, until=lambda n: n == 4)`) for a
    failure that shows the value.

    The pauses grow from `interval` to `max_interval`: a condition that holds soon is seen within 50 ms, and a long
    wait does not run kubectl, a list or a page query twenty times a second (CPU the suite's other tests need)."""
    limit = scaled(timeout)
    deadline = time.monotonic() + limit
    pause, longest = interval, max(interval, max_interval)
    while True:
        value = predicate()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {limit:g}s waiting for {message or predicate}; last saw {brief(value)}")
        time.sleep(pause)
        pause = min(pause * POLL_BACKOFF, longest)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def healthy(url: str) -> bool:
    """True once Streamlit's health endpoint answers ok."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().strip() == b"ok"
    except OSError:
        return False


@dataclass
class Dashboard:
    """A running `streamlit run app.py`: its base URL, process and log; a context manager that stops it."""

    url: str
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        """Stop the server (and the watcher threads inside it)."""
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def __enter__(self) -> Dashboard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


STREAMLIT_RUN = ("-m", "streamlit", "run", "app.py")
IMC_DASHBOARD = ("cli.py", "dashboard")  # `imc dashboard`: sign-in (IMC_OIDC_*) checked, then streamlit run app.py


def start_dashboard(kubeconfig: str, log: Path, launcher: tuple[str, ...] = STREAMLIT_RUN, port: int | None = None,
                    **env: str) -> Dashboard:
    """The dashboard against a kubeconfig on a free port (or this one), once healthy; RuntimeError when it exits
    first. `launcher`: how python starts it.

    Its history lives beside the log and /metrics is off unless `env` says otherwise (never ~/.cache/imc or port
    9108); read-only only when `env` asks for it.
    """
    port = port or free_port()
    quiet = {"IMC_HISTORY_PATH": str(log.parent / "history.sqlite3"), "IMC_METRICS_PORT": "0"}
    environment = {**os.environ, "KUBECONFIG": kubeconfig, **quiet, **env}
    if "IMC_READ_ONLY" not in env:
        environment.pop("IMC_READ_ONLY", None)
    command = [sys.executable, *launcher, "--server.headless", "true", "--server.port",
               str(port), "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    with log.open("w") as handle:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=handle, stderr=subprocess.STDOUT)
    dashboard = Dashboard(f"http://127.0.0.1:{port}", process, log)
    try:
        poll(lambda: healthy(dashboard.url) or process.poll() is not None, 60, "the dashboard's /_stcore/health")
    except TimeoutError:
        dashboard.stop()
        raise
    if process.poll() is not None:
        raise RuntimeError(f"streamlit exited {process.returncode}: {log.read_text()[-2000:]}")
    return dashboard
