"""Evaluation findings in the console: a grantee reports one from its home, the developer responds on the finding's
page (only the moves the domain allows are offered), refused forms come back with the message and what was typed,
the list filters and downloads, and whoever is outside the audience gets a 404 page."""

from __future__ import annotations

import csv
import io

from sqlmodel import select

from accessdesk.db.tables import Finding, FindingUpdate
from tests.support.console import csrf_in, open_as, sign_in, words_of
from tests.support.finding_scenes import SHA, cast, red, reported


def new_url(world) -> str:
    return f"/console/models/{world.model.id}/findings/new"


def typed(**overrides):
    return {"title": "Exploit chain without a jailbreak", "body": "Four of ten runs.\nNo jailbreak needed.",
            "severity": "high", "category": "cyber_capability", "audience": "tlp_amber_strict",
            "attachments": f"transcript.jsonl | {SHA} | https://evidence.evalco.test/r/17\nlog | {SHA} | EVID-17",
            **overrides}  # fmt: skip


async def test_a_grantee_reports_from_its_home_and_reads_its_finding(api, world, clock):
    people = await cast(world, clock)
    home = await open_as(api, people.grantee, "/console")
    assert f'<a href="{new_url(world)}">Atlas</a>' in home.text
    shown = await api.get(new_url(world))
    assert "TLP:AMBER+STRICT" in shown.text and "Gov1 (gov1@aiso.test), the government" in shown.text
    answer = await api.post(new_url(world), data={"csrf": csrf_in(shown.text), **typed()}, follow_redirects=True)
    assert answer.status_code == 200, answer.text
    text = words_of(answer.text)
    assert "The finding is reported: its audience reads it now." in text
    assert ("TLP:AMBER+STRICT read by the model's developer, the government and the reporter's organisation" in text)
    assert 'href="https://evidence.evalco.test/r/17" rel="noopener noreferrer nofollow">transcript.jsonl</a>' in answer.text
    assert "log: EVID-17" in text and "Four of ten runs.\nNo jailbreak needed." in answer.text
    assert "Respond" not in text and "Add a note" in text  # a partner notes, the developer responds
    home = await api.get("/console")
    assert "Exploit chain without a jailbreak" in home.text


async def test_the_developer_responds_with_only_the_moves_it_may_make(api, world, clock):
    people = await cast(world, clock)
    finding = await reported(world, people.grantee)
    page = await open_as(api, world.dev_approver, f"/console/findings/{finding.id}")
    assert '<option value="acknowledged">acknowledged</option>' in page.text
    assert '<option value="mitigated">' not in page.text
    moved = await api.post(f"/console/findings/{finding.id}/updates", follow_redirects=True, data={
        "csrf": csrf_in(page.text), "from_state": "reported", "to_state": "acknowledged", "note": "Reproduced."})  # fmt: skip
    assert "Your update is recorded." in moved.text
    assert "moved it from reported to acknowledged" in words_of(moved.text)
    refused = await api.post(f"/console/findings/{finding.id}/updates", data={
        "csrf": csrf_in(moved.text), "from_state": "acknowledged", "to_state": "mitigated", "note": ""})  # fmt: skip
    assert refused.status_code == 422
    assert "Not done: say in a note why the finding is mitigated" in words_of(refused.text)
    assert '<option value="mitigated" selected>' in refused.text
    stale = await api.post(f"/console/findings/{finding.id}/updates", data={
        "csrf": csrf_in(moved.text), "from_state": "reported", "to_state": "disputed", "note": "No."})  # fmt: skip
    assert stale.status_code == 409 and "no longer reported" in stale.text
    assert len((await world.unit.session.exec(select(FindingUpdate))).all()) == 1


async def test_a_refused_report_comes_back_with_what_was_typed_and_writes_nothing(api, world, clock):
    people = await cast(world, clock)
    shown = await open_as(api, people.grantee, new_url(world))
    answer = await api.post(new_url(world), data={"csrf": csrf_in(shown.text), **typed(
        audience="tlp_red", recipients=[str(world.gov_approver.user_id)])})  # fmt: skip
    assert answer.status_code == 422
    text = words_of(answer.text)
    assert "Not done: name at least one person of the model's developer and one of the government" in text
    assert 'value="Exploit chain without a jailbreak"' in answer.text
    assert f'value="{world.gov_approver.user_id}" checked' in answer.text
    bad_line = await api.post(new_url(world), data={"csrf": csrf_in(shown.text), **typed(attachments="just a name")})
    assert bad_line.status_code == 422 and "name | sha256 | location" in bad_line.text
    script = await api.post(new_url(world), data={"csrf": csrf_in(shown.text), **typed(
        attachments=f"x | {SHA} | javascript:alert(1)")})  # fmt: skip
    assert script.status_code == 422 and "a location is an https:// address" in words_of(script.text)
    assert (await world.unit.session.exec(select(Finding))).all() == []


async def test_who_is_outside_the_audience_gets_a_404_page_and_an_empty_list(api, world, clock):
    people = await cast(world, clock)
    secret = await red(world, people.grantee)
    await sign_in(api, world.gov_admin)
    assert (await api.get(f"/console/findings/{secret.id}")).status_code == 404
    listed = await api.get("/console/findings")
    assert secret.title not in listed.text and "No finding yet." in words_of(listed.text)
    exported = await api.get("/console/findings/export?format=csv")
    assert list(csv.DictReader(io.StringIO(exported.text))) == []
    await sign_in(api, people.rival)
    assert (await api.get(new_url(world))).status_code == 404
    await sign_in(api, people.other_grantee)
    forbidden = await api.get(new_url(world))
    assert forbidden.status_code == 403 and "holds no grant on Atlas with the evaluate action" in forbidden.text


async def test_the_list_filters_and_downloads_and_the_model_page_leads_to_it(api, world, clock):
    people = await cast(world, clock)
    await reported(world, people.grantee, title="=SUM(A1)", severity="low")
    await reported(world, world.gov_approver, title="Second", severity="critical", audience="tlp_green")
    model = await open_as(api, world.dev_admin, f"/console/models/{world.model.id}")
    assert f'href="/console/findings?model_id={world.model.id}"' in model.text
    listed = words_of((await api.get(f"/console/findings?model_id={world.model.id}&severity=critical")).text)
    assert "Second" in listed and "=SUM" not in listed and "TLP:GREEN" in listed
    exported = await api.get(f"/console/findings/export?format=csv&model_id={world.model.id}")
    assert exported.headers["content-disposition"].startswith('attachment; filename="accessdesk-findings-atlas-')
    titles = sorted(r["title"] for r in csv.DictReader(io.StringIO(exported.text)))
    assert titles == ["'=SUM(A1)", "Second"]
    assert (await api.get("/console/findings/export?format=xlsx")).status_code == 422
