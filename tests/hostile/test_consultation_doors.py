"""Hostile and malformed requests at the consultation doors, as tables: every new field oversize, with NUL or a
control character, of the wrong type; unknown ids; a partner or another developer asking (404, as if nothing were
there). Every answer is a 4xx (a problem from the API, a page from the console), never a 5xx, and each table as a
whole changes nothing: no round, no message, no audit event, no outbox message."""

from __future__ import annotations

import uuid
from typing import Any

from accessdesk.domain.consultations import Consultations
from accessdesk.domain.vocabulary import Designation
from tests.support.doors import Door, api_answers, page_answers, signed_in, tokens_of
from tests.support.scenes import partner, rival_developer

NUL, ESC = "\x00", "\x1b"
UNKNOWN = str(uuid.UUID(int=7))


def api_doors(ids: dict[str, str]) -> list[Door]:
    begin, round_ = f"/models/{ids['model']}/consultations", f"/consultations/{ids['open']}"
    message, decision = f"{round_}/messages", f"{round_}/decision"
    bad = "validation_error"
    return [
        # the request's fields
        Door("no note", begin, 400, bad, {}),
        Door("an empty note", begin, 400, bad, {"note": ""}),
        Door("a note of 4001 characters", begin, 400, bad, {"note": "x" * 4001}),
        Door("a note with NUL", begin, 400, bad, {"note": f"a{NUL}b"}),
        Door("a note that is a number", begin, 400, bad, {"note": 7}),
        Door("a note that is a list", begin, 400, bad, {"note": ["a"]}),
        Door("contacts as text", begin, 400, bad, {"note": "n", "contacts": "dana@acme.test"}),
        Door("11 contacts", begin, 400, bad, {"note": "n", "contacts": [str(i) for i in range(11)]}),
        Door("a contact of 201 characters", begin, 400, bad, {"note": "n", "contacts": ["x" * 201]}),
        Door("a contact with a newline", begin, 400, bad, {"note": "n", "contacts": ["a\nb"]}),
        Door("a contact with an escape", begin, 400, bad, {"note": "n", "contacts": [f"a{ESC}[2J"]}),
        Door("a contact that is a number", begin, 400, bad, {"note": "n", "contacts": [5]}),
        Door("21 capabilities", begin, 400, bad, {"note": "n", "capabilities": [str(i) for i in range(21)]}),
        Door("a capability of 101 characters", begin, 400, bad, {"note": "n", "capabilities": ["x" * 101]}),
        Door("a capability with NUL", begin, 400, bad, {"note": "n", "capabilities": [f"a{NUL}"]}),
        Door("an unknown field", begin, 400, bad, {"note": "n", "round": 9}),
        Door("a body that is a list", begin, 400, bad, ["note"]),
        # who and where
        Door("an unknown model", f"/models/{UNKNOWN}/consultations", 404, "not_found", {"note": "n"}),
        Door("a model id that is not a UUID", "/models/1;DROP/consultations", 404, "http_404", {"note": "n"}),
        Door("a partner asks", begin, 404, "not_found", {"note": "n"}, who="partner_admin"),
        Door("another developer asks", begin, 404, "not_found", {"note": "n"}, who="rival_admin"),
        Door("a partner reads", round_, 404, "not_found", who="partner_admin", method="GET"),
        Door("another developer reads", round_, 404, "not_found", who="rival_admin", method="GET"),
        Door("another developer lists the model's rounds", begin, 404, "not_found", who="rival_admin", method="GET"),
        Door("an unknown round", f"/consultations/{UNKNOWN}", 404, "not_found", method="GET"),
        Door("a partner writes", message, 404, "not_found", {"body": "hi"}, who="partner_admin"),
        Door("another developer decides", decision, 404, "not_found", {"outcome": "covered", "assessment_ref": "R"},
             who="rival_admin"),
        Door("the model's developer decides", decision, 403, "forbidden", {"outcome": "covered", "assessment_ref": "R"}),
        Door("a cursor this API never gave", "/consultations", 400, bad, {"cursor": "nonsense"}, who="gov_admin", method="GET"),
        # the message's and the decision's fields
        Door("an empty message", message, 400, bad, {"body": ""}),
        Door("a message of 4001 characters", message, 400, bad, {"body": "x" * 4001}),
        Door("a message with NUL", message, 400, bad, {"body": f"a{NUL}"}),
        Door("a message that is an object", message, 400, bad, {"body": {"text": "hi"}}),
        Door("a message to an unknown round", f"/consultations/{UNKNOWN}/messages", 404, "not_found", {"body": "hi"}),
        Door("an outcome not covered or not", decision, 400, bad, {"outcome": "maybe", "assessment_ref": "R"},
             who="gov_admin"),
        Door("no assessment reference", decision, 400, bad, {"outcome": "covered"}, who="gov_admin"),
        Door("a reference of 201 characters", decision, 400, bad, {"outcome": "covered", "assessment_ref": "R" * 201},
             who="gov_admin"),
        Door("a reference with a newline", decision, 400, bad, {"outcome": "covered", "assessment_ref": "R\n1"},
             who="gov_admin"),
        Door("a reference that is a number", decision, 400, bad, {"outcome": "covered", "assessment_ref": 7},
             who="gov_admin"),
        Door("a decision on a decided round", f"/consultations/{ids['decided']}/decision", 409, "already_decided",
             {"outcome": "covered", "assessment_ref": "R"}, who="gov_admin"),
        Door("a message on a decided round", f"/consultations/{ids['decided']}/messages", 409, "already_decided",
             {"body": "hi"}),
    ]


