"""The partner portal: a partner sees only itself, and what it still owes; vetting, the NDA clickwrap and attestations
go through the domain, whose refusals are shown next to the field and change nothing."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, time, timedelta

from sqlmodel import select

from accessdesk.db.tables import Attestation, AuditEvent, NdaAcceptance, Organisation
from accessdesk.domain.compliance import Compliance
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.vocabulary import Area, OrgKind, Role
from tests.support.console import csrf_in, sign_in
from tests.world import NDA_TEXT

HOME = "/console/my-organisation"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) accessdesk-test"


async def signed_in_page(api, person, path: str = HOME):
    await sign_in(api, person)
    page = await api.get(path, follow_redirects=False)
    assert page.status_code == 200, page.text
    return page


async def rows(world, table: type) -> list:
    found = list((await world.unit.session.exec(select(table).execution_options(populate_existing=True))).all())
    return found


def in_days(world, days: int) -> str:
    return (world.now + timedelta(days=days)).date().isoformat()


def every_form(world) -> list[tuple[str, dict[str, str]]]:
    """Each portal form, filled in as an admin would (without the CSRF token)."""
    return [(f"{HOME}/vetting", {"submission": "About us."}),
            (f"{HOME}/ndas/{world.nda.id}", {"sha256": world.nda.sha256, "accept": "yes"}),
            (f"{HOME}/attestations", {"use.statement": "Only evaluation.", "valid_until": in_days(world, 30)})]


def forms_in(html: str) -> list[str]:
    return re.findall(r'<form method="post" action="([^"]+)"', html)


async def test_the_overview_shows_my_organisation_and_nothing_of_another(api, world):
    northwind, admin = await world.partner(name="northwind")
    await world.nominate(northwind)
    await world.partner(name="southwind")

    page = await signed_in_page(api, admin)
    html = page.text
    assert "<h1>Northwind</h1>" in html and "admin@northwind.test" in html
    assert "Nothing: your organisation is vetted" in html  # vetted, NDA accepted and six areas attested
    assert "<strong>Atlas</strong>" in html and "every prerequisite is in order" in html
    assert "Acme NDA" in html and html.count('class="badge ok">valid') >= 7  # the NDA and the six areas
    assert "Southwind" not in html and "southwind" not in html
    assert "/console/my-organisation/nominations/" in html  # each nomination, as the partner may know it


async def test_the_overview_lists_what_is_still_owed(api, world):
    _, admin = await world.partner(name="northwind", vetted=False, nda=False, attested=False)
    compliance = Compliance(world.unit)
    await compliance.attest(actor=admin, area=Area.CYBERSECURITY, statement="ISO 27001.",
                            valid_until=world.now + timedelta(days=10))  # fmt: skip
    await compliance.attest(actor=admin, area=Area.USE, statement="Evaluation only.",
                            valid_until=world.now + timedelta(days=200))  # fmt: skip

    html = (await signed_in_page(api, admin)).text
    owed = " ".join(html.split('id="owed-h"')[1].split("</section>")[0].split())
    assert "Submit your vetting questionnaire" in owed
    assert f'href="{HOME}/ndas/{world.nda.id}">Accept Acme NDA,' in owed
    assert "Insider risk</a>: nothing attested yet." in owed and "Confidentiality</a>: nothing attested" in owed
    soon = (world.now + timedelta(days=10)).date()
    assert (f'expiring soon</span> <a href="{HOME}/attestations#area-cybersecurity">Cybersecurity</a>: the attestation '
            f'is valid until <time datetime="{soon}T') in owed and f">{soon}</time>" in owed
    assert "Use</a>" not in owed and "Accept Acme NDA, version 1.0</a>." in owed  # Use: 200 days, nothing owed
    assert f'<a href="{HOME}/attestations#attest-h">Attest to 5 areas in one form</a>' in owed


async def test_submitting_vetting_moves_it_to_review_once(api, world, unchanged):
    organisation, admin = await world.partner(name="northwind", vetted=False, nda=False, attested=False)
    page = await signed_in_page(api, admin, f"{HOME}/vetting")
    assert f"{HOME}/vetting" in forms_in(page.text)
    csrf = csrf_in(page.text)

    async with unchanged():
        empty = await api.post(f"{HOME}/vetting", data={"csrf": csrf, "submission": "   "})
    assert empty.status_code == 422
    assert 'id="submission-error"' in empty.text and "must be 1 to 20000 characters" in empty.text

    done = await api.post(f"{HOME}/vetting", data={"csrf": csrf, "submission": "We are a <b>lab</b>."},
                          follow_redirects=False)  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == f"{HOME}?done=vetting_submitted"
    stored = await world.get(Organisation, organisation.id)
    assert stored.vetting_state == "submitted" and stored.vetting_submission == "We are a <b>lab</b>."
    shown = (await api.get(done.headers["location"])).text
    assert "Your vetting submission is with the reviewers" in shown

    async with unchanged():
        again = await api.post(f"{HOME}/vetting", data={"csrf": csrf, "submission": "Once more."})
    assert again.status_code == 409 and "vetting cannot go from submitted to submitted" in again.text
    assert "We are a &lt;b&gt;lab&lt;/b&gt;." in again.text and f'action="{HOME}/vetting"' not in again.text


async def test_accepting_the_nda_records_the_signer_the_text_and_where_from(api, world):
    organisation, admin = await world.partner(name="northwind", nda=False)
    page = await signed_in_page(api, admin, f"{HOME}/ndas/{world.nda.id}")
    assert NDA_TEXT.strip() in page.text and world.nda.sha256 in page.text
    assert "accept it on behalf of Northwind" in page.text

    done = await api.post(f"{HOME}/ndas/{world.nda.id}", headers={"user-agent": BROWSER},
                          data={"csrf": csrf_in(page.text), "sha256": world.nda.sha256, "accept": "yes"},
                          follow_redirects=False)  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == f"{HOME}?done=nda_accepted"
    [acceptance] = await rows(world, NdaAcceptance)
    assert acceptance.organisation_id == organisation.id and acceptance.signer_id == admin.user_id
    assert acceptance.sha256 == world.nda.sha256 and acceptance.version == "1.0"
    assert acceptance.accepted_at == world.now and acceptance.signer_ip == "testclient"
    assert acceptance.signer_user_agent == BROWSER
    events = [e for e in await rows(world, AuditEvent) if e.action == "nda.accepted"]
    assert len(events) == 1 and events[0].actor_id == admin.user_id and events[0].subject_id == str(acceptance.id)
    again = (await api.get(f"{HOME}/ndas/{world.nda.id}")).text
    assert "Admin (admin@northwind.test)" in again and "Accept again" in again


async def test_the_nda_is_refused_without_the_tick_with_another_text_or_once_replaced(api, world, unchanged):
    _, admin = await world.partner(name="northwind", nda=False)
    page = await signed_in_page(api, admin, f"{HOME}/ndas/{world.nda.id}")
    csrf, url = csrf_in(page.text), f"{HOME}/ndas/{world.nda.id}"

    async with unchanged():
        unticked = await api.post(url, data={"csrf": csrf, "sha256": world.nda.sha256})
        tampered = await api.post(url, data={"csrf": csrf, "sha256": "0" * 64, "accept": "yes"})
    assert unticked.status_code == 422 and 'id="accept-error"' in unticked.text and "tick the box" in unticked.text
    assert tampered.status_code == 422 and "not this version&#39;s text" in tampered.text

    newer = await Compliance(world.unit).publish_nda(actor=world.dev_admin, title="Acme NDA", body=NDA_TEXT + "More.",
                                                     version="2.0")  # fmt: skip
    async with unchanged():
        replaced = await api.post(url, data={"csrf": csrf, "sha256": world.nda.sha256, "accept": "yes"})
    assert replaced.status_code == 409 and "a newer version of this NDA has been published" in replaced.text
    assert f'href="{HOME}/ndas/{newer.id}"' in replaced.text and forms_in(replaced.text) == ["/logout"]


async def test_an_nda_the_partner_cannot_see_does_not_exist_for_it(api, world, unchanged):
    hermes = await world.new_model("hermes")
    secret = await Compliance(world.unit).publish_nda(actor=world.dev_admin, title="Hermes NDA", body="Hermes only.",
                                                      version="1.0", model_id=hermes.id)  # fmt: skip
    involved, involved_admin = await world.partner(name="northwind")
    await world.nominate(involved, model=hermes)
    _, stranger = await world.partner(name="southwind")

    await signed_in_page(api, involved_admin, f"{HOME}/ndas/{secret.id}")
    page = await signed_in_page(api, stranger)
    assert "Hermes" not in page.text
    for template_id in (secret.id, uuid.uuid4()):
        assert (await api.get(f"{HOME}/ndas/{template_id}")).status_code == 404
        async with unchanged():
            form = {"csrf": csrf_in(page.text), "sha256": secret.sha256, "accept": "yes"}
            refused = await api.post(f"{HOME}/ndas/{template_id}", data=form)
        assert refused.status_code == 404 and "Not found" in refused.text


async def test_attesting_records_the_area_until_the_end_of_the_day(api, world, unchanged):
    organisation, admin = await world.partner(name="northwind", attested=False)
    page = await signed_in_page(api, admin, f"{HOME}/attestations")
    assert '<fieldset id="area-insider_risk">' in page.text and 'name="insider_risk.statement"' in page.text
    # A text box in UTC like every date of the console (the browser's date picker showed its own locale), which
    # says the days it takes.
    assert f"from {world.now.date()} to {(world.now + timedelta(days=729)).date()}" in page.text
    assert 'name="valid_until" type="text"' in page.text or 'type="text" name="valid_until"' in page.text
    csrf = csrf_in(page.text)
    day = (world.now + timedelta(days=90)).date()

    done = await api.post(f"{HOME}/attestations", follow_redirects=False, data={
        "csrf": csrf, "insider_risk.statement": "Background checks for all staff.",
        "valid_until": day.isoformat(), "insider_risk.evidence_ref": "HR-2026-17"})  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == f"{HOME}/attestations?done=attested"
    [attestation] = await rows(world, Attestation)
    assert attestation.organisation_id == organisation.id and attestation.area == "insider_risk"
    assert attestation.attested_by == admin.user_id and attestation.evidence_ref == "HR-2026-17"
    assert attestation.valid_until == datetime.combine(day, time.max, tzinfo=UTC)
    shown = (await api.get(done.headers["location"])).text
    assert "Your attestations are recorded." in shown and "Background checks for all staff." in shown

    good = {"csrf": csrf, "cybersecurity.statement": "SOC 2.", "valid_until": day.isoformat()}
    cases = [
        ({"valid_until": in_days(world, -1)}, "valid_until", "must be valid until a future date"),
        ({"valid_until": in_days(world, 731)}, "valid_until", "at most two years"),
        ({"valid_until": "tomorrow"}, "valid_until", "enter a date"),
        ({"valid_until": ""}, "valid_until", "enter the date the attestations are valid until"),
        ({"cybersecurity.statement": "", "cybersecurity.evidence_ref": "SOC-2"}, "cybersecurity.statement",
         "a statement of 1 to 10000 characters is required"),
        ({"cybersecurity.evidence_ref": "x" * 501}, "cybersecurity.evidence_ref", "at most 500 characters"),
        ({"cybersecurity.statement": ""}, "statements", "write the statement of at least one requirement area"),
    ]  # fmt: skip
    for change, field, message in cases:
        async with unchanged():
            refused = await api.post(f"{HOME}/attestations", data={**good, **change})
        assert refused.status_code == 422, (change, refused.text)
        assert re.search(f'id="{re.escape(field)}-error">[^<]*{message}', refused.text), change
        assert "SOC 2." in refused.text or "cybersecurity.statement" in change, change  # what was typed stays
        if field != "statements":
            assert f'aria-invalid="true" aria-describedby="{field}-error"' in refused.text, change


async def test_a_partner_member_sees_no_forms_and_cannot_act(api, world, unchanged):
    organisation, _ = await world.partner(name="northwind", vetted=False, nda=False, attested=False)
    member = await world.person(organisation, "mia", [Role.MEMBER])
    await sign_in(api, member)
    pages = {path: await api.get(path, follow_redirects=False)
             for path in (HOME, f"{HOME}/vetting", f"{HOME}/ndas/{world.nda.id}", f"{HOME}/attestations")}  # fmt: skip
    for path, page in pages.items():
        assert page.status_code == 200 and forms_in(page.text) == ["/logout"], path
    assert "Only your organisation's admins can accept an NDA" in pages[f"{HOME}/ndas/{world.nda.id}"].text

    csrf = csrf_in(pages[HOME].text)
    for path, data in every_form(world):
        async with unchanged():
            refused = await api.post(path, data={"csrf": csrf, **data})
        assert refused.status_code == 403 and "Not done: only" in refused.text, path


async def test_a_form_without_the_csrf_token_changes_nothing(api, world, unchanged):
    _, admin = await world.partner(name="northwind", vetted=False, nda=False, attested=False)
    await signed_in_page(api, admin)
    for path, data in every_form(world):
        async with unchanged():
            refused = await api.post(path, data={**data, "csrf": "forged"})
            missing = await api.post(path, data=data)
        assert refused.status_code == missing.status_code == 403, path


async def test_developer_staff_are_sent_to_their_own_pages(api, world, unchanged):
    page = await signed_in_page(api, world.dev_admin, "/console")
    refused = await api.get(HOME, follow_redirects=False)
    assert refused.status_code == 403 and "Developer staff find organisations under Organisations" in refused.text
    async with unchanged():
        posted = await api.post(f"{HOME}/attestations", data={
            "csrf": csrf_in(page.text), "use.statement": "We use it.", "valid_until": in_days(world, 30)})  # fmt: skip
    assert posted.status_code == 403


async def test_the_government_accepts_ndas_and_attests_here_but_is_not_vetted(api, world, unchanged):
    page = await signed_in_page(api, world.gov_admin, HOME)
    assert ">Our obligations</a>" in page.text and "Acme NDA" in page.text  # its own, as a grantee
    assert "Submit your vetting questionnaire" not in page.text
    assert (await api.get(f"{HOME}/vetting")).status_code == 404
    posted = await api.post(f"{HOME}/attestations", data={
        "csrf": csrf_in(page.text), "use.statement": "We use it lawfully.", "valid_until": in_days(world, 30)},
        follow_redirects=False)  # fmt: skip
    assert posted.status_code == 303
    assert "We use it lawfully." in (await api.get(f"{HOME}/attestations")).text


async def test_without_a_session_the_portal_asks_to_sign_in(api, world):
    response = await api.get(f"{HOME}/attestations", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")


async def test_what_a_partner_typed_is_shown_as_text(api, world):
    script = "<script>alert(1)</script>"
    organisation = await Organisations(world.unit).create(actor=world.gov_admin, kind=OrgKind.PARTNER, name=script,
                                                          slug="xss", domains=["xss.test"])  # fmt: skip
    admin = await world.person(organisation, "admin", [Role.ADMIN])
    await Compliance(world.unit).attest(
        actor=admin, area=Area.USE, statement='<img src=x onerror="alert(2)">', evidence_ref="<b>ref</b>",
        valid_until=world.now + timedelta(days=30),
    )
    for path in (HOME, f"{HOME}/attestations", f"{HOME}/ndas/{world.nda.id}", f"{HOME}/vetting"):
        html = (await signed_in_page(api, admin, path)).text
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>ref" not in html, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in (await api.get(HOME)).text
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in (await api.get(f"{HOME}/attestations")).text
