"""End-to-end fixtures: a demo `imc sim`, the dashboard served by `streamlit run`, and Debian's Chromium."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from bench.screenshots import whole
from bench.waits import CHROMIUM, CHROMIUM_ARGS, IDLE, Dashboard, poll, scaled, start_dashboard  # noqa: F401 (poll: for the tests)
from sim.launch import SimProcess, start_sim
from tests.integration.conftest import run_kubectl

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "screenshots"
SCREENSHOTS_VARIABLE = "IMC_TEST_SCREENSHOTS"  # "1": the e2e tests save what they saw for a human to look at
SIM_SPEED = "4"
NAMESPACE = "e2e"
EXPECT_SECONDS = 5  # Playwright's own default for expect(...)


def ms(seconds: float) -> int:
    """A Playwright timeout in milliseconds, stretched by IMC_TEST_SLOWDOWN like every other wait."""
    return round(scaled(seconds) * 1000)


def start_app(sim: SimProcess, log: Path, **env: str) -> Dashboard:
    """The dashboard against a sim's kubeconfig, redrawing every 2 s as by default; fails the test when it does not start.

    Its ~/.cache is a directory beside the log: a demo cluster it starts lives there, never in a state dir that
    another worker, test run or the developer's own dashboard uses."""
    try:
        return start_dashboard(sim.kubeconfig, log, **{"XDG_CACHE_HOME": str(log.parent / "cache"), **env})
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def sim(tmp_path_factory) -> Iterator[SimProcess]:
    """The demo cluster, a little faster than real time."""
    process = start_sim(scenario="demo", state_dir=tmp_path_factory.mktemp("sim"), extra_args=("--speed", SIM_SPEED),
                        timeout=scaled(30))
    yield process
    process.stop()


def _dashboard_of(sim: SimProcess, tmp_path_factory, context: str) -> Iterator[Dashboard]:
    """A dashboard on one context of the sim's kubeconfig, stopped when its fixture ends."""
    started = start_app(sim, tmp_path_factory.mktemp(context) / "streamlit.log", IMC_CONTEXT=context)
    yield started
    started.stop()


@pytest.fixture(scope="session")
def app(sim, tmp_path_factory) -> Iterator[Dashboard]:
    """The dashboard with the admin context `sim`."""
    yield from _dashboard_of(sim, tmp_path_factory, "sim")


@pytest.fixture(scope="session")
def namespace(sim) -> str:
    """The namespace the e2e tests write into."""
    kubectl(sim, "create", "namespace", NAMESPACE, check=False)
    return NAMESPACE


@pytest.fixture(scope="session")
def viewer_app(sim, tmp_path_factory) -> Iterator[Dashboard]:
    """The dashboard with the read-only context `sim-viewer`."""
    yield from _dashboard_of(sim, tmp_path_factory, "sim-viewer")


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium (its headless shell where installed) driven by Playwright."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install -y chromium-headless-shell (or chromium, "
                    "or set IMC_CHROMIUM)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        expect.set_options(timeout=ms(EXPECT_SECONDS))
        _TABS[launched] = SharedTab(launched)
        yield launched
        _TABS.pop(launched)
        launched.close()


