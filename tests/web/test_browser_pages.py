"""The console in Chromium, end to end: signing in through an identity provider we did not write (npm's
oidc-provider, its own login and consent pages), and a tour of the main pages for staff and for a partner, each
checked against the Content Security Policy and axe-core and saved as a screenshot; and the home pages (and a new
secret's page) no wider than a phone's 390 px.

Screenshots go to ``var/screenshots/`` (CI keeps them); set ``ACCESSDESK_SCREENSHOTS_DIR=docs/screenshots`` to
refresh the set committed for the README.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from accessdesk.clock import FrozenClock
from accessdesk.domain.compliance import Compliance
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.vocabulary import Area, Verdict
from accessdesk.settings import OidcProvider, Settings
from tests.support import browser
from tests.support.api import url_of
from tests.support.browser import CSP_WORDS, accessibility_violations, heard, sign_in_as
from tests.support.scenes import link_request, remind, set_delivery

SHOTS = Path(os.environ.get("ACCESSDESK_SCREENSHOTS_DIR", "var/screenshots"))


@pytest.fixture
def clock() -> FrozenClock:
    # The provider signs with the real time; the app lives in the same time (as in test_oidc_login).
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


async def test_a_person_signs_in_through_the_providers_own_pages(browser_page, engine, clock, world, oidc_provider):  # noqa: F811
    page = browser_page
    console = heard(page)

    def settings(base: str) -> Settings:
        oidc_provider.register_client("accessdesk", "browser-client-secret", [f"{base}/login/callback"])
        provider = OidcProvider(name="aiso", title="AI Security Office", issuer=oidc_provider.issuer,
                                client_id="accessdesk", client_secret="browser-client-secret", domains=("aiso.test",))  # fmt: skip
        return Settings(database_url=url_of(engine), base_url=base, oidc_providers=(provider,), dev_login=False)

    async with browser.serving(engine, clock, world, settings) as base:
        await page.goto(f"{base}/console/grants")
        assert page.url == f"{base}/login?next=/console/grants"
        await page.get_by_label("Your work e-mail").fill("gov1@aiso.test")
        await page.get_by_role("button", name="Continue with your organisation").click()
        await page.wait_for_url(f"{oidc_provider.issuer}/**")  # the provider's own sign-in page
        await page.locator("input[name=login]").fill("gov1@aiso.test")
        await page.locator("input[name=password]").fill("any password")
        await page.get_by_role("button", name="Sign-in").click()
        await page.get_by_role("button", name="Continue").click()  # the provider's consent page
        await page.wait_for_url(f"{base}/console/grants")
        assert await page.get_by_role("heading", name="Grants", level=1).is_visible()
        assert "gov1@aiso.test" in await page.get_by_role("navigation", name="Account").inner_text()
    assert [m for m in console if CSP_WORDS in m] == [], console


async def a_lived_in_world(world) -> dict[str, str]:
    """Enough of everything for the pages to show what they are for."""
    await world.government_ready()
    government = await world.government_grant()
    north, north_admin = await world.partner(name="northwind")
    await world.approve_both(await world.nominate(north, start=timedelta(days=2), actions=["invoke", "evaluate"]))
    south, _ = await world.partner(name="southwind", nda=False)
    await world.approve_both(await world.nominate(south, start=timedelta(days=3)))
    east, east_admin = await world.partner(name="eastwind", attested=False, vetted=False)
    await Organisations(world.unit).submit_vetting(actor=east_admin, organisation_id=east.id,
                                                   submission="Independent evaluation lab, 40 staff, ISO 27001.")  # fmt: skip
    pending = await world.nominate(east, start=timedelta(days=4), actions=["red_team"])
    await CoSelection(world.unit).decide(actor=world.dev_approver, nomination_id=pending.id, verdict=Verdict.APPROVE,
                                         reason="Strong red-team record.")  # fmt: skip
    await world.nominate(north, start=timedelta(days=5), model=await world.new_model("zephyr", release_in=timedelta(days=25)))
    await Compliance(world.unit).attest(actor=east_admin, area=Area.CONFIDENTIALITY, statement="Need-to-know access.",
                                        valid_until=world.now + timedelta(days=20))  # fmt: skip
    return {"government_grant": str(government.id), "pending": str(pending.id), "east": str(east.id),
            "north_admin": north_admin.label, "east_admin": east_admin.label}


async def told_and_asked(world, grant_id: str) -> str:
    """A reminder sent (its admin told, its Slack channel unreachable) and a Slack link asked for (the token)."""
    reminder = await remind(world, "grant.ends.7d", uuid.UUID(grant_id), organisation_id=world.government.id,
                            model_id=world.model.id, recipients=[f"user:{world.gov_admin.user_id}", "slack:C0ATLAS12"])  # fmt: skip
    told, unreachable = reminder.messages
    await set_delivery(world, told, attempts=1, delivered_at=world.now)
    await set_delivery(world, unreachable, attempts=8, dead_at=world.now, last_error="SlackApiError: not_in_channel")
    return await link_request(world)


async def shoot(page, base: str, path: str, name: str, console: list[str]) -> None:
    """Open ``path``: one h1, no CSP violation, no accessibility violation axe-core finds; saved as a screenshot."""
    await page.goto(f"{base}{path}")
    assert await page.locator("h1").count() == 1, path
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert [m for m in console if CSP_WORDS in m] == [], (path, console)
    assert await accessibility_violations(page) == [], path


async def test_a_tour_of_the_main_pages(browser_page, live_server, world, clock):
    page, base = browser_page, live_server
    ids = await a_lived_in_world(world)
    token = await told_and_asked(world, ids["government_grant"])
    await world.commit()  # Chromium's requests do not commit the world: the test does, before the browser asks
    await page.set_viewport_size({"width": 1280, "height": 800})
    console = heard(page)

    await sign_in_as(page, base, "Gail")  # the government's admin sees every section
    # Her header (the brand, every section, her name with two links) holds on one line at 1280 px.
    tops = await page.locator(".bar").evaluate("bar => [...bar.querySelectorAll('a, button')].map(e => e.getBoundingClientRect().top)")
    assert len(tops) > 10 and max(tops) - min(tops) < 8, tops
    for path, name in [
        ("/console", "home"),
        ("/console/nominations", "nominations"),
        (f"/console/nominations/{ids['pending']}", "nomination"),
        ("/console/nominations/new", "nominate"),
        ("/console/grants", "grants"),
        (f"/console/grants/{ids['government_grant']}", "grant"),
        ("/console/models", "models"),
        (f"/console/models/{world.model.id}", "model"),
        ("/console/organisations", "organisations"),
        (f"/console/organisations/{ids['east']}", "organisation"),
        ("/console/ndas", "ndas"),
        (f"/console/ndas/{world.nda.id}", "nda"),
        ("/console/audit", "audit"),
        (f"/console/grants/{ids['government_grant']}/evidence", "evidence"),
        ("/console/reminders", "reminders"),
        ("/console/deliveries/dead", "dead-letters"),
        (f"/console/slack/link/{token}", "slack-link"),
    ]:
        await shoot(page, base, path, name, console)
    # A decision asks first, saying what it will do. The page answers a POST, which axe-core's own context (it opens
    # the address anew) cannot ask for again: saved and checked against the CSP only.
    await page.goto(f"{base}/console/nominations/{ids['pending']}")
    await page.get_by_role("button", name="Approve", exact=True).click()
    await page.wait_for_load_state()
    assert await page.get_by_role("heading", name="What will happen").is_visible()
    await page.screenshot(path=str(SHOTS / "confirm.png"), full_page=True)
    assert [m for m in console if CSP_WORDS in m] == [], console
    await page.goto(f"{base}/console/slack/link/{token}")
    await page.get_by_role("button", name="Confirm: this Slack user is me").click()
    await page.wait_for_url(f"{base}/console/slack?done=linked")
    await shoot(page, base, "/console/slack?done=linked", "slack", console)
    await page.goto(f"{base}/console/deliveries/dead")
    await page.get_by_role("button", name="Retry").click()
    await page.wait_for_url(f"{base}/console/deliveries/dead?done=retried")
    assert "goes out again" in await page.get_by_role("status").inner_text()
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"{base}/login")
    await shoot(page, base, "/login", "login", console)

    await page.goto(f"{base}/login")  # the partner's admin, who still owes vetting, attestations and the NDA
    await page.get_by_role("button", name=f"Sign in as Admin ({ids['east_admin']})").click()
    await page.wait_for_url(f"{base}/console")
    for path, name in [
        ("/console", "partner-home"),
        ("/console/my-organisation", "portal"),
        (f"/console/my-organisation/ndas/{world.nda.id}", "portal-nda"),
        ("/console/my-organisation/attestations", "portal-attestations"),
    ]:
        await shoot(page, base, path, name, console)

    await page.set_viewport_size({"width": 390, "height": 844})  # a phone
    await shoot(page, base, "/console/my-organisation", "portal-phone", console)

    # The government's own grant has started: its admin creates a credential and sees the secret, once.
    await page.set_viewport_size({"width": 1280, "height": 800})
    clock.advance(timedelta(hours=2))
    await page.goto(f"{base}/login")
    await page.get_by_role("button", name="Sign in as Gail").click()
    await page.wait_for_url(f"{base}/console")
    await page.goto(f"{base}/console/grants/{ids['government_grant']}")
    await page.get_by_label("Name").fill("evaluation cluster")
    await page.get_by_role("button", name="Create the credential").click()
    await page.wait_for_load_state()
    assert "adks_" in await page.content()
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "credential-secret.png"), full_page=True)
    assert [m for m in console if CSP_WORDS in m] == [], console


# What overflows the viewport sideways: the page as a whole, or any table that is not inside a scrolling wrapper
# that itself fits (a wide table may scroll within its box; the page may not).
OVERFLOW = """() => {
  const width = window.innerWidth;
  const found = [];
  if (document.documentElement.scrollWidth > width) found.push(`the page: ${document.documentElement.scrollWidth}px`);
  for (const table of document.querySelectorAll('main table')) {
    const box = table.getBoundingClientRect();
    const wrapper = table.closest('.table-scroll');
    const scrolls = wrapper && getComputedStyle(wrapper).overflowX === 'auto';
    const held = scrolls ? wrapper.getBoundingClientRect() : box;
    if (held.left < 0 || held.right > width) found.push(`a table under "${table.closest('section')?.querySelector('h2')?.textContent}": ${Math.round(held.right)}px`);
  }
  return {width, scrollWidth: document.documentElement.scrollWidth, found};
}"""
PHONE = {"width": 390, "height": 844}


async def test_the_home_pages_fit_a_phones_width(browser_page, live_server, world, clock):
    """At 390 px the staff's home (its five-column queue scrolls within its box), the partner's home and the page
    that shows a new secret (its long addresses break) are no wider than the screen."""
    page, base = browser_page, live_server
    ids = await a_lived_in_world(world)
    clock.advance(timedelta(days=3))  # Northwind's access has begun: its home lists a credential too
    await world.commit()
    await page.set_viewport_size(PHONE)
    console = heard(page)
    measured = {}
    await sign_in_as(page, base, "Gail")  # staff: the decisions waiting (a five-column table), blocked grants
    assert await page.get_by_role("region", name="Waiting for your decision").get_by_role("row").count() > 1
    measured["staff"] = await page.evaluate(OVERFLOW)
    assert await accessibility_violations(page) == []
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"{base}/login")
    await page.get_by_role("button", name=f"Sign in as Admin ({ids['north_admin']})").click()
    await page.wait_for_url(f"{base}/console")
    await page.get_by_role("link", name="Create a credential for Atlas").click()
    await page.get_by_label("Name").fill("northwind evaluation cluster")
    await page.get_by_role("button", name="Create the credential").click()
    await page.wait_for_url(f"{base}/console/credentials/**")
    measured["secret"] = await page.evaluate(OVERFLOW)
    await page.goto(f"{base}/console")
    assert await page.get_by_role("region", name="Your access").get_by_role("row").count() > 1
    assert "northwind evaluation cluster" in await page.get_by_role("region", name="Your credentials").inner_text()
    measured["partner"] = await page.evaluate(OVERFLOW)
    assert await accessibility_violations(page) == []
    assert {name: m["found"] for name, m in measured.items()} == {"staff": [], "partner": [], "secret": []}, measured
    assert all(m["width"] == PHONE["width"] and m["scrollWidth"] <= m["width"] for m in measured.values()), measured
    assert [m for m in console if CSP_WORDS in m] == [], console
