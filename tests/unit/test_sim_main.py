"""`imc sim` options (pure argument parsing)."""

from __future__ import annotations

import argparse

import pytest

from sim.apiserver.object_api import DEFAULT_MAX_PODS
from sim.command import add_arguments, default_state_dir, pod_quota


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_defaults():
    args = parse()
    assert (args.host, args.port, args.scenario, args.speed, args.drop_watch_every, args.history) == (
        "127.0.0.1", 0, None, 1.0, (0, 0.0), 100_000)
    assert args.state_dir is None and args.kubeconfig is None and not args.reset


def test_drop_watch_every_takes_events_or_seconds():
    assert parse("--drop-watch-every", "3").drop_watch_every == (3, 0.0)
    assert parse("--drop-watch-every", "2.5s").drop_watch_every == (0, 2.5)


def test_the_state_dir_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_state_dir() == tmp_path / "imc" / "sim"


@pytest.mark.parametrize("argv", [
    ("--speed", "0"), ("--speed", "-2"), ("--history", "0"), ("--port", "-1"), ("--drop-watch-every", "-3"), ("--drop-watch-every", "0s"),
    ("--scenario", "huge"), ("--pods", "many"),
])
def test_bad_options_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse(*argv)
    assert exit_info.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_scale_options():
    args = parse("--scenario", "scale", "--pods", "50", "--caches", "5", "--speed", "2.5", "--seed", "3")
    assert (args.pods, args.caches, args.speed, args.seed) == (50, 5, 2.5, 3)


def test_a_scale_scenario_of_many_pods_gets_a_quota_with_room_for_more():
    assert pod_quota("scale", 50_000, None) == 100_000
    assert pod_quota("scale", 10_000, None) == DEFAULT_MAX_PODS
    assert pod_quota("demo", 50_000, None) == DEFAULT_MAX_PODS


def test_a_quota_given_is_kept_even_below_the_scale_scenarios_pods():
    assert pod_quota("scale", 50_000, 30_000) == 30_000
