"""Hostile rows at the doors of evaluation findings, in the JSON API and the console: every field oversize, with a
NUL or a control character, of the wrong type; hashes that are not SHA-256; locations that would run script or
leave https; material smuggled in as an attachment; unknown ids; recipients outside the model or of one party only;
moves and notes from outside the audience. Each answer is a 4xx (a problem in the API, a page in the console),
never a 5xx, and the whole table writes nothing: no finding, no update, no audit event, no outbox message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.support.api import API
from tests.support.console import csrf_in, open_as, words_of
from tests.support.finding_scenes import SHA, cast, finding_fields, reported

NUL, ESC = "\x00", "\x1b"
GHOST = "00000000-0000-4000-8000-000000000001"


@dataclass(frozen=True)
class Door:
    name: str
    status: int
    code: str
    json: Any
    path: str = "report"  # or "update"
    token: str = "grantee"


def attachment(**overrides: Any) -> dict[str, Any]:
    return {"name": "run.jsonl", "sha256": SHA, "location": "https://evidence.evalco.test/r/1", **overrides}


def doors(ids: dict[str, str]) -> list[Door]:
    red = {"audience": "tlp_red"}
    both = [ids["dev"], ids["gov"]]
    return [
        Door("title empty", 400, "validation_error", finding_fields(title="")),
        Door("title oversize", 400, "validation_error", finding_fields(title="x" * 201)),
        Door("title with NUL", 400, "validation_error", finding_fields(title=f"a{NUL}b")),
        Door("title with ESC", 400, "validation_error", finding_fields(title=f"a{ESC}[2Jb")),
        Door("title spaces only", 422, "invalid", finding_fields(title="   ")),
        Door("title a number", 400, "validation_error", finding_fields(title=17)),
        Door("body oversize", 400, "validation_error", finding_fields(body="x" * 20001)),
        Door("body with NUL", 400, "validation_error", finding_fields(body=f"a{NUL}b")),
        Door("body with ESC", 422, "invalid", finding_fields(body=f"a{ESC}[2Jb")),
        Door("body a list", 400, "validation_error", finding_fields(body=["x"])),
        Door("severity unknown", 400, "validation_error", finding_fields(severity="apocalyptic")),
        Door("category unknown", 400, "validation_error", finding_fields(category="gossip")),
        Door("audience unknown", 400, "validation_error", finding_fields(audience="tlp_clear")),
        Door("audience null", 400, "validation_error", finding_fields(audience=None)),
        Door("unknown key", 400, "validation_error", finding_fields(weights="AAAA")),
        Door("material in an attachment", 400, "validation_error", finding_fields(attachments=[attachment(content="AAAA")])),
        Door("attachment a string", 400, "validation_error", finding_fields(attachments=["weights.safetensors"])),
        Door("attachment name oversize", 400, "validation_error", finding_fields(attachments=[attachment(name="n" * 201)])),
        Door("attachment name NUL", 400, "validation_error", finding_fields(attachments=[attachment(name=f"a{NUL}")])),
        Door("hash too short", 422, "invalid", finding_fields(attachments=[attachment(sha256="ab" * 31)])),
        Door("hash not hex", 422, "invalid", finding_fields(attachments=[attachment(sha256="xy" * 32)])),
        Door("hash too long", 400, "validation_error", finding_fields(attachments=[attachment(sha256="ab" * 33)])),
        Door("javascript location", 422, "invalid", finding_fields(attachments=[attachment(location="javascript:alert(1)")])),
        Door("data location", 422, "invalid", finding_fields(attachments=[attachment(location="data:text/html,<script>")])),
        Door("http location", 422, "invalid", finding_fields(attachments=[attachment(location="http://evidence.test/x")])),
        Door("file location", 422, "invalid", finding_fields(attachments=[attachment(location="file:///etc/passwd")])),
        Door("https with credentials", 422, "invalid", finding_fields(attachments=[attachment(location="https://a:b@evil.test/")])),
        Door("https without host", 422, "invalid", finding_fields(attachments=[attachment(location="https:///x")])),
        Door("location with space", 422, "invalid", finding_fields(attachments=[attachment(location="EVID 17")])),
        Door("location oversize", 400, "validation_error", finding_fields(attachments=[attachment(location="x" * 501)])),
        Door("21 attachments", 422, "invalid", finding_fields(attachments=[attachment()] * 21)),
        Door("recipients for AMBER", 422, "invalid", finding_fields(recipients=both)),
        Door("RED without recipients", 422, "invalid", finding_fields(**red)),
        Door("RED government only", 422, "invalid", finding_fields(**red, recipients=[ids["gov"]])),
        Door("RED with an outsider", 422, "invalid", finding_fields(**red, recipients=[*both, ids["outsider"]])),
        Door("RED with a rival", 422, "invalid", finding_fields(**red, recipients=[*both, ids["rival"]])),
        Door("RED with an unknown id", 422, "invalid", finding_fields(**red, recipients=[*both, GHOST])),
        Door("RED with a malformed id", 400, "validation_error", finding_fields(**red, recipients=["1; DROP TABLE users"])),
        Door("report by an outsider", 404, "not_found", finding_fields(), token="outsider"),
        Door("report on an unknown model", 404, "not_found", finding_fields(), path="ghost"),
        Door("note oversize", 400, "validation_error", {"note": "x" * 20001}, path="update", token="dev"),
        Door("note with NUL", 400, "validation_error", {"note": f"a{NUL}"}, path="update", token="dev"),
        Door("note with ESC", 422, "invalid", {"note": f"a{ESC}[2J"}, path="update", token="dev"),
        Door("unknown state", 400, "validation_error", {"to_state": "closed"}, path="update", token="dev"),
        Door("unknown update key", 400, "validation_error", {"note": "x", "state": "mitigated"}, path="update", token="dev"),
        Door("move by the grantee", 403, "forbidden", {"to_state": "acknowledged"}, path="update"),
        Door("note from outside", 404, "not_found", {"note": "hello"}, path="update", token="outsider"),
        Door("narrowing", 422, "invalid", {"audience": "tlp_red"}, path="update", token="dev"),
        Door("update of an unknown finding", 404, "not_found", {"note": "x"}, path="ghost-update", token="dev"),
    ]  # fmt: skip


async def test_every_hostile_finding_request_is_refused_and_writes_nothing(api, world, clock, bearer, unchanged):
    people = await cast(world, clock)
    finding = await reported(world, people.grantee)
    ids = {"dev": str(world.dev_approver.user_id), "gov": str(world.gov_approver.user_id),
           "outsider": str(people.outsider.user_id), "rival": str(people.rival.user_id)}  # fmt: skip
    tokens = {"grantee": await bearer(people.grantee), "dev": await bearer(world.dev_admin),
              "outsider": await bearer(people.outsider)}  # fmt: skip
    paths = {"report": f"{API}/models/{world.model.id}/findings", "ghost": f"{API}/models/{GHOST}/findings",
             "update": f"{API}/findings/{finding.id}/updates", "ghost-update": f"{API}/findings/{GHOST}/updates"}  # fmt: skip
    wrong: list[str] = []
    async with unchanged():
        for door in doors(ids):
            answer = await api.post(paths[door.path], headers=tokens[door.token], json=door.json)
            if answer.status_code >= 500 or answer.status_code != door.status:
                wrong.append(f"{door.name}: {answer.status_code}, expected {door.status}: {answer.text[:200]}")
            elif answer.json().get("code") != door.code:
                wrong.append(f"{door.name}: code {answer.json().get('code')}, expected {door.code}")
    assert not wrong, "\n".join(wrong)


async def test_hostile_console_forms_are_refused_as_pages_and_write_nothing(api, world, clock, unchanged):
    people = await cast(world, clock)
    finding = await reported(world, people.grantee)
    new = f"/console/models/{world.model.id}/findings/new"
    shown = await open_as(api, people.grantee, new)
    csrf = csrf_in(shown.text)
    form: dict[str, Any] = {"title": "T", "body": "B", "severity": "high", "category": "misuse", "audience": "tlp_amber"}
    rows: list[tuple[dict[str, Any], int]] = [
        ({**form, "title": "x" * 201}, 422), ({**form, "severity": "apocalyptic"}, 422),
        ({**form, "attachments": f"a | {SHA} | javascript:alert(1)"}, 422), ({**form, "attachments": "a | nohash | EVID-1"}, 422),
        ({**form, "audience": "tlp_red", "recipients": [GHOST]}, 422), ({**form, "recipients": "not-a-uuid"}, 422),
        ({**form, "body": f"a{NUL}b"}, 400), ({**form, "csrf": "forged"}, 403),
    ]  # fmt: skip
    async with unchanged():
        for data, status in rows:
            answer = await api.post(new, data={"csrf": csrf, **data})
            assert answer.status_code == status, (data, answer.text[:300])
            assert answer.headers["content-type"].startswith("text/html")
        answer = await api.post(f"/console/findings/{finding.id}/updates",
                                data={"csrf": csrf, "to_state": "acknowledged"})  # fmt: skip
        assert answer.status_code == 403 and "only the model's developer" in words_of(answer.text)
    outsider = await open_as(api, people.outsider, "/console")  # a sign-in is written: outside the table
    async with unchanged():
        answer = await api.post(f"/console/findings/{finding.id}/updates",
                                data={"csrf": csrf_in(outsider.text), "note": "let me in"})  # fmt: skip
        assert answer.status_code == 404
