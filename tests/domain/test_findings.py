"""Evaluation findings in the domain: who may report one, who may read one (every audience level against every kind
of reader: its page, the lists, the counts and the export, or 404 and absent from all of them), the lifecycle
(every move in FINDING_MOVES, every move refused), widening an audience, and on PostgreSQL two moves at once: one
wins, the other is a conflict."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import col, select

from accessdesk.db.tables import AuditEvent, Finding, FindingRecipient, FindingUpdate, OutboxMessage
from accessdesk.domain.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from accessdesk.domain.finding_audience import ORDER
from accessdesk.domain.findings import FINDING_MOVES, FindingActions, Findings
from accessdesk.domain.grants import Grants
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Audience, FindingSeverity, FindingState, Role
from tests.support.finding_scenes import BODY, cast, evaluating_partner, red, reported
from tests.world import OPERATOR

S = FindingState
AUDIENCES = [a.value for a in ORDER]
# Who reads a finding the grantee reported, at each audience level (RED: named to dev1 and gov1).
READS = {
    "dev_admin": {"tlp_amber_strict", "tlp_amber", "tlp_green"},  # the developer, not named
    "dev_approver": set(AUDIENCES),  # the developer, named
    "rival": {"tlp_green"},  # another developer
    "gov_approver": set(AUDIENCES),  # the government, named
    "gov_member": {"tlp_amber_strict", "tlp_amber", "tlp_green"},  # the government, not named
    "grantee": set(AUDIENCES),  # the reporter
    "colleague": {"tlp_amber_strict", "tlp_amber", "tlp_green"},  # the reporter's organisation
    "other_grantee": {"tlp_amber", "tlp_green"},  # a current grantee of the model
    "former": {"tlp_green"},  # its grant revoked
    "outsider": {"tlp_green"},  # a partner with nothing to do with the model
}


def reader(world, people, name):
    return getattr(world, name) if hasattr(world, name) else getattr(people, name)


async def findings_written(world) -> tuple[int, int, int]:
    return await world.count(Finding), await world.count(FindingRecipient), await world.count(FindingUpdate)


async def nothing_written(world, refused, error, call):
    before = await findings_written(world)
    caught = await refused(error, call)
    assert await findings_written(world) == before
    return caught


async def test_each_audience_is_read_by_its_readers_alone_in_every_read(world, clock):
    people = await cast(world, clock)
    found = {a: (await red(world, people.grantee) if a == "tlp_red" else
                 await reported(world, people.grantee, audience=a, title=f"Finding {a}")) for a in AUDIENCES}  # fmt: skip
    findings = Findings(world.unit)
    for name, readable in READS.items():
        actor = reader(world, people, name)
        listed = {r.finding.id for r in (await findings.findings(actor)).items}
        exported = {e["id"] for e in await findings.export(actor)}
        counts = await findings.counts(actor, world.model.id)
        assert listed == {found[a].id for a in readable}, name
        assert exported == {str(found[a].id) for a in readable}, name
        assert counts.total == len(readable) == counts.by_state[S.REPORTED] == counts.by_severity[FindingSeverity.HIGH], name
        for audience, finding in found.items():
            if audience in readable:
                view = await findings.finding(actor, finding.id)
                assert view.finding.body == BODY
            else:
                with pytest.raises(NotFound, match=f"finding {finding.id} not found"):
                    await findings.finding(actor, finding.id)
                with pytest.raises(NotFound):
                    await findings.update(actor=actor, finding_id=finding.id, note="Can I see it?")
    system = await findings.counts(OPERATOR, world.model.id)
    assert system.total == 4


async def test_a_red_finding_is_hidden_from_government_people_not_named_and_widening_keeps_its_readers(world, clock):
    people = await cast(world, clock)
    finding = await red(world, people.grantee)
    findings = Findings(world.unit)
    for hidden in (world.gov_admin, world.gov_member, world.dev_admin, people.colleague):
        assert finding.id not in {r.finding.id for r in (await findings.findings(hidden)).items}
        assert (await findings.counts(hidden)).total == 0
    view = await findings.finding(world.gov_approver, finding.id)
    assert [p.shown for p in view.recipients] == ["Dev1 (dev1@acme.test), Acme AI", "Gov1 (gov1@aiso.test), AI Security Office"]

    await findings.update(actor=people.grantee, finding_id=finding.id, audience="tlp_amber_strict")
    assert (await findings.finding(world.gov_member, finding.id)).audience == Audience.AMBER_STRICT
    assert (await findings.finding(world.dev_approver, finding.id)).recipients  # the named stay readers


async def test_a_named_partner_recipient_stays_a_reader_once_the_audience_is_widened(world, clock):
    people = await cast(world, clock)
    finding = await reported(world, world.gov_approver, audience="tlp_red",
                             recipients=[world.dev_approver.user_id, world.gov_approver.user_id, people.former.user_id])  # fmt: skip
    findings = Findings(world.unit)
    assert (await findings.finding(people.former, finding.id)).finding.id == finding.id
    await findings.update(actor=world.gov_approver, finding_id=finding.id, audience="tlp_amber")
    assert (await findings.finding(people.former, finding.id)).audience == Audience.AMBER
    with pytest.raises(NotFound):
        await findings.finding(people.outsider, finding.id)


async def test_a_grantees_finding_is_read_by_the_developer_and_the_government_at_once(world, clock):
    people = await cast(world, clock)
    finding = await reported(world, people.colleague)  # any person of an evaluating grantee reports
    findings = Findings(world.unit)
    for actor in (world.dev_admin, world.dev_approver, world.gov_admin, world.gov_member):
        view = await findings.finding(actor, finding.id)
        assert view.finding.state == S.REPORTED and view.reporter.shown == "Cole (Evalco)"
    assert (await findings.finding(people.grantee, finding.id)).reporter.shown == "Cole (Evalco)"


async def test_who_may_report_a_finding(world, clock, refused):
    people = await cast(world, clock)
    for actor in (world.gov_admin, world.gov_approver, world.dev_admin, world.dev_approver, people.grantee,
                  people.colleague):
        assert (await reported(world, actor)).state == S.REPORTED
    findings = Findings(world.unit)
    refusals = {
        world.gov_member: (Forbidden, "only admins and approvers report findings on Atlas for the government"),
        world.dev_nominator: (Forbidden, "only admins and approvers report findings on Atlas for the developer"),
        people.other_grantee: (Forbidden, "your organisation holds no grant on Atlas with the evaluate action in force now"),
        people.former: (Forbidden, "your organisation holds no grant on Atlas with the evaluate action in force now"),
        people.rival: (NotFound, f"model {world.model.id} not found"),
        people.outsider: (NotFound, f"model {world.model.id} not found"),
        OPERATOR: (Forbidden, "a finding is reported by a person"),
    }
    for actor, (error, words) in refusals.items():
        caught = await nothing_written(world, refused, error, findings.report(
            actor=actor, model_id=world.model.id, title="T", body="B", severity="low", category="other",
            audience="tlp_green"))  # fmt: skip
        assert words in caught.message, (actor.label, caught.message)
    assert [m.slug for m in await findings.reportable_models(people.grantee)] == ["atlas"]
    assert await findings.reportable_models(people.other_grantee) == []
    # The developer reports on its own models only: another developer's model does not exist for it.
    await nothing_written(world, refused, NotFound, findings.report(
        actor=world.dev_admin, model_id=people.rival_model.id, title="T", body="B", severity="low",
        category="other", audience="tlp_green"))  # fmt: skip


async def test_a_grant_that_is_not_usable_now_does_not_let_its_holder_report(world, clock, refused):
    await world.government_ready()
    await world.government_grant(start=timedelta(hours=1))
    _, scheduled, _ = await evaluating_partner(world, "laterco", start=timedelta(days=5))
    _, suspended, grant = await evaluating_partner(world, "revokedco")
    clock.advance(timedelta(days=2))
    await world.rollback()
    findings = Findings(world.unit)
    assert not await findings.evaluates(scheduled, world.model)  # scheduled: not usable yet
    assert await findings.evaluates(suspended, world.model)
    await Grants(world.unit).revoke(actor=world.dev_admin, grant_id=grant.id, reason="Incident.")
    assert not await findings.evaluates(suspended, world.model)
    await refused(Forbidden, findings.report(actor=scheduled, model_id=world.model.id, title="T", body="B",
                                             severity="low", category="other", audience="tlp_green"))  # fmt: skip


async def test_a_report_is_audited_without_its_words_and_told_to_the_models_channels(world, clock):
    people = await cast(world, clock)
    finding = await red(world, people.grantee, title="Secret exploit", body="Secret body")
    event = (await world.unit.session.exec(select(AuditEvent).where(AuditEvent.subject_id == str(finding.id)))).one()
    assert (event.action, event.subject_type) == ("finding.reported", "findings")
    assert event.after == {"state": "reported", "severity": "high", "audience": "tlp_red",
                           "category": "cyber_capability", "attachments": 1, "recipients": 2}
    message = (await world.unit.session.exec(select(OutboxMessage).where(OutboxMessage.topic == "finding.reported"))).one()
    assert message.recipient == f"model:{world.model.id}:approvers"
    assert message.payload == {"finding_id": str(finding.id), "model_id": str(world.model.id), "audience": "tlp_red"}
    assert "Secret" not in repr(event.after) + repr(message.payload)


@pytest.mark.parametrize(("field", "value", "words"), [
    ("title", "", "give the finding a title"),
    ("title", "x" * 201, "a title may be at most 200 characters"),
    ("title", "two\nlines", "a title is one line of text"),
    ("body", "  ", "write what was found"),
    ("body", "x" * 20001, "what was found may be at most 20000 characters"),
    ("body", "nul\x00here", "holds a control character"),
    ("severity", "catastrophic", "severity must be one of: low, medium, high, critical"),
    ("category", "gossip", "category must be one of"),
    ("audience", "tlp_clear", "audience must be one of"),
    ("attachments", [{"name": "a", "sha256": "ab" * 32, "location": "javascript:alert(1)"}], "a location is an https:// address"),
    ("attachments", [{"name": "a", "sha256": "ab" * 32, "location": "http://evidence.test/x"}], "a location is an https:// address"),
    ("attachments", [{"name": "a", "sha256": "ab" * 32, "location": "https://user@evil.test/x"}], "a location is an https:// address"),
    ("attachments", [{"name": "a", "sha256": "ab" * 32, "location": "x" * 501}], "at most 500 characters"),
    ("attachments", [{"name": "a", "sha256": "zz" * 32, "location": "EVID-1"}], "64 hexadecimal digits"),
    ("attachments", [{"name": "a", "sha256": "ab" * 31, "location": "EVID-1"}], "64 hexadecimal digits"),
    ("attachments", [{"name": "a", "sha256": "ab" * 32, "location": "EVID-1", "content": "d2VpZ2h0cw=="}],
     "never the material itself: remove content"),
    ("attachments", [{"name": "", "sha256": "ab" * 32, "location": "EVID-1"}], "give the finding an attachment's name"),
    ("attachments", ["weights.bin"], "an attachment is a reference"),
    ("attachments", [{"name": "a", "sha256": "ab" * 32, "location": "EVID-1"}] * 21, "at most 20 attachments"),
    ("recipients", ["00000000-0000-0000-0000-000000000001"], "only a TLP:RED finding names its recipients"),
])  # fmt: skip
async def test_a_finding_that_breaks_a_rule_is_refused_and_nothing_is_written(world, clock, refused, field, value, words):
    people = await cast(world, clock)
    caught = await nothing_written(world, refused, Invalid, reported(world, people.grantee, **{field: value}))
    assert words in caught.message and caught.field.split("[")[0].split(".")[0] == field, caught.message


async def test_attachments_are_kept_as_references_with_their_hash_lower_cased(world, clock):
    people = await cast(world, clock)
    finding = await reported(world, people.grantee, attachments=[
        {"name": "run.jsonl", "sha256": "AB" * 32, "location": "vault/evals/atlas/run-17"},
        {"name": "report.pdf", "sha256": "cd" * 32, "location": "https://evidence.evalco.test/r/17?v=2"}])  # fmt: skip
    assert finding.attachments == [
        {"name": "run.jsonl", "sha256": "ab" * 32, "location": "vault/evals/atlas/run-17"},
        {"name": "report.pdf", "sha256": "cd" * 32, "location": "https://evidence.evalco.test/r/17?v=2"}]  # fmt: skip


async def test_red_recipients_must_be_active_people_who_see_the_model_of_both_parties(world, clock, refused):
    people = await cast(world, clock)
    disabled = await world.person(world.developer, "gone", [Role.APPROVER])
    await Organisations(world.unit).update_user(actor=OPERATOR, user_id=disabled.user_id, disabled=True)
    cases = [
        ([], "name at least one person of the model's developer and one of the government"),
        ([world.dev_approver.user_id], "name at least one person of the model's developer and one of the government"),
        ([world.gov_approver.user_id, people.grantee.user_id], "one of the government"),
        ([world.dev_approver.user_id, world.gov_approver.user_id, people.outsider.user_id], "is not an active person who can see Atlas"),
        ([world.dev_approver.user_id, world.gov_approver.user_id, people.rival.user_id], "is not an active person who can see Atlas"),
        ([world.dev_approver.user_id, world.gov_approver.user_id, "00000000-0000-0000-0000-000000000001"], "is not an active person"),
        ([world.dev_approver.user_id, world.gov_approver.user_id, disabled.user_id], "is not an active person"),
        ([world.dev_approver.user_id, world.gov_approver.user_id, "not-an-id"], "is not a person's id"),
    ]  # fmt: skip
    for recipients, words in cases:
        caught = await nothing_written(world, refused, Invalid, reported(world, people.grantee, audience="tlp_red",
                                                                         recipients=recipients))  # fmt: skip
        assert words in caught.message and caught.field == "recipients", caught.message
    too_many = [world.dev_approver.user_id, world.gov_approver.user_id] + [
        (await world.person(world.government, f"g{i}", [Role.MEMBER])).user_id for i in range(49)]  # fmt: skip
    caught = await nothing_written(world, refused, Invalid, reported(world, people.grantee, audience="tlp_red",
                                                                     recipients=too_many))  # fmt: skip
    assert "at most 50 people" in caught.message
    named_twice = await reported(world, people.grantee, audience="tlp_red", recipients=[
        world.dev_approver.user_id, str(world.dev_approver.user_id), world.gov_approver.user_id])  # fmt: skip
    assert len((await Findings(world.unit).finding(people.grantee, named_twice.id)).recipients) == 2


# ---- the lifecycle --------------------------------------------------------------------------------------------


async def at_state(world, finding, path):
    """Move ``finding`` along ``path`` as the developer's approver (the reporter reopens)."""
    for state in path:
        await Findings(world.unit).update(actor=world.dev_approver, finding_id=finding.id, to_state=state,
                                          note=f"Now {state}.")  # fmt: skip
    return finding


