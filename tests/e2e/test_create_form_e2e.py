"""The Create form never creates what was not asked for: out-of-range numbers block Create (issue 9, item 6)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import fill, kubectl, open_page
from tests.e2e.test_dashboard_e2e import no_exception

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(("label", "value", "message"), [
    ("Size (GiB)", "0", "must be between 20 and 32768, not 0"),
    ("Size (GiB)", "-5", "must be between 20 and 32768, not -5"),
    ("Size (GiB)", "99999999999", "must be between 20 and 32768, not 99999999999"),
    ("Retention (days)", "0", "must be between 1 and 65536, not 0"),
])
def test_an_out_of_range_number_blocks_create(app, sim, page, label, value, message):
    name = f"e2e-range-{label.split()[0].lower()}-{value.replace('-', 'minus')}"
    open_page(page, f"{app.url}/create-cache")
    fill(page, "Name", name)
    fill(page, "Images", "nginx:1.25")
    expect(page.get_by_role("button", name="Create")).to_be_enabled()
    fill(page, label, value)
    expect(page.get_by_text(message)).to_be_visible()
    expect(page.get_by_role("button", name="Create")).to_be_disabled()
    expect(page.locator("[data-testid='stCode']").first).to_contain_text(value)  # the YAML says what would be sent
    assert kubectl(sim, "get", "imagecache", name, check=False).returncode != 0
    no_exception(page)


def test_a_thousand_images_are_kept_and_the_limit_is_said(app, page):
    images = "\n".join(f"registry.example.com/team/app-{n}:1.0" for n in range(1000))
    open_page(page, f"{app.url}/create-cache")
    fill(page, "Name", "e2e-many")
    fill(page, "Images", images)
    expect(page.get_by_label("Images", exact=True)).to_have_value(images)
    expect(page.get_by_text("1,000 images; a cache holds 1 to 20.")).to_be_visible()
    expect(page.get_by_text("at most 20 images, not 1000")).to_be_visible()
    expect(page.get_by_role("button", name="Create")).to_be_disabled()
    no_exception(page)
