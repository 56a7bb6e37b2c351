"""A model's programme page in the console: its sections in order, two server-drawn SVG pictures (each with a title,
a description and its numbers in a table), the 30-day line drawn, every name escaped, nothing styled inline (the
Content Security Policy forbids it); a partner sees its own part and no other organisation; a stranger, nothing."""

from __future__ import annotations

import re
from datetime import timedelta

from accessdesk.db.tables import Cohort, Organisation
from accessdesk.domain.consultations import Consultations
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.credentials import Credentials, count_issuance
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.programme import Programme
from accessdesk.domain.vocabulary import Audience, OrgKind, Role, Verdict
from accessdesk.web.programme_svg import timeline_svg, token_chart, tokens_svg
from tests.support.console import open_as, sign_in, words_of
from tests.support.finding_scenes import red, reported
from tests.support.oauth import SETTINGS
from tests.support.scenes import rival_developer

SECTIONS = ("consultation-h", "government-h", "nominations-h", "grants-h", "stages-h", "owed-h", "credentials-h",
            "findings-h", "timeline-h", "tokens-h")
OTHERS = ("Southwind", "Eastwind", "Westwind", "AI Security Office")


def page_of(world) -> str:
    return f"/console/models/{world.model.id}/programme"


def section(html: str, heading_id: str) -> str:
    return html.split(f'id="{heading_id}">')[1].split("</section>")[0]


async def a_programme(world):
    """The government's access; a cohort "Wave 1" of Northwind (active, with a credential that issued tokens on two
    days) and Southwind (pending); Eastwind not vetted (pending); Westwind granted without the NDA (blocked)."""
    await world.government_ready()
    await world.government_grant()
    north, north_admin = await world.partner(name="northwind")
    south, _ = await world.partner(name="southwind")
    east, _ = await world.partner(name="eastwind", vetted=False, attested=False)
    west, _ = await world.partner(name="westwind", nda=False)
    wave = [await world.nominate(north), await world.nominate(south, start=timedelta(days=4))]
    cohort = Cohort(model_id=world.model.id, name="Wave 1", starts_at=wave[0].starts_at, ends_at=wave[0].ends_at,
                    actions=["invoke"], justification="Pre-release evaluation.", nominated_by=wave[0].nominated_by,
                    created_at=world.now)  # fmt: skip
    world.unit.session.add(cohort)
    await world.unit.session.flush()
    for nomination in wave:
        nomination.cohort_id = cohort.id
        world.unit.session.add(nomination)
    await world.unit.session.commit()
    grant = await world.approve_both(wave[0])
    await world.nominate(east, start=timedelta(days=4))
    await world.approve_both(await world.nominate(west, start=timedelta(days=2)))
    world.clock.advance(timedelta(days=2))
    issued = await Credentials(world.unit, pepper=SETTINGS.pepper).create(actor=north_admin, grant_id=grant.id,
                                                                         name="eval cluster")  # fmt: skip
    await count_issuance(world.unit, issued.client.id, n=4, at=world.now - timedelta(days=1))
    await count_issuance(world.unit, issued.client.id, n=7, at=world.now)
    await world.unit.commit()
    return north_admin