PATHS = {S.REPORTED: [], S.ACKNOWLEDGED: ["acknowledged"], S.DISPUTED: ["disputed"],
         S.MITIGATED: ["acknowledged", "mitigated"], S.ACCEPTED_RISK: ["acknowledged", "accepted_risk"]}  # fmt: skip


async def test_every_move_of_the_table_is_made_by_whom_it_names_with_a_step_and_an_audit_event(world, clock):
    people = await cast(world, clock)
    for start, moves in FINDING_MOVES.items():
        for target, mover in moves.items():
            finding = await at_state(world, await reported(world, people.grantee), PATHS[start])
            actor = world.dev_approver if mover == "developer" else people.grantee
            step = await Findings(world.unit).update(actor=actor, finding_id=finding.id, to_state=target.value,
                                                     from_state=start.value, note="Because.")  # fmt: skip
            assert step is not None and (step.from_state, step.to_state, step.note) == (start, target, "Because.")
            assert (await world.get(Finding, finding.id)).state == target
            event = (await world.unit.session.exec(select(AuditEvent).where(AuditEvent.subject_id == str(finding.id))
                                                   .order_by(col(AuditEvent.seq).desc()))).first()  # fmt: skip
            assert event.action == "finding.moved"
            assert event.before == {"state": start, "severity": "high", "audience": "tlp_amber_strict",
                                    "category": "cyber_capability"}
            assert event.after["state"] == target and set(event.after) == {"state", "severity", "audience", "category"}


