"""Suite-wide collection rules: each test carries its layer's marker, tests that share a module-scoped fixture
run on one xdist worker, so that the sim, dashboard or browser behind it starts once, the browser tests run in
`BROWSER_LANES` lanes, and the longest work is handed out first (tests/ordering.py; see tests/README.md)."""

from __future__ import annotations

import pytest

from bench.waits import slowdown
from tests.ordering import DEFAULT_SECONDS, lanes, longest_first, plain_id, read_durations, write_durations

LAYERS = ("unit", "integration", "e2e")  # the directories under tests/, each a marker of the same name
# The browser tests run in this many lanes (xdist groups of whole modules), so at most this many at a time, while the
# other workers take the tests that mostly wait on a sim. A browser test keeps Chromium, a dashboard and a live page
# busy for as long as it runs: three or four side by side on 2 cores made each slower and the suite's CPU grow (490
# CPU-s at 2 lanes of 4 workers against 520-573 at 3 lanes or none; tests/README.md, "Session 10").
BROWSER_LANES = 2


def layer_of(item: pytest.Item) -> str | None:
    """The layer a test belongs to: the name of its directory under tests/."""
    parts = item.path.parts
    if "tests" not in parts:
        return None
    below = parts[len(parts) - 1 - parts[::-1].index("tests") + 1:]
    return below[0] if below and below[0] in LAYERS else None


def shares_module_fixture(item: pytest.Item) -> bool:
    """Whether the test uses a fixture set up once per module (a start-up its neighbours share)."""
    definitions = item._fixtureinfo.name2fixturedefs  # pytest's own record of the fixtures a test resolved to
    return any(defs and defs[-1].scope == "module" for defs in definitions.values())


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--store-durations", action="store_true",
                     help="write each test's seconds to tests/durations.json (the order workers take tests in)")


@pytest.hookimpl(tryfirst=True)  # before pytest-timeout reads --timeout
def pytest_configure(config: pytest.Config) -> None:
    """pytest-timeout's limit per test is stretched by IMC_TEST_SLOWDOWN; --store-durations records the run."""
    if getattr(config.option, "timeout", None):
        config.option.timeout = float(config.option.timeout) * slowdown()
    if config.getoption("--store-durations", False) and not hasattr(config, "workerinput"):  # the reporting process
        config.pluginmanager.register(DurationRecorder(), "imc-durations")


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups to schedule by them
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    durations = read_durations()
    layers = [layer_of(item) for item in items]
    browser_modules: dict[str, float] = {}
    for item, layer in zip(items, layers, strict=True):
        if layer == "e2e":
            module = str(item.path)
            browser_modules[module] = browser_modules.get(module, 0.0) + durations.get(item.nodeid, DEFAULT_SECONDS)
    # browser tests alone (`pytest tests/e2e`): no other test to overlap with, so no lanes
    alone = all(layer == "e2e" for layer in layers)
    lane_of = {} if alone else lanes(browser_modules, BROWSER_LANES)
    for item, layer in zip(items, layers, strict=True):
        if layer and item.get_closest_marker(layer) is None:
            item.add_marker(layer)
        if str(item.path) in lane_of:  # a lane holds whole modules, so a module-scoped fixture starts once
            item.add_marker(pytest.mark.xdist_group(f"browser-lane-{lane_of[str(item.path)]}"))
        elif group_of(item) is None and shares_module_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__ if item.module else item.path.name))
    units = {index: work_unit(item) for index, item in enumerate(items)}
    seconds = {index: durations.get(item.nodeid, DEFAULT_SECONDS) for index, item in enumerate(items)}
    items[:] = longest_first(items, units, seconds)


def group_of(item: pytest.Item) -> str | None:
    """The test's xdist group as loadgroup names it: all its `xdist_group` names, sorted, joined by "_"."""
    names = {str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
             for mark in item.iter_markers("xdist_group")}
    return "_".join(sorted(names)) or None


def work_unit(item: pytest.Item) -> str:
    """What xdist hands to one worker whole: the test's group, else the test alone."""
    group = group_of(item)
    return f"group:{group}" if group else item.nodeid


class DurationRecorder:
    """Sums each test's setup, call and teardown as the reports arrive, and stores the totals when the run ends."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        test = plain_id(report.nodeid)
        self.seconds[test] = self.seconds.get(test, 0.0) + report.duration

    def pytest_sessionfinish(self) -> None:
        if self.seconds:
            write_durations({**read_durations(), **self.seconds})
