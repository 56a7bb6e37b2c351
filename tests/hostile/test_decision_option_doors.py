"""Hostile and malformed requests at issue 18's decision doors, as tables: ``on_behalf_of`` and ``reason_shared``
in the JSON API's decision and the console's decision form, and the console's approval page
(``/console/nominations/{id}/approve``). Every answer is a 4xx (a problem from the API, a page from the console) or
the confirmation that asks first, never a 5xx, and each table as a whole changes nothing: no decision, no audit
event, no outbox message. (Litestar converts request bodies leniently: JSON's 0 and 1 are read as booleans, as
``false`` and ``true``; text such as "yes" is not.)"""

from __future__ import annotations

import uuid
from typing import Any

from accessdesk.domain.vocabulary import Tier
from tests.support.doors import Door, api_answers, page_answers, signed_in, tokens_of
from tests.support.scenes import partner, pending

NUL = "\x00"
UNKNOWN = str(uuid.UUID(int=7))


def door(name: str, path: str, status: int, code: str, body: Any = None, *, who: str = "dev_approver",
         method: str = "POST") -> Door:
    """A door knocked on by the developer's approver unless ``who`` says otherwise."""
    return Door(name, path, status, code, body, who=who, method=method)


def api_doors(ids: dict[str, str]) -> list[Door]:
    decisions, high = f"/nominations/{ids['nomination']}/decisions", f"/nominations/{ids['high']}/decisions"
    bad = "validation_error"
    return [
        door("on_behalf_of not a UUID", decisions, 400, bad, {"verdict": "approve", "on_behalf_of": "dev1@acme.test"}),
        door("on_behalf_of a number", decisions, 400, bad, {"verdict": "approve", "on_behalf_of": 7}),
        door("on_behalf_of a list", decisions, 400, bad, {"verdict": "approve", "on_behalf_of": [UNKNOWN]}),
        door("on_behalf_of with NUL", decisions, 400, bad, {"verdict": "approve", "on_behalf_of": f"{UNKNOWN}{NUL}"}),
        door("reason_shared as text", decisions, 400, bad, {"verdict": "reject", "reason": "No.", "reason_shared": "yes"}),
        door("reason_shared as a list", decisions, 400, bad, {"verdict": "reject", "reason": "No.", "reason_shared": [True]}),
        door("reason_shared null", decisions, 400, bad, {"verdict": "reject", "reason": "No.", "reason_shared": None}),
        door("on_behalf_of someone unknown", decisions, 403, "forbidden", {"verdict": "approve", "on_behalf_of": UNKNOWN}),
        door("on_behalf_of who never delegated", decisions, 403, "forbidden",
             {"verdict": "approve", "on_behalf_of": ids["dev_admin"]}),
        door("on_behalf_of the nil UUID", decisions, 403, "forbidden",
             {"verdict": "approve", "on_behalf_of": str(uuid.UUID(int=0))}),
        door("a partner deciding for someone", decisions, 403, "forbidden",
             {"verdict": "approve", "on_behalf_of": ids["dev_admin"]}, who="partner_admin"),
        door("a token approving a high-tier model", high, 403, "step_up_required", {"verdict": "approve"}),
        door("a token approving a high-tier model for someone", high, 403, "forbidden",
             {"verdict": "approve", "on_behalf_of": ids["dev_admin"]}),
    ]


async def scene(world) -> tuple[dict[str, str], dict[str, Any]]:
    organisation, partner_admin = await partner(world)
    waiting = await pending(world, organisation)
    helios = await world.new_model("helios", tier=Tier.HIGH)
    high = await world.nominate(world.government, model=helios)
    ids = {"nomination": str(waiting.id), "high": str(high.id), "dev_admin": str(world.dev_admin.user_id)}
    return ids, {"dev_approver": world.dev_approver, "partner_admin": partner_admin}


async def test_every_hostile_decision_request_is_a_4xx_problem_and_changes_nothing(api, world, unchanged, bearer):
    ids, people = await scene(world)
    tokens = await tokens_of(bearer, people)
    async with unchanged():
        wrong = await api_answers(api, tokens, api_doors(ids))
    assert not wrong, "\n".join(wrong)


def console_doors(ids: dict[str, str]) -> list[Door]:
    decision = f"/console/nominations/{ids['nomination']}/decision"
    approve = f"/console/nominations/{ids['nomination']}/approve"
    asks = "What will happen"
    return [
        door("on_behalf_of not a UUID", decision, 422, "choose whom you decide for",
             {"verdict": "approve", "on_behalf_of": "dev1@acme.test"}),
        door("on_behalf_of with NUL", decision, 400, "control character", {"verdict": "approve", "on_behalf_of": NUL}),
        door("on_behalf_of someone unknown", decision, 403, "you hold no delegation in force",
             {"verdict": "approve", "on_behalf_of": UNKNOWN}),
        door("on_behalf_of who never delegated, confirmed", decision, 403, "you hold no delegation in force",
             {"verdict": "approve", "on_behalf_of": ids["dev_admin"], "confirmed": "yes"}),
        door("two values of on_behalf_of, the first unknown", decision, 403, "you hold no delegation in force",
             {"verdict": "approve", "on_behalf_of": [UNKNOWN, ""]}),
        door("reason_shared not yes", decision, 200, asks,
             {"verdict": "reject", "reason": "No.", "reason_shared": "YES"}),
        door("reason_shared of 1 MB", decision, 200, asks,
             {"verdict": "reject", "reason": "No.", "reason_shared": "yes" * 350_000}),
        door("reason_shared with an escape", decision, 400, "control character",
             {"verdict": "reject", "reason": "No.", "reason_shared": "\x1b[2Jyes"}),
        door("the approval page for someone not a UUID", approve, 422, "choose whom you decide for",
             {"on_behalf_of": "dev1@acme.test"}, method="GET"),
        door("the approval page for someone unknown", approve, 403, "you hold no delegation in force",
             {"on_behalf_of": UNKNOWN}, method="GET"),
        door("the approval page of an unknown nomination", f"/console/nominations/{UNKNOWN}/approve", 404, "not found",
             method="GET"),
        door("the approval page for a partner", approve, 403, "partners never decide", who="partner_admin", method="GET"),
    ]


async def test_every_hostile_decision_form_is_refused_on_a_page_and_changes_nothing(api, world, unchanged):
    ids, people = await scene(world)
    table = console_doors(ids)
    signed = await signed_in(api, people, table)
    async with unchanged():
        wrong = await page_answers(api, signed, table)
    assert not wrong, "\n".join(wrong)
