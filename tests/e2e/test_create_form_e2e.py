"""The Create form never creates what was not asked for: out-of-range numbers block Create (issue 9, item 6), and
Create works, or says what is wrong, on the first click after typing (issue 21, item 8)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import fill, kubectl, open_page, settle
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
    expect(page.locator("[data-testid='stCode']").first).to_contain_text(value)  # the YAML says what would be sent
    page.get_by_role("button", name="Create").click()  # enabled (issue 21, item 8): a click says what is wrong
    settle(page)
    expect(page.get_by_text("Nothing was created.", exact=False)).to_be_visible()
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
    expect(page.get_by_text("Create needs a valid Images.")).to_be_visible()
    no_exception(page)


def test_create_creates_on_the_first_click_after_typing_the_images(app, sim, page):
    open_page(page, f"{app.url}/create-cache")
    fill(page, "Name", "e2e-first-click")
    # typed, not left: the text area has not committed its text when the click lands
    page.get_by_label("Images", exact=True).fill("nginx:1.25\nredis:7.2")
    page.get_by_role("button", name="Create").click()
    settle(page)
    expect(page.get_by_text("Open the cache")).to_be_visible(timeout=20_000)
    assert kubectl(sim, "get", "imagecache", "e2e-first-click", check=False).returncode == 0
    no_exception(page)
