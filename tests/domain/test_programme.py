"""A model's programme overview: the government's access, cohorts and nominations, grants by state with the reasons
of those that need attention, what the grantees owe, credentials and tokens per day, all counted by the database
in a number of queries that does not grow with the programme; staff who look after the model see all of it, a
partner its own part only, anyone else nothing. The evaluation findings are counted as each reader may read them
(never one outside its audience), and the designation consultation is shown to those who read it only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from accessdesk.db.tables import Cohort, Nomination, Organisation
from accessdesk.domain.actor import Actor
from accessdesk.domain.consultations import Consultations
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.credentials import Credentials, count_issuance
from accessdesk.domain.errors import Invalid, NotFound
from accessdesk.domain.findings import Findings
from accessdesk.domain.grants import Grants
from accessdesk.domain.programme import OWN, PROGRAMME, OwedItem, Programme
from accessdesk.domain.vocabulary import (
    Area,
    Audience,
    Designation,
    FindingSeverity,
    FindingState,
    GrantState,
    NominationState,
    Role,
    Verdict,
)
from tests.support.domain import counting
from tests.support.finding_scenes import red, reported
from tests.support.oauth import SETTINGS
from tests.support.scenes import rival_developer


@dataclass
class Scene:
    cohort: Cohort
    north: Organisation
    north_admin: Actor
    south: Organisation
    east: Organisation
    east_admin: Actor
    west: Organisation
    north_grant: uuid.UUID
    west_grant: uuid.UUID
    government_grant: uuid.UUID
    client: uuid.UUID


async def cohort_of(world, name: str, members: list[Nomination]) -> Cohort:
    """A cohort row over nominations already made (as the cohort service records one): the overview only reads."""
    first = members[0]
    cohort = Cohort(model_id=first.model_id, name=name, starts_at=first.starts_at, ends_at=first.ends_at,
                    actions=list(first.actions), justification=first.justification, nominated_by=first.nominated_by,
                    created_at=world.now)  # fmt: skip
    world.unit.session.add(cohort)
    await world.unit.session.flush()
    for nomination in members:
        nomination.cohort_id = cohort.id
        world.unit.session.add(nomination)
    await world.unit.session.commit()
    return cohort


async def a_programme(world) -> Scene:
    """The government's access (active two days from now), a cohort "Wave 1" of Northwind (active, a credential
    that issued tokens) and Southwind (approved by the developer only, lapsed when the window began undecided);
    Eastwind not vetted nor attested, pending outside any cohort; Westwind granted without the NDA (blocked); Northwind's second nomination
    rejected."""
    await world.government_ready()
    government = await world.government_grant()
    north, north_admin = await world.partner(name="northwind")
    south, _ = await world.partner(name="southwind")
    east, east_admin = await world.partner(name="eastwind", vetted=False, attested=False)
    west, _ = await world.partner(name="westwind", nda=False)
    wave = [await world.nominate(north), await world.nominate(south)]
    cohort = await cohort_of(world, "Wave 1", wave)
    north_grant = await world.approve_both(wave[0])
    await CoSelection(world.unit).decide(actor=world.dev_approver, nomination_id=wave[1].id, verdict=Verdict.APPROVE)
    await world.nominate(east, start=timedelta(days=4))
    west_grant = await world.approve_both(await world.nominate(west, start=timedelta(days=2)))
    late = await world.nominate(north, start=timedelta(days=40))
    await CoSelection(world.unit).decide(actor=world.gov_approver, nomination_id=late.id, verdict=Verdict.REJECT,
                                         reason="One window at a time.")  # fmt: skip
    world.clock.advance(timedelta(days=2))
    issued = await Credentials(world.unit, pepper=SETTINGS.pepper).create(actor=north_admin, grant_id=north_grant.id,
                                                                         name="eval cluster")  # fmt: skip
    for days_ago, n in ((1, 4), (0, 7)):
        await count_issuance(world.unit, issued.client.id, n=n, at=world.now - timedelta(days=days_ago))
    await world.unit.commit()
    return Scene(cohort=cohort, north=north, north_admin=north_admin, south=south, east=east, east_admin=east_admin,
                 west=west, north_grant=north_grant.id, west_grant=west_grant.id, government_grant=government.id,
                 client=issued.client.id)  # fmt: skip


async def test_staff_see_the_whole_programme_counted(world):
    scene = await a_programme(world)
    seen = await Programme(world.unit).overview(world.dev_admin, world.model.id)
    assert seen.scope == PROGRAMME and seen.at == world.now
    assert seen.model.slug == "atlas" and seen.model.earliest_government_start == world.model.planned_release_at - timedelta(days=30)
    assert [(g.organisation_name, g.state, g.usable) for g in seen.government] == [("AI Security Office", GrantState.ACTIVE, True)]

    assert [(c.name, c.size) for c in seen.cohorts] == [("Wave 1", 2)]
    assert seen.cohorts[0].by_state[NominationState.APPROVED] == 1 and seen.cohorts[0].by_state[NominationState.LAPSED] == 1
    n = seen.nominations
    assert (n.by_state[NominationState.APPROVED], n.by_state[NominationState.PENDING], n.by_state[NominationState.LAPSED],
            n.by_state[NominationState.REJECTED], n.total) == (3, 1, 1, 1, 6)  # fmt: skip
    assert n.in_cohorts == {**dict.fromkeys(NominationState, 0), NominationState.APPROVED: 1, NominationState.LAPSED: 1}
    assert n.outside_cohorts == {**dict.fromkeys(NominationState, 0), NominationState.APPROVED: 2,
                                 NominationState.PENDING: 1, NominationState.REJECTED: 1}  # fmt: skip

    assert seen.grants.by_state[GrantState.ACTIVE] == 2 and seen.grants.by_state[GrantState.BLOCKED] == 1
    assert seen.grants.total == 3
    [blocked] = seen.grants.attention
    assert (blocked.grant_id, blocked.organisation_name, blocked.reasons) == (scene.west_grant, "Westwind", ("nda_missing",))
    # The grant's own answer, word for word.
    assert blocked.explanations == (await Grants(world.unit).usability(scene.west_grant)).explanations
    assert seen.grants.reasons == [("nda_missing", 1)]

    assert seen.credentials.issued == 1 and seen.credentials.live == 1 and seen.credentials.tokens_issued == 11
    # The government's grant, a bar for the cohort's window (its members' grants counted by state), the rest.
    assert [(w.label, w.cohort_id, w.grant_id) for w in seen.windows] == [
        ("AI Security Office", None, seen.government[0].grant_id), ("1 grant", scene.cohort.id, None),
        ("Westwind", None, scene.west_grant)]  # fmt: skip
    assert seen.windows[1].by_state == {GrantState.ACTIVE: 1} and seen.windows[1].states_in_words == "1 active"
    assert seen.cohort_name(scene.cohort.id) == "Wave 1"


async def test_what_is_owed_is_listed_per_organisation_as_the_gates_count_it(world):
    scene = await a_programme(world)
    owed = (await Programme(world.unit).overview(world.gov_approver, world.model.id)).owed
    # In the programme: the government, Northwind and Westwind (live grants), Eastwind (pending); not Southwind
    # (its nomination lapsed).
    assert owed.organisations == 4 and owed.nda_title == "Acme NDA"
    assert {o.organisation_name: o.items for o in owed.by_organisation} == {
        "Eastwind": [OwedItem("vetting", "Vetting", "invited"),
                     *(OwedItem("attestation", label, "missing", area=area.value)
                       for area, label in zip(Area, ["Confidentiality", "Cybersecurity", "Insider risk",
                                                      "IP protection", "Use", "Non-disclosure"], strict=True))],
        "Westwind": [OwedItem("nda", "Acme NDA 1.0", "missing")],
    }  # fmt: skip
    assert (owed.owing, owed.vetting, owed.nda, owed.attestations) == (2, 1, 1, 1)
    # An attestation due within 30 days is owed (due for renewal), as the partner's own home says.
    await world.comply(scene.east_admin, nda=False, valid_days=10)
    owed = (await Programme(world.unit).overview(world.gov_approver, world.model.id)).owed
    east = next(o for o in owed.by_organisation if o.organisation_id == scene.east.id)
    assert [i.standing for i in east.items] == ["invited", *["expiring"] * 6]


async def test_tokens_are_counted_per_day_per_grant_over_the_window(world):
    scene = await a_programme(world)
    tokens = (await Programme(world.unit).overview(world.dev_admin, world.model.id)).tokens
    today = world.now.date()
    # From the first window's start (the government's, an hour after the start of the world) to today.
    assert (tokens.first_day, tokens.last_day) == (date(2026, 12, 1), today)
    assert tokens.days == [date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3)]
    [series] = tokens.series
    assert (series.grant_id, series.organisation_name) == (scene.north_grant, "Northwind")
    assert series.days == {today - timedelta(days=1): 4, today: 7} and tokens.total == 11
    # Issuances outside the span are not drawn; a revoked credential's tokens still count.
    await count_issuance(world.unit, scene.client, n=100, at=world.now + timedelta(days=2))
    await Credentials(world.unit, pepper=SETTINGS.pepper).revoke(actor=scene.north_admin, client_pk=scene.client,
                                                                 reason="Rotated out.")  # fmt: skip
    seen = await Programme(world.unit).overview(world.dev_admin, world.model.id)
    assert seen.tokens.total == 11 and seen.credentials.revoked == 1 and seen.credentials.live == 0
    assert seen.credentials.tokens_issued == 111  # the credential's own count knows of every issuance


async def test_nothing_yet_is_an_empty_programme(world):
    seen = await Programme(world.unit).overview(world.gov_admin, world.model.id)
    assert seen.government == [] and seen.cohorts == [] and seen.windows == [] and seen.grants.attention == []
    assert seen.nominations.total == 0 and seen.grants.total == 0 and seen.owed.organisations == 0
    assert seen.tokens.first_day is None and seen.tokens.series == [] and seen.tokens.days == []
    assert seen.credentials.issued == 0


async def test_a_pending_nomination_whose_start_passed_counts_as_lapsed(world):
    partner, _ = await world.partner()
    await world.nominate(partner, start=timedelta(hours=2))
    world.clock.advance(timedelta(hours=3))
    seen = await Programme(world.unit).overview(world.dev_admin, world.model.id)
    assert seen.nominations.by_state[NominationState.LAPSED] == 1 and seen.nominations.by_state[NominationState.PENDING] == 0
    assert seen.owed.organisations == 0  # a lapsed nomination is no longer part of the programme


async def test_a_partner_sees_only_its_own_part(world):
    scene = await a_programme(world)
    seen = await Programme(world.unit).overview(scene.north_admin, world.model.id)
    assert seen.scope == OWN
    assert seen.government == []  # another organisation's grant
    assert [(c.name, c.size) for c in seen.cohorts] == [("Wave 1", 1)]  # its own membership, not the others'
    assert seen.nominations.total == 2 and seen.nominations.by_state[NominationState.REJECTED] == 1
    assert seen.grants.total == 1 and seen.grants.by_state[GrantState.ACTIVE] == 1 and seen.grants.attention == []
    assert [(w.cohort_id, w.grants) for w in seen.windows] == [(scene.cohort.id, 1)]  # its own grant, no one else's
    assert seen.owed.organisations == 1 and seen.owed.by_organisation == []
    assert seen.credentials.issued == 1 and [s.organisation_name for s in seen.tokens.series] == ["Northwind"]
    # Eastwind sees its own pending nomination and what it owes, and no cohort it is not in.
    east = await Programme(world.unit).overview(scene.east_admin, world.model.id)
    assert east.cohorts == [] and east.windows == [] and east.credentials.issued == 0 and east.tokens.series == []
    assert east.nominations.total == 1 and east.owed.organisations == 1
    assert [o.organisation_name for o in east.owed.by_organisation] == ["Eastwind"]
    names = repr(east)
    for other in ("Northwind", "Southwind", "Westwind", "AI Security Office"):
        assert other not in names


async def test_strangers_are_told_the_model_does_not_exist(world, refused):
    await a_programme(world)
    stranger, stranger_admin = await world.partner(name="stranger")
    _, rival_admin, _, rival_model = await rival_developer(world)
    programme = Programme(world.unit)
    for actor, model_id in [(stranger_admin, world.model.id), (rival_admin, world.model.id),
                            (world.dev_admin, rival_model.id), (world.dev_admin, uuid.uuid4())]:  # fmt: skip
        error = await refused(NotFound, programme.overview(actor, model_id))
        assert error.message == f"model {model_id} not found"
    # The government sees every model's programme, the rival's too.
    assert (await programme.overview(world.gov_member, rival_model.id)).scope == PROGRAMME


async def test_an_instant_without_offset_is_refused(world, refused):
    error = await refused(Invalid, Programme(world.unit).overview(world.dev_admin, world.model.id,
                                                                  at=world.now.replace(tzinfo=None)))  # fmt: skip
    assert error.field == "at"


async def findings_at_every_audience(world) -> None:
    """On the world's model, by the government's approver: a TLP:RED finding named to the developer's and the
    government's first approvers (critical), and one each at TLP:AMBER+STRICT (high), TLP:AMBER (medium, mitigated
    by the developer) and TLP:GREEN (low); on another model of the developer's, a TLP:GREEN one (not counted)."""
    findings = Findings(world.unit)
    await red(world, world.gov_approver, severity="critical")
    await reported(world, world.gov_approver, audience=Audience.AMBER_STRICT.value, severity="high")
    amber = await reported(world, world.gov_approver, audience=Audience.AMBER.value, severity="medium")
    await reported(world, world.gov_approver, audience=Audience.GREEN.value, severity="low")
    other = await world.new_model("borealis")
    await reported(world, world.gov_approver, model=other, audience=Audience.GREEN.value, severity="low")
    await findings.update(actor=world.dev_approver, finding_id=amber.id, to_state="acknowledged")
    await findings.update(actor=world.dev_approver, finding_id=amber.id, to_state="mitigated",
                          note="Patched in the next checkpoint.")  # fmt: skip


