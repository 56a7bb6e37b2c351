"""The console in a real browser (Chromium over real HTTP): the development sign-in, the home page, sign-out, the
idle timeout, the Content Security Policy as the browser enforces it, and a hostile name shown as text."""

from __future__ import annotations

from datetime import timedelta

from accessdesk.domain.organisations import Organisations, find_organisation
from accessdesk.domain.vocabulary import OrgKind
from tests.support.browser import CSP_WORDS, heard, sign_in_as
from tests.world import OPERATOR

HOSTILE = "<script>alert(1)</script>"


async def test_sign_in_see_my_pending_decision_and_sign_out(browser_page, live_server, world):
    page, base = browser_page, live_server
    partner, _ = await world.partner(name="northwind")
    await world.nominate(partner)
    await world.commit()  # Chromium's requests do not commit the world: the test does, before the browser asks
    console = heard(page)

    await sign_in_as(page, base, "Gov1")
    assert await page.get_by_role("heading", name="Home", level=1).is_visible()
    assert "gov1@aiso.test" in await page.get_by_role("navigation", name="Account").inner_text()
    pending = page.get_by_role("region", name="Waiting for your decision")
    rows = await pending.get_by_role("row").all_inner_texts()
    assert len(rows) == 2, rows  # the header and the one nomination
    assert rows[1].split("\t") == ["Atlas", "Northwind", "2026-12-02 12:00 UTC → 2027-01-01 12:00 UTC", "0/1", "0/1"], rows

    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"{base}/login")
    assert await page.get_by_role("heading", name="Sign in", level=1).is_visible()
    await page.goto(f"{base}/console")  # the session is over: the console asks to sign in again
    assert page.url == f"{base}/login?next=/console"
    assert [m for m in console if CSP_WORDS in m] == [], console


async def test_an_idle_session_ends_and_the_browser_is_sent_back_to_sign_in(browser_page, live_server, world, clock):
    page, base = browser_page, live_server
    await sign_in_as(page, base, "Gail")
    clock.advance(timedelta(minutes=29))
    await page.reload()
    assert page.url == f"{base}/console"
    clock.advance(timedelta(minutes=31))
    await page.reload()
    assert page.url == f"{base}/login?next=/console"


async def test_the_browser_enforces_the_csp_and_the_pages_never_trip_it(browser_page, live_server, world):
    page, base = browser_page, live_server
    console = heard(page)
    await page.goto(f"{base}/login")
    await sign_in_as(page, base, "Gov1")
    assert await page.evaluate("getComputedStyle(document.querySelector('main')).display") == "block"  # CSS applied
    assert [m for m in console if CSP_WORDS in m] == [], console

    # The listener does hear a violation: an inline style, refused by style-src 'self'.
    async with page.expect_console_message(lambda message: CSP_WORDS in message.text) as violation:
        await page.evaluate("""document.querySelector('main')
                                 .insertAdjacentHTML('beforeend', '<p id="inline" style="color: rgb(255, 0, 0)">x</p>')""")
    assert "style-src 'self'" in (await violation.value).text
    assert await page.evaluate("getComputedStyle(document.getElementById('inline')).color") != "rgb(255, 0, 0)"


async def test_a_script_in_an_organisation_name_is_shown_as_text_and_never_runs(browser_page, live_server, world):
    page, base = browser_page, live_server
    await Organisations(world.unit).create(actor=OPERATOR, kind=OrgKind.PARTNER, name=HOSTILE, slug="xss")
    await world.person(await find_organisation(world.unit, "xss"), "eve", [])
    await world.commit()
    dialogs: list[str] = []

    async def on_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    await page.goto(f"{base}/login")
    heading = page.get_by_role("heading", name=HOSTILE, exact=True)
    assert await heading.count() == 1 and await heading.inner_text() == HOSTILE
    assert await page.get_by_role("button", name="Sign in as Eve").count() == 1
    # The console's one script is its own file (times in the viewer's zone); nothing inline, nothing from the name.
    assert await page.locator("script").evaluate_all("scripts => scripts.map(s => s.getAttribute('src'))") == [
        "/static/local-time.js"]
    assert dialogs == []

    await page.evaluate("alert('control')")  # the handler does see a dialog when one opens
    assert dialogs == ["control"]


async def test_both_sides_approve_in_the_browser_and_the_partner_sees_its_grant(browser_page, live_server, world):
    page, base = browser_page, live_server
    await world.government_ready()
    await world.government_grant()
    partner, _ = await world.partner(name="northwind")
    await world.nominate(partner, start=timedelta(days=2))
    await world.commit()
    console = heard(page)

    for approver, says, yes, done in (
        ("Dev1", "Your approval is 1 of the 1 the developer side needs", "Yes, approve", "approved"),
        ("Gov1", "Your approval completes both sides' decisions", "Yes, approve and grant access", "granted"),
    ):  # fmt: skip
        await sign_in_as(page, base, approver)
        await page.get_by_role("region", name="Waiting for your decision").get_by_role("link", name="Atlas").click()
        await page.get_by_role("button", name="Approve").click()
        # Asked first, in words; going back changes nothing, and the form is there again.
        assert says in await page.get_by_role("region", name="What will happen").inner_text()
        await page.get_by_role("link", name="No, go back").click()
        await page.get_by_role("button", name="Approve").click()
        await page.get_by_role("button", name=yes, exact=True).click()
        await page.wait_for_url(f"{base}/console/nominations/**?done={done}")
        if done == "approved":
            assert "Your decision was recorded: approved" in await page.get_by_role("status").inner_text()
        else:  # no dead end: the deciding approver follows the link to the grant that now exists
            await page.get_by_role("status").get_by_role("link", name="Open the grant").click()
            await page.wait_for_url(f"{base}/console/grants/**")
            assert "Northwind" in await page.get_by_role("heading", level=1).inner_text()
        await page.get_by_role("button", name="Sign out").click()
        await page.wait_for_url(f"{base}/login")

    await sign_in_as(page, base, "Admin")  # the partner's admin
    await page.get_by_role("link", name="Grants", exact=True).click()
    await page.wait_for_url(f"{base}/console/grants")
    table = await page.get_by_role("table").inner_text()
    assert "Northwind" in table and "model:atlas:invoke" in table and "scheduled" in table
    assert [m for m in console if CSP_WORDS in m] == [], console


async def test_times_are_utc_said_so_with_the_viewers_own_time_beside_them(browser_page, live_server, world):
    page, base = browser_page, live_server
    partner, _ = await world.partner(name="northwind")
    nomination = await world.nominate(partner, start=timedelta(days=2))
    await world.commit()
    browser_ = page.context.browser
    assert browser_ is not None
    for zone, beside in (("UTC", None), ("America/New_York", "your time")):
        context = await browser_.new_context(timezone_id=zone, locale="en-US")
        viewer = await context.new_page()
        console = heard(viewer)
        await sign_in_as(viewer, base, "Gov1")
        await viewer.goto(f"{base}/console/nominations/{nomination.id}")
        window = await viewer.get_by_text("Window").locator("xpath=following-sibling::dd[1]").inner_text()
        start = nomination.starts_at
        assert window.startswith(f"{start:%Y-%m-%d %H:%M} UTC"), window
        if beside is None:  # in UTC there is nothing to add
            assert "your time" not in window
        else:  # 12:00 UTC is 07:00 in New York in December
            assert f"{start:%Y-%m-%d %H:%M} UTC ({start:%b} {start.day}, {start.year}, 7:00 AM your time)" in window, window
        assert [m for m in console if CSP_WORDS in m] == [], console
        await context.close()

