"""A partner's console home leads with its access per model (each grant, its state and why it is not usable), what
it still owes before access flows, and its credentials, each linking to where it is done; none of the staff's
sections. The staff's home stays as it was."""

from __future__ import annotations

import re
from datetime import timedelta

from accessdesk.domain.compliance import Compliance
from accessdesk.domain.credentials import Credentials
from accessdesk.domain.vocabulary import Role
from tests.support.console import open_as, words_of
from tests.support.oauth import SETTINGS

HOME = "/console/my-organisation"
STAFF_SECTIONS = ("Waiting for your decision", "Blocked grants", "Access ending within")


def section(html: str, heading_id: str) -> str:
    """One ``<section>`` of the page, by its heading's id."""
    return html.split(f'id="{heading_id}">')[1].split("</section>")[0]


async def a_partner_with_two_grants(world, clock):
    """Northwind holds a grant on Atlas (active) and one on Hermes, blocked: Hermes has an NDA of its own that
    Northwind has not accepted (the government has). Atlas's grant has a credential."""
    northwind, admin = await world.partner(name="northwind")
    hermes = await world.new_model("hermes")
    await world.government_ready()
    await world.government_grant()
    await world.government_grant(model=hermes)
    atlas_grant = await world.approve_both(await world.nominate(northwind))
    hermes_grant = await world.approve_both(await world.nominate(northwind, model=hermes))
    hermes_nda = await Compliance(world.unit).publish_nda(actor=world.dev_admin, title="Hermes NDA",
                                                          body="Hermes only.", version="1.0", model_id=hermes.id)  # fmt: skip
    await Compliance(world.unit).accept_nda(actor=world.gov_admin, template_id=hermes_nda.id, sha256=hermes_nda.sha256)
    clock.advance(timedelta(days=2))  # Atlas's window has begun
    issued = await Credentials(world.unit, pepper=SETTINGS.pepper).create(actor=admin, grant_id=atlas_grant.id,
                                                                         name="eval cluster")  # fmt: skip
    return northwind, admin, atlas_grant, hermes_grant, hermes_nda, issued.client


async def test_a_partner_home_leads_with_its_access_what_it_owes_and_its_credentials(api, world, clock):
    northwind, admin, atlas_grant, hermes_grant, hermes_nda, client = await a_partner_with_two_grants(world, clock)
    southwind, _ = await world.partner(name="southwind")
    await world.approve_both(await world.nominate(southwind, start=timedelta(days=3)))

    html = (await open_as(api, admin, "/console")).text
    assert "<h1>Home</h1>" in html
    order = [html.index(f'id="{h}"') for h in ("access-h", "owed-h", "credentials-h")]
    assert order == sorted(order), "access first, then what is owed, then credentials"
    for staff in STAFF_SECTIONS:
        assert staff not in html
    assert "Southwind" not in html

    access = section(html, "access-h")
    rows = [words_of(row) for row in re.findall(r"<tr>(.*?)</tr>", access.split("<tbody>")[1], re.S)]
    assert rows == [
        "Atlas 2026-12-02 → 2027-01-01 active",
        "Hermes 2026-12-02 → 2027-01-01 blocked the current major version of the NDA has not been accepted",
    ], rows  # named by model and window, in the domain's words, with why it is blocked
    assert f'<a href="/console/grants/{atlas_grant.id}">Atlas</a>' in access
    assert f'<a href="/console/grants/{hermes_grant.id}">Hermes</a>' in access
    assert "Northwind" not in access

    owed = words_of(section(html, "owed-h"))
    assert "missing Accept Hermes NDA, version 1.0 (for Hermes)." in owed
    assert f'href="{HOME}/ndas/{hermes_nda.id}"' in section(html, "owed-h")

    credentials = section(html, "credentials-h")
    assert f"eval cluster <code>{client.client_id}</code>" in credentials and "active" in credentials
    assert f'<a href="/console/grants/{atlas_grant.id}#credentials-h">Manage the credentials for Atlas</a>' in credentials
    assert "Hermes" not in credentials  # blocked and without a credential: nothing to manage or create yet


async def test_a_usable_grant_without_a_credential_offers_to_create_one_to_its_admins_only(api, world, clock):
    northwind, admin = await world.partner(name="northwind")
    await world.government_ready()
    await world.government_grant()
    grant = await world.approve_both(await world.nominate(northwind))
    clock.advance(timedelta(days=2))
    member = await world.person(northwind, "mia", [Role.MEMBER])

    offered = section((await open_as(api, admin, "/console")).text, "credentials-h")
    assert f'none yet. <a href="/console/grants/{grant.id}#credentials-h">Create a credential for Atlas</a>' in offered
    member_home = (await open_as(api, member, "/console")).text
    assert "Create a credential" not in member_home and "No credential yet" in member_home
    assert f'<a href="/console/grants/{grant.id}">Atlas</a>' in member_home


async def test_a_new_partner_home_lists_everything_owed_with_a_link_to_each(api, world):
    northwind, admin = await world.partner(name="northwind", vetted=False, nda=False, attested=False)
    nomination = await world.nominate(northwind)

    html = (await open_as(api, admin, "/console")).text
    access = section(html, "access-h")
    assert "No access yet" in access
    assert f'<a href="{HOME}/nominations/{nomination.id}">Atlas,' in access
    assert "Waiting for a decision: Atlas, 2026-12-02 → 2027-01-01." in words_of(access)
    owed = section(html, "owed-h")
    assert f'<a href="{HOME}/vetting">Submit your vetting questionnaire</a>' in owed
    assert f'<a href="{HOME}/ndas/{world.nda.id}">Accept Acme NDA, version 1.0</a>' in owed
    for area in ("confidentiality", "cybersecurity", "insider_risk", "ip_protection", "use", "nondisclosure"):
        assert f'href="{HOME}/attestations#area-{area}"' in owed, area
    assert f'<a href="{HOME}/attestations#attest-h">Attest to all 6 areas in one form</a>' in owed
    assert "No credential yet" in section(html, "credentials-h")

    member = await world.person(northwind, "mia", [Role.MEMBER])
    owed = section((await open_as(api, member, "/console")).text, "owed-h")
    assert "Only your organisation's admins can complete them." in words_of(owed) and "in one form" not in owed


async def test_a_partner_with_everything_in_order_owes_nothing(api, world):
    _, admin = await world.partner(name="northwind")
    owed = words_of(section((await open_as(api, admin, "/console")).text, "owed-h"))
    assert owed.startswith("What you still owe valid Nothing: your organisation is vetted"), owed


async def test_the_staff_home_keeps_its_sections(api, world):
    partner, _ = await world.partner(name="northwind", nda=False)
    await world.government_ready()
    await world.government_grant()
    await world.approve_both(await world.nominate(partner))
    await world.nominate((await world.partner(name="southwind"))[0])
    for person in (world.gov_approver, world.dev_admin):
        html = (await open_as(api, person, "/console")).text
        for staff in STAFF_SECTIONS:
            assert staff in html, (person.label, staff)
        assert "Your access" not in html and "What you still owe" not in html and "Your credentials" not in html
    assert "Northwind on Atlas</a>: the current major version of the NDA has not been accepted" in html
