"""The audit trail as a SIEM takes it: followed from event 0 to the head with ``after_seq``, oldest first, page by
page, while events are appended (nothing missed, nothing twice), and downloaded whole with a personal API token."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest

from accessdesk.domain.audit import GENESIS
from accessdesk.domain.vocabulary import Role
from tests.support.api import API, assert_problem, bearer_headers, count_rows, mint_token
from tests.support.scenes import partner

EVENTS = f"{API}/audit/events"
EXPORTS = (f"{API}/audit/export.json", f"{API}/audit/export.csv")


def assert_one_chain(events: list[dict], *, upto: int) -> None:
    """``events`` are the chain from its first event to ``upto``, each once, in order, each linked to the one
    before: a gap or a repeat would break the sequence or the links."""
    assert [e["seq"] for e in events] == list(range(1, upto + 1))
    assert [e["prev_hash"] for e in events] == [GENESIS] + [e["hash"] for e in events[:-1]]


async def test_a_reader_follows_the_trail_from_0_to_the_head_while_events_are_appended(api, world, engine):
    headers = bearer_headers(await mint_token(world, world.gov_admin))
    followed: list[dict] = []
    after = 0
    for page_number in range(1, 100):
        page = (await api.get(EVENTS, params={"after_seq": after, "limit": 4}, headers=headers)).json()
        assert page["next_before_seq"] is None
        followed += page["items"]
        after = page["next_after_seq"]
        assert after == followed[-1]["seq"]  # a full page ends with its last event; the last page at the head
        if page_number <= 3:
            await world.partner(name=f"latecomer{page_number}")  # events appended behind the reader's back
        elif len(page["items"]) < 4:
            break
    await world.commit()
    head = await count_rows(engine, "audit_events")
    assert_one_chain(followed, upto=head)
    # At the head: nothing more, and the same cursor to ask with later.
    caught_up = (await api.get(EVENTS, params={"after_seq": after}, headers=headers)).json()
    assert caught_up == {"items": [], "next_before_seq": None, "next_after_seq": head}
    await world.partner(name="later")
    later = (await api.get(EVENTS, params={"after_seq": after}, headers=headers)).json()
    assert [e["seq"] for e in later["items"]] == list(range(head + 1, later["next_after_seq"] + 1))
    assert later["items"][0]["prev_hash"] == followed[-1]["hash"]


async def test_a_reader_misses_and_repeats_nothing_while_another_client_appends_at_the_same_time(api, world, engine):
    reader = bearer_headers(await mint_token(world, world.gov_admin))
    writer = bearer_headers(await mint_token(world, world.dev_admin))
    await world.commit()
    api.event_hooks = {"request": [], "response": []}  # the world is committed; the two tasks share no session
    writes, wrote = 12, asyncio.Event()

    async def write() -> None:
        for i in range(writes):
            body = {"name": f"Racer {i}", "slug": f"racer-{i}"}
            created = await api.post(f"{API}/organisations", headers=writer, json=body)
            assert created.status_code == 201, created.text
            wrote.set()

    async def follow(writing: asyncio.Task[None]) -> list[dict]:
        followed: list[dict] = []
        after = 0
        while True:
            done_before = writing.done()
            page = (await api.get(EVENTS, params={"after_seq": after, "limit": 3}, headers=reader)).json()
            followed += page["items"]
            after = page["next_after_seq"]
            if len(page["items"]) < 3:  # at the head as it was
                if done_before:  # and no write was under way when we asked
                    return followed
                wrote.clear()
                await asyncio.wait([writing, asyncio.ensure_future(wrote.wait())], return_when=asyncio.FIRST_COMPLETED)

    writing = asyncio.create_task(write())
    followed = await follow(writing)
    await writing
    await world.commit()
    head = await count_rows(engine, "audit_events")
    assert_one_chain(followed, upto=head)
    raced = [e for e in followed if e["action"] == "organisation.created" and e["after"]["slug"].startswith("racer-")]
    assert len(raced) == writes


async def test_a_filtered_follow_moves_its_cursor_to_the_head_even_when_nothing_matched(api, world, engine):
    await partner(world)
    headers = bearer_headers(await mint_token(world, world.gov_admin))
    await world.commit()
    head = await count_rows(engine, "audit_events")
    vetted = (await api.get(EVENTS, params={"after_seq": 0, "action": "organisation.vetting_vetted"},
                            headers=headers)).json()  # fmt: skip
    assert [e["action"] for e in vetted["items"]] == ["organisation.vetting_vetted"]
    assert vetted["next_after_seq"] == head  # every event up to the head was looked at
    none = (await api.get(EVENTS, params={"after_seq": 0, "action": "nothing.happened"}, headers=headers)).json()
    assert none == {"items": [], "next_before_seq": None, "next_after_seq": head}


@pytest.mark.parametrize(("after_seq", "says"), [
    ("-1", "after_seq: Expected `int` >= 0"),
    ("seven", "after_seq: Expected `int | null`, got `str`"),
    ("1.5", "after_seq: Expected `int | null`, got `str`"),
    ("", "after_seq: Expected `int | null`, got `str`"),
    (str(2**63), "after_seq: Expected `int` <= 9223372036854775807"),
    ("9" * 40, "after_seq: Expected `int` <= 9223372036854775807"),
    ("beyond", "there is no event #"),
    ("both", "give before_seq (newest first) or after_seq (oldest first), not both"),
], ids=["negative", "a-word", "a-fraction", "empty", "past-64-bits", "forty-digits", "beyond-the-head",
        "with-before_seq"])  # fmt: skip
async def test_a_bad_after_seq_is_a_400_that_says_why_and_changes_nothing(after_seq, says, api, world, engine,
                                                                          unchanged):  # fmt: skip
    headers = bearer_headers(await mint_token(world, world.gov_admin))
    await world.commit()
    head = await count_rows(engine, "audit_events")
    params = {"after_seq": after_seq}
    if after_seq == "beyond":
        params = {"after_seq": str(head + 1)}
    elif after_seq == "both":
        params = {"after_seq": "0", "before_seq": "5"}
    async with unchanged():
        body = assert_problem(await api.get(EVENTS, params=params, headers=headers), 400, "validation_error",
                              field="after_seq")  # fmt: skip
    assert says in body["detail"], body
    if after_seq == "beyond":
        assert body["detail"] == (f"there is no event #{head + 1}: the audit trail ends at #{head} (an after_seq this "
                                  "API never gave; was the database restored from an older copy?)")  # fmt: skip


async def test_a_token_without_audit_rights_is_403_and_learns_nothing(api, world, unchanged):
    _, partner_admin = await partner(world)
    refused_people = (world.dev_approver, partner_admin, world.gov_member)
    tokens = [bearer_headers(await mint_token(world, person)) for person in refused_people]
    async with unchanged():
        for headers in tokens:
            for path, params in ((EVENTS, {"after_seq": "0"}), (EVENTS, {"after_seq": "0", "limit": "200"}),
                                 (EXPORTS[0], {}), (EXPORTS[1], {}),
                                 (EXPORTS[0], {"action": "organisation.created"})):  # fmt: skip
                refused = await api.get(path, params=params, headers=headers)
                body = assert_problem(refused, 403, "forbidden")
                assert body["detail"] == "only auditors and admins read the audit trail"
                assert "content-disposition" not in refused.headers
                assert set(body) == {"type", "title", "status", "detail", "code"}  # no event, no head, no count


async def test_the_exports_are_served_to_an_auditors_personal_token(api, world, engine):
    await partner(world)
    auditor = await world.person(world.developer, "audrey", [Role.AUDITOR])
    headers = bearer_headers(await mint_token(world, auditor))
    await world.commit()
    head = await count_rows(engine, "audit_events")
    followed = (await api.get(EVENTS, params={"after_seq": 0, "limit": 200}, headers=headers)).json()["items"]

    as_json = await api.get(EXPORTS[0], headers=headers)
    assert as_json.status_code == 200, as_json.text
    assert as_json.headers["content-type"].startswith("application/json")
    assert as_json.headers["cache-control"] == "no-store"
    assert as_json.headers["content-disposition"].startswith('attachment; filename="accessdesk-audit-')
    export = as_json.json()
    assert export["format"] == "accessdesk.audit-export/1" and export["exported_by"] == "audrey@acme.test"
    assert export["chain_head"] == {"seq": head, "hash": followed[-1]["hash"]}
    assert [e["seq"] for e in export["events"]] == list(range(head, 0, -1))
    assert [e["hash"] for e in reversed(export["events"])] == [e["hash"] for e in followed]

    as_csv = await api.get(EXPORTS[1], headers=headers)
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [int(r["seq"]) for r in rows] == list(range(head, 0, -1))
    assert [r["hash"] for r in reversed(rows)] == [e["hash"] for e in followed]

    filtered = (await api.get(EXPORTS[0], params={"action": "organisation.vetting_vetted"}, headers=headers)).json()
    assert filtered["filters"] == {"action": "organisation.vetting_vetted"}
    assert [e["action"] for e in filtered["events"]] == ["organisation.vetting_vetted"]


@pytest.mark.parametrize("authorization", [None, "Bearer adk_not-a-token", "Basic Z2FpbDpwdw=="],
                         ids=["no-token", "unknown-token", "basic"])  # fmt: skip
async def test_the_exports_and_the_feed_without_a_valid_token_are_401(authorization, api, world, unchanged):
    await partner(world)
    headers = {"Authorization": authorization} if authorization else {}
    async with unchanged():
        for path, params in ((EVENTS, {"after_seq": "0"}), (EXPORTS[0], {}), (EXPORTS[1], {})):
            refused = await api.get(path, params=params, headers=headers)
            assert_problem(refused, 401, "http_401")
            assert refused.headers["www-authenticate"] == 'Bearer realm="accessdesk"'
            assert "content-disposition" not in refused.headers
