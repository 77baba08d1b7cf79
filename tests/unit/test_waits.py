"""The waiting helpers the tests and the benchmarks share (bench/waits.py)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from bench.waits import ROOT, free_port, healthy, poll


def test_poll_returns_the_first_truthy_value():
    values = iter([None, 0, "", "ready"])
    assert poll(lambda: next(values), timeout=5, interval=0) == "ready"


def test_poll_gives_up_with_the_message():
    with pytest.raises(TimeoutError, match="waiting for the impossible"):
        poll(lambda: False, timeout=0.1, message="the impossible", interval=0.01)


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