class TabLease:
    """A test's turn in its worker's one reused tab, sized as the test asks: what `new_context` hands out.

    A new browser context costs Chromium a renderer process and all of Streamlit's scripts compiled again, ~0.8 CPU-s
    of the ~1.5 a page load costs (tests/README.md, session 14); a tab that only navigates keeps both. Between tests
    the tab's cookies and the app's storage are cleared and it rests on about:blank, which ends its Streamlit session.
    A second page asked of a lease, or a lease asked while the tab is taken, is a page of a context of its own."""

    def __init__(self, browser, width: int, height: int) -> None:
        self.browser = browser
        self.viewport = {"width": width, "height": height}
        self._shared = _TABS.get(browser)
        self._taken = self._shared is not None and not self._shared.leased
        if self._taken:
            self._shared.leased = True
        self._own: list = []  # contexts of its own, for the pages the shared tab cannot be

    @property
    def pages(self) -> list:
        """Every page this lease handed out, the shared tab first."""
        own = [page for context in self._own for page in context.pages]
        return ([self._shared.page] if self._taken and self._shared.handed else []) + own

    def new_page(self):
        """The worker's tab, sized and cleared, the first time; afterwards a tab of a context of its own."""
        if self._taken and not self._shared.handed:
            return self._shared.hand_out(self.viewport)
        context = self.browser.new_context(viewport=self.viewport)
        context.set_default_timeout(ms(30))
        self._own.append(context)
        return context.new_page()

    def close(self) -> None:
        """Hand the tab back (and close the contexts of its own); while a test fails, first keep what each page showed:
        a screenshot under screenshots/ and, in the test's captured stderr (CI's log), its address and states."""
        if sys.exc_info()[0] is not None:
            test = os.environ.get("PYTEST_CURRENT_TEST", "test").split(" ")[0].split("::")[-1]
            print(keep_failure(self.pages, test), file=sys.stderr)
        for context in self._own:
            context.close()
        self._own = []
        if self._taken:
            self._taken = False
            self._shared.hand_back()


class SharedTab:
    """A worker's one tab, reused by its tests in turn (`TabLease`)."""

    def __init__(self, browser) -> None:
        self.context = browser.new_context()
        self.context.set_default_timeout(ms(30))
        self.page = self.context.new_page()
        self.leased = False
        self.handed = False

    def hand_out(self, viewport: dict[str, int]):
        """The tab, at `viewport`, with no cookie of an earlier test (a sign-in's, say)."""
        if self.page.is_closed():  # a test closed it: a new tab in the same context
            self.page = self.context.new_page()
        self.context.clear_cookies()
        self.page.set_viewport_size(viewport)
        self.handed = True
        return self.page

    def hand_back(self) -> None:
        """Clear what the app stored in the browser and leave it: its Streamlit session ends."""
        if self.handed and not self.page.is_closed():
            try:
                self.page.evaluate("() => { try { localStorage.clear(); sessionStorage.clear(); } catch (e) {} }")
                self.page.goto("about:blank")
            except Exception:  # noqa: BLE001 - a tab that will not leave is replaced, not reused
                self.page.close()
        self.handed = False
        self.leased = False


_TABS: dict = {}  # the shared tab of each launched browser (one per worker)


def new_context(browser, width: int, height: int) -> TabLease:
    """A tab of one viewport size whose actions and navigations wait Playwright's 30 s, stretched: `new_page()` on it,
    then `close()` (`TabLease`: the worker's reused tab where it is free)."""
    return TabLease(browser, width, height)


PAGE_STATES = """() => { const app = document.querySelector("[data-testid='stApp']");
    return app ? [app.getAttribute('data-test-connection-state'), app.getAttribute('data-test-script-state')]
               : [null, null]; }"""


def keep_failure(pages, test: str) -> str:
    """A failing test's pages: each one's screenshot kept; returns each one's address, connection and script state."""
    lines = []
    for number, shown in enumerate(pages):
        try:
            connection, script = shown.evaluate(PAGE_STATES)
            lines.append(f"page {number}: {shown.url} connection {connection}, script {script}")
            save_screenshot(shown, f"failed-{test}-{number}")
        except Exception as exc:  # noqa: BLE001 - a broken page must not hide the real failure
            lines.append(f"page {number}: not readable ({exc})")
    return "\n".join(lines)


@pytest.fixture
def page(browser):
    """The worker's tab, big-screen sized, no cookie or storage of an earlier test (`TabLease`)."""
    context = new_context(browser, 1600, 1200)
    opened = context.new_page()
    yield opened
    context.close()


def open_page(page, url: str) -> None:
    """Go to a URL and wait until the script has finished its run."""
    page.goto(url)
    page.wait_for_selector(IDLE, timeout=ms(60))


def settle(page) -> None:
    """Wait until the app is idle again after an interaction."""
    page.wait_for_selector(IDLE, timeout=ms(60))


