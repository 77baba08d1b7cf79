"""The Live badge is honest: a stopped, then killed, API server turns it into "Not live since …" (issue 9, item 7)."""

from __future__ import annotations

import os
import re
import signal

import pytest
from playwright.sync_api import expect

from sim.launch import start_sim
from tests.e2e.conftest import ms, open_page, screenshot, start_app
from tests.e2e.test_dashboard_e2e import no_exception

pytestmark = pytest.mark.e2e
LIVE = re.compile(r"(^|\s)Live$")  # the badge (its icon's name may precede the word)


def test_the_badge_says_when_the_cluster_stopped_answering(tmp_path, page):
    sim = start_sim(scenario="empty", state_dir=tmp_path / "sim")
    app = start_app(sim, tmp_path / "streamlit.log", IMC_CONTEXT="sim")
    try:
        open_page(page, f"{app.url}/pods")
        main = page.locator("[data-testid='stMain']")
        expect(main.get_by_text(LIVE).first).to_be_visible(timeout=ms(20))
        os.kill(sim.process.pid, signal.SIGSTOP)
        try:
            expect(main.get_by_text("Not live since", exact=False).first).to_be_visible(timeout=ms(30))
            expect(main.get_by_text(LIVE)).to_have_count(0)
            screenshot(page, "live-badge-stopped")
        finally:
            os.kill(sim.process.pid, signal.SIGCONT)
        expect(main.get_by_text(LIVE).first).to_be_visible(timeout=ms(30))
        os.kill(sim.process.pid, signal.SIGKILL)
        expect(main.get_by_text("Not live since", exact=False).first).to_be_visible(timeout=ms(30))
        expect(main.get_by_text("problem(s) reading the cluster", exact=False).first).to_be_visible()
        no_exception(page)
    finally:
        app.stop()
        sim.stop()
