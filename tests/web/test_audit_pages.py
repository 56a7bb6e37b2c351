"""The audit pages of the console: the trail with filters, paging and the chain's status, exports that can be
re-verified offline, and each grant's evidence bundle, for auditors and admins only."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import uuid
from datetime import timedelta

import pytest
from sqlmodel import col, select

from accessdesk.audit_export import CSV_COLUMNS, csv_cell
from accessdesk.db.tables import AuditEvent
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.evidence import Evidence
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.vocabulary import Area, OrgKind, Role, Verdict, Vetting
from tests.support.audit import tamper
from tests.support.console import match_in, sign_in
from tests.world import NDA_TEXT, OPERATOR

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


async def approved_grant(world, partner, *, developer_reason: str, government_reason: str):
    nomination = await world.nominate(partner, start=timedelta(days=2))
    coselection = CoSelection(world.unit)
    await coselection.decide(actor=world.dev_approver, nomination_id=nomination.id, verdict=Verdict.APPROVE,
                             reason=developer_reason)  # fmt: skip
    outcome = await coselection.decide(actor=world.gov_approver, nomination_id=nomination.id,
                                       verdict=Verdict.APPROVE, reason=government_reason)  # fmt: skip
    return nomination, outcome.grant


async def scene(world, *, partner_name: str = "Northwind", reason: str = "Evaluation plan reviewed"):
    """A partner (named as given, vetted, NDA accepted, all six areas attested) granted access by both sides."""
    await world.government_ready()
    await world.government_grant()
    orgs = Organisations(world.unit)
    partner = await orgs.create(actor=world.gov_admin, kind=OrgKind.PARTNER, name=partner_name, slug="northwind",
                                domains=["northwind.test"])  # fmt: skip
    admin = await world.person(partner, "admin", [Role.ADMIN])
    await orgs.submit_vetting(actor=admin, organisation_id=partner.id, submission="About us.")
    await orgs.decide_vetting(actor=world.gov_admin, organisation_id=partner.id, outcome=Vetting.VETTED, reason=None)
    await world.comply(admin)
    nomination, grant = await approved_grant(world, partner, developer_reason=reason,
                                             government_reason="Security review passed")  # fmt: skip
    return grant, nomination, admin


def seqs_in(html: str) -> list[int]:
    return [int(s) for s in re.findall(r"<tr>\s*<td>(\d+)</td>", html)]


def rehash(event: dict) -> str:
    """What an auditor would compute offline, from the export alone (no accessdesk code)."""
    body = {k: v for k, v in event.items() if k not in ("prev_hash", "hash")}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((event["prev_hash"] + canonical).encode()).hexdigest()


async def all_events(world) -> list[AuditEvent]:
    rows = (await world.unit.session.exec(select(AuditEvent).order_by(col(AuditEvent.seq).desc()))).all()
    return list(rows)


async def test_the_trail_lists_newest_first_and_pages_with_older_events(api, world):
    await scene(world)
    for name in ("southwind", "eastwind", "westwind"):  # enough events for three pages
        await world.partner(name=name)
    await sign_in(api, world.gov_admin)
    total = len(await all_events(world))
    first = await api.get("/console/audit", follow_redirects=False)
    assert first.status_code == 200, first.text
    assert seqs_in(first.text) == list(range(total, total - 50, -1))
    older = match_in(r'<a href="([^"]+)">Older events</a>', first.text, 1).replace("&amp;", "&")
    assert older == f"/console/audit?before_seq={total - 49}"
    link: str | None
    walked, link = seqs_in(first.text), older
    while link:
        shown = await api.get(link)
        assert shown.status_code == 200 and "Newest events" in shown.text
        walked += seqs_in(shown.text)
        found = re.search(r'<a href="([^"]+)">Older events</a>', shown.text)
        link = found.group(1).replace("&amp;", "&") if found else None
    assert walked == list(range(total, 0, -1))
    assert "gov1@aiso.test" in first.text and "session.started" in first.text


async def test_filters_narrow_the_trail_and_are_kept_when_paging(api, world):
    grant, nomination, _ = await scene(world)
    await sign_in(api, world.gov_admin)
    of_grant = await api.get("/console/audit", params={"subject_type": "access_grants", "subject_id": str(grant.id)})
    assert of_grant.status_code == 200
    assert "grant.created" in of_grant.text and "nomination.created" not in of_grant.text
    assert f'href="/console/grants/{grant.id}/evidence"' in of_grant.text
    assert '<option value="access_grants" selected>' in of_grant.text
    assert f"export.json?subject_type=access_grants&amp;subject_id={grant.id}" in of_grant.text

    decisions = await api.get("/console/audit", params={"action": "decision.recorded"})
    assert decisions.text.count("decision.recorded</a>") == 4  # two for the government's grant, two for Northwind
    assert "Reason: Evaluation plan reviewed" in decisions.text

    attested = await api.get("/console/audit", params={"action": "attestation.made", "before_seq": "10000"})
    assert len(seqs_in(attested.text)) == 12 and "Newest events" in attested.text
    nothing = await api.get("/console/audit", params={"action": "nothing.happened"})
    assert nothing.status_code == 200 and "No events match these filters." in nothing.text
    assert str(nomination.id) not in nothing.text


@pytest.mark.parametrize(("params", "message"), [
    ({"subject_type": "spaceships"}, "there is no subject type"),
    ({"action": "DROP TABLE audit_events"}, "an action is written like"),
    ({"subject_id": "x" * 65}, "a subject id is at most 64"),
    ({"subject_id": "a\x00b"}, "a subject id is at most 64"),
    ({"before_seq": "abc"}, "before_seq must be an event number"),
    ({"before_seq": "0"}, "before_seq must be an event number"),
    ({"before_seq": "99999999999999999999999"}, "before_seq must be an event number"),
    ({"before_seq": "１２"}, "before_seq must be an event number"),
])  # fmt: skip
async def test_unusable_filters_are_refused_with_a_clear_page(api, world, params, message):
    await sign_in(api, world.gov_admin)
    paging = "before_seq" in params  # the exports take the filters, not the list's paging
    for path in ("/console/audit",) if paging else ("/console/audit", "/console/audit/export.json",
                                                    "/console/audit/export.csv"):  # fmt: skip
        refused = await api.get(path, params=params, follow_redirects=False)
        assert refused.status_code == 400, (path, refused.text)
        assert message in refused.text and refused.headers["content-type"].startswith("text/html")


async def test_the_chain_is_shown_intact_then_broken_at_the_tampered_event(api, world):
    await scene(world)
    await sign_in(api, world.dev_admin)
    intact = await api.get("/console/audit")
    total = len(await all_events(world))
    head = (await all_events(world))[0]
    assert "Intact" in intact.text and f"{total} events verified" in intact.text
    assert f'event #{head.seq}, hash <code class="hash">{head.hash}</code>' in intact.text

    victim = next(e for e in await all_events(world) if e.action == "decision.recorded")
    await tamper(world.unit, "UPDATE audit_events SET reason = 'approved by nobody' WHERE seq = :seq", seq=victim.seq)
    broken = await api.get("/console/audit")
    assert broken.status_code == 200
    assert "Broken" in broken.text and f"#{victim.seq}</a>" in broken.text and str(victim.id) in broken.text
    assert "content does not match its hash (the event was altered)" in broken.text
    assert f"{victim.seq - 1} events before it verified" in broken.text


async def test_the_json_export_holds_every_event_with_hashes_that_verify_offline(api, world):
    await scene(world)
    await sign_in(api, world.gov_admin)
    response = await api.get("/console/audit/export.json")
    stored = await all_events(world)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"] == (
        f'attachment; filename="accessdesk-audit-2026-12-01-to-{stored[0].seq}.json"'
    )
    export = response.json()
    assert export["chain_head"] == {"seq": stored[0].seq, "hash": stored[0].hash}
    assert export["exported_by"] == "gail@aiso.test" and export["filters"] == {}
    events = export["events"]
    assert [e["seq"] for e in events] == [e.seq for e in stored]
    assert set(events[0]) == set(CSV_COLUMNS)
    assert all(rehash(e) == e["hash"] for e in events)
    assert all(newer["prev_hash"] == older["hash"] for newer, older in zip(events, events[1:], strict=False))
    assert events[-1]["prev_hash"] == "0" * 64

    filtered = (await api.get("/console/audit/export.json", params={"action": "attestation.made"})).json()
    assert filtered["filters"] == {"action": "attestation.made"}
    assert len(filtered["events"]) == 12 and {e["action"] for e in filtered["events"]} == {"attestation.made"}
    assert all(rehash(e) == e["hash"] for e in filtered["events"])


async def test_the_trail_is_read_in_batches_up_to_the_head(world):
    await scene(world)
    evidence = Evidence(world.unit)
    head = await evidence.head(world.gov_admin)
    await world.partner(name="latecomer")  # events after the head are not part of this export
    batches = [b async for b in evidence.trail(world.gov_admin, upto=head, batch=7)]
    assert {len(b) for b in batches[:-1]} == {7}
    assert [e["seq"] for b in batches for e in b] == list(range(head.seq, 0, -1))


async def test_the_csv_export_has_a_header_every_event_and_no_formulas(api, world):
    formula = '=HYPERLINK("https://evil.example","click")'
    await scene(world, reason=formula)
    second, _ = await world.partner(name="southwind")
    await approved_grant(world, second, developer_reason="@SUM(A1:A9)", government_reason="-2+3")
    await sign_in(api, world.gov_admin)
    response = await api.get("/console/audit/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="accessdesk-audit-2026-12-01-to-')
    rows = list(csv.reader(io.StringIO(response.text)))
    header, body = rows[0], rows[1:]
    assert header == CSV_COLUMNS and len(body) == len(await all_events(world))
    column = {name: i for i, name in enumerate(header)}
    reasons = {row[column["reason"]] for row in body if row[column["action"]] == "decision.recorded"}
    assert {"'" + formula, "'@SUM(A1:A9)", "'-2+3", "Security review passed"} <= reasons
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in body for cell in row)
    created = next(row for row in body if row[column["action"]] == "grant.created")
    assert json.loads(created[column["after"]])["state"] == "scheduled" and len(created[column["hash"]]) == 64

    assert [csv_cell(v) for v in ("\tcmd", "\rcmd", "+1", "plain", None, 5, {"a": 1})] == [
        "'\tcmd", "'\rcmd", "'+1", "plain", "", "5", '{"a":1}']  # fmt: skip


async def test_the_evidence_bundle_holds_what_justifies_a_grant(api, world):
    grant, nomination, partner_admin = await scene(world)
    extension = await CoSelection(world.unit).request_extension(
        actor=world.dev_nominator, grant_id=grant.id, ends_at=grant.ends_at + timedelta(days=20),
        justification="More time for red-teaming.",
    )  # fmt: skip
    await world.approve_both(extension)
    await sign_in(api, world.gov_admin)
    response = await api.get(f"/console/grants/{grant.id}/evidence.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == (
        f'attachment; filename="accessdesk-evidence-{grant.id}-2026-12-01.json"'
    )
    bundle = response.json()
    stored = await all_events(world)
    assert bundle["chain_head"] == {"seq": stored[0].seq, "hash": stored[0].hash}

    g = bundle["grant"]
    assert (g["id"], g["state"], g["model"]["slug"], g["organisation"]["name"]) == (str(grant.id), "scheduled",
                                                                                    "atlas", "Northwind")  # fmt: skip
    assert g["scopes"] == ["model:atlas:invoke"] and g["usable"] is False
    assert [p["code"] for p in g["problems"]] == ["window_not_started"]  # the domain's one answer, as everywhere
    original, extended = bundle["nominations"]
    assert original["id"] == str(nomination.id) and original["kind"] == "grant" and original["state"] == "approved"
    assert original["nominated_by"]["name"] == "Nora (nora@acme.test)"
    # sorted: the frozen clock gives both decisions the same instant, and ties are ordered by id
    assert sorted((d["side"], d["verdict"], d["reason"], d["approver"]["name"]) for d in original["decisions"]) == [
        ("developer", "approve", "Evaluation plan reviewed", "Dev1 (dev1@acme.test)"),
        ("government", "approve", "Security review passed", "Gov1 (gov1@aiso.test)")]  # fmt: skip
    assert extended["kind"] == "extension" and extended["state"] == "approved" and len(extended["decisions"]) == 2

    nda = bundle["nda"]
    sha = hashlib.sha256(NDA_TEXT.encode()).hexdigest()
    assert nda["template_in_force"]["version"] == "1.0" and nda["template_in_force"]["sha256"] == sha
    acceptance = nda["acceptance"]
    assert (acceptance["version"], acceptance["sha256"], acceptance["valid_now"]) == ("1.0", sha, True)
    assert acceptance["signer"]["name"] == "Admin (admin@northwind.test)"
    assert acceptance["template"]["text"] == NDA_TEXT and acceptance["template"]["text_matches_sha256"]
    assert {a["area"] for a in bundle["attestations"]} == {a.value for a in Area}
    assert all(a["in_force"] and a["statement"] == "We comply." for a in bundle["attestations"])

    events = bundle["audit"]["events"]
    actions = [e["action"] for e in events]
    for expected in ("nomination.created", "decision.recorded", "nomination.approved", "grant.created",
                     "grant.extended", "nda.accepted", "attestation.made"):  # fmt: skip
        assert expected in actions, expected
    assert actions.count("decision.recorded") == 4 and actions.count("attestation.made") == 6
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert all(rehash(e) == e["hash"] and e["seq"] <= bundle["chain_head"]["seq"] for e in events)
    assert {e["subject_id"] for e in events if e["subject_type"] == "access_grants"} == {str(grant.id)}


async def test_the_printable_evidence_page_shows_the_bundle(api, world):
    grant, _, _ = await scene(world)
    await sign_in(api, world.dev_admin)
    shown = await api.get(f"/console/grants/{grant.id}/evidence")
    assert shown.status_code == 200, shown.text
    text = shown.text
    assert "<h1>Evidence: Northwind on Atlas</h1>" in text
    assert f'href="/console/grants/{grant.id}/evidence.json"' in text and "Print" in text
    assert "Evaluation plan reviewed" in text and "Security review passed" in text
    assert "Acme NDA, version 1.0" in text and hashlib.sha256(NDA_TEXT.encode()).hexdigest() in text
    assert "matches the text of version 1.0" in text and "Admin (admin@northwind.test)" in text
    for area in Area:
        assert f"<td>{area.value.replace('_', ' ')}</td>" in text
    assert "grant.created" in text and "nomination.approved" in text and ">scheduled</span>" in text


async def test_people_without_audit_rights_are_refused_and_auditors_are_served(api, world, unchanged):  # noqa: F811
    grant, _, partner_admin = await scene(world)
    auditor = await world.person(world.developer, "audrey", [Role.AUDITOR])
    paths = ["/console/audit", "/console/audit/export.json", "/console/audit/export.csv",
             f"/console/grants/{grant.id}/evidence", f"/console/grants/{grant.id}/evidence.json"]  # fmt: skip
    for person in (partner_admin, world.dev_approver, world.gov_member):
        await sign_in(api, person)
        async with unchanged():
            for path in paths:
                refused = await api.get(path, follow_redirects=False)
                assert refused.status_code == 403, (person.label, path)
                assert "only auditors and admins read the audit trail" in refused.text
    await sign_in(api, auditor)
    async with unchanged():  # reading, verifying and exporting change nothing
        for path in paths:
            assert (await api.get(path, follow_redirects=False)).status_code == 200, path
    api.cookies.clear()
    assert (await api.get("/console/audit", follow_redirects=False)).headers["location"].startswith("/login?next=")


async def test_a_grant_out_of_sight_or_unknown_is_not_found(api, world):
    grant, _, _ = await scene(world)
    other = await Organisations(world.unit).create(actor=OPERATOR, kind=OrgKind.DEVELOPER, name="Other Labs",
                                                   slug="other", domains=["other.test"])  # fmt: skip
    other_admin = await world.person(other, "olga", [Role.ADMIN])
    await sign_in(api, other_admin)
    for path in (f"/console/grants/{grant.id}/evidence", f"/console/grants/{grant.id}/evidence.json"):
        hidden = await api.get(path, follow_redirects=False)
        assert hidden.status_code == 404 and "Not found" in hidden.text
    assert (await api.get("/console/audit")).status_code == 200  # an admin of their own developer still audits
    await sign_in(api, world.gov_admin)
    unknown = await api.get(f"/console/grants/{uuid.uuid4()}/evidence", follow_redirects=False)
    assert unknown.status_code == 404 and "not found" in unknown.text


async def test_user_text_is_escaped_on_the_audit_and_evidence_pages(api, world):
    grant, _, _ = await scene(world, partner_name=XSS, reason=XSS)
    await sign_in(api, world.gov_admin)
    pages = [await api.get("/console/audit", params={"subject_type": "organisations"}),
             await api.get("/console/audit", params={"action": "decision.recorded"}),
             await api.get(f"/console/grants/{grant.id}/evidence")]  # fmt: skip
    for shown in pages:
        assert shown.status_code == 200
        assert XSS not in shown.text and ESCAPED in shown.text
    assert f"<title>Evidence: {ESCAPED} on Atlas · accessdesk</title>" in pages[2].text


async def test_subjects_are_told_by_name_linked_to_their_page_and_actions_in_words(api, world):
    grant, nomination, partner_admin = await scene(world)
    await sign_in(api, world.gov_admin)
    shown = (await api.get("/console/audit")).text
    window = f"{grant.starts_at:%Y-%m-%d %H:%M} → {grant.ends_at:%Y-%m-%d %H:%M} UTC"
    assert f'<a href="/console/grants/{grant.id}">Atlas for Northwind, {window}</a>' in shown
    assert f'<a href="/console/nominations/{nomination.id}">Northwind for Atlas, {window}</a>' in shown
    assert f'<a href="/console/organisations/{nomination.organisation_id}">Northwind</a>' in shown
    assert f'<a href="/console/organisations/{world.government.id}">Gail (gail@aiso.test)</a>' in shown
    assert "approved the nomination" in shown and "created the grant" in shown and "decided: approve" in shown
    assert "attested" in shown and "signed in" in shown
    models = (await api.get("/console/audit", params={"subject_type": "frontier_models"})).text
    assert f'<a href="/console/models/{world.model.id}">Atlas</a>' in models and "registered the model" in models
    # Table names and bare ids are gone where a name is known.
    assert f"access_grants <code>{grant.id}</code>" not in shown and "users <code>" not in shown


async def test_the_trail_is_filtered_by_a_name_an_e_mail_a_slug_or_an_id(api, world):
    grant, nomination, _ = await scene(world)
    await world.partner(name="southwind")
    await sign_in(api, world.gov_admin)
    for typed, subject_type, subject_id in (
        ("NORTHWIND", "organisations", str(nomination.organisation_id)),  # a name, in any case
        ("northwind", "organisations", str(nomination.organisation_id)),  # its slug
        ("nora@acme.test", "users", str(world.dev_nominator.user_id)),
        ("atlas", "frontier_models", str(world.model.id)),
    ):  # fmt: skip
        asked = await api.get("/console/audit", params={"subject": typed, "action": ""}, follow_redirects=False)
        assert asked.status_code == 303, (typed, asked.text)
        assert asked.headers["location"] == f"/console/audit?subject_type={subject_type}&subject_id={subject_id}"
    by_id = await api.get("/console/audit", params={"subject": str(grant.id), "action": "grant.created"},
                          follow_redirects=False)  # fmt: skip
    assert by_id.headers["location"] == f"/console/audit?subject_id={grant.id}&action=grant.created"

    shown = await api.get("/console/audit", params={"subject": "northwind"})  # followed
    assert shown.status_code == 200
    assert "organisation.created" in shown.text and "grant.created" not in shown.text
    assert 'name="subject" value="northwind"' in shown.text and "Events about the organisation" in shown.text

    several = await api.get("/console/audit", params={"subject": "wind"})
    assert several.status_code == 200 and "Which one?" in several.text
    assert f'href="/console/audit?subject_type=organisations&amp;subject_id={nomination.organisation_id}"' in several.text
    assert ">Southwind</a>" in several.text and "admin@southwind.test" in several.text
    nobody = await api.get("/console/audit", params={"subject": "100%_nobody"})
    assert nobody.status_code == 200 and "No person, organisation or model you can see is called" in nobody.text

    export = await api.get("/console/audit/export.json", params={"subject": "northwind"})
    assert export.json()["filters"] == {"subject_type": "organisations", "subject_id": str(nomination.organisation_id)}
    assert {e["subject_id"] for e in export.json()["events"]} == {str(nomination.organisation_id)}
    unclear = await api.get("/console/audit/export.csv", params={"subject": "wind"})
    assert unclear.status_code == 400 and "choose one on the audit page" in unclear.text


async def test_a_reader_of_another_developer_sees_no_names_of_what_is_not_theirs(api, world):
    grant, nomination, _ = await scene(world)
    other = await Organisations(world.unit).create(actor=OPERATOR, kind=OrgKind.DEVELOPER, name="Other Labs",
                                                   slug="other", domains=["other.test"])  # fmt: skip
    other_admin = await world.person(other, "olga", [Role.ADMIN])
    await sign_in(api, other_admin)
    shown = (await api.get("/console/audit")).text
    assert f'href="/console/grants/{grant.id}"' not in shown and "Atlas for Northwind" not in shown
    assert f"grant <code>{grant.id}</code>" in shown and f"/console/grants/{grant.id}/evidence" not in shown
    asked = await api.get("/console/audit", params={"subject": "atlas"}, follow_redirects=False)
    assert asked.status_code == 200 and "No person, organisation or model you can see is called" in asked.text
