"""Organisations in the console: staff register partners, vet them, manage people and roles; disabling someone
ends their sessions at once. Refusals say why and change nothing."""

from __future__ import annotations

from html import unescape

from sqlmodel import select

from accessdesk.db.tables import Organisation, User
from accessdesk.domain.organisations import Organisations
from tests.support.api import commit_world_first
from tests.support.console import csrf_in, open_as, sign_in, submit

PARTNER = {"name": "Harbor Labs", "slug": "harbor", "domains": "harbor.test", "sector": "research", "country": "US",
           "contact_name": "Hana", "contact_email": "hana@harbor.test"}  # fmt: skip


async def organisation(world, slug: str) -> Organisation | None:
    found = (await world.unit.session.exec(select(Organisation).where(Organisation.slug == slug)
                                           .execution_options(populate_existing=True))).first()  # fmt: skip
    return found


async def test_staff_register_a_partner_and_filter_the_list(api, world):
    response = await submit(api, world.gov_admin, "/console/organisations/new", "/console/organisations/new", PARTNER)
    assert response.status_code == 303
    shown = await api.get(response.headers["location"])
    assert "The organisation is registered" in shown.text and "harbor.test" in shown.text and "invited" in shown.text
    listed = await api.get("/console/organisations?kind=partner&vetting=invited")
    assert "Harbor Labs" in listed.text and "Acme AI" not in listed.text
    assert "Harbor Labs" not in (await api.get("/console/organisations?vetting=vetted")).text


async def test_registration_refusals(api, world, unchanged):
    shown = await open_as(api, world.gov_admin, "/console/organisations/new")
    for field, value, status, message in [
        ("name", "", 422, "a name of 1 to 200 characters"),
        ("country", "usa", 422, "ISO 3166-1 alpha-2"),
        ("domains", "not a domain!", 422, "is not a valid e-mail domain"),
        ("domains", "acme.test", 409, "already belongs to an organisation"),
        ("slug", "acme", 409, "already exists"),
    ]:
        async with unchanged():
            response = await api.post("/console/organisations/new",
                                      data={"csrf": csrf_in(shown.text), **PARTNER, field: value})  # fmt: skip
        assert response.status_code == status, (field, response.text)
        assert message in unescape(response.text) and 'value="Hana"' in response.text
    await sign_in(api, world.gov_member)
    page = await api.get("/console/organisations")
    assert "Register a partner" not in page.text
    async with unchanged():
        response = await api.post("/console/organisations/new", data={"csrf": csrf_in(page.text), **PARTNER})
    assert response.status_code == 403


async def test_vetting_is_decided_in_the_console_with_a_reason_to_decline(api, world, unchanged):
    org, partner_admin = await world.partner(name="harbor", vetted=False)
    await Organisations(world.unit).submit_vetting(actor=partner_admin, organisation_id=org.id,
                                                   submission="We are a <b>lab</b>.")  # fmt: skip
    page = f"/console/organisations/{org.id}"
    developer_view = await open_as(api, world.dev_admin, page)
    assert "We are a &lt;b&gt;lab&lt;/b&gt;." in developer_view.text  # the developer sees it, and does not decide it
    assert 'action="/console/organisations/' + str(org.id) + '/vetting"' not in developer_view.text
    async with unchanged():
        response = await api.post(f"{page}/vetting", data={"csrf": csrf_in(developer_view.text), "outcome": "vetted"})
    assert response.status_code == 403 and "vetting is the government&#39;s screening" in response.text
    shown = await open_as(api, world.gov_approver, page)
    async with unchanged():
        response = await api.post(f"{page}/vetting", data={"csrf": csrf_in(shown.text), "outcome": "declined"})
    assert response.status_code == 422 and "a reason is required to decline" in response.text
    async with unchanged():
        response = await api.post(f"{page}/vetting", data={"csrf": csrf_in(shown.text), "outcome": "invited"})
    assert response.status_code == 422 and "vetted or declined" in response.text
    response = await api.post(f"{page}/vetting", data={"csrf": csrf_in(shown.text), "outcome": "vetted"},
                              follow_redirects=False)  # fmt: skip
    assert response.status_code == 303
    harbor = await organisation(world, "harbor")
    assert harbor is not None and harbor.vetting_state == "vetted"
    await sign_in(api, world.gov_member)
    approver_view = await api.get(page)
    assert 'action="/console/organisations/' + str(org.id) + '/vetting"' not in approver_view.text


