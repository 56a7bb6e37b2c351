"""Hostile and malformed requests at the rest of issue 18's doors, as tables: delegations (naming a delegate,
ending one), a partner's request to be reconsidered and the nominating side's answers (take up, decline), and the
model's three lifecycle settings; through the JSON API and through the console's forms. Every field of the wrong
type, out of bounds, with NUL or oversize; unknown ids; the wrong person asking (404 where the thing is not
theirs to see). Every answer is a 4xx (a problem from the API, a page from the console), never a 5xx, and each table
as a whole changes nothing: no delegation, request, nomination, setting, audit event or outbox message."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.delegations import Delegations
from accessdesk.domain.reconsiderations import Reconsiderations
from accessdesk.domain.vocabulary import Verdict
from tests.support.doors import Door, api_answers, page_answers, signed_in, tokens_of
from tests.support.scenes import iso, partner, pending

NUL = "\x00"
UNKNOWN = str(uuid.UUID(int=7))
DAY = timedelta(days=1)


async def scene(world) -> tuple[dict[str, str], dict[str, Any]]:
    """A delegation from Dev1 to Dev2; a partner's nomination (made by the developer's nominator: the developer's
    side answers requests about it) the government rejected, with an open request to reconsider it; another
    partner's nomination, still pending; a third partner."""
    delegation = await Delegations(world.unit).create(actor=world.dev_approver, delegate_id=world.dev_approver2.user_id,
                                                      starts_at=world.now, ends_at=world.now + 7 * DAY)  # fmt: skip
    organisation, partner_admin = await partner(world)
    refused = await world.nominate(organisation)
    await CoSelection(world.unit).decide(actor=world.fresh(world.gov_approver), nomination_id=refused.id,
                                         verdict=Verdict.REJECT, reason="Not yet.")  # fmt: skip
    request = await Reconsiderations(world.unit).ask(actor=partner_admin, nomination_id=refused.id, note="Please.")
    other, _ = await partner(world)
    waiting = await pending(world, other)
    _, stranger = await partner(world)
    ids = {"delegation": str(delegation.id), "refused": str(refused.id), "request": str(request.id),
           "waiting": str(waiting.id), "model": str(world.model.id), "dev2": str(world.dev_approver2.user_id),
           "ends": iso(world.now + 7 * DAY)}  # fmt: skip
    people = {"dev_admin": world.dev_admin, "dev_approver": world.dev_approver, "dev_approver2": world.dev_approver2,
              "dev_nominator": world.dev_nominator, "gov_admin": world.gov_admin, "partner_admin": partner_admin,
              "stranger": stranger}  # fmt: skip
    return ids, people


