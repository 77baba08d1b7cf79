"""The waiting helpers the tests and the benchmarks share (bench/waits.py)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from bench.waits import (
    HEADLESS_SHELL,
    ROOT,
    SLOWDOWN_VARIABLE,
    chromium_binary,
    free_port,
    healthy,
    poll,
    scaled,
    slowdown,
)


def test_the_browser_is_the_headless_shell_where_installed_else_chromium_unless_one_is_named():
    assert chromium_binary({}, shell_installed=True) == HEADLESS_SHELL
    assert chromium_binary({}, shell_installed=False) == "/usr/bin/chromium"
    assert chromium_binary({"IMC_CHROMIUM": "/opt/c/chrome"}, shell_installed=True) == "/opt/c/chrome"


def test_poll_pauses_longer_between_tries_as_a_wait_goes_on_up_to_its_longest_pause():
    tries: list[float] = []
    with pytest.raises(TimeoutError):
        poll(lambda: tries.append(time.monotonic()), timeout=0.6, message="never", interval=0.01, max_interval=0.2)
    # pauses of 0.01, 0.015, 0.0225 ... then 0.2 s (a sleep never ends early): at most 10 tries fit in 0.6 s, where a
    # steady 0.01 s would make about 60, and a pause reaches 0.1 s before the end
    gaps = [round(later - earlier, 3) for earlier, later in zip(tries, tries[1:], strict=False)]
    assert 3 <= len(tries) <= 10, gaps
    assert max(gaps) >= 0.1, gaps


def test_poll_returns_the_first_truthy_value():
    values = iter([None, 0, "", "ready"])
    assert poll(lambda: next(values), timeout=5, interval=0) == "ready"


def test_poll_gives_up_with_the_message():
    with pytest.raises(TimeoutError, match="waiting for the impossible"):
        poll(lambda: False, timeout=0.1, message="the impossible", interval=0.01)


def test_poll_says_what_it_last_saw():
    seen = iter([["a"], [], ["a", "b"]] + [["a", "b", "c"]] * 1000)
    with pytest.raises(TimeoutError, match=r"waiting for four pods; last saw \['a', 'b', 'c'\]"):
        poll(lambda: next(seen), timeout=0.2, message="four pods", interval=0.01, until=lambda pods: len(pods) == 4)
    with pytest.raises(TimeoutError, match="waiting for a pod; last saw None"):
        poll(lambda: None, timeout=0.05, message="a pod", interval=0.01)


def test_poll_returns_the_value_that_passed_until():
    values = iter([0, 1, 2, 3])
    assert poll(lambda: next(values), timeout=5, interval=0, until=lambda n: n >= 2) == 2


def test_the_slowdown_stretches_every_wait(monkeypatch):
    monkeypatch.setenv(SLOWDOWN_VARIABLE, "3")
    assert scaled(2) == 6
    with pytest.raises(TimeoutError, match="timed out after 0.3s waiting for nothing"):
        poll(lambda: False, timeout=0.1, message="nothing", interval=0.01)
    monkeypatch.delenv(SLOWDOWN_VARIABLE)
    assert scaled(2) == 2


@pytest.mark.parametrize("text", ["fast", "0", "-2", "nan", "inf"])
def test_a_slowdown_that_is_not_a_positive_number_is_one_clear_error(text):
    with pytest.raises(ValueError, match=f"{SLOWDOWN_VARIABLE} must be"):
        slowdown({SLOWDOWN_VARIABLE: text})


def test_a_free_port_can_be_listened_on_and_nothing_there_is_healthy():
    port = free_port()
    assert not healthy(f"http://127.0.0.1:{port}")
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
        server.listen()


def test_the_benchmark_modules_load_no_pytest():
    code = ("import sys, bench.harness, bench.waits, bench.bench_browser, bench.bench_dashboard, bench.bench_memory\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pytest', '_pytest')))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
