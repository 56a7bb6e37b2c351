"""In Chromium: the page that shows a new credential's secret, a staff member's or a partner's, can be reloaded (and
a partner's left and returned to through the browser's history) without creating a second credential or showing
the secret again, and after sign-out Back does not bring a signed-in page out of the browser's cache."""

from __future__ import annotations

from datetime import timedelta

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


async def test_a_partner_creates_a_credential_sees_its_secret_once_and_history_creates_no_second(
    browser_page, live_server, world, clock
):  # fmt: skip
    page, base = browser_page, live_server
    organisation, _ = await world.partner(name="northwind")  # vetted, NDA accepted, attested
    await usable_grant(world, clock)  # the government's access began an hour ago
    grant = await world.approve_both(await world.nominate(organisation, start=timedelta(minutes=30)))
    clock.advance(timedelta(hours=1))  # the partner's window has begun too: its access is usable
    await world.commit()  # Chromium's requests do not commit the world: the test does, before the browser asks
    console = heard(page)
    navigations: list[str] = []  # the method of every document the browser loads
    page.on("request", lambda r: navigations.append(r.method) if r.is_navigation_request() else None)
    await sign_in_as(page, base, "Admin (admin@northwind.test)")

    credentials = page.get_by_role("region", name="Your credentials")
    await credentials.get_by_role("link", name="Create a credential for Atlas").click()
    await page.wait_for_url(f"{base}/console/grants/{grant.id}#credentials-h")
    await page.get_by_label("Name").fill("northwind evaluation")
    await page.get_by_role("button", name="Create the credential").click()
    await page.wait_for_url(f"{base}/console/credentials/**")
    shown_at = page.url
    secret = SECRET.search(await page.content())
    assert secret is not None
    assert len(await clients(world)) == 1
    await world.commit()

    async def no_second_and_no_secret() -> str:
        await page.wait_for_load_state()
        text = await page.content()
        assert secret.group(0) not in text and not SECRET.search(text)
        assert len(await clients(world)) == 1
        await world.commit()
        return text

    reloaded = await page.reload()
    assert reloaded is not None and reloaded.request.method == "GET" and page.url == shown_at
    assert "not shown" in await no_second_and_no_secret()
    await page.go_back()  # the grant's page, not the form's POST: the browser's history holds no POST to repeat
    assert page.url.startswith(f"{base}/console/grants/{grant.id}")
    text = await no_second_and_no_secret()
    assert "northwind evaluation" in text  # the grant's page lists the one credential
    await page.go_forward()
    assert page.url == shown_at
    assert "not shown" in await no_second_and_no_secret()
    assert navigations.count("POST") == 1 + 1, navigations  # the sign-in and the one creation, nothing replayed
    assert [m for m in console if CSP_WORDS in m] == [], console
