"""The printable evidence page and its JSON carry the model's designation with its consultation rounds and the
evaluation findings counted for whoever exports them, never a word of a thread or a finding."""

from __future__ import annotations

from accessdesk.domain.consultations import Consultations
from tests.support.console import sign_in, words_of
from tests.support.finding_scenes import SECRET_WORDS, THREAD_WORDS, a_bundle_scene


def part(html: str, heading: str, until: str) -> str:
    return words_of(html.split(f"<h2>{heading}</h2>")[1].split(f"<h2>{until}</h2>")[0])


async def test_the_page_shows_the_rounds_and_the_findings_counted_for_the_reader(api, world):
    grant, _ = await a_bundle_scene(world)
    await sign_in(api, world.gov_admin)
    html = (await api.get(f"/console/grants/{grant.id}/evidence")).text
    designation = part(html, "Designation", "Evaluation findings")
    assert "Atlas is covered (since 2026-12-04 12:00 UTC, assessment ASSESS-ATLAS-7 )" in designation
    assert "2 2026-12-01 12:00 UTC opened by the government: Gov1 (gov1@aiso.test)" in designation
    assert "covered, 2026-12-04 12:00 UTC assessment ASSESS-ATLAS-7, Gail (gail@aiso.test) 3 days 2" in designation
    findings = part(html, "Evaluation findings", "Audit events")
    assert "4 findings on Atlas you may read, 4 still open" in findings and "critical: 1" in findings
    assert "consultation.decided" in html and "Dev2 (dev2@acme.test), their delegate" in words_of(html)
    assert THREAD_WORDS not in html and SECRET_WORDS not in html
    # The developer's admin is named on neither TLP:RED finding: three, no critical one.
    await sign_in(api, world.dev_admin)
    findings = part((await api.get(f"/console/grants/{grant.id}/evidence")).text, "Evaluation findings", "Audit events")
    assert "3 findings on Atlas you may read" in findings and "critical: 0" in findings
    bundle = (await api.get(f"/console/grants/{grant.id}/evidence.json")).json()
    assert bundle["findings"]["total"] == 3 and len(bundle["designation"]["consultations"]) == 2


async def test_an_open_round_says_so(api, world):
    grant, _ = await a_bundle_scene(world)
    await Consultations(world.unit).open(actor=world.gov_approver, model_id=world.model.id, note="Checkpoint 8.")
    await sign_in(api, world.dev_admin)
    html = (await api.get(f"/console/grants/{grant.id}/evidence")).text
    designation = part(html, "Designation", "Evaluation findings")
    assert "Atlas is in consultation" in designation and "open less than an hour 0" in designation
