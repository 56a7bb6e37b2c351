"""The grant state rule, in Python and in SQL, must give the same answer for every combination of facts."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta

from sqlmodel import col, select

from accessdesk.db.tables import AccessGrant, Nomination
from accessdesk.domain.grant_state import (
    GrantFacts,
    derive_state,
    next_transition,
    reasons,
    state_is_sql,
    state_sql,
)
from accessdesk.domain.vocabulary import GrantState
from tests.world import T0

H = timedelta(hours=1)
START, END = T0, T0 + 10 * H
INSTANTS = [START - H, START, START + H, END - H, END, END + H]
VALID_UNTIL = [None, START - 2 * H, START, START + 2 * H, END + H]


GOVERNMENT_FROM = [None, START - H, START + 2 * H, END + H]  # a partner's government access begins (rule 3)


def facts_grid():
    for revoked, problems, until, government in itertools.product([False, True], [False, True], VALID_UNTIL,
                                                                  GOVERNMENT_FROM):  # fmt: skip
        yield GrantFacts(starts_at=START, ends_at=END, revoked=revoked, has_problems=problems, gates_valid_until=until,
                         government_from=government)  # fmt: skip


def test_the_rule_in_words():
    ok = GrantFacts(starts_at=START, ends_at=END, revoked=False, has_problems=False, gates_valid_until=END + H)
    assert derive_state(ok, START - H) == GrantState.SCHEDULED
    assert derive_state(ok, START) == GrantState.ACTIVE  # the window includes its start
    assert derive_state(ok, END) == GrantState.EXPIRED  # and excludes its end
    lapsing = GrantFacts(starts_at=START, ends_at=END, revoked=False, has_problems=False, gates_valid_until=START + H)
    assert derive_state(lapsing, START + H) == GrantState.SUSPENDED
    assert derive_state(GrantFacts(START, END, False, True, None), START + H) == GrantState.BLOCKED
    assert derive_state(GrantFacts(START, END, False, False, START - H), START - 2 * H) == GrantState.SCHEDULED
    assert derive_state(GrantFacts(START, END, False, False, START - H), START - H) == GrantState.BLOCKED
    assert derive_state(GrantFacts(START, END, True, False, END), START + H) == GrantState.REVOKED
    assert derive_state(GrantFacts(START, END, True, False, END), END + H) == GrantState.REVOKED
    # A partner whose government access begins after its own start waits for it, blocked, then is active.
    waiting = GrantFacts(START, END, False, False, END + H, government_from=START + 2 * H)
    assert derive_state(waiting, START - H) == GrantState.SCHEDULED
    assert derive_state(waiting, START + H) == GrantState.BLOCKED
    assert reasons(waiting, START + H) == ("government_not_begun",)
    assert derive_state(waiting, START + 2 * H) == GrantState.ACTIVE and reasons(waiting, START + 2 * H) == ()


def test_reasons_name_every_lapse_due_at_the_instant():
    facts = GrantFacts(START, END, False, False, START + H, problems=(),
                       lapses=(("nda_expired", START + H), ("government_access_ended", START + 2 * H)))  # fmt: skip
    assert reasons(facts, START - H) == ("window_not_started",)
    assert reasons(facts, START + H) == ("nda_expired",)
    assert reasons(facts, START + 2 * H) == ("nda_expired", "government_access_ended")
    assert reasons(facts, END) == ("window_ended",)


def test_next_transition_is_the_next_moment_the_state_can_change():
    ok = GrantFacts(starts_at=START, ends_at=END, revoked=False, has_problems=False, gates_valid_until=START + 2 * H)
    assert next_transition(ok, START - H) == START
    assert next_transition(ok, START) == START + 2 * H
    assert next_transition(ok, START + 3 * H) == END
    assert next_transition(ok, END) is None
    for facts in facts_grid():
        for at in INSTANTS:
            moment = next_transition(facts, at)
            if moment is None:
                continue
            just_before = moment - timedelta(microseconds=1)
            # Nothing changes strictly between `at` and the announced moment.
            assert derive_state(facts, at) == derive_state(facts, max(at, just_before))


async def test_sql_and_python_agree_on_every_combination(unit, world):
    """Rows for every combination of facts; the SQL CASE and each per-state filter must match derive_state."""
    template = await world.nominate(world.government, start=timedelta(hours=2))
    cases = {}
    for facts in facts_grid():
        nomination = Nomination(**{**template.model_dump(), "id": uuid.uuid4(), "state": "approved"})
        unit.session.add(nomination)
        await unit.session.flush()  # no relationship() between the two, so the ORM would not order the inserts
        grant = AccessGrant(
            id=uuid.uuid4(), nomination_id=nomination.id, model_id=world.model.id, organisation_id=world.government.id,
            grantee_kind="government", starts_at=facts.starts_at, ends_at=facts.ends_at, actions=["invoke"],
            scopes=["model:atlas:invoke"], state="scheduled", state_changed_at=T0,
            revoked_at=T0 if facts.revoked else None, has_problems=facts.has_problems,
            gates_valid_until=facts.gates_valid_until, government_from=facts.government_from, created_at=T0,
        )  # fmt: skip
        cases[grant.id] = facts
        unit.session.add(grant)
        await unit.session.flush()
    await unit.session.commit()
    for at in INSTANTS:
        rows = (await unit.session.exec(
            select(AccessGrant.id, state_sql(at)).where(col(AccessGrant.id).in_(cases)))).all()  # fmt: skip
        for grant_id, sql_state in rows:
            assert sql_state == derive_state(cases[grant_id], at).value, (cases[grant_id], at)
        for state in GrantState:
            ids = set((await unit.session.exec(
                select(AccessGrant.id).where(col(AccessGrant.id).in_(cases), state_is_sql(state, at))
            )).all())  # fmt: skip
            expected = {gid for gid, f in cases.items() if derive_state(f, at) == state}
            assert ids == expected, (state, at)
