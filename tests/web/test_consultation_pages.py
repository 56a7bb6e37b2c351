"""Designation consultations in the console: the developer's request from the model's page, the government's queue,
a message each way, the decision; refused forms shown again with what was typed, changing nothing; and the pages
that are none of a reader's business answer 404."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from accessdesk.db.tables import AuditEvent, Consultation, ConsultationMessage
from accessdesk.domain.consultations import Consultations
from accessdesk.domain.vocabulary import Designation, Role
from tests.support.console import csrf_in, open_as, sign_in, words_of
from tests.support.scenes import partner, rival_developer


async def written(world) -> tuple[int, int, int]:
    """Rounds, messages, and audit events but sign-ins."""
    events = (await world.unit.session.exec(
        select(AuditEvent.seq).where(col(AuditEvent.action).not_like("session.%")))).all()  # fmt: skip
    return await world.count(Consultation), await world.count(ConsultationMessage), len(events)


async def post_on(api, person, page: str, action: str, data: dict[str, str]):
    shown = await open_as(api, person, page)
    return await api.post(action, data={"csrf": csrf_in(shown.text), **data}, follow_redirects=False)


async def test_from_the_developers_request_to_the_governments_decision(api, world, clock):
    model = await world.new_model("vela", designation=Designation.NOT_ASSESSED, release_in=timedelta(days=40))
    shown = await open_as(api, world.dev_admin, f"/console/models/{model.id}")
    assert f'<a href="/console/models/{model.id}/consultations">Request consultation</a>' in shown.text

    asked = await post_on(api, world.dev_admin, f"/console/models/{model.id}/consultations",
                          f"/console/models/{model.id}/consultations",
                          {"note": "Checkpoint 7.", "contacts": "Dana <dana@acme.test>\n\n", "capabilities": "cyber\nbio"})  # fmt: skip
    assert asked.status_code == 303, asked.text
    [consultation] = (await world.unit.session.exec(select(Consultation).where(Consultation.model_id == model.id))).all()
    assert asked.headers["location"] == f"/console/consultations/{consultation.id}?done=requested"
    assert (consultation.contacts, consultation.capabilities) == (["Dana <dana@acme.test>"], ["cyber", "bio"])
    clock.advance(timedelta(days=2))

    queue = words_of((await open_as(api, world.gov_approver, "/console/consultations")).text)
    assert "Vela 1 the developer 2 days" in queue
    page = f"/console/consultations/{consultation.id}"
    for who, body in ((world.gov_approver, "Send the logs."), (world.dev_approver, "Sent.")):
        sent = await post_on(api, who, page, f"{page}/messages", {"body": body})
        assert sent.status_code == 303 and sent.headers["location"] == f"{page}?done=written", sent.text
    decided = await post_on(api, world.gov_approver, page, f"{page}/decision",
                            {"outcome": "covered", "assessment_ref": "OAIS-7"})  # fmt: skip
    assert decided.status_code == 303, decided.text
    shown = await api.get(f"{page}?done=decided")
    text = words_of(shown.text)
    assert "The outcome is recorded and the model designated" in text
    assert "covered after 2 days, by Gov1" in text and "assessment ref. OAIS-7" in text
    assert "Send the logs." in text and "Sent." in text
    assert "Gov1 (gov1@aiso.test) decided the consultation: covered" in text
    assert "Dana (dana@acme.test) requested the consultation" in text
    assert "Record the outcome" not in text and "Send the message" not in text  # decided: no form left
    history = words_of((await api.get(f"/console/models/{model.id}/consultations")).text)
    assert "Gov1 (gov1@aiso.test) designated the model covered" in history
    await world.reload(model)
    assert model.designation == "covered"


async def test_the_government_reopens_a_covered_model(api, world):
    page = f"/console/models/{world.model.id}/consultations"
    shown = await open_as(api, world.gov_admin, page)
    assert "Reopen the consultation" in shown.text and "partners have no access" in shown.text
    reopened = await api.post(page, data={"csrf": csrf_in(shown.text), "note": "Checkpoint 8."}, follow_redirects=False)
    assert reopened.status_code == 303, reopened.text
    assert "?done=opened" in reopened.headers["location"]
    await world.reload(world.model)
    assert world.model.designation == "in_consultation"


async def test_refused_forms_are_shown_again_with_what_was_typed_and_change_nothing(api, world):
    model = await world.new_model("vela", designation=Designation.NOT_ASSESSED)
    page = f"/console/models/{model.id}/consultations"
    before = await written(world)
    refused = await post_on(api, world.dev_admin, page, page, {"note": "  ", "contacts": "x" * 201,
                                                               "capabilities": "cyber"})  # fmt: skip
    assert refused.status_code == 422
    assert "Not done: a note of 1 to 4000 characters is required" in words_of(refused.text)
    assert 'aria-invalid="true" aria-describedby="note-error"' in refused.text
    assert "cyber</textarea>" in refused.text
    assert await written(world) == before

    opened = await Consultations(world.unit).request(actor=world.dev_admin, model_id=model.id, note="Go.")
    round_page = f"/console/consultations/{opened.id}"
    before = await written(world)
    empty = await post_on(api, world.dev_admin, round_page, f"{round_page}/messages", {"body": " "})
    assert empty.status_code == 422 and "a message of 1 to 4000 characters is required" in empty.text
    no_ref = await post_on(api, world.gov_approver, round_page, f"{round_page}/decision",
                           {"outcome": "covered", "assessment_ref": ""})  # fmt: skip
    assert no_ref.status_code == 422
    assert "a decision needs the reference of the government's assessment" in words_of(no_ref.text)
    assert 'value="covered" checked' in no_ref.text
    assert await written(world) == before


async def test_who_finds_what(api, world):
    model = await world.new_model("vela", designation=Designation.NOT_ASSESSED)
    opened = await Consultations(world.unit).request(actor=world.dev_admin, model_id=model.id, note="Go.")
    auditor = await world.person(world.developer, "audrey", [Role.AUDITOR])
    shown = await open_as(api, auditor, f"/console/consultations/{opened.id}")
    assert "Go." in shown.text and "Send the message" not in shown.text  # an auditor reads, and writes nothing
    for stranger in ((await partner(world))[1], (await rival_developer(world))[1],
                     await world.person(world.developer, "mo", [Role.MEMBER])):  # fmt: skip
        await sign_in(api, stranger)
        for path in (f"/console/consultations/{opened.id}", f"/console/models/{model.id}/consultations"):
            assert (await api.get(path)).status_code == 404, path
        assert "No consultation is open." in (await api.get("/console/consultations")).text


async def test_the_audit_trail_names_each_step_and_its_round(api, world):
    model = await world.new_model("vela", designation=Designation.NOT_ASSESSED)
    opened = await Consultations(world.unit).request(actor=world.dev_admin, model_id=model.id, note="Go.")
    await Consultations(world.unit).message(actor=world.gov_admin, consultation_id=opened.id, body="Private words.")
    shown = await open_as(api, world.gov_admin, f"/console/audit?subject_type=consultations&subject_id={opened.id}")
    text = words_of(shown.text)
    assert "requested the consultation" in text and "wrote in the consultation" in text
    assert "round 1 of the consultation on Vela" in text and "Private words." not in text
    assert f'href="/console/consultations/{opened.id}"' in shown.text
