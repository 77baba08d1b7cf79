"""Pages with a ledger in AppTest: points from the file; a damaged or locked file, or a taken port, as a badge."""

from __future__ import annotations

import socket
import sqlite3
import time

import pytest

from core import render
from dashboard import shown_cluster
from dashboard.shown_cluster import ShownCluster
from kube import report
from kube.access import AccessChecker
from kube.ledger import Ledger, LedgerWriter
from kube.ledger_rows import Batch
from kube.live import Live
from kube.watch import ClusterWatcher
from tests.unit.test_dashboard_pages import no_exception, page_script, texts
from tests.unit.test_dashboard_views import demo_store
from tests.unit.test_figures import ROWS, T
from tests.unit.test_kube_metrics import scrape, total

OUTCOMES = ("hit", "miss", "fail", "off")


@pytest.fixture
def show(monkeypatch):
    """Inject the demo store with a given ledger as the cluster the pages show; metrics off unless a test says."""
    monkeypatch.setenv("IMC_READ_ONLY", "1")
    monkeypatch.setenv("IMC_METRICS_PORT", "0")

    def injected(ledger: Ledger | None, writer: bool = False) -> ShownCluster:
        store = demo_store()
        ledger_writer = LedgerWriter(store, ledger, "test") if writer and ledger is not None else None
        live = Live("test", store, ClusterWatcher(None, store), ledger, ledger_writer)
        shown = ShownCluster(store=store, context="test", server="https://test", source="test", access=AccessChecker(None),
                        live=live)
        shown_cluster.inject(shown)
        return shown

    yield injected
    shown_cluster.inject(None)
    shown_cluster.metrics_endpoint.clear()


def test_the_chart_reads_the_history_file(show, tmp_path):
    shown = show(Ledger(tmp_path / "h.db"))
    LedgerWriter(shown.store, shown.live.ledger, "test").flush()
    at = page_script("overview").run()
    no_exception(at)
    assert "From the history file" in texts(at)
    assert "History not saved" not in texts(at)


def test_a_damaged_history_file_is_a_badge_and_the_page_still_draws(show, tmp_path):
    path = tmp_path / "h.db"
    path.write_bytes(b"garbage, not SQLite" * 200)
    show(Ledger(path))
    at = page_script("overview").run()
    no_exception(at)
    assert "History not saved" in texts(at)
    assert "Pods seen since the dashboard started" in texts(at)
    assert {m.label: m.value for m in at.metric}["ECI pods"] == "7"  # the live view is untouched


def test_a_taken_metrics_port_is_a_badge_not_a_crash(show, monkeypatch, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setenv("IMC_METRICS_ADDRESS", "127.0.0.1")
        monkeypatch.setenv("IMC_METRICS_PORT", str(taken.getsockname()[1]))
        shown_cluster.metrics_endpoint.clear()
        show(Ledger(tmp_path / "h.db"))
        at = page_script("overview").run()
    no_exception(at)
    assert "Metrics off" in texts(at)


@pytest.mark.parametrize("module", ["overview", "pods", "caches", "preview", "create_cache", "patch_deployment"])
def test_every_page_says_how_far_behind_history_is_while_the_file_is_locked(show, tmp_path, module):
    path = tmp_path / "h.db"
    shown = show(Ledger(path), writer=True)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process writing: imc cannot
    try:
        assert shown.live.writer.flush() is False
        behind = shown.live.writer.behind
        assert behind > 7  # the demo's 7 ECI pods and its caches, queued in memory
        at = page_script(module).run()
    finally:
        other.execute("COMMIT")
        other.close()
    no_exception(at)
    assert f"History behind by {behind} changes" in texts(at)


def test_the_overview_figures_say_their_window_and_n_and_agree_with_imc_report(show, tmp_path):
    now = time.time()
    rows = [row._replace(cluster="test", created=now - (T - row.created) if row.created else None) for row in ROWS]
    ledger = Ledger(tmp_path / "h.db")
    assert ledger.store("test", Batch(pods=rows), now)
    shown = show(ledger)
    at = page_script("overview").run()
    no_exception(at)
    tiles = {m.label: m for m in at.metric}
    assert "**Last 24 h**: pods created in the last 24 h, from the history file" in texts(at)
    assert (tiles["Hit start p50"].delta, tiles["Miss start p90"].delta) == ("of 4 hits", "of 2 misses")
    assert tiles["Pull time saved"].delta == "over 3 hits"
    assert "1 hit paid more pulling than the same images take on misses and was counted as saving 0 s" in texts(at)
    figures = report.report_figures(shown.store.snapshot(), "24 h", time.time(), ledger, "test")
    said = "\n".join(render.figures_text(figures))
    shown_values = {label: tiles[label].value for label in ("Pods decided", "Cache hit rate", "Hit start p50",
                                                             "Hit start p90", "Miss start p50",
                                                             "Miss start p90", "Pull time saved")}
    assert shown_values == {
        "Pods decided": "8", "Cache hit rate": "57%", "Hit start p50": "3.9 s", "Hit start p90": "22.4 s",
        "Miss start p50": "27.2 s", "Miss start p90": "37.5 s", "Pull time saved": "38 s"}
    scraped = scrape([shown.live])  # /metrics: the same figures, per window
    day = {"cluster": "test", "window": "24h"}
    assert [total(scraped["imc_window_pods"], outcome=o, **day) for o in OUTCOMES] == [4, 2, 1, 1]
    assert total(scraped["imc_window_hit_ratio"], **day) == figures.hit_rate == 4 / 7
    assert total(scraped["imc_window_start_seconds"], outcome="hit", statistic="p90", **day) == figures.hit_start.p90
    assert total(scraped["imc_window_started_pods"], outcome="miss", **day) == 2
    assert total(scraped["imc_window_time_saved_seconds"], **day) == figures.saved_seconds == 38.0
    for text in ("8 pods decided (4 hit, 2 miss, 1 fail, 1 off); cache hit rate 57% of 7 pods",
                 "hit start 3.9 s (median of 4 hits), p90 22.4 s", "miss start 27.2 s (median of 2 misses), p90 37.5 s",
                 "pull time saved 38.0 s over 3 hits (1 hit paid more than the estimate: counted as 0 s)"):
        assert text in said
