"""The /ui page in a real browser: headless Chromium (Debian's `chromium`, which `make test`
installs) driven by Playwright, against the real app served by uvicorn on loopback over the
test shop. Screenshots go to $KGREC_TEST_SCREENSHOTS when set (`docs/` holds the README's),
else to the test's temporary folder."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from tests.api_shop import KEY, LIPS, TOOLS

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = "KGREC_TEST_SCREENSHOTS"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"no {CHROMIUM}: install Debian's chromium (`make test` does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page that fails the test on any script error or console error (a refused
    Content-Security-Policy rule among them) and on any dialog a script opens."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    opened = context.new_page()
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        # The browser logs every 4xx the page gets; the tests check the page says why.
        if message.type == "error" and "status of 4" not in message.text:
            problems.append(message.text)

    opened.on("console", console)
    opened.on("pageerror", lambda error: problems.append(str(error)))
    opened.on("dialog", lambda dialog: problems.append(f"a dialog opened: {dialog.message}"))
    yield opened
    context.close()
    assert not problems


def screenshot(page: Page, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get(SCREENSHOTS) or tmp_path)
    page.screenshot(path=folder / name, full_page=True)


def shown_ids(page: Page) -> list[str]:
    buttons = page.locator("#items button")
    return [buttons.nth(n).get_attribute("data-item") or "" for n in range(buttons.count())]


def test_the_page_shows_recommendations_by_name_and_draws_an_explanation(
    page: Page, served: str, tmp_path: Path
) -> None:
    page.goto(f"{served}/ui")
    page.fill("#user", "g-user0")
    page.click("#user-form button[type=submit]")
    expect(page.locator("#items li")).to_have_count(10)
    names = page.locator("#items .name").all_inner_texts()
    assert set(names) <= set(LIPS + TOOLS)
    # g-user0 bought the first three lipsticks: lipsticks lead, by name.
    assert names[0] in LIPS
    # The first item is selected: its sentences, and its paths drawn as a graph.
    expect(page.locator("#sentences li").first).to_contain_text("You bought")
    expect(page.locator("#graph canvas").first).to_be_attached()
    drawn = page.locator("#graph").get_attribute("aria-label") or ""
    assert re.match(r"Explanation graph: [3-9] nodes \(you \(g-user0\); ", drawn), drawn
    assert names[0] in drawn
    # Another item, another graph.
    page.locator("#items button").nth(1).click()
    expect(page.locator("#why-title")).to_have_text(f"Why {names[1]}")
    expect(page.locator("#graph")).to_have_attribute("aria-label", re.compile(names[1]))
    page.locator("#items button").first.click()
    screenshot(page, tmp_path, "ui-recommendations.png")


def test_an_event_added_on_the_page_changes_the_list(
    page: Page, served: str, tmp_path: Path
) -> None:
    page.goto(f"{served}/ui?user=t-user3")
    expect(page.locator("#items li")).to_have_count(10)
    before = shown_ids(page)
    expect(page.locator("#event-item")).to_have_value(before[0])  # the selected item
    # Without a key the API refuses the write, and the page says why.
    page.click("#event-form button[type=submit]")
    expect(page.locator("#status")).to_contain_text("401: writes (POST /items, POST /events)")
    page.fill("#key", KEY)
    page.click("#key-form button[type=submit]")
    page.click("#load-users")  # an admin key: the shop's 24 customers to pick from
    expect(page.locator("#known-users option")).to_have_count(24)
    page.click("#event-form button[type=submit]")
    expect(page.locator("#list-note")).to_contain_text("The list changed: 1 new, 1 gone.")
    after = shown_ids(page)
    assert before[0] not in after  # bought now, so no longer recommended
    assert [item for item in after if item not in before] == [
        page.locator("#items button:has(.new)").get_attribute("data-item")
    ]
    screenshot(page, tmp_path, "ui-event.png")


def test_an_item_added_on_the_page_is_shown_as_text(page: Page, served: str) -> None:
    title = '<img src=x onerror="alert(1)"> Glitter <b>lip</b> gloss'
    page.goto(f"{served}/ui")
    page.fill("#key", KEY)
    page.click("#key-form button[type=submit]")
    page.fill("#item-id", "g-ui-new")
    page.fill("#item-title", title)
    page.fill("#item-brand", "GlowCo")
    page.fill("#item-categories", "Beauty > Lips")
    page.click("#item-form button[type=submit]")
    expect(page.locator("#status")).to_contain_text("Added g-ui-new (embedding inductive")
    page.fill("#query", "glitter gloss")
    page.click("#search-form button[type=submit]")
    added = page.locator('#items button[data-item="g-ui-new"]')
    expect(added.locator(".name")).to_have_text(title)  # as text: nothing of it ran or rendered
    added.click()
    expect(page.locator("#sentences li").first).to_contain_text(f'"{title}" matches your search')
    assert page.locator("#items img, #items b, #sentences img, #sentences b").count() == 0


def test_only_an_admin_may_list_users_to_pick_from(served: str) -> None:
    users = httpx.get(f"{served}/admin/users", params={"k": 3}, headers={"X-API-Key": KEY})
    assert users.status_code == 200
    counts = [user["items"] for user in users.json()]  # each shop customer bought 3 or more
    assert len(counts) == 3 and counts == sorted(counts, reverse=True) and min(counts) >= 3
    assert httpx.get(f"{served}/admin/users").status_code == 401
    page = httpx.get(f"{served}/ui")
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self';" in page.headers["content-security-policy"]
    script = httpx.get(f"{served}/ui/static/vendor/cytoscape.min.js")
    assert script.status_code == 200 and len(script.content) > 100_000