def api_doors(ids: dict[str, str]) -> list[Door]:
    bad, ends, dev2 = "validation_error", ids["ends"], ids["dev2"]
    ask, request = f"/nominations/{ids['refused']}/reconsideration", f"/reconsiderations/{ids['request']}"
    take_up, decline, model = f"{request}/take-up", f"{request}/decline", f"/models/{ids['model']}"
    revoke = f"/delegations/{ids['delegation']}/revocation"

    def named(name: str, body: Any, status: int = 400, code: str = bad, who: str = "dev_approver") -> Door:
        return Door(name, "/delegations", status, code, body, who=who)

    return [
        named("a delegate id that is no UUID", {"delegate_id": "dev2@acme.test", "ends_at": ends}),
        named("a delegate id that is a number", {"delegate_id": 7, "ends_at": ends}),
        named("a delegate e-mail with NUL", {"delegate": f"dev2@acme.test{NUL}", "ends_at": ends}),
        named("a delegate e-mail over 320 characters", {"delegate": "d" * 321, "ends_at": ends}),
        named("an end without a time zone", {"delegate_id": dev2, "ends_at": "2026-12-10T12:00:00"}),
        named("an end that is no date", {"delegate_id": dev2, "ends_at": "next week"}),
        named("no end", {"delegate_id": dev2}),
        named("a note with NUL", {"delegate_id": dev2, "ends_at": ends, "note": f"a{NUL}b"}),
        named("a note of a million characters", {"delegate_id": dev2, "ends_at": ends, "note": "x" * 1_000_000}),
        named("an unknown field", {"delegate_id": dev2, "ends_at": ends, "delegator_id": dev2}),
        named("a list for a body", [{"delegate_id": dev2, "ends_at": ends}]),
        named("an unknown delegate", {"delegate_id": UNKNOWN, "ends_at": ends}, 422, "invalid"),
        named("an e-mail nobody signs in with", {"delegate": "nobody@acme.test", "ends_at": ends}, 422, "invalid"),
        named("an end before the start", {"delegate_id": dev2, "starts_at": ends, "ends_at": iso_before(ends)}, 422,
              "invalid"),
        named("a partner naming a delegate", {"delegate_id": dev2, "ends_at": ends}, 403, "forbidden",
              who="partner_admin"),
        Door("ending an unknown delegation", f"/delegations/{UNKNOWN}/revocation", 404, "not_found", {}),
        Door("the delegate ending it", revoke, 403, "forbidden", {}, who="dev_approver2"),
        Door("another organisation ending it", revoke, 404, "not_found", {}, who="gov_admin"),
        Door("a partner ending it", revoke, 404, "not_found", {}, who="partner_admin"),
        Door("a request without a note", ask, 400, bad, {}, who="partner_admin"),
        Door("an empty note", ask, 400, bad, {"note": ""}, who="partner_admin"),
        Door("a note that is a number", ask, 400, bad, {"note": 7}, who="partner_admin"),
        Door("a note with NUL", ask, 400, bad, {"note": f"a{NUL}b"}, who="partner_admin"),
        Door("a second open request", ask, 409, "reconsideration_open", {"note": "Again."}, who="partner_admin"),
        Door("another partner asking", ask, 404, "not_found", {"note": "Me too."}, who="stranger"),
        Door("asking about an unknown nomination", f"/nominations/{UNKNOWN}/reconsideration", 404, "not_found",
             {"note": "?"}, who="partner_admin"),
        Door("asking about a pending nomination of another", f"/nominations/{ids['waiting']}/reconsideration", 404,
             "not_found", {"note": "?"}, who="partner_admin"),
        Door("another partner reading the request", request, 404, "not_found", who="stranger", method="GET"),
        Door("a take-up starting without a time zone", take_up, 400, bad, {"starts_at": "2027-01-01T00:00:00"},
             who="dev_admin"),
        Door("a take-up response with NUL", take_up, 400, bad, {"response": f"a{NUL}"}, who="dev_admin"),
        Door("the partner taking it up", take_up, 403, "forbidden", {}, who="partner_admin"),
        Door("another partner taking it up", take_up, 404, "not_found", {}, who="stranger"),
        Door("the side that did not nominate taking it up", take_up, 403, "forbidden", {}, who="gov_admin"),
        Door("taking up an unknown request", f"/reconsiderations/{UNKNOWN}/take-up", 404, "not_found", {},
             who="dev_admin"),
        Door("a decline without a response", decline, 400, bad, {}, who="dev_admin"),
        Door("a decline with an empty response", decline, 400, bad, {"response": ""}, who="dev_admin"),
        Door("the partner declining it", decline, 403, "forbidden", {"response": "No."}, who="partner_admin"),
        Door("expiry of 0 days", model, 400, bad, {"nomination_expiry_days": 0}, method="PATCH"),
        Door("expiry of 91 days", model, 400, bad, {"nomination_expiry_days": 91}, method="PATCH"),
        Door("expiry as a list", model, 400, bad, {"nomination_expiry_days": [14]}, method="PATCH"),
        Door("escalation of 0 days", model, 400, bad, {"escalation_days": 0}, method="PATCH"),
        Door("escalation of 31 days", model, 400, bad, {"escalation_days": 31}, method="PATCH"),
        Door("escalation as long as the expiry", model, 422, "invalid", {"escalation_days": 14}, method="PATCH"),
        Door("a step-up of 0 minutes", model, 400, bad, {"approval_step_up_minutes": 0}, method="PATCH"),
        Door("a step-up of 241 minutes", model, 400, bad, {"approval_step_up_minutes": 241}, method="PATCH"),
        Door("a step-up as text", model, 400, bad, {"approval_step_up_minutes": "fifteen"}, method="PATCH"),
        Door("the government changing the settings", model, 403, "forbidden", {"nomination_expiry_days": 7},
             who="gov_admin", method="PATCH"),
        Door("a partner changing the settings", model, 403, "forbidden", {"nomination_expiry_days": 7},
             who="partner_admin", method="PATCH"),
    ]