async def test_every_move_outside_the_table_is_a_conflict_and_changes_nothing(world, clock, refused):
    people = await cast(world, clock)
    for start in S:
        finding = await at_state(world, await reported(world, people.grantee), PATHS[start])
        for target in S:
            if target in FINDING_MOVES[start]:
                continue
            caught = await nothing_written(world, refused, Conflict, Findings(world.unit).update(
                actor=world.dev_approver, finding_id=finding.id, to_state=target.value, note="Why not."))  # fmt: skip
            assert f"a finding that is {start.value.replace('_', ' ')} cannot move to" in caught.message


async def test_only_the_developer_responds_and_reopening_is_for_the_reporter_and_both_parties(world, clock, refused):
    people = await cast(world, clock)
    finding = await reported(world, people.grantee)
    for actor in (people.grantee, people.colleague, world.gov_admin, world.gov_approver, world.gov_member, world.dev_nominator):
        caught = await nothing_written(world, refused, Forbidden, Findings(world.unit).update(
            actor=actor, finding_id=finding.id, to_state="acknowledged"))  # fmt: skip
        assert caught.message == "only the model's developer (its admins and approvers) responds to a finding"
    await at_state(world, finding, ["acknowledged", "mitigated"])
    for actor in (people.colleague, world.gov_member, world.dev_nominator):
        caught = await nothing_written(world, refused, Forbidden, Findings(world.unit).update(
            actor=actor, finding_id=finding.id, to_state="acknowledged", note="Seen again."))  # fmt: skip
        assert "only the reporter, the government's or the developer's admins and approvers reopen" in caught.message
    for actor in (world.gov_approver, world.dev_admin, people.grantee):
        await Findings(world.unit).update(actor=actor, finding_id=finding.id, to_state="acknowledged", note="Again.")
        await at_state(world, finding, ["mitigated"])


