"""Evaluation findings through the JSON API: reported on a model, listed and read by their audience alone (404 and
absent for anyone else), answered with notes, moves and a wider audience, exported as CSV (safe in a spreadsheet)
and JSON. Every refusal: its status, its problem, and that nothing changed anywhere."""

from __future__ import annotations

import csv
import io
import json

from tests.support.api import API, assert_problem, outbox_topics
from tests.support.finding_scenes import SHA, cast, finding_fields, red, reported

FINDINGS = f"{API}/findings"


def report_url(world, model=None) -> str:
    return f"{API}/models/{(model or world.model).id}/findings"


async def test_a_grantee_reports_a_finding_and_the_developer_and_government_read_it_at_once(api, world, clock, bearer, engine):
    people = await cast(world, clock)
    answer = await api.post(report_url(world), headers=await bearer(people.grantee), json=finding_fields())
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["state"], body["audience_label"], body["reporter"]["shown"], body["reporter_kind"]) == (
        "reported", "TLP:AMBER+STRICT", "Admin (Evalco)", "partner")  # fmt: skip
    assert body["attachments"] == [{"name": "transcript.jsonl", "sha256": SHA, "location": "https://evidence.evalco.test/r/17"}]
    assert body["may"] == {"moves": [], "note": True, "widen": ["tlp_amber", "tlp_green"]}
    for reader in (world.dev_admin, world.gov_member):
        read = await api.get(f"{FINDINGS}/{body['id']}", headers=await bearer(reader))
        assert read.status_code == 200 and read.json()["body"] == body["body"]
        listed = await api.get(FINDINGS, headers=await bearer(reader))
        assert [f["id"] for f in listed.json()["items"]] == [body["id"]] and "body" not in json.dumps(listed.json()["items"][0]["title"])
    assert "finding.reported" in await outbox_topics(engine)


async def test_who_is_outside_the_audience_finds_nothing_anywhere(api, world, clock, bearer):
    people = await cast(world, clock)
    secret = await red(world, people.grantee, title="=HYPERLINK(\"https://evil.test\")")
    for outsider in (world.gov_admin, world.dev_admin, people.colleague, people.other_grantee, people.outsider, people.rival):
        headers = await bearer(outsider)
        assert_problem(await api.get(f"{FINDINGS}/{secret.id}", headers=headers), 404, "not_found")
        assert (await api.get(FINDINGS, headers=headers)).json()["items"] == []
        exported = await api.get(f"{FINDINGS}/export", params={"format": "json"}, headers=headers)
        assert exported.json()["findings"] == []
        assert_problem(await api.post(f"{FINDINGS}/{secret.id}/updates", headers=headers, json={"note": "Hi"}),
                       404, "not_found")  # fmt: skip


async def test_the_developer_acknowledges_and_mitigates_and_the_thread_keeps_each_step(api, world, clock, bearer):
    people = await cast(world, clock)
    finding = await reported(world, people.grantee)
    dev = await bearer(world.dev_approver)
    acknowledged = await api.post(f"{FINDINGS}/{finding.id}/updates", headers=dev,
                                  json={"from_state": "reported", "to_state": "acknowledged", "note": "Reproduced."})
    assert acknowledged.status_code == 201, acknowledged.text
    assert acknowledged.json()["may"]["moves"] == ["mitigated", "accepted_risk", "disputed"]
    mitigated = await api.post(f"{FINDINGS}/{finding.id}/updates", headers=dev,
                               json={"from_state": "acknowledged", "to_state": "mitigated", "note": "Classifier v2 blocks it."})
    body = mitigated.json()
    assert body["state"] == "mitigated"
    assert [(u["from_state"], u["to_state"], u["note"], u["author"]["shown"]) for u in body["updates"]] == [
        ("reported", "acknowledged", "Reproduced.", "Dev1 (Acme AI)"),
        ("acknowledged", "mitigated", "Classifier v2 blocks it.", "Dev1 (Acme AI)")]  # fmt: skip
    seen = await api.get(f"{FINDINGS}/{finding.id}", headers=await bearer(people.grantee))
    assert [u["author"]["shown"] for u in seen.json()["updates"]] == ["Dev1 (the model's developer)"] * 2
    filtered = await api.get(FINDINGS, params={"state": "mitigated", "model": str(world.model.id)}, headers=dev)
    assert [f["id"] for f in filtered.json()["items"]] == [str(finding.id)]
    assert (await api.get(FINDINGS, params={"severity": "low"}, headers=dev)).json()["items"] == []


