"""In Chromium: the page that shows a new credential's secret can be reloaded without creating a second credential
or showing the secret again, and after sign-out Back does not bring a signed-in page out of the browser's cache."""

from __future__ import annotations

from tests.support.browser import CSP_WORDS, heard, sign_in_as
from tests.support.console import SECRET, clients
from tests.support.scenes import usable_grant


async def test_reloading_the_secret_page_neither_creates_nor_shows_again(browser_page, live_server, world, clock):
    page, base = browser_page, live_server
    grant = await usable_grant(world, clock)
    await world.commit()  # Chromium's requests do not commit the world: the test does, before the browser asks
    console = heard(page)
    await sign_in_as(page, base, "Gail")
    await page.goto(f"{base}/console/grants/{grant.id}")
    await page.get_by_label("Name").fill("evaluation cluster")
    await page.get_by_role("button", name="Create the credential").click()
    await page.wait_for_url(f"{base}/console/credentials/**")
    assert SECRET.search(await page.content())
    assert len(await clients(world)) == 1
    await world.commit()

    reloaded = await page.reload()
    assert reloaded is not None and reloaded.request.method == "GET"
    text = await page.content()
    assert not SECRET.search(text)
    assert "not shown" in text and "again" in text
    assert len(await clients(world)) == 1
    await world.commit()

    await page.go_back()  # the grant's page, with its form: going back does not post it again
    assert len(await clients(world)) == 1
    assert [m for m in console if CSP_WORDS in m] == [], console


async def test_after_sign_out_back_does_not_show_the_audit_trail(browser_page, live_server, world):
    page, base = browser_page, live_server
    await sign_in_as(page, base, "Gail")
    shown = await page.goto(f"{base}/console/audit")
    assert shown is not None and shown.headers["cache-control"] == "no-store"
    assert await page.get_by_role("heading", name="Audit trail", level=1).is_visible()
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"{base}/login")
    await page.go_back()
    await page.wait_for_load_state()
    assert page.url.startswith(f"{base}/login"), page.url
    assert not await page.get_by_role("heading", name="Audit trail", level=1).is_visible()
