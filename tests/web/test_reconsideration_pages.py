"""Reasons and re-requests in the console (issue 18): the partner reads why its nomination was rejected only where the
rejecting side shared it, and asks from the nomination's page in its portal to be reconsidered; the side that
nominated finds the request in its queue and takes it up (a new nomination round, linked both ways) or declines it
with a response the partner reads. Refused forms come back with the message, change nothing, and whoever may not
read a request or a nomination is told it does not exist (404)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from accessdesk.db.tables import Nomination, Reconsideration
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.reconsiderations import Reconsiderations
from accessdesk.domain.vocabulary import Role, Verdict
from tests.support.console import csrf_in, open_as, sign_in, words_of
from tests.support.scenes import partner_member

INTERNAL = "Their export licence lapsed; do not tell them yet."
SHARED = "Your vetting is out of date."
QUEUE = "/console/reconsiderations"
DAY = timedelta(days=1)


async def rejected(world, *, shared: bool = False, name: str = "northwind"):
    """A partner, its admin, and a nomination of it the government rejected (``shared``: saying why to it)."""
    organisation, admin = await world.partner(name=name)
    nomination = await world.nominate(organisation)
    await CoSelection(world.unit).decide(actor=world.fresh(world.gov_approver), nomination_id=nomination.id,
                                         verdict=Verdict.REJECT, reason=SHARED if shared else INTERNAL,
                                         reason_shared=shared)  # fmt: skip
    return organisation, admin, nomination


def portal_page(nomination) -> str:
    return f"/console/my-organisation/nominations/{nomination.id}"


async def requests_of(world) -> list[Reconsideration]:
    stmt = select(Reconsideration).execution_options(populate_existing=True)
    return list((await world.unit.session.exec(stmt)).all())


async def ask(world, admin, nomination, note: str = "We renewed our vetting last week.") -> Reconsideration:
    return await Reconsiderations(world.unit).ask(actor=admin, nomination_id=nomination.id, note=note)


async def post_on(api, person, page: str, action: str, data: dict[str, str]):
    shown = await open_as(api, person, page)
    return await api.post(action, data={"csrf": csrf_in(shown.text), **data}, follow_redirects=False)


async def test_the_partner_reads_a_shared_reason_and_never_an_internal_one(api, world):
    _, admin, shared = await rejected(world, shared=True)
    home = await open_as(api, admin, "/console")
    assert f'href="{portal_page(shared)}">Atlas' in home.text and "Not granted:" in words_of(home.text)
    text = words_of((await api.get(portal_page(shared))).text)
    assert f"Why it was rejected {SHARED}" in text
    assert f"the government side: rejected : {SHARED}" in text  # the decision, with the reason it shared

    _, other_admin, internal = await rejected(world, name="southwind")
    shown = await open_as(api, other_admin, portal_page(internal))
    text = words_of(shown.text)
    assert INTERNAL not in shown.text and "Why it was rejected The deciders kept their reason internal." in text
    assert "the government side: rejected" in text
    # Nor in the console's own page of the nomination (its outcome, its decisions, its history), which the partner
    # may open too.
    console = await api.get(f"/console/nominations/{internal.id}")
    assert console.status_code == 200 and INTERNAL not in console.text, words_of(console.text)
    await open_as(api, admin, "/console")
    shared_page = words_of((await api.get(f"/console/nominations/{shared.id}")).text)
    assert f"Outcome {SHARED}" in shared_page and f"reject : {SHARED}" in shared_page  # shared: read everywhere
    assert "shared with the partner" not in shared_page  # staff's annotation
    # Staff read it, internal or not, with a word on whom it is shown to.
    staff = words_of((await open_as(api, world.dev_nominator, f"/console/nominations/{internal.id}")).text)
    assert INTERNAL in staff and "internal reason: not shown to the partner" in staff


async def test_the_partner_asks_and_the_nominator_takes_it_up_as_a_new_round(api, world, engine):
    organisation, admin, nomination = await rejected(world, shared=True)
    page = portal_page(nomination)
    shown = await open_as(api, admin, page)
    assert "Ask to be reconsidered</button>" in shown.text
    asked = await api.post(f"{page}/reconsideration", follow_redirects=False,
                           data={"csrf": csrf_in(shown.text), "note": "We renewed our vetting last week."})  # fmt: skip
    assert asked.status_code == 303, asked.text
    assert asked.headers["location"] == f"{page}?done=asked"
    [request] = await requests_of(world)
    assert (request.state, request.note, request.requested_by) == ("open", "We renewed our vetting last week.",
                                                                   admin.user_id)  # fmt: skip
    after = await api.get(asked.headers["location"])
    text = words_of(after.text)
    assert "Your request is sent" in text
    assert "open asked by Admin (admin@northwind.test)" in text and "“We renewed our vetting last week.”" in text
    assert "Waiting for the side that nominated your organisation." in text
    assert "Ask to be reconsidered</button>" not in after.text  # one open request at a time: no form to ask again

    # The side that nominated finds it in its queue; the government, which did not nominate, does not.
    queue = await open_as(api, world.dev_nominator, QUEUE)
    assert f'<a href="{QUEUE}/{request.id}">Northwind</a>' in queue.text
    assert "Atlas Admin (admin@northwind.test)" in words_of(queue.text) and "yours to answer" in queue.text
    government = await open_as(api, world.gov_approver, QUEUE)
    assert "Northwind" not in government.text and "No open request." in words_of(government.text)

    one = await open_as(api, world.dev_nominator, f"{QUEUE}/{request.id}")
    text = words_of(one.text)
    assert "Northwind asks to reconsider its nomination for Atlas" in text
    assert f"Why it was refused {SHARED}" in text and "Their note We renewed our vetting last week." in text
    # The window offered by default is the refused one's (it starts no sooner than a day from now).
    assert f'value="{nomination.starts_at:%Y-%m-%d %H:%M}"' in one.text
    assert f'value="{nomination.ends_at:%Y-%m-%d %H:%M}"' in one.text
    starts = world.now + 3 * DAY
    taken = await api.post(f"{QUEUE}/{request.id}/take-up", follow_redirects=False, data={
        "csrf": csrf_in(one.text), "starts_at": f"{starts:%Y-%m-%d %H:%M}",
        "ends_at": f"{starts + 20 * DAY:%Y-%m-%d %H:%M}", "response": "We will look again."})  # fmt: skip
    assert taken.status_code == 303, taken.text
    assert taken.headers["location"] == f"{QUEUE}/{request.id}?done=taken_up"
    [request] = await requests_of(world)
    new = await world.get(Nomination, request.new_nomination_id)
    assert (request.state, request.response, request.decided_by) == ("taken_up", "We will look again.",
                                                                     world.dev_nominator.user_id)  # fmt: skip
    assert (new.state, new.reconsiders_id, new.organisation_id) == ("pending", nomination.id, organisation.id)
    assert (new.starts_at, new.ends_at, new.nominated_by) == (starts, starts + 20 * DAY, world.dev_nominator.user_id)
    done = await api.get(taken.headers["location"])
    assert "The request is taken up: the new nomination is open" in words_of(done.text)
    assert f'<a href="/console/nominations/{new.id}">Open the new nomination</a>' in done.text
    assert "Open a new nomination round</button>" not in done.text  # answered: no form left

    # The partner sees the outcome, and the new round (which says what it reconsiders).
    await sign_in(api, admin)
    text = words_of((await api.get(page)).text)
    assert "taken up asked by Admin (admin@northwind.test)" in text and "Their response: We will look again." in text
    mine = await api.get(page)
    assert f'<a href="/console/my-organisation/nominations/{new.id}">The new nomination round</a>' in mine.text
    assert "Ask to be reconsidered</button>" not in mine.text  # taken up: the case goes on in the new round
    round_page = await api.get(portal_page(new))
    assert round_page.status_code == 200
    assert f'<a href="{page}">the nomination refused before</a>' in round_page.text
    assert "taken up" in words_of((await api.get(f"{QUEUE}?state=taken_up")).text)


async def test_the_nominator_declines_with_a_response_the_partner_reads(api, world):
    organisation, admin, nomination = await rejected(world)
    member = await partner_member(world, organisation)
    request = await ask(world, member, nomination, note="Please.")
    one = await open_as(api, world.dev_admin, f"{QUEUE}/{request.id}")
    assert f"Why it was refused {INTERNAL}" in words_of(one.text)  # staff read the internal reason
    declined = await api.post(f"{QUEUE}/{request.id}/decline", follow_redirects=False, data={
        "csrf": csrf_in(one.text), "decline_response": "Not this quarter."})  # fmt: skip
    assert declined.status_code == 303 and declined.headers["location"] == f"{QUEUE}/{request.id}?done=declined"
    [request] = await requests_of(world)
    assert (request.state, request.response, request.new_nomination_id) == ("declined", "Not this quarter.", None)
    assert "The request is declined; the partner is told" in words_of(
        (await api.get(declined.headers["location"])).text
    )

    await sign_in(api, member)
    text = words_of((await api.get(portal_page(nomination))).text)
    assert "declined asked by Pat (pat@northwind.test)" in text and "Their response: Not this quarter." in text
    assert INTERNAL not in text
    listed = await api.get(f"{QUEUE}?state=declined")
    assert f'<a href="{QUEUE}/{request.id}">Northwind</a>' in listed.text
    theirs = words_of((await api.get(f"{QUEUE}/{request.id}")).text)
    assert "Response Not this quarter." in theirs and "the deciders kept their reason internal" in theirs
    assert INTERNAL not in theirs and "Decline the request" not in theirs
    # Declined, it may be asked again.
    again = await post_on(api, member, portal_page(nomination), f"{portal_page(nomination)}/reconsideration",
                          {"note": "Our licence is renewed."})  # fmt: skip
    assert again.status_code == 303, again.text
    assert [r.state for r in sorted(await requests_of(world), key=lambda r: r.created_at)] == ["declined", "open"]


async def test_the_partners_refusals_say_why_and_change_nothing(api, world, unchanged):
    organisation, admin, nomination = await rejected(world)
    page = portal_page(nomination)
    await ask(world, admin, nomination)
    pending = await world.nominate(organisation, start=40 * DAY)
    _, stranger = await world.partner(name="southwind")

    shown = await open_as(api, admin, page)
    async with unchanged():
        twice = await api.post(f"{page}/reconsideration", data={"csrf": csrf_in(shown.text), "note": "Again."})
    assert twice.status_code == 409
    assert "Not done: your organisation has already asked for this nomination to be reconsidered" in words_of(
        twice.text)  # fmt: skip
    assert ">Again.</textarea>" in twice.text  # the form, shown again with what was typed

    async with unchanged():
        empty = await api.post(f"{page}/reconsideration", data={"csrf": csrf_in(shown.text), "note": "   "})
        long = await api.post(f"{page}/reconsideration", data={"csrf": csrf_in(shown.text), "note": "x" * 2001})
        undecided = await api.post(f"{portal_page(pending)}/reconsideration",
                                   data={"csrf": csrf_in(shown.text), "note": "Why not yet?"})  # fmt: skip
    assert empty.status_code == 422 and "Not done: a note saying why is required" in words_of(empty.text)
    assert 'aria-invalid="true" aria-describedby="note-error"' in empty.text
    assert long.status_code == 422 and "a note saying why may be at most 2000 characters" in words_of(long.text)
    assert undecided.status_code == 409
    assert "this nomination is pending: only a rejected or lapsed nomination is reconsidered" in words_of(
        undecided.text
    )
    assert "Ask to be reconsidered</button>" not in (await api.get(portal_page(pending))).text

    # Another partner's nomination, and its request, do not exist for this one.
    shown = await open_as(api, stranger, "/console")
    async with unchanged():
        assert (await api.get(page)).status_code == 404
        posted = await api.post(f"{page}/reconsideration", data={"csrf": csrf_in(shown.text), "note": "Me too."})
        [request] = await requests_of(world)
        assert (await api.get(f"{QUEUE}/{request.id}")).status_code == 404
    assert posted.status_code == 404 and "Me too." not in posted.text
    assert "No open request." in words_of((await api.get(QUEUE)).text)

    # An auditor of the partner reads, and does not ask.
    auditor = await world.person(organisation, "audra", [Role.AUDITOR])
    shown = await open_as(api, auditor, page)
    assert "We renewed our vetting last week." in shown.text and "Ask to be reconsidered</button>" not in shown.text
    async with unchanged():
        forbidden = await api.post(f"{page}/reconsideration", data={"csrf": csrf_in(shown.text), "note": "Hm."})
    assert forbidden.status_code == 403
    assert "only your organisation's admins and members ask for a reconsideration" in words_of(forbidden.text)


async def test_answers_from_whom_may_not_give_them_are_refused_and_change_nothing(api, world, unchanged):
    _, admin, nomination = await rejected(world)
    request = await ask(world, admin, nomination)
    one = f"{QUEUE}/{request.id}"
    _, stranger = await world.partner(name="southwind")

    # The partner reads its request, and answers nothing.
    shown = await open_as(api, admin, one)
    assert "Open a new nomination round</button>" not in shown.text and "Decline the request" not in shown.text
    async with unchanged():
        take_up = await api.post(f"{one}/take-up", data={"csrf": csrf_in(shown.text), "starts_at": "", "ends_at": ""})
        decline = await api.post(f"{one}/decline", data={"csrf": csrf_in(shown.text), "decline_response": "No."})
    for answer in (take_up, decline):
        assert answer.status_code == 403
        assert "Not done: the side that nominated answers a request for reconsideration, not the partner" in words_of(
            answer.text)  # fmt: skip

    # The government did not nominate: it may read the request (it sees the nomination) but not answer it.
    shown = await open_as(api, world.gov_approver, one)
    assert "The side that nominated answers this request" in words_of(shown.text)
    async with unchanged():
        take_up = await api.post(f"{one}/take-up", data={"csrf": csrf_in(shown.text), "starts_at": "", "ends_at": ""})
    assert take_up.status_code == 403
    assert "only the side that nominated (the nominator's organisation) answers this request" in words_of(take_up.text)

    # A stranger is told the request does not exist.
    shown = await open_as(api, stranger, "/console")
    async with unchanged():
        take_up = await api.post(f"{one}/take-up", data={"csrf": csrf_in(shown.text), "starts_at": "", "ends_at": ""})
    assert take_up.status_code == 404

    # The nominator's refused answers come back in their own form, with what was typed.
    shown = await open_as(api, world.dev_nominator, one)
    async with unchanged():
        empty = await api.post(f"{one}/decline", data={"csrf": csrf_in(shown.text), "decline_response": "  "})
        past = await api.post(f"{one}/take-up", data={"csrf": csrf_in(shown.text), "response": "Again.",
                                                      "starts_at": f"{world.now - DAY:%Y-%m-%d %H:%M}",
                                                      "ends_at": f"{world.now + 9 * DAY:%Y-%m-%d %H:%M}"})  # fmt: skip
        garbled = await api.post(f"{one}/take-up", data={"csrf": csrf_in(shown.text), "starts_at": "soon",
                                                         "ends_at": ""})  # fmt: skip
    assert empty.status_code == 422
    assert "Not done: a response to the partner is required" in words_of(empty.text)
    assert 'aria-invalid="true" aria-describedby="decline_response-error"' in empty.text
    assert past.status_code == 422 and 'aria-invalid="true" aria-describedby="starts_at-error"' in past.text
    assert f'value="{world.now - DAY:%Y-%m-%d %H:%M}"' in past.text and ">Again.</textarea>" in past.text
    assert garbled.status_code == 422 and "enter a date as YYYY-MM-DD" in words_of(garbled.text)
    [still] = await requests_of(world)
    assert (still.state, still.new_nomination_id) == ("open", None)

    # Answered once, it is not answered again.
    declined = await api.post(f"{one}/decline", data={"csrf": csrf_in(shown.text), "decline_response": "No."},
                              follow_redirects=False)  # fmt: skip
    assert declined.status_code == 303
    async with unchanged():
        again = await api.post(f"{one}/take-up", data={"csrf": csrf_in(shown.text), "starts_at": "", "ends_at": ""})
    assert again.status_code == 409 and "this request was already answered: declined" in words_of(again.text)
    reconsidering = select(Nomination).where(col(Nomination.reconsiders_id).is_not(None))
    assert (await world.unit.session.exec(reconsidering)).all() == []