async def test_refused_updates_say_why_and_change_nothing(api, world, clock, bearer, unchanged):
    people = await cast(world, clock)
    finding = await reported(world, people.grantee)
    url = f"{FINDINGS}/{finding.id}/updates"
    partner, dev = await bearer(people.grantee), await bearer(world.dev_admin)  # a token's making is audited
    async with unchanged():
        body = assert_problem(await api.post(url, headers=partner, json={"to_state": "acknowledged"}), 403, "forbidden")
        assert body["detail"] == "only the model's developer (its admins and approvers) responds to a finding"
        assert_problem(await api.post(url, headers=dev, json={"from_state": "acknowledged", "to_state": "mitigated",
                                                              "note": "x"}), 409, "conflict")  # fmt: skip
        assert_problem(await api.post(url, headers=dev, json={"to_state": "disputed"}), 422, "invalid", field="note")
        assert_problem(await api.post(url, headers=dev, json={"audience": "tlp_red"}), 422, "invalid", field="audience")
        assert_problem(await api.post(url, headers=dev, json={"to_state": "closed"}), 400, "validation_error")
        assert_problem(await api.post(url, headers=dev, json={}), 422, "invalid", field="note")


async def test_refused_reports_say_why_and_change_nothing(api, world, clock, bearer, unchanged):
    people = await cast(world, clock)
    outsider, other, grantee = [await bearer(p) for p in (people.outsider, people.other_grantee, people.grantee)]
    async with unchanged():
        assert_problem(await api.post(report_url(world), headers=outsider, json=finding_fields()), 404, "not_found")
        body = assert_problem(await api.post(report_url(world), headers=other, json=finding_fields()), 403, "forbidden")
        assert "holds no grant on Atlas with the evaluate action in force now" in body["detail"]
        assert_problem(await api.post(report_url(world), headers=grantee, json=finding_fields(
            audience="tlp_red", recipients=[str(world.dev_approver.user_id)])), 422, "invalid", field="recipients")  # fmt: skip
        assert_problem(await api.post(report_url(world), headers=grantee, json=finding_fields(content="weights")),
                       400, "validation_error")  # fmt: skip


async def test_the_export_is_csv_safe_in_a_spreadsheet_or_json_with_each_thread(api, world, clock, bearer):
    people = await cast(world, clock)
    finding = await reported(world, people.grantee, title='=HYPERLINK("https://evil.test","open")',
                             body="+cmd|' /C calc'!A0")  # fmt: skip
    headers = await bearer(world.gov_admin)
    answer = await api.get(f"{FINDINGS}/export", params={"format": "csv", "model": str(world.model.id)}, headers=headers)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == 'attachment; filename="accessdesk-findings-atlas-2026-12-03.csv"'
    [row] = list(csv.DictReader(io.StringIO(answer.text)))
    assert row["title"] == '\'=HYPERLINK("https://evil.test","open")' and row["body"].startswith("'+cmd")
    assert json.loads(row["attachments"])[0]["sha256"] == SHA and row["updates"] == "[]"
    as_json = (await api.get(f"{FINDINGS}/export", headers=headers)).json()
    assert as_json["format"] == "accessdesk.findings-export/1" and as_json["findings"][0]["id"] == str(finding.id)
    assert_problem(await api.get(f"{FINDINGS}/export", params={"format": "xlsx"}, headers=headers), 400, "validation_error")