def click_until(page, control, holds: Callable[[int], None], tries: int = 3, stays: bool = False) -> None:
    """Click a control until `holds(timeout_ms)` passes (a click landing in a rerun can be lost); with `stays`, until
    it still passes once the app is idle again (a state, not a one-time message: a click made while the page still
    drew the last interaction can be drawn over)."""
    for attempt in range(tries):
        settle(page)
        control.click()
        try:
            holds(ms(15))
            if stays:
                settle(page)
                holds(ms(EXPECT_SECONDS))
            return
        except AssertionError:
            if attempt == tries - 1:
                raise


def fill(page, label: str, value: str, tries: int = 3) -> None:
    """Type a value into a field of the Create form and leave it, until the YAML preview shows it.

    Idle is not enough: beside two CPU hogs a rerun still under way when the field was typed into kept the page's
    old value (the field showed the name, the preview name: ''), like the selectbox `choose` retypes into; and
    once the preview shows the value, the rerun it asked for is over before the next field is typed."""
    field = page.get_by_label(label, exact=True)
    preview = page.locator("[data-testid='stCode']").first
    shown = re.compile(rf"(^|\s){re.escape(value.splitlines()[0])}(\s|$)", re.MULTILINE)  # "0", not the 0 of 20
    for attempt in range(tries):
        field.fill(value)
        field.press("Tab")
        settle(page)
        try:
            expect(preview).to_have_text(shown, timeout=ms(10))
            return
        except AssertionError:
            if attempt == tries - 1:
                raise


def screenshot(page, name: str, full_page: bool = True) -> None:
    """Save a screenshot (the full page, or the viewport) under screenshots/ (git-ignored) for a human to look at.

    Only with IMC_TEST_SCREENSHOTS=1: nobody looks at them in CI, and drawing pages whole was a tenth of the e2e
    layer's browser time. A failed test's screenshot is always saved (`save_screenshot`)."""
    if os.environ.get(SCREENSHOTS_VARIABLE) == "1":
        save_screenshot(page, name, full_page)


def save_screenshot(page, name: str, full_page: bool = True) -> None:
    """Save a screenshot under screenshots/, asked for or not."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def kubectl(sim: SimProcess, *args: str, input_text: str | None = None, check: bool = True
            ) -> subprocess.CompletedProcess:
    """kubectl against the sim (the integration tests' runner)."""
    return run_kubectl(sim, *args, input_text=input_text, check=check, timeout=60)


def kubectl_json(sim: SimProcess, *args: str) -> dict:
    """kubectl ... -o json, parsed."""
    return json.loads(kubectl(sim, *args, "-o", "json").stdout)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failed e2e test, keep what its `page` showed (`keep_failure`)."""
    outcome = yield
    report = outcome.get_result()
    opened = item.funcargs.get("page") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and opened is not None:
        report.sections.append(("the failed test's page", keep_failure([opened], item.name)))


def screenshot_whole(page, name: str) -> None:
    """Save the whole page under screenshots/ (bench.screenshots.whole: Streamlit scrolls inside its main block).

    Only with IMC_TEST_SCREENSHOTS=1, as `screenshot`."""
    if os.environ.get(SCREENSHOTS_VARIABLE) != "1":
        return
    SCREENSHOTS.mkdir(exist_ok=True)
    whole(page, SCREENSHOTS / f"{name}.png")


def click_link(page, selector: str, text: str, required: bool = True) -> bool:
    """Click the link matching `selector` whose text contains `text`, found and clicked in one step in the page.

    A live fragment redraws its rows in place: a link Playwright found can show another pod by the time its click
    lands (the list moved up by one), so finding and clicking must not be two steps.
    """
    clicked = page.evaluate(
        "([selector, text]) => { const link = [...document.querySelectorAll(selector)]"
        ".find(a => a.textContent.includes(text) || (a.getAttribute('href') || '').includes(text));"
        " if (link) link.click(); return Boolean(link); }",
        [selector, text],
    )
    assert clicked or not required, f"no link {selector} with {text!r} on {page.url}"
    return clicked