async def test_findings_are_counted_as_each_reader_may_read_them(world):
    scene = await a_programme(world)
    await findings_at_every_audience(world)
    auditor = await world.person(world.government, "audrey", [Role.AUDITOR])
    programme, findings = Programme(world.unit), Findings(world.unit)
    # Who reads which: the named recipients every one; the developer's and the government's other staff all but
    # TLP:RED; a current grantee TLP:AMBER and TLP:GREEN; a partner only nominated TLP:GREEN alone.
    expected = {
        "dev_approver": (world.dev_approver, 4), "gov_approver": (world.gov_approver, 4),
        "dev_admin": (world.dev_admin, 3), "gov_member": (world.gov_member, 3), "auditor": (auditor, 3),
        "north_admin": (scene.north_admin, 2), "east_admin": (scene.east_admin, 1),
    }  # fmt: skip
    for name, (reader, total) in expected.items():
        counted = (await programme.overview(reader, world.model.id)).findings
        listed = (await findings.findings(reader, model_id=world.model.id)).items
        assert counted.total == total == len(listed), (name, counted, len(listed))
        # Each count is the list's, state by state and severity by severity: nothing outside the audience leaks.
        assert counted.by_state == {s: sum(r.finding.state == s.value for r in listed) for s in FindingState}, name
        assert counted.by_severity == {s: sum(r.finding.severity == s.value for r in listed) for s in FindingSeverity}
        assert counted.open == sum(r.finding.state not in ("mitigated", "accepted_risk") for r in listed), name
    seen = (await programme.overview(world.dev_admin, world.model.id)).findings
    assert seen.by_severity[FindingSeverity.CRITICAL] == 0  # the TLP:RED one is not hers
    assert (seen.by_state[FindingState.MITIGATED], seen.by_state[FindingState.REPORTED], seen.open) == (1, 2, 2)
    east = (await programme.overview(scene.east_admin, world.model.id)).findings
    assert east.by_severity == {**dict.fromkeys(FindingSeverity, 0), FindingSeverity.LOW: 1}
    # A grantee whose grant is revoked is a grantee no more: TLP:AMBER leaves its count.
    await Grants(world.unit).revoke(actor=world.gov_admin, grant_id=scene.north_grant, reason="Contract ended.")
    assert (await programme.overview(scene.north_admin, world.model.id)).findings.total == 1