async def test_people_are_added_their_roles_changed_and_disabling_ends_their_sessions(api, world, unchanged):
    org, _ = await world.partner(name="harbor")
    page = f"/console/organisations/{org.id}"
    response = await submit(api, world.gov_admin, page, f"{page}/members",
                            {"name": "Pat", "email": "pat@harbor.test", "roles": ["member", "nominator"]})  # fmt: skip
    assert response.status_code == 303
    pat = (await world.unit.session.exec(select(User).where(User.email == "pat@harbor.test"))).one()
    shown = await api.get(page)
    async with unchanged():
        duplicate = await api.post(f"{page}/members", data={"csrf": csrf_in(shown.text), "name": "Pat",
                                                             "email": "PAT@harbor.test", "roles": "member"})  # fmt: skip
    assert duplicate.status_code == 409 and "already exists" in duplicate.text
    async with unchanged():
        bad_role = await api.post(f"{page}/members", data={"csrf": csrf_in(shown.text), "name": "Quinn",
                                                            "email": "quinn@harbor.test", "roles": "owner"})  # fmt: skip
    assert bad_role.status_code == 422 and "roles are" in bad_role.text
    roles = await api.post(f"{page}/members/{pat.id}", data={"csrf": csrf_in(shown.text), "change": "roles",
                                                              "roles": ["admin"]}, follow_redirects=False)  # fmt: skip
    assert roles.status_code == 303

    # Pat signs in elsewhere; the government admin disables Pat, and Pat's session is over at once.
    from litestar.testing import AsyncTestClient

    async with commit_world_first(AsyncTestClient(app=api.app), world) as pats_browser:
        await sign_in(pats_browser, type("P", (), {"user_id": pat.id})())
        assert (await pats_browser.get("/console", follow_redirects=False)).status_code == 200
        disabled = await api.post(f"{page}/members/{pat.id}", data={"csrf": csrf_in(shown.text), "change": "disable"},
                                  follow_redirects=False)  # fmt: skip
        assert disabled.status_code == 303
        assert "their sessions have ended" in (await api.get(disabled.headers["location"])).text
        assert (await pats_browser.get("/console", follow_redirects=False)).status_code == 303


async def test_nobody_disables_themselves_and_partners_see_only_their_own(api, world, unchanged):
    org, partner_admin = await world.partner(name="harbor")
    other, _ = await world.partner(name="southwind")
    page = f"/console/organisations/{org.id}"
    shown = await open_as(api, partner_admin, page)
    async with unchanged():
        response = await api.post(f"{page}/members/{partner_admin.user_id}",
                                  data={"csrf": csrf_in(shown.text), "change": "disable"})  # fmt: skip
    assert response.status_code == 403 and "you cannot disable yourself" in response.text
    assert (await api.get(f"/console/organisations/{other.id}")).status_code == 404
    assert (await api.get(f"/console/organisations/{world.developer.id}")).status_code == 404


async def test_organisation_names_are_escaped(api, world):
    response = await submit(api, world.gov_admin, "/console/organisations/new", "/console/organisations/new",
                            {**PARTNER, "name": "<script>alert(1)</script>"})  # fmt: skip
    assert response.status_code == 303
    listed = await api.get("/console/organisations")
    assert "<script>alert(1)</script>" not in listed.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in listed.text


async def test_a_developer_neither_offered_nor_allowed_to_manage_a_partners_people(api, world, unchanged):
    """Partners are shared by every developer's programmes: a developer's admin sees a partner and changes nothing
    of it (the partner's own admins and the government manage it)."""
    org, _ = await world.partner(name="harbor")
    page = f"/console/organisations/{org.id}"
    shown = await open_as(api, world.dev_admin, page)
    assert f'action="{page}/members"' not in shown.text
    async with unchanged():
        response = await api.post(f"{page}/members", data={"csrf": csrf_in(shown.text), "name": "Mole",
                                                           "email": "mole@harbor.test", "roles": "admin"})  # fmt: skip
    assert response.status_code == 403 and "partners are managed by their own admins and the government" in unescape(
        response.text)  # fmt: skip


async def test_an_organisations_lists_show_their_first_part_and_link_to_the_rest(api, world, monkeypatch):
    """The organisation page and the partner's own overview used to load the first 100 grants and nominations and
    say nothing of the rest; now they show the first part and link to the whole list, narrowed to the organisation."""
    from datetime import timedelta

    import accessdesk.web.organisation_pages as organisation_pages
    import accessdesk.web.portal as portal

    monkeypatch.setattr(organisation_pages, "FIRST_OF_LIST", 1)
    monkeypatch.setattr(portal, "FIRST_OF_LIST", 1)
    await world.government_ready()
    await world.government_grant()
    org, partner_admin = await world.partner(name="harbor")
    other, _ = await world.partner(name="southwind")
    second = await world.new_model("boreas")
    for model in (world.model, second):
        await world.approve_both(await world.nominate(org, start=timedelta(days=2), model=model))
    await world.approve_both(await world.nominate(other, start=timedelta(days=2)))

    page = await open_as(api, world.gov_admin, f"/console/organisations/{org.id}")
    assert f'href="/console/grants?organisation_id={org.id}"' in page.text
    narrowed = await api.get(f"/console/grants?organisation_id={org.id}")
    assert "Only Harbor's grants" in unescape(narrowed.text)
    assert narrowed.text.count('href="/console/grants/') == 2 and "Southwind" not in narrowed.text
    alone = await open_as(api, world.gov_admin, f"/console/organisations/{other.id}")
    assert "grants?organisation_id=" not in alone.text  # one grant: nothing more to link to

    overview = await open_as(api, partner_admin, "/console/my-organisation")
    assert "All your organisation's nominations" in unescape(overview.text)
    assert "All your organisation's grants" in unescape(overview.text)
