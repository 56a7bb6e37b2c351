"""Hostile and malformed requests at the JSON API's doors, as one table: each row is a request no client should
send, with the status and problem ``code`` it must get. Every answer is a 4xx RFC 9457 problem (never a 5xx, never
a traceback in the log), and the whole table changes nothing: no row anywhere, no audit event, no outbox message.

One world and one app per database serve the whole table (a world per row would cost minutes); a row that fails is
reported with every other that fails, by name."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tests.support.api import API
from tests.support.scenes import government_grant, iso, partner, pending

NUL, ESC = "\x00", "\x1b"
NOT_A_UUID = "1; DROP TABLE nominations"


@dataclass(frozen=True)
class Door:
    name: str
    method: str
    path: str
    status: int
    code: str
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] | None = None
    token: str | None = "gov_admin"  # whose bearer token goes with the request (None: no Authorization header)


def nomination(ids: dict[str, str], **overrides: Any) -> dict[str, Any]:
    return {"model_id": ids["model"], "organisation_id": ids["organisation"], "starts_at": ids["start"],
            "ends_at": ids["end"], "actions": ["invoke"], "justification": "Pre-release evaluation.", **overrides}  # fmt: skip


def cohort(ids: dict[str, str], **overrides: Any) -> dict[str, Any]:
    return {"model": ids["model"], "name": "Wave 1", "members": [ids["organisation"]], "starts_at": ids["start"],
            "ends_at": ids["end"], "actions": ["invoke"], "justification": "Pre-release evaluation.", **overrides}  # fmt: skip


def organisation(**overrides: Any) -> dict[str, Any]:
    return {"name": "Southwind Labs", "slug": "southwind", "kind": "partner", **overrides}


def model(**overrides: Any) -> dict[str, Any]:
    return {"slug": "boreas", "name": "Boreas", "codename": "north wind", "tier": "standard",
            "planned_release_at": "2027-03-01T00:00:00Z", "resource": "https://api.example/models/boreas", **overrides}  # fmt: skip


def doors(ids: dict[str, str]) -> list[Door]:
    decisions = f"/nominations/{ids['nomination']}/decisions"
    as_json = {"Content-Type": "application/json"}
    body = json.dumps(nomination(ids)).encode()
    return [
        # media types
        Door("JSON sent as text/plain", "POST", "/nominations", 415, "unsupported_media_type", content=body,
             headers={"Content-Type": "text/plain"}),
        Door("JSON sent as a form", "POST", "/organisations", 415, "unsupported_media_type",
             content=b"name=Southwind&slug=southwind", headers={"Content-Type": "application/x-www-form-urlencoded"}),
        Door("JSON sent as multipart", "POST", decisions, 415, "unsupported_media_type",
             content=b"--x\r\n\r\n{}\r\n--x--", headers={"Content-Type": "multipart/form-data; boundary=x"}),
        Door("JSON without a Content-Type", "POST", "/models", 415, "unsupported_media_type",
             content=json.dumps(model()).encode(), headers={"Content-Type": ""}),
        Door("JSON in latin-1", "POST", decisions, 415, "unsupported_media_type", content=b'{"verdict": "approve"}',
             headers={"Content-Type": "application/json; charset=iso-8859-1"}),
        # encodings and shapes
        Door("invalid UTF-8", "POST", "/organisations", 400, "malformed_body",
             content=b'{"name": "South\xffwind", "slug": "southwind"}', headers=as_json),
        Door("a lone surrogate", "POST", "/organisations", 400, "malformed_body",
             content=b'{"name": "\xed\xa0\x80", "slug": "southwind"}', headers=as_json),
        Door("truncated JSON", "POST", "/models", 400, "malformed_body", content=b'{"slug": "bor', headers=as_json),
        Door("100,000 nested arrays", "POST", "/nominations", 400, "body_too_deep", content=b"[" * 100_000,
             headers=as_json),
        Door("5,000 nested objects", "POST", decisions, 400, "body_too_deep",
             content=b'{"a":' * 5000 + b"1" + b"}" * 5000, headers=as_json),
        Door("a 2 MiB body", "POST", "/organisations", 413, "body_too_large",
             content=json.dumps(organisation(name="x" * 2_000_000)).encode(), headers=as_json),
        Door("an empty body", "POST", "/nominations", 400, "validation_error", content=b"", headers=as_json),
        Door("a list for an object", "POST", "/organisations", 400, "validation_error", json=[organisation()]),
        # strings
        Door("NUL in a name", "POST", "/organisations", 400, "validation_error", json=organisation(name=f"South{NUL}")),
        Door("an escape sequence in a name", "POST", "/models", 400, "validation_error",
             json=model(name=f"{ESC}[2J{ESC}[31mBoreas")),
        Door("a newline in a name", "POST", "/organisations", 400, "validation_error",
             json=organisation(name="Southwind\nadmin: yes")),
        Door("a trailing newline in a slug", "POST", "/models", 400, "validation_error", json=model(slug="boreas\n")),
        Door("NUL in a justification", "POST", "/nominations", 400, "validation_error",
             json=nomination(ids, justification=f"fine{NUL}")),
        Door("NUL in a decision's reason", "POST", decisions, 400, "validation_error",
             json={"verdict": "approve", "reason": NUL}),
        Door("a 5001-character reason", "POST", decisions, 400, "validation_error",
             json={"verdict": "reject", "reason": "é" * 5001}),
        # types and fields
        Door("a number for a verdict", "POST", decisions, 400, "validation_error", json={"verdict": 1}),
        Door("an unknown verdict", "POST", decisions, 400, "validation_error", json={"verdict": "maybe"}),
        Door("an unknown field", "POST", decisions, 400, "validation_error",
             json={"verdict": "approve", "on_behalf_of": "someone else"}),
        Door("a string for a list", "POST", "/nominations", 400, "validation_error", json=nomination(ids, actions="invoke")),
        Door("a huge number", "POST", "/models", 400, "validation_error", json=model(max_window_days=10**30)),
        Door("a time without an offset", "POST", "/nominations", 400, "validation_error",
             json=nomination(ids, starts_at="2027-01-01T00:00:00")),
        Door("a model id that is not a UUID", "POST", "/nominations", 400, "validation_error",
             json=nomination(ids, model_id=NOT_A_UUID)),
        Door("a null for a required field", "PATCH", f"/models/{ids['model']}", 400, "validation_error",
             json={"name": None}),
        # ids in paths and query strings
        Door("a path id that is not a UUID", "GET", f"/nominations/{NOT_A_UUID}", 404, "http_404"),
        Door("a decision on a path id that is not a UUID", "POST", "/nominations/42/decisions", 404, "http_404",
             json={"verdict": "approve"}),
        Door("an unknown nomination", "POST", "/nominations/00000000-0000-0000-0000-000000000000/decisions", 404,
             "not_found", json={"verdict": "approve"}),
        Door("a query id that is not a UUID", "GET", "/grants", 400, "validation_error", params={"model_id": "atlas"}),
        Door("a cursor never issued", "GET", "/nominations", 400, "validation_error", params={"cursor": "bm9wZQ"}),
        Door("a cursor of garbage bytes", "GET", "/models", 400, "validation_error", params={"cursor": "%%%\x7f"}),
        Door("a negative limit", "GET", "/organisations", 400, "validation_error", params={"limit": "-5"}),
        Door("a huge limit", "GET", "/nominations", 400, "validation_error", params={"limit": str(10**30)}),
        Door("an instant that is not one", "GET", f"/grants/{ids['grant']}/usability", 400, "validation_error",
             params={"at": "tomorrow"}),
        Door("NUL in a query value", "GET", "/audit/events", 400, "validation_error", params={"subject_id": NUL}),
        # who is asking
        Door("no token", "POST", decisions, 401, "http_401", json={"verdict": "approve"}, token=None),
        Door("a garbage token", "POST", "/nominations", 401, "http_401", json=nomination(ids), token=None,
             headers={"Authorization": "Bearer " + "A" * 4000}),
        Door("an empty bearer", "GET", "/me", 401, "http_401", token=None, headers={"Authorization": "Bearer "}),
        Door("Basic instead of Bearer", "GET", "/me", 401, "http_401", token=None,
             headers={"Authorization": "Basic Z2FpbDpnYWls"}),
        Door("a partner deciding", "POST", decisions, 403, "forbidden", json={"verdict": "approve"},
             token="partner_admin"),
        # cohorts and the programme overview (issue 16)
        Door("NUL in a cohort's name", "POST", "/cohorts", 400, "validation_error", json=cohort(ids, name=f"Wave{NUL}")),
        Door("a newline in a cohort's name", "POST", "/cohorts", 400, "validation_error",
             json=cohort(ids, name="Wave 1\nadmin: yes")),
        Door("a cohort of no one", "POST", "/cohorts", 400, "validation_error", json=cohort(ids, members=[])),
        Door("a cohort of 5,001 entries", "POST", "/cohorts", 400, "validation_error",
             json=cohort(ids, members=[f"p{n}.test" for n in range(5001)])),
        Door("a number for a member", "POST", "/cohorts", 400, "validation_error", json=cohort(ids, members=[42])),
        Door("a cohort's members as organisations", "POST", "/cohorts", 400, "validation_error",
             json={**{k: v for k, v in cohort(ids).items() if k != "members"}, "organisations": [ids["organisation"]]}),
        Door("a cohort window without an offset", "POST", "/cohorts", 400, "validation_error",
             json=cohort(ids, starts_at="2027-01-01T00:00:00")),
        Door("a cohort for an unknown model", "POST", "/cohorts", 404, "not_found", json=cohort(ids, model="boreas")),
        Door("a partner nominating a cohort", "POST", "/cohorts", 403, "forbidden", json=cohort(ids),
             token="partner_admin"),
        Door("a cohort path id that is not a UUID", "GET", f"/cohorts/{NOT_A_UUID}", 404, "http_404"),
        Door("an unknown cohort", "POST", "/cohorts/00000000-0000-0000-0000-000000000000/decisions", 404,
             "not_found", json={}),
        Door("a rejection keyed by a non-UUID", "POST", "/cohorts/00000000-0000-0000-0000-000000000000/decisions", 400,
             "validation_error", json={"reject": {"atlas": "no"}}),
        Door("NUL in a cohort rejection's reason", "POST",
             "/cohorts/00000000-0000-0000-0000-000000000000/decisions", 400, "validation_error",
             json={"reject": {ids["organisation"]: NUL}}),
        Door("a programme of a model that is not a UUID", "GET", f"/models/{NOT_A_UUID}/programme", 404, "http_404"),
        Door("a programme of an unknown model", "GET", "/models/00000000-0000-0000-0000-000000000000/programme", 404,
             "not_found"),
        Door("a programme without a token", "GET", f"/models/{ids['model']}/programme", 401, "http_401", token=None),
        # "is my access ready?" and the self-test (issue 18)
        Door("readiness of an organisation that is not a UUID", "GET", "/readiness", 400, "validation_error",
             params={"organisation_id": NOT_A_UUID}),
        Door("readiness of an unknown organisation", "GET", "/readiness", 404, "not_found",
             params={"organisation_id": "00000000-0000-0000-0000-000000000000"}),
        Door("readiness of another organisation, asked by a partner", "GET", "/readiness", 404, "not_found",
             params={"organisation_id": ids["government"]}, token="partner_admin"),
        Door("readiness without a token", "GET", "/readiness", 401, "http_401", token=None),
        Door("a self-test of an unknown credential", "POST", "/credentials/adk_c_unknown/self-test", 404, "not_found"),
        Door("a self-test of a credential named by a NUL", "POST", "/credentials/%00/self-test", 404, "not_found"),
        Door("a self-test of a credential named by 5,000 characters", "POST", f"/credentials/{'a' * 5000}/self-test",
             404, "not_found"),
        Door("a self-test of a grant's id as a credential", "POST", f"/credentials/{ids['grant']}/self-test", 404,
             "not_found"),
        Door("a self-test with an empty secret", "POST", "/credentials/adk_c_unknown/self-test", 400,
             "validation_error", json={"client_secret": ""}),
        Door("a self-test with a secret of 201 characters", "POST", "/credentials/adk_c_unknown/self-test", 400,
             "validation_error", json={"client_secret": "s" * 201}),
        Door("a self-test with an unknown field", "POST", "/credentials/adk_c_unknown/self-test", 400,
             "validation_error", json={"secret": "s"}),
        Door("a self-test with a list for a body", "POST", "/credentials/adk_c_unknown/self-test", 400,
             "validation_error", json=["s"]),
        Door("a self-test without a token", "POST", "/credentials/adk_c_unknown/self-test", 401, "http_401",
             token=None),
        # methods
        Door("DELETE on a list", "DELETE", "/nominations", 405, "http_405"),
        Door("PUT on a nomination", "PUT", f"/nominations/{ids['nomination']}", 405, "http_405", json={}),
        Door("GET on a POST-only route", "GET", decisions, 405, "http_405"),
    ]


async def test_every_hostile_request_is_a_4xx_problem_and_changes_nothing(api, world, unchanged, bearer, clock):
    organisation_, partner_admin = await partner(world)
    waiting = await pending(world, organisation_, start=timedelta(days=3))
    grant = await government_grant(world)
    ids = {"model": str(world.model.id), "organisation": str(organisation_.id), "nomination": str(waiting.id),
           "grant": str(grant.id), "government": str(world.government.id), "start": iso(clock.now() + timedelta(days=40)),
           "end": iso(clock.now() + timedelta(days=50))}  # fmt: skip
    tokens = {"gov_admin": await bearer(world.gov_admin), "partner_admin": await bearer(partner_admin)}
    table = doors(ids)
    wrong: list[str] = []
    async with unchanged():
        for door in table:
            headers = {**(tokens[door.token] if door.token else {}), **door.headers}
            response = await api.request(door.method, f"{API}{door.path}", headers=headers, params=door.params,
                                         json=door.json, content=door.content)  # fmt: skip
            wrong.extend(f"{door.name}: {problem}" for problem in misfits(response, door))
    assert not wrong, "\n".join(wrong)
    assert len(table) >= 40


def misfits(response: Any, door: Door) -> list[str]:
    """What is wrong with the answer to ``door`` (nothing, when it is the problem the row expects)."""
    if response.status_code >= 500:
        return [f"server error {response.status_code}: {response.text[:200]}"]
    found = []
    if response.status_code != door.status:
        found.append(f"status {response.status_code}, expected {door.status}: {response.text[:200]}")
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return [*found, f"not a problem: {response.headers.get('content-type')}"]
    body = response.json()
    if body.get("code") != door.code:
        found.append(f"code {body.get('code')!r}, expected {door.code!r}")
    if body.get("status") != response.status_code or not body.get("title") or not body.get("detail"):
        found.append(f"not a complete problem: {body}")
    if response.headers.get("cache-control") != "no-store" and door.token:
        found.append("an answer to a bearer without Cache-Control: no-store")
    return found


async def test_a_request_id_with_cr_lf_is_not_echoed(api, world, bearer):
    """The caller's X-Request-ID comes back only when it is sane; a header injection attempt gets a fresh id."""
    headers = await bearer(world.gov_admin)
    for given in ("abc\r\nSet-Cookie: accessdesk_session=stolen", "abc\nX-Evil: 1", "a" * 65, "ünïcödé".encode(), "<script>"):
        response = await api.get(f"{API}/me", headers={**headers, "X-Request-ID": given})
        assert response.status_code == 200
        echoed = response.headers["x-request-id"]
        assert echoed != given and echoed.isalnum() and len(echoed) == 32, echoed
        assert "set-cookie" not in response.headers and "x-evil" not in response.headers
    sane = await api.get(f"{API}/me", headers={**headers, "X-Request-ID": "trace-42.a:b"})
    assert sane.headers["x-request-id"] == "trace-42.a:b"


async def test_non_ascii_text_is_welcome(api, world, bearer):
    """Refusing the hostile must not refuse the foreign: names and reasons in any script are taken as sent."""
    headers = await bearer(world.gov_admin)
    created = await api.post(f"{API}/organisations", headers=headers,
                             json=organisation(name="Société Générale d’Évaluation — 評価研究所 🛰", slug="sge"))  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "Société Générale d’Évaluation — 評価研究所 🛰"
