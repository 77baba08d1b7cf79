"""Suite-wide collection rules: each test carries its layer's marker, and tests that share a module-scoped fixture
run on one xdist worker, so that the sim, dashboard or browser behind it starts once (see tests/README.md)."""

from __future__ import annotations

import pytest

from bench.waits import slowdown

LAYERS = ("unit", "integration", "e2e")  # the directories under tests/, each a marker of the same name


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


@pytest.hookimpl(tryfirst=True)  # before pytest-timeout reads --timeout
def pytest_configure(config: pytest.Config) -> None:
    """pytest-timeout's limit per test is stretched by IMC_TEST_SLOWDOWN like every wait inside the test."""
    if getattr(config.option, "timeout", None):
        config.option.timeout = float(config.option.timeout) * slowdown()


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups to schedule by them
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        layer = layer_of(item)
        if layer and item.get_closest_marker(layer) is None:
            item.add_marker(layer)
        if item.get_closest_marker("xdist_group") is None and shares_module_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__ if item.module else item.path.name))
