"""A grant's state as a pure function of its facts and the time, in Python and the same rule in SQL.

Facts: the window, revocation, whether anything is missing outright (``has_problems``: a gate never met, a window
rule broken, a designation that does not allow the grant, or for a partner no government access to the model at
all), ``gates_valid_until``: the first instant at which a requirement on file lapses (the end of the government
access a partner relies on is one of them), and for a partner ``government_from``: when that government access
begins (DESIGN.md §3 rule 3, "government first").

    revoked                                        → revoked (terminal)
    at ≥ ends_at                                   → expired
    has_problems                                   → blocked
    a requirement lapsed, before the window        → blocked
    before the window                              → scheduled
    inside the window, government access not begun → blocked   (a partner: it begins at ``government_from``)
    a requirement lapsed, inside the window        → suspended (fixing it resumes the grant)
    inside the window                              → active

:func:`reasons` names why, from the same facts. Both renderings of the state must agree;
tests/domain/test_grant_state.py checks them against each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from accessdesk.db.tables import AccessGrant
from accessdesk.domain.vocabulary import GrantState


@dataclass(frozen=True, slots=True)
class GrantFacts:
    starts_at: datetime
    ends_at: datetime
    revoked: bool
    has_problems: bool
    gates_valid_until: datetime | None
    government_from: datetime | None = None
    # What blocks the grant outright (reason codes), and when each requirement on file lapses.
    problems: tuple[str, ...] = ()
    lapses: tuple[tuple[str, datetime], ...] = ()

    @classmethod
    def of(cls, grant: AccessGrant, *, with_reasons: bool = True) -> GrantFacts:
        """The grant's stored facts; ``with_reasons=False`` leaves out what only :func:`reasons` reads (the state
        needs none of it), for the token endpoint's hot path."""
        if not with_reasons:
            return cls(grant.starts_at, grant.ends_at, grant.revoked_at is not None, grant.has_problems,
                       grant.gates_valid_until, grant.government_from)  # fmt: skip
        return cls(
            starts_at=grant.starts_at,
            ends_at=grant.ends_at,
            revoked=grant.revoked_at is not None,
            has_problems=grant.has_problems,
            gates_valid_until=grant.gates_valid_until,
            government_from=grant.government_from,
            problems=tuple(problems_of(grant)),
            lapses=ordered_lapses({code: parse_instant(until) for code, until in (grant.gate_lapses or {}).items()}),
        )


def ordered_lapses(lapses: dict[str, datetime]) -> tuple[tuple[str, datetime], ...]:
    """The grantee's own requirements first, soonest first, then the government's access it relies on."""
    return tuple(sorted(lapses.items(), key=lambda item: (item[0] == "government_access_ended", item[1], item[0])))


def parse_instant(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def problems_of(grant: AccessGrant) -> list[str]:
    """What blocks a grant outright as of its last refresh: broken window rules, the model's rules (designation,
    government first), then gates never met (reason codes)."""
    return [*grant.window_problems, *(grant.rule_problems or []), *grant.missing_gates]


def derive_state(facts: GrantFacts, at: datetime) -> GrantState:
    if facts.revoked:
        return GrantState.REVOKED
    if at >= facts.ends_at:
        return GrantState.EXPIRED
    if facts.has_problems:
        return GrantState.BLOCKED
    lapsed = facts.gates_valid_until is None or facts.gates_valid_until <= at
    if at < facts.starts_at:
        return GrantState.BLOCKED if lapsed else GrantState.SCHEDULED
    if facts.government_from is not None and at < facts.government_from:
        return GrantState.BLOCKED
    return GrantState.SUSPENDED if lapsed else GrantState.ACTIVE


def reasons(facts: GrantFacts, at: datetime) -> tuple[str, ...]:
    """Why the grant is not usable at ``at`` (reason codes, see gates.REASONS); empty when it is."""
    if facts.revoked:
        return ("revoked",)
    if at >= facts.ends_at:
        return ("window_ended",)
    found = [*facts.problems, *(code for code, until in facts.lapses if until <= at)]
    if at < facts.starts_at:
        found.append("window_not_started")
    elif facts.government_from is not None and at < facts.government_from:
        found.append("government_not_begun")
    return tuple(found)


def next_transition(facts: GrantFacts, at: datetime) -> datetime | None:
    """The first instant after ``at`` at which :func:`derive_state` may answer differently (time alone)."""
    if facts.revoked or at >= facts.ends_at:
        return None
    moments = [facts.starts_at, facts.ends_at]
    if facts.gates_valid_until is not None:
        moments.append(facts.gates_valid_until)
    if facts.government_from is not None:
        moments.append(facts.government_from)
    future = [m for m in moments if m > at]
    return min(future) if future else None


def state_sql(at: datetime) -> sa.ColumnElement[Any]:
    """:func:`derive_state` as a SQL expression over ``access_grants`` columns, for filters that must be right
    whether or not the worker has materialised the latest transition yet."""
    g = AccessGrant
    lapsed = sa.or_(col(g.gates_valid_until).is_(None), col(g.gates_valid_until) <= at)
    return sa.case(
        (col(g.revoked_at).is_not(None), GrantState.REVOKED.value),
        (col(g.ends_at) <= at, GrantState.EXPIRED.value),
        (col(g.has_problems).is_(True), GrantState.BLOCKED.value),
        (sa.and_(col(g.starts_at) > at, lapsed), GrantState.BLOCKED.value),
        (col(g.starts_at) > at, GrantState.SCHEDULED.value),
        (col(g.government_from) > at, GrantState.BLOCKED.value),
        (lapsed, GrantState.SUSPENDED.value),
        else_=GrantState.ACTIVE.value,
    )


def state_is_sql(state: GrantState, at: datetime) -> sa.ColumnElement[bool]:
    """A sargable filter for one state (equivalent to ``state_sql(at) == state``)."""
    g = AccessGrant
    live = sa.and_(col(g.revoked_at).is_(None), col(g.ends_at) > at)
    valid = sa.and_(col(g.gates_valid_until).is_not(None), col(g.gates_valid_until) > at)
    ok = sa.and_(col(g.has_problems).is_(False), valid)
    government_begun = sa.or_(col(g.government_from).is_(None), col(g.government_from) <= at)
    match state:
        case GrantState.REVOKED:
            return col(g.revoked_at).is_not(None)
        case GrantState.EXPIRED:
            return sa.and_(col(g.revoked_at).is_(None), col(g.ends_at) <= at)
        case GrantState.BLOCKED:
            # Branches each matching a partial index (ix_access_grants_problems, ix_access_grants_unstarted,
            # ix_access_grants_awaiting_government), so that the few blocked grants are found without reading the
            # many others. ``has_problems`` is written bare because a partial index is used only when the query
            # repeats its predicate.
            return sa.or_(
                sa.and_(col(g.revoked_at).is_(None), col(g.ends_at) > at, col(g.has_problems)),
                sa.and_(col(g.revoked_at).is_(None), col(g.starts_at) > at, col(g.ends_at) > at, sa.not_(valid)),
                sa.and_(col(g.revoked_at).is_(None), col(g.government_from) > at, col(g.starts_at) <= at,
                        col(g.ends_at) > at, col(g.has_problems).is_(False)),
            )
        case GrantState.SCHEDULED:
            return sa.and_(live, col(g.starts_at) > at, ok)
        case GrantState.SUSPENDED:
            return sa.and_(live, col(g.starts_at) <= at, col(g.has_problems).is_(False), sa.not_(valid),
                           government_begun)
        case GrantState.ACTIVE:
            return sa.and_(live, col(g.starts_at) <= at, ok, government_begun)