async def test_the_consultation_is_shown_to_those_who_read_it(world):
    """The world's model was designated covered at T0 (round 1, assessment ASSESS-ATLAS); the government reopens it
    after a new checkpoint, and the round waits."""
    scene = await a_programme(world)
    seen = (await Programme(world.unit).overview(world.dev_admin, world.model.id)).consultation
    assert seen is not None and seen.rounds == 1 and seen.open is None
    assert seen.last_decided is not None
    first = seen.last_decided
    assert (first.round, first.outcome, first.assessment_ref, first.waited_days) == (1, "covered", "ASSESS-ATLAS", 0)
    reopened = await Consultations(world.unit).open(actor=world.gov_approver, model_id=world.model.id,
                                                    note="A new checkpoint to assess.")  # fmt: skip
    world.clock.advance(timedelta(days=3, hours=5))
    for reader in (world.dev_admin, world.dev_nominator, world.gov_approver, world.gov_admin):
        overview = await Programme(world.unit).overview(reader, world.model.id)
        seen = overview.consultation
        assert overview.model.designation == Designation.IN_CONSULTATION.value
        assert seen is not None and seen.rounds == 2 and seen.open is not None and seen.last_decided is not None
        assert (seen.open.id, seen.open.round, seen.open.requested_side, seen.open.outcome) == (
            reopened.id, 2, "government", None)  # fmt: skip
        assert seen.open.waited == timedelta(days=3, hours=5) and seen.open.waited_days == 3
        assert seen.last_decided.round == 1 and seen.last_decided.outcome == "covered"
    # It is the developer's and the government's business: not a partner's, nor a government member's who neither
    # acts on designations nor audits.
    for outsider in (scene.north_admin, scene.east_admin, world.gov_member):
        assert (await Programme(world.unit).overview(outsider, world.model.id)).consultation is None
    await Consultations(world.unit).decide(actor=world.gov_admin, consultation_id=reopened.id, outcome="not_covered",
                                           assessment_ref="ASSESS-ATLAS-2")  # fmt: skip
    seen = (await Programme(world.unit).overview(world.dev_admin, world.model.id)).consultation
    assert seen is not None and seen.open is None and seen.last_decided is not None
    assert (seen.last_decided.round, seen.last_decided.outcome, seen.last_decided.assessment_ref) == (
        2, "not_covered", "ASSESS-ATLAS-2")  # fmt: skip
    assert seen.last_decided.waited == timedelta(days=3, hours=5)
    world.clock.advance(timedelta(days=10))  # a decided round waited until its decision, not until now
    seen = (await Programme(world.unit).overview(world.dev_admin, world.model.id)).consultation
    assert seen is not None and seen.last_decided is not None and seen.last_decided.waited_days == 3