async def test_staff_see_every_section_in_order_with_both_pictures(api, world):
    await a_programme(world)
    model_page = (await open_as(api, world.dev_admin, f"/console/models/{world.model.id}")).text
    assert f'href="{page_of(world)}"' in model_page  # linked from the model's page
    html = (await api.get(page_of(world))).text
    assert "<h1>Programme of Atlas" in html
    order = [html.index(f'id="{h}"') for h in SECTIONS]
    assert order == sorted(order)

    government = words_of(section(html, "government-h"))
    assert "AI Security Office" in government and "active" in government
    nominations = words_of(section(html, "nominations-h"))
    assert "Wave 1" in nominations and "1 pending, 1 approved" in nominations
    assert "pending 1 1 2" in nominations  # in cohorts, not in a cohort, all
    grants = section(html, "grants-h")
    assert "active: 2" in words_of(grants) and "blocked: 1" in words_of(grants)
    assert "the current major version of the NDA has not been accepted" in grants and "<details>" in grants
    stages = words_of(section(html, "stages-h"))
    assert "blocked: 1" in stages and "ready to provision: 1" in stages and "ready: 1" in stages
    assert "Westwind, " in stages and "not been accepted (grantee)" in stages
    owed = words_of(section(html, "owed-h")).replace(" :", ":")
    assert "2 of 5 organisations in the programme" in owed
    assert "Westwind: Acme NDA 1.0 (missing)" in owed and "Eastwind: Vetting (invited), Confidentiality (missing)" in owed
    assert "Issued: 1 Live: 1 Revoked: 0 Tokens issued in all: 11" in words_of(section(html, "credentials-h"))

    timeline = section(html, "timeline-h")
    assert re.search(r'<svg [^>]*role="img"[^>]*aria-labelledby="timeline-title timeline-desc"', timeline)
    assert '<title id="timeline-title">Access windows of Atlas against its planned release</title>' in timeline
    assert "Release − 30 days 2026-11-21: earliest government start" in timeline  # the 30-day line, labelled
    assert 'stroke-dasharray="7 4"' in timeline and "Planned release 2026-12-21" in timeline
    assert "Today 2026-12-03" in timeline
    assert words_of(timeline).count("Cohort: Wave 1") >= 2  # drawn, and in the table below
    assert words_of(timeline).count("Westwind") >= 2 and '<a href="/console/cohorts/' in timeline
    tokens = section(html, "tokens-h")
    assert '<title id="tokens-title">' in tokens and '<desc id="tokens-desc">11 tokens issued' in tokens
    assert "2026-12-02 4 4" in words_of(tokens) and "2026-12-03 7 7" in words_of(tokens)
    assert "style=" not in html  # the CSP allows no inline style: colours are presentation attributes
    consultation = words_of(section(html, "consultation-h")).replace(" :", ":").replace(" )", ")")
    assert "Outcome: covered (round 1, decided 2026-12-01 12:00 UTC after less than an hour; assessment ASSESS-ATLAS)" in consultation
    findings = words_of(section(html, "findings-h"))
    assert "0 findings on Atlas shared with you" in findings and "By state" not in findings


async def test_findings_are_counted_and_the_open_round_shown_as_the_reader_may_know_them(api, world):
    north_admin = await a_programme(world)
    await red(world, world.gov_approver, severity="critical")  # named to dev1 and gov1 only
    await reported(world, world.gov_approver, audience=Audience.AMBER_STRICT.value, severity="high")
    await reported(world, world.gov_approver, audience=Audience.AMBER.value, severity="medium")
    reopened = await Consultations(world.unit).open(actor=world.gov_approver, model_id=world.model.id,
                                                    note="A new checkpoint.")  # fmt: skip
    world.clock.advance(timedelta(days=3))
    html = (await open_as(api, world.dev_admin, page_of(world))).text
    consultation = section(html, "consultation-h")
    said = words_of(consultation).replace(" :", ":")
    assert "Round 2 is open: opened by the government 2026-12-03 12:00 UTC, waiting 3 days" in said
    assert f'href="/console/consultations/{reopened.id}"' in consultation
    assert "The previous round's outcome: covered (round 1" in said
    assert f'href="/console/models/{world.model.id}/consultations"' in consultation
    findings = words_of(section(html, "findings-h"))
    assert "2 findings on Atlas shared with you, 2 still open" in findings
    assert "reported: 2" in findings and "high: 1" in findings and "medium: 1" in findings and "critical: 0" in findings
    assert f'href="/console/findings?model_id={world.model.id}"' in section(html, "findings-h")
    named = words_of(section((await open_as(api, world.dev_approver, page_of(world))).text, "findings-h"))
    assert "3 findings on Atlas" in named and "critical: 1" in named
    # A partner: the TLP:AMBER finding of a model it holds a grant on, and no consultation at all.
    html = (await open_as(api, north_admin, page_of(world))).text
    assert 'id="consultation-h"' not in html and str(reopened.id) not in html and "Designation consultation" not in html
    partner = words_of(section(html, "findings-h"))
    assert "1 finding on Atlas shared with you, 1 still open" in partner and "medium: 1" in partner


