"""Delegations: an approver names a delegate for a period (out of office), lists the delegations they gave or hold,
and ends one. Each handler calls one use case of :class:`Delegations`; deciding in someone's name is the
nominations' (``on_behalf_of``)."""

from __future__ import annotations

import uuid

from litestar import Controller
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from accessdesk.api.delegation_schemas import DelegationIn, DelegationList, DelegationOut
from accessdesk.api.routes import get, post
from accessdesk.domain.actor import Actor
from accessdesk.domain.delegations import DelegationRow, Delegations
from accessdesk.domain.errors import NotFound
from accessdesk.domain.unit import Unit


def provide_delegations(unit: NamedDependency[Unit]) -> Delegations:
    return Delegations(unit)


async def _row(delegations: Delegations, actor: Actor, delegation_id: uuid.UUID) -> DelegationRow:
    """A delegation ``actor`` has just changed, as their list shows it (they see every one they may change)."""
    found = [r for r in await delegations.listing(actor) if r.delegation.id == delegation_id]
    if not found:
        raise NotFound(f"delegation {delegation_id} not found")
    return found[0]


class DelegationController(Controller):
    path = "/delegations"
    tags = ["delegations"]
    dependencies = {"delegations": Provide(provide_delegations, sync_to_thread=False)}

    @get("/")
    async def list_delegations(
        self, actor: NamedDependency[Actor], delegations: NamedDependency[Delegations], unit: NamedDependency[Unit]
    ) -> DelegationList:
        now = unit.now()
        return DelegationList(items=[DelegationOut.of(r, now) for r in await delegations.listing(actor)])

    @post("/")
    async def delegate(
        self, actor: NamedDependency[Actor], delegations: NamedDependency[Delegations], unit: NamedDependency[Unit],
        data: JSONBody[DelegationIn],
    ) -> DelegationOut:  # fmt: skip
        """Name a delegate who decides in your name from ``starts_at`` (default: now) to ``ends_at``: someone of your
        organisation holding your deciding role, at most 90 days. They are told."""
        delegate_id = data.delegate_id if data.delegate is None else await delegations.person(actor, data.delegate)
        assert delegate_id is not None  # one of the two, by DelegationIn
        made = await delegations.create(actor=actor, delegate_id=delegate_id, starts_at=data.starts_at or unit.now(),
                                        ends_at=data.ends_at, note=data.note)  # fmt: skip
        return DelegationOut.of(await _row(delegations, actor, made.id), unit.now())

    @post("/{delegation_id:uuid}/revocation", status_code=200)
    async def revoke(
        self, actor: NamedDependency[Actor], delegations: NamedDependency[Delegations], unit: NamedDependency[Unit],
        delegation_id: FromPath[uuid.UUID],
    ) -> DelegationOut:  # fmt: skip
        """End a delegation now: the person who gave it, or an admin of their organisation."""
        await delegations.revoke(actor=actor, delegation_id=delegation_id)
        return DelegationOut.of(await _row(delegations, actor, delegation_id), unit.now())