async def test_a_model_never_in_consultation_has_no_round(world):
    model = await world.new_model("nova", designation=Designation.NOT_ASSESSED)
    seen = (await Programme(world.unit).overview(world.gov_admin, model.id)).consultation
    assert seen is not None and (seen.rounds, seen.open, seen.last_decided) == (0, None, None)


async def grow(world, n: int, cohort_name: str) -> None:
    """``n`` more partners, each nominated in one cohort; half of them granted (a third of those without the NDA:
    blocked), the rest pending; every granted one with a credential that issued tokens."""
    members, admins = [], []
    for i in range(n):
        organisation, admin = await world.partner(nda=i % 3 != 0)
        members.append(await world.nominate(organisation, start=timedelta(hours=1)))
        admins.append(admin)
    await cohort_of(world, cohort_name, members)
    for nomination in members[: n // 2]:
        await world.approve_both(nomination)


@pytest.mark.parametrize("actor", ["dev_admin", "north_admin"])
async def test_the_number_of_queries_does_not_grow_with_the_programme(world, engine, actor):
    scene = await a_programme(world)
    reader = scene.north_admin if actor == "north_admin" else world.dev_admin
    programme = Programme(world.unit)

    async def queries_for_one_overview() -> int:
        await world.commit()
        with counting(engine) as statements:
            await programme.overview(reader, world.model.id)
        return len(statements)

    await findings_at_every_audience(world)
    reopened = await Consultations(world.unit).open(actor=world.gov_approver, model_id=world.model.id,
                                                    note="A new checkpoint.")  # fmt: skip
    await Consultations(world.unit).decide(actor=world.gov_approver, consultation_id=reopened.id, outcome="covered",
                                           assessment_ref="ASSESS-ATLAS-2")  # fmt: skip
    await grow(world, 3, "Small")
    small = await queries_for_one_overview()
    await grow(world, 27, "Large")
    large = await queries_for_one_overview()
    seen = await programme.overview(reader, world.model.id)
    if reader is world.dev_admin:
        assert seen.owed.organisations >= 30 and seen.grants.total >= 17  # the programme did grow
        assert len(seen.windows) <= 5  # and its timeline did not: a bar per cohort window, not per member
    assert small == large, (small, large)
    # For the staff: 19 on PostgreSQL (SQLite adds its BEGIN), issue 17's two included (the findings counted by
    # state and severity, the consultation's latest rounds: 16 before) and the grants counted by stage in the
    # database (only the blocked ones are read). A partner reads no consultation but asks whether it is involved at
    # all: 17 on PostgreSQL, and it owes nothing here (no NDA or attestation query).
    assert large <= 20
