"""Attestations in one form: every requirement area still owed (or due for renewal) with its statement and evidence
fields, one date for them all, submitted at once. Areas left blank are skipped; a refusal of one area records
nothing, and shows the form again with everything typed kept and the error beside that area's field."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

from sqlmodel import select

from accessdesk.db.tables import AccessGrant, Attestation, AuditEvent
from accessdesk.domain.compliance import AreaStatement, Compliance
from accessdesk.domain.errors import Forbidden, Invalid, NotFound
from accessdesk.domain.vocabulary import Area, GrantState, Role
from tests.support.console import csrf_in, open_as, words_of

HOME = "/console/my-organisation"
FORM = f"{HOME}/attestations"
AREAS = [area.value for area in Area]


async def rows(world, table: type) -> list:
    return list((await world.unit.session.exec(select(table).execution_options(populate_existing=True))).all())


def every_area(world, days: int = 180) -> dict[str, str]:
    """The form with all six areas filled in, as an admin would."""
    form = {"valid_until": (world.now + timedelta(days=days)).date().isoformat()}
    for area in AREAS:
        form[f"{area}.statement"] = f"We keep to {area}."
        form[f"{area}.evidence_ref"] = f"EV-{area}"
    return form


def owed_fieldsets(html: str) -> list[str]:
    """The areas the form offers first (the owed ones), in order; those in order come after, folded away."""
    return re.findall(r'<fieldset id="area-([a-z_]+)">', html.split("<details")[0])


async def test_the_form_offers_every_area_owed_each_in_its_own_fieldset(api, world):
    _, admin = await world.partner(name="northwind", attested=False)
    html = (await open_as(api, admin, FORM)).text
    assert owed_fieldsets(html) == AREAS and "<details" not in html
    assert html.count("<legend>") == 6 and "<legend>Insider risk" in html
    for area in AREAS:  # every field has its label
        for part in ("statement", "evidence_ref"):
            assert f'<label for="{area}.{part}">' in html and f'id="{area}.{part}" name="{area}.{part}"' in html
    assert '<label for="valid_until">' in html and html.count('name="valid_until"') == 1
    assert "required" not in html.split('id="attest-h"')[1].split("</form>")[0]  # a blank area is skipped
    assert "Record these attestations" in html


async def test_all_six_areas_in_one_post_each_recorded_and_audited(api, world):
    organisation, admin = await world.partner(name="northwind", attested=False)
    await world.government_ready()
    await world.government_grant()
    grant = await world.approve_both(await world.nominate(organisation))
    assert (await world.get(AccessGrant, grant.id)).state == GrantState.BLOCKED  # no attestation on file
    page = await open_as(api, admin, FORM)

    form = every_area(world)
    done = await api.post(FORM, data={"csrf": csrf_in(page.text), **form}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"{FORM}?done=attested"
    made = [a for a in await rows(world, Attestation) if a.organisation_id == organisation.id]
    assert sorted(a.area for a in made) == sorted(AREAS)
    day = (world.now + timedelta(days=180)).date()
    for a in made:
        assert a.statement == f"We keep to {a.area}." and a.evidence_ref == f"EV-{a.area}"
        assert a.attested_by == admin.user_id and a.valid_until == datetime.combine(day, time.max, tzinfo=UTC)
    events = [e for e in await rows(world, AuditEvent) if e.action == "attestation.made" and e.actor_id == admin.user_id]
    assert sorted(e.subject_id for e in events) == sorted(str(a.id) for a in made)  # one event each
    assert (await world.get(AccessGrant, grant.id)).state == GrantState.SCHEDULED  # the gate opened at once

    shown = (await api.get(done.headers["location"])).text
    assert "Your attestations are recorded." in shown
    assert "Every area is attested and none is due for renewal." in words_of(shown)
    assert owed_fieldsets(shown) == []
    home = (await api.get("/console")).text
    assert f"{FORM}#area-" not in home and "in one form" not in home


async def test_areas_left_blank_are_skipped(api, world):
    _, admin = await world.partner(name="northwind", attested=False)
    page = await open_as(api, admin, FORM)
    form = {"valid_until": (world.now + timedelta(days=30)).date().isoformat(), "use.statement": "Evaluation only.",
            "insider_risk.statement": "Background checks.", "confidentiality.statement": "   "}  # fmt: skip
    done = await api.post(FORM, data={"csrf": csrf_in(page.text), **form}, follow_redirects=False)
    assert done.status_code == 303
    assert sorted(a.area for a in await rows(world, Attestation)) == ["insider_risk", "use"]

    shown = (await api.get(done.headers["location"])).text
    assert owed_fieldsets(shown) == ["confidentiality", "cybersecurity", "ip_protection", "nondisclosure"]
    folded = shown.split("<details>")[1].split("</details>")[0]  # in order now: renewable early, folded away
    assert "2 areas in order" in folded and 'id="area-insider_risk"' in folded and 'id="area-use"' in folded
    assert "Attest to 4 areas in one form" in (await api.get("/console")).text


async def test_areas_due_for_renewal_are_offered_with_the_ones_owed(api, world):
    _, admin = await world.partner(name="northwind", valid_days=10)
    html = (await open_as(api, admin, FORM)).text
    assert owed_fieldsets(html) == AREAS
    assert '<legend>Use <span class="badge warn">expiring soon</span></legend>' in html
    assert "due for renewal" in words_of(html.split('id="area-use"')[1].split("</fieldset>")[0])


async def test_one_area_refused_records_nothing_and_keeps_everything_typed(api, world, unchanged):
    _, admin = await world.partner(name="northwind", attested=False)
    page = await open_as(api, admin, FORM)
    form = every_area(world)
    form["ip_protection.statement"] = "x" * 10001

    async with unchanged():  # no attestation, no audit event, no grant touched
        refused = await api.post(FORM, data={"csrf": csrf_in(page.text), **form})
    assert refused.status_code == 422
    html = refused.text
    assert "Not done: a statement of 1 to 10000 characters is required" in html
    fieldset = html.split('id="area-ip_protection"')[1].split("</fieldset>")[0]
    assert ('aria-invalid="true" aria-describedby="ip_protection.statement-error"' in fieldset
            and '<span class="field-error" id="ip_protection.statement-error">a statement of 1 to 10000' in fieldset)
    assert html.count('class="field-error"') == 1  # beside that area's field only
    for area in AREAS:
        if area != "ip_protection":
            assert f">We keep to {area}.</textarea>" in html and f'value="EV-{area}"' in html, area
    assert "x" * 10001 in fieldset and f'value="{form["valid_until"]}"' in html
    assert await rows(world, Attestation) == []

    form["ip_protection.statement"] = "Patents and trade secrets guarded."  # fixed: the same form goes through
    done = await api.post(FORM, data={"csrf": csrf_in(html), **form}, follow_redirects=False)
    assert done.status_code == 303 and len(await rows(world, Attestation)) == 6


async def test_a_refused_area_that_was_in_order_is_shown_unfolded(api, world, unchanged):
    _, admin = await world.partner(name="northwind", attested=False)
    await Compliance(world.unit).attest(actor=admin, area=Area.USE, statement="Evaluation only.",
                                        valid_until=world.now + timedelta(days=200))  # fmt: skip
    page = await open_as(api, admin, FORM)
    assert "<details>" in page.text and "use" not in owed_fieldsets(page.text)  # in order: folded away
    data = {"csrf": csrf_in(page.text), "valid_until": (world.now + timedelta(days=30)).date().isoformat(),
            "use.evidence_ref": "EV-1"}  # fmt: skip
    async with unchanged():
        refused = await api.post(FORM, data=data)
    assert refused.status_code == 422 and "<details open>" in refused.text
    assert 'id="use.statement-error"' in refused.text and 'value="EV-1"' in refused.text


async def test_a_member_sees_no_form_and_cannot_post_one(api, world, unchanged):
    organisation, _ = await world.partner(name="northwind", attested=False)
    member = await world.person(organisation, "mia", [Role.MEMBER])
    page = await open_as(api, member, FORM)
    assert "Only your organisation's admins can attest." in words_of(page.text) and 'name="use.statement"' not in page.text
    async with unchanged():
        refused = await api.post(FORM, data={"csrf": csrf_in(page.text), **every_area(world)})
    assert refused.status_code == 403


async def test_the_use_case_is_all_or_nothing(world, refused):
    organisation, admin = await world.partner(name="northwind", attested=False)
    compliance = Compliance(world.unit)
    until = world.now + timedelta(days=30)
    good = [AreaStatement(Area.USE, "Evaluation only."), AreaStatement(Area.CONFIDENTIALITY, "Need to know.")]

    cases = [
        ([*good, AreaStatement(Area.INSIDER_RISK, " ")], until, "insider_risk.statement"),
        ([*good, AreaStatement(Area.NONDISCLOSURE, "Yes.", "e" * 501)], until, "nondisclosure.evidence_ref"),
        ([*good, AreaStatement("astrology", "Stars.")], until, "astrology.area"),
        ([*good, AreaStatement(Area.USE, "Again.")], until, "statements"),
        ([], until, "statements"),
        (good, None, "valid_until"),
        (good, world.now, "valid_until"),
        (good, world.now + timedelta(days=731), "valid_until"),
    ]  # fmt: skip
    for statements, valid_until, field in cases:
        error = await refused(Invalid, compliance.attest_all(actor=admin, statements=statements,
                                                             valid_until=valid_until))  # fmt: skip
        assert error.field == field, (field, error.message)
    assert await world.count(Attestation) == 0

    other, _ = await world.partner(name="southwind", attested=False)
    member = await world.person(organisation, "mia", [Role.MEMBER])
    for actor, organisation_id, error in ((member, None, Forbidden), (world.dev_admin, None, Forbidden),
                                          (admin, other.id, NotFound)):  # fmt: skip
        await refused(error, compliance.attest_all(actor=actor, statements=good, valid_until=until,
                                                   organisation_id=organisation_id))  # fmt: skip

    made = await compliance.attest_all(actor=admin, statements=good, valid_until=until)
    assert [a.area for a in made] == ["use", "confidentiality"] and await world.count(Attestation) == 2
