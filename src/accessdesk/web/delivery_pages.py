"""Console pages for what accessdesk told people and what it could not: the reminders sent, with how far each
recipient's message got, and the dead letters (messages the outbox gave up on), which staff admins send again."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from accessdesk.db.tables import OutboxMessage, Reminder
from accessdesk.domain.actor import Actor
from accessdesk.domain.deliveries import Deliveries
from accessdesk.domain.queries import Queries
from accessdesk.domain.reminders import ReminderKind, Reminders
from accessdesk.domain.sessions import Signed
from accessdesk.web.pages import PAGE_DEPENDENCIES, PAGE_ERRORS, Posted, back_to, notice_of, page
from accessdesk.web.refusals import Refusal, on_refusal

PAGE_SIZE = 50
K = ReminderKind
KINDS: dict[str, str] = {
    K.GRANT_ENDS_7D: "Access ends in 7 days",
    K.GRANT_ENDS_1D: "Access ends in 1 day",
    K.NDA_EXPIRES_30D: "NDA expires in 30 days",
    K.NDA_EXPIRES_7D: "NDA expires in 7 days",
    K.ATTESTATION_EXPIRES_30D: "Attestation expires in 30 days",
    K.ATTESTATION_EXPIRES_7D: "Attestation expires in 7 days",
    K.NOMINATION_PENDING_48H: "Nomination pending 48 h",
    K.NOMINATION_ESCALATED_APPROVERS: "Nomination escalated to the undecided side's approvers",
    K.NOMINATION_ESCALATED_ADMINS: "Nomination escalated to the undecided side's admins",
    K.COHORT_PENDING_48H: "Cohort pending 48 h",
    K.CONSULTATION_WAITING: "Consultation waiting for the government's decision",
    K.CONSULTATION_RELEASE_NEAR: "Planned release close, consultation still open",
}
NOTICES = {"retried": "The message goes out again with the next delivery round, with a fresh count of tries."}


@dataclass(frozen=True, slots=True)
class Subject:
    """What a family of reminders (a kind's first word) is about: its name, its page, what its deadline means."""

    noun: str
    path: str
    deadline: str


SUBJECTS = {
    "grant": Subject("access", "/console/grants/{subject_id}", "ends"),
    "nomination": Subject("nomination", "/console/nominations/{subject_id}", "made"),
    "cohort": Subject("cohort", "/console/cohorts/{subject_id}", "made"),
    # A consultation's deadline: when it had waited too long, or the planned release it is reminded of.
    "consultation": Subject("consultation", "/console/consultations/{subject_id}", "due"),
    # NDA acceptances and attestations have no page of their own: their organisation's page lists them.
    "nda": Subject("NDA", "/console/organisations/{organisation_id}", "expires"),
    "attestation": Subject("attestation", "/console/organisations/{organisation_id}", "valid until"),
}


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _address(recipient: str) -> tuple[str, uuid.UUID | None]:
    """An outbox address's kind and the row it names: ``user:<id>``, ``organisation:<id>``,
    ``model:<id>:approvers``; ``slack:<channel>`` names no row."""
    kind, _, rest = recipient.partition(":")
    return kind, _uuid(rest.split(":", 1)[0]) if kind in ("user", "organisation", "model") else None


def recipient_of(dedupe_key: str) -> str:
    """The address a reminder's message went to (its dedupe key is ``reminder:<reminder id>:<address>``)."""
    parts = dedupe_key.split(":", 2)
    return parts[2] if len(parts) == 3 else dedupe_key


@dataclass(frozen=True, slots=True)
class _Mention:
    """A model or organisation an address names, in the shape ``Queries.display_names`` reads."""

    model_id: uuid.UUID | None
    organisation_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class Names:
    """People (name and e-mail) and models and organisations (name) that a page's rows mention."""

    people: dict[uuid.UUID, str]
    things: dict[uuid.UUID, str]

    def of(self, id_: uuid.UUID | None, fallback: str) -> str:
        return self.things.get(id_, fallback) if id_ else fallback

    def recipient(self, address: str) -> str:
        """An outbox address as people read it (as stored when it names no one known)."""
        kind, id_ = _address(address)
        if kind == "slack":
            return f"#channel {address.partition(':')[2]}"
        if id_ is None:
            return address
        if kind == "user":
            return self.people.get(id_, address)
        if kind == "model" and id_ in self.things:
            return f"the approvers of {self.things[id_]}"
        return self.things.get(id_, address)


async def names_for(queries: Queries, addresses: Iterable[str], rows: Sequence[Any] = ()) -> Names:
    """Names for outbox addresses (the people in one query) and for the models and organisations ``rows`` name."""
    parsed = [_address(a) for a in set(addresses)]
    mentions = [*rows, *(_Mention(id_ if kind == "model" else None, id_ if kind == "organisation" else None)
                         for kind, id_ in parsed if kind in ("model", "organisation") and id_)]  # fmt: skip
    return Names(people=await queries.people_names([id_ for kind, id_ in parsed if kind == "user" and id_]),
                 things=await queries.display_names(mentions) if mentions else {})  # fmt: skip


@dataclass(frozen=True, slots=True)
class ReminderRow:
    """A reminder as the list shows it; each delivery is (recipient named, its message if the outbox has it)."""

    reminder: Reminder
    kind: str
    subject: str
    link: str | None
    deadline: str
    deliveries: list[tuple[str, OutboxMessage | None]]


def reminder_row(reminder: Reminder, names: Names, messages: dict[str, OutboxMessage]) -> ReminderRow:
    deliveries = [(names.recipient(recipient_of(key)), messages.get(key)) for key in reminder.messages]
    subject = SUBJECTS.get(reminder.kind.split(".", 1)[0])
    if subject is None:  # a kind this page does not know (yet): shown as stored
        return ReminderRow(reminder, reminder.kind, str(reminder.subject_id), None,
                           f"{reminder.deadline:%Y-%m-%d %H:%M} UTC", deliveries)  # fmt: skip
    organisation = names.of(reminder.organisation_id, "an organisation")
    about = (f"{organisation} on {names.of(reminder.model_id, 'a model')}" if reminder.model_id
             else f"{organisation}'s {subject.noun}")  # fmt: skip
    return ReminderRow(reminder, KINDS.get(reminder.kind, reminder.kind), about,
                       subject.path.format(subject_id=reminder.subject_id, organisation_id=reminder.organisation_id),
                       f"{subject.deadline} {reminder.deadline:%Y-%m-%d %H:%M} UTC", deliveries)  # fmt: skip


async def dead_letters_page(
    request: Request[Any, Any, Any], signed: NamedDependency[Signed], queries: NamedDependency[Queries],
    deliveries: NamedDependency[Deliveries], *, refusal: Refusal | None = None,
) -> Template:  # fmt: skip
    cursor = request.query_params.get("cursor") or None
    found = await deliveries.dead_letters(signed.actor, cursor=cursor, limit=PAGE_SIZE)
    return page("console/dead_letters.html", signed, status_code=refusal.status if refusal else 200,
                messages=found.items, names=await names_for(queries, [m.recipient for m in found.items]),
                total=await deliveries.count_dead(signed.actor), next_cursor=found.next_cursor,
                paged=cursor is not None, refusal=refusal, notice=notice_of(request, NOTICES))  # fmt: skip


class DeliveryPagesController(Controller):
    path = "/console"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = PAGE_DEPENDENCIES

    @get("/reminders")
    async def reminders(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], queries: NamedDependency[Queries],
        reminders: NamedDependency[Reminders],
    ) -> Template:  # fmt: skip
        cursor = request.query_params.get("cursor") or None
        found = await reminders.listing(signed.actor, cursor=cursor, limit=PAGE_SIZE)
        messages = await reminders.deliveries(found.items)
        names = await names_for(queries, [recipient_of(k) for r in found.items for k in r.messages], found.items)
        return page("console/reminders.html", signed, rows=[reminder_row(r, names, messages) for r in found.items],
                    next_cursor=found.next_cursor, paged=cursor is not None)  # fmt: skip

    @get("/deliveries/dead")
    async def dead_letters(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], queries: NamedDependency[Queries],
        deliveries: NamedDependency[Deliveries],
    ) -> Template:  # fmt: skip
        return await dead_letters_page(request, signed, queries, deliveries)

    @post("/deliveries/{message_id:uuid}/retry")
    # The list again, saying why. Whoever may not retry may not see the list either: the refusal page.
    @on_refusal(dead_letters_page)
    async def retry(
        self, actor: NamedDependency[Actor], form: NamedDependency[Posted], deliveries: NamedDependency[Deliveries],
        message_id: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        """The form has no fields: asking for ``form`` is what checks its CSRF token."""
        await deliveries.retry(actor=actor, message_id=message_id)
        return back_to("/console/deliveries/dead", "retried")