@pytest.mark.parametrize("target", ["disputed", "mitigated", "accepted_risk"])
async def test_a_move_that_needs_a_reason_is_refused_without_one(world, clock, refused, target):
    people = await cast(world, clock)
    finding = await at_state(world, await reported(world, people.grantee), [] if target == "disputed" else ["acknowledged"])
    caught = await nothing_written(world, refused, Invalid, Findings(world.unit).update(
        actor=world.dev_approver, finding_id=finding.id, to_state=target, note="  "))  # fmt: skip
    assert caught.field == "note" and caught.message == f"say in a note why the finding is {target.replace('_', ' ')}"
    await at_state(world, finding, ["acknowledged"] if target == "disputed" else [])
    if target != "disputed":
        await at_state(world, finding, [target])
        caught = await nothing_written(world, refused, Invalid, Findings(world.unit).update(
            actor=people.grantee, finding_id=finding.id, to_state="acknowledged"))  # fmt: skip
        assert caught.message == "say in a note why the finding is reopened"


async def test_a_move_from_a_state_the_finding_is_no_longer_in_is_a_conflict(world, clock, refused):
    people = await cast(world, clock)
    finding = await at_state(world, await reported(world, people.grantee), ["acknowledged"])
    caught = await nothing_written(world, refused, Conflict, Findings(world.unit).update(
        actor=world.dev_admin, finding_id=finding.id, from_state="reported", to_state="disputed", note="No."))  # fmt: skip
    assert caught.message == "the finding is acknowledged now, no longer reported: reload it and decide again"