async def scene(world) -> tuple[dict[str, str], dict[str, Any]]:
    consultations = Consultations(world.unit)
    model = await world.new_model("vela", designation=Designation.NOT_ASSESSED)
    opened = await consultations.request(actor=world.dev_admin, model_id=model.id, note="Go.")
    other = await world.new_model("lyra", designation=Designation.NOT_ASSESSED)
    decided = await consultations.request(actor=world.dev_admin, model_id=other.id, note="Go.")
    await consultations.decide(actor=world.gov_admin, consultation_id=decided.id, outcome="covered", assessment_ref="R")
    people = {"dev_admin": world.dev_admin, "gov_admin": world.gov_admin, "partner_admin": (await partner(world))[1],
              "rival_admin": (await rival_developer(world))[1]}  # fmt: skip
    return {"model": str(model.id), "open": str(opened.id), "decided": str(decided.id)}, people


async def test_every_hostile_request_is_a_4xx_problem_and_changes_nothing(api, world, unchanged, bearer):
    ids, people = await scene(world)
    tokens = await tokens_of(bearer, people)
    async with unchanged():
        wrong = await api_answers(api, tokens, api_doors(ids))
    assert not wrong, "\n".join(wrong)


def console_doors(ids: dict[str, str]) -> list[Door]:
    begin = f"/console/models/{ids['model']}/consultations"
    round_ = f"/console/consultations/{ids['open']}"
    return [
        Door("an empty note", begin, 422, "a note of 1 to 4000 characters is required", {"note": " "}),
        Door("a note of 4001 characters", begin, 422, "a note of 1 to 4000 characters is required", {"note": "x" * 4001}),
        Door("a note with NUL", begin, 400, "holds a control character", {"note": f"a{NUL}b"}),
        Door("11 contacts", begin, 422, "at most 10 contacts", {"note": "n", "contacts": "\n".join("abcdefghijk")}),
        Door("a contact of 201 characters", begin, 422, "each of the contacts is at most 200 characters",
             {"note": "n", "contacts": "x" * 201}),
        Door("a capability with an escape", begin, 400, "holds a control character",
             {"note": "n", "capabilities": f"a{ESC}[2J"}),
        Door("21 capabilities", begin, 422, "at most 20 capabilities",
             {"note": "n", "capabilities": "\n".join(str(i) for i in range(21))}),
        Door("a message of 4001 characters", f"{round_}/messages", 422, "a message of 1 to 4000 characters",
             {"body": "x" * 4001}),
        Door("the developer decides", f"{round_}/decision", 403, "only the government decides a consultation",
             {"outcome": "covered", "assessment_ref": "R"}),
        Door("an unknown round", f"/console/consultations/{UNKNOWN}/messages", 404, "not found", {"body": "hi"}),
        Door("a partner writes", f"{round_}/messages", 404, "not found", {"body": "hi"}, who="partner_admin"),
        Door("another developer asks", begin, 404, "not found", {"note": "n"}, who="rival_admin"),
        Door("another developer decides", f"{round_}/decision", 404, "not found",
             {"outcome": "covered", "assessment_ref": "R"}, who="rival_admin"),
    ]


async def test_every_hostile_form_is_refused_on_a_4xx_page_and_changes_nothing(api, world, unchanged):
    ids, people = await scene(world)
    table = console_doors(ids)
    signed = await signed_in(api, people, table)
    async with unchanged():
        wrong = await page_answers(api, signed, table)
    assert not wrong, "\n".join(wrong)