async def test_a_partner_sees_its_own_part_and_no_other_organisation(api, world):
    north_admin = await a_programme(world)
    html = (await open_as(api, north_admin, page_of(world))).text
    assert "your organisation's own part of the programme" in words_of(html)
    for other in OTHERS:
        assert other not in html, other
    assert "Northwind" in html and "Wave 1" in html
    assert "Issued: 1 Live: 1" in words_of(section(html, "credentials-h"))
    # A partner's member (no admin) of the same organisation sees the same part.
    member = await world.person(await world.get(Organisation, north_admin.organisation_id), "pat", [Role.MEMBER])
    assert "Northwind" in (await open_as(api, member, page_of(world))).text


async def test_strangers_get_not_found(api, world):
    await a_programme(world)
    _, stranger = await world.partner(name="stranger")
    _, rival_admin, _, _ = await rival_developer(world)
    for person in (stranger, rival_admin):
        await sign_in(api, person)
        shown = await api.get(page_of(world))
        assert shown.status_code == 404
        assert f"model {world.model.id} not found" in shown.text and "Northwind" not in shown.text
    api.cookies.clear()  # no session: the page sends the browser to sign in
    signed_out = await api.get(page_of(world), follow_redirects=False)
    assert signed_out.status_code in (302, 303) and "/login" in signed_out.headers["location"]


async def test_names_are_escaped_in_the_pictures_and_the_tables(api, world):
    await world.government_ready()
    await world.government_grant()
    evil = await Organisations(world.unit).create(actor=world.gov_admin, kind=OrgKind.PARTNER, slug="evil",
                                                  name='<script>alert("x")</script> & Co')  # fmt: skip
    nomination = await CoSelection(world.unit).nominate(actor=world.dev_nominator, model_id=world.model.id, organisation_id=evil.id,
                                           starts_at=world.now + timedelta(days=1), ends_at=world.now + timedelta(days=9),
                                           actions=["invoke"], justification="Testing escapes.")  # fmt: skip
    for approver in (world.dev_approver, world.gov_approver):
        await CoSelection(world.unit).decide(actor=approver, nomination_id=nomination.id, verdict=Verdict.APPROVE)
    overview = await Programme(world.unit).overview(world.dev_admin, world.model.id)
    svg = str(timeline_svg(overview))
    assert "<script>" not in svg and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in svg
    html = (await open_as(api, world.dev_admin, page_of(world))).text
    assert "<script>alert" not in html and "&lt;script&gt;" in html


async def test_before_any_token_the_picture_says_so(api, world):
    seen = await Programme(world.unit).overview(world.dev_admin, world.model.id)
    assert "No tokens issued yet" in str(tokens_svg(seen)) and token_chart(seen).empty
    assert "No grant yet: no window to draw" in str(timeline_svg(seen))
    html = (await open_as(api, world.gov_admin, page_of(world))).text
    tokens = words_of(section(html, "tokens-h"))
    assert "No tokens issued yet" in tokens and "<table" not in section(html, "tokens-h")
    assert "The government has no grant for Atlas yet" in words_of(section(html, "government-h"))
    # The 30-day line is drawn even before any window.
    assert "Release − 30 days" in section(html, "timeline-h")


async def test_many_grants_are_drawn_as_the_busiest_few_and_the_others_together(world):
    await world.government_ready()
    await world.government_grant()
    world.clock.advance(timedelta(hours=2))
    grants = []
    for _ in range(10):
        organisation, admin = await world.partner()
        grant = await world.approve_both(await world.nominate(organisation, start=timedelta(hours=1)))
        grants.append((admin, grant))
    world.clock.advance(timedelta(hours=2))
    for n, (admin, grant) in enumerate(grants):
        issued = await Credentials(world.unit, pepper=SETTINGS.pepper).create(actor=admin, grant_id=grant.id, name="c")
        await count_issuance(world.unit, issued.client.id, n=n + 1, at=world.now)
    await world.unit.commit()
    seen = await Programme(world.unit).overview(world.dev_admin, world.model.id)
    chart = token_chart(seen)
    assert len(chart.columns) == 8 and chart.columns[-1] == "3 other grants" and chart.grant_ids[-1] is None
    assert chart.rows_with_tokens() == [(world.now.date(), [10, 9, 8, 7, 6, 5, 4, 6], 55)]
    svg = str(tokens_svg(seen))
    assert "3 other grants: 6" in svg and "Tokens per day" in svg and "Day (UTC)" in svg