def iso_before(moment: str) -> str:
    """An ISO instant a day before ``moment``."""
    return iso(datetime.fromisoformat(moment.replace("Z", "+00:00")) - DAY)


async def test_every_hostile_request_is_a_4xx_problem_and_changes_nothing(api, world, unchanged, bearer):
    ids, people = await scene(world)
    tokens = await tokens_of(bearer, people)
    async with unchanged():
        wrong = await api_answers(api, tokens, api_doors(ids))
    assert not wrong, "\n".join(wrong)


def console_doors(ids: dict[str, str]) -> list[Door]:
    delegations, revoke = "/console/delegations", f"/console/delegations/{ids['delegation']}/revocation"
    ask = f"/console/my-organisation/nominations/{ids['refused']}/reconsideration"
    request = f"/console/reconsiderations/{ids['request']}"
    ends = ids["ends"][:10]

    def named(name: str, form: dict[str, Any], status: int, words: str) -> Door:
        return Door(name, delegations, status, words, form, who="dev_approver")

    return [
        named("a delegate that is no id", {"delegate_id": "dev2@acme.test", "ends_at": ends}, 422, "choose a delegate"),
        named("a delegate with NUL", {"delegate_id": NUL, "ends_at": ends}, 400, "control character"),
        named("an unknown delegate", {"delegate_id": UNKNOWN, "ends_at": ends}, 422,
              "the delegate must be someone of your own organisation"),
        named("an end that is no date", {"delegate_id": ids["dev2"], "ends_at": "soon"}, 422,
              "enter a date as YYYY-MM-DD"),
        named("a note of 100,000 characters", {"delegate_id": ids["dev2"], "ends_at": ends, "note": "x" * 100_000}, 422,
              "a note of at most 1000 characters"),
        Door("the delegate ending it", revoke, 403, "only the person who delegated", {"confirmed": "yes"}, who="dev_approver2"),
        Door("another organisation ending it", revoke, 404, "not found", {"confirmed": "yes"}, who="gov_admin"),
        Door("a note with NUL", ask, 400, "control character", {"note": f"a{NUL}b"}, who="partner_admin"),
        Door("an empty note", ask, 422, "a note saying why is required", {"note": "   "}, who="partner_admin"),
        Door("a second open request", ask, 409, "has already asked for this nomination to be reconsidered", {"note": "Again."}, who="partner_admin"),
        Door("another partner asking", ask, 404, "not found", {"note": "Me too."}, who="stranger"),
        Door("a take-up start that is no date", f"{request}/take-up", 422, "enter a date as YYYY-MM-DD",
             {"starts_at": "soon"}, who="dev_admin"),
        Door("the partner taking it up", f"{request}/take-up", 403, "not the partner", {}, who="partner_admin"),
        Door("another partner declining it", f"{request}/decline", 404, "not found", {"decline_response": "No."},
             who="stranger"),
        Door("a decline without a response", f"{request}/decline", 422, "a response to the partner is required", {"decline_response": " "},
             who="dev_admin"),
    ]


async def test_every_hostile_form_is_refused_on_a_4xx_page_and_changes_nothing(api, world, unchanged):
    ids, people = await scene(world)
    table = console_doors(ids)
    signed = await signed_in(api, people, table)
    async with unchanged():
        wrong = await page_answers(api, signed, table)
    assert not wrong, "\n".join(wrong)