async def test_audience_members_add_notes_and_what_each_reader_may_do_is_offered(world, clock, refused):
    people = await cast(world, clock)
    finding = await reported(world, people.grantee, audience="tlp_amber")
    findings = Findings(world.unit)
    for actor in (people.other_grantee, world.gov_member, world.dev_admin):
        step = await findings.update(actor=actor, finding_id=finding.id, note=f"Noted by {actor.label}.")
        assert step is not None and step.to_state is None
    view = await findings.finding(people.grantee, finding.id)
    assert [s.author.shown for s in view.steps] == [
        "someone at another organisation", "Gus (the government)", "Dana (the model's developer)"]  # fmt: skip
    assert (await findings.finding(world.gov_admin, finding.id)).steps[0].author.shown == "Admin (Invokeco)"
    assert view.actions == FindingActions(moves=(), note=True, widen=(Audience.GREEN,))
    assert (await findings.finding(world.dev_approver, finding.id)).actions == FindingActions(
        moves=(S.ACKNOWLEDGED, S.DISPUTED), note=True, widen=(Audience.GREEN,))  # fmt: skip
    assert (await findings.finding(world.gov_approver, finding.id)).actions == FindingActions(note=True)
    caught = await nothing_written(world, refused, Invalid, findings.update(actor=world.gov_member, finding_id=finding.id,
                                                                            note=" "))  # fmt: skip
    assert caught.message == "write a note, or choose the state the finding moves to"
    messages = (await world.unit.session.exec(select(OutboxMessage.topic).where(
        col(OutboxMessage.topic).like("finding.%")))).all()  # fmt: skip
    assert list(messages) == ["finding.reported"]  # a note is the thread's alone


async def test_an_audience_is_widened_by_the_reporter_or_the_developer_and_never_narrowed(world, clock, refused):
    people = await cast(world, clock)
    finding = await reported(world, people.grantee, audience="tlp_amber")
    findings = Findings(world.unit)
    caught = await nothing_written(world, refused, Invalid, findings.update(
        actor=people.grantee, finding_id=finding.id, audience="tlp_amber_strict"))  # fmt: skip
    assert caught.message == "a finding's audience can only be widened once it is shared: it is TLP:AMBER, and TLP:AMBER+STRICT is not wider"
    for actor in (world.gov_admin, people.colleague, people.other_grantee):
        caught = await nothing_written(world, refused, Forbidden, findings.update(
            actor=actor, finding_id=finding.id, audience="tlp_green"))  # fmt: skip
        assert "only the reporter and the model's developer" in caught.message
    assert await findings.update(actor=world.dev_admin, finding_id=finding.id, audience="tlp_green") is None
    event = (await world.unit.session.exec(select(AuditEvent).where(AuditEvent.action == "finding.widened"))).one()
    assert (event.before["audience"], event.after["audience"]) == ("tlp_amber", "tlp_green")
    assert (await findings.finding(people.outsider, finding.id)).audience == Audience.GREEN
    caught = await nothing_written(world, refused, Invalid, findings.update(
        actor=world.dev_admin, finding_id=finding.id, audience="tlp_green"))  # fmt: skip
    assert caught.message == "the finding is TLP:GREEN already"


async def test_lists_filter_by_model_state_severity_and_audience_and_page(world, clock):
    people = await cast(world, clock)
    first = await reported(world, people.grantee, severity="low")
    clock.advance(timedelta(minutes=1))
    second = await reported(world, world.gov_approver, severity="critical", audience="tlp_green")
    await at_state(world, second, ["acknowledged"])
    findings = Findings(world.unit)
    assert [r.finding.id for r in (await findings.findings(world.dev_admin)).items] == [second.id, first.id]
    assert [r.finding.id for r in (await findings.findings(world.dev_admin, state="acknowledged")).items] == [second.id]
    assert [r.finding.id for r in (await findings.findings(world.dev_admin, severity="low")).items] == [first.id]
    assert [r.finding.id for r in (await findings.findings(world.dev_admin, audience="tlp_green")).items] == [second.id]
    assert (await findings.findings(world.dev_admin, model_id=people.rival_model.id)).items == []
    page = await findings.findings(world.dev_admin, limit=1)
    assert [r.finding.id for r in page.items] == [second.id] and page.next_cursor
    rest = await findings.findings(world.dev_admin, limit=1, cursor=page.next_cursor)
    assert [r.finding.id for r in rest.items] == [first.id] and rest.next_cursor is None
    with pytest.raises(Invalid, match="state must be one of"):
        await findings.findings(world.dev_admin, state="closed")
    counts = await findings.counts(world.dev_admin, world.model.id)
    assert (counts.total, counts.open, counts.by_state[S.ACKNOWLEDGED], counts.by_severity[FindingSeverity.CRITICAL]) == (2, 2, 1, 1)


async def test_the_export_carries_each_finding_with_its_thread(world, clock):
    people = await cast(world, clock)
    finding = await reported(world, people.grantee)
    await at_state(world, finding, ["acknowledged"])
    [exported] = await Findings(world.unit).export(world.gov_admin, world.model.id)
    assert exported["title"] == "Exploit chain without a jailbreak" and exported["audience"] == "TLP:AMBER+STRICT"
    assert exported["reporter"] == "Admin (Evalco)" and exported["reporter_kind"] == "partner"
    assert [(u["from_state"], u["to_state"], u["note"], u["author"]) for u in exported["updates"]] == [
        ("reported", "acknowledged", "Now acknowledged.", "Dev1 (Acme AI)")]  # fmt: skip
    assert (await Findings(world.unit).export(people.outsider)) == []


async def in_own_session(sessionmaker, clock, work):
    async with sessionmaker() as session:
        try:
            return await work(Unit(session, clock))
        except DomainError as exc:
            return exc


@pytest.mark.postgres_only
async def test_two_moves_at_once_one_wins_and_the_other_is_a_conflict(world, clock, sessionmaker):
    people = await cast(world, clock)
    for round_ in range(4):
        finding = await reported(world, people.grantee, title=f"Race {round_}")
        await world.commit()

        def move(actor, to, finding_id=finding.id):
            return lambda unit: Findings(unit).update(actor=actor, finding_id=finding_id, from_state="reported",
                                                      to_state=to, note=f"{to} by {actor.label}")  # fmt: skip

        work = [move(world.dev_approver, "acknowledged"), move(world.dev_admin, "disputed")]
        answers = await asyncio.gather(*[in_own_session(sessionmaker, clock, w) for w in work[:: 1 if round_ % 2 else -1]])
        assert sorted(type(a).__name__ for a in answers) == ["Conflict", "FindingUpdate"], answers
        steps = (await world.unit.session.exec(select(FindingUpdate).where(FindingUpdate.finding_id == finding.id))).all()
        assert len(steps) == 1
        assert (await world.get(Finding, finding.id)).state == steps[0].to_state
        await world.commit()
