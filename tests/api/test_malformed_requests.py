"""Malformed query strings, cursors and bodies: refused as 4xx problems naming what is wrong, never 500, changing
nothing. The refusals are tables (one app and one world per database serve a whole table; a failing row is
reported with every other that fails): 161 tests, each building its own app, became 13 with the same rows."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import httpx
from litestar import Response
from litestar.routes import HTTPRoute

from accessdesk.api.bodies import MAX_BODY_BYTES
from accessdesk.app import create_app
from accessdesk.settings import Settings
from tests.support.api import API, assert_problem
from tests.support.scenes import iso, partner

LISTS = ["organisations", "models", "nominations", "grants"]


def cursor_of(*parts: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


QUERIES = [
    ("nominations", {"state": "limbo"}, "state"),
    ("nominations", {"awaiting": "partner"}, "awaiting"),
    ("nominations", {"for_me": "perhaps"}, "for_me"),
    ("nominations", {"model_id": "atlas"}, "model_id"),
    ("grants", {"state": "frozen"}, "state"),
    ("grants", {"organisation_id": "42"}, "organisation_id"),
    ("organisations", {"kind": "lab"}, "kind"),
    ("organisations", {"vetting": "pending"}, "vetting"),
    ("models", {"limit": "ten"}, "limit"),
    ("audit/events", {"before_seq": "0"}, "before_seq"),
    ("audit/events", {"before_seq": str(2**64)}, "before_seq"),
    ("audit/events", {"subject_id": "a\x00b"}, "subject_id"),
    # a limit out of range, on every list
    *((path, {"limit": limit}, "limit") for path in [*LISTS, "audit/events"] for limit in ["0", "201", "-1"]),
    # a cursor this API never issued, on every list
    *((path, {"cursor": cursor}, "cursor") for path in LISTS for cursor in [
        "not-a-cursor", "%%%", cursor_of("yesterday", "00000000-0000-0000-0000-000000000000"),
        cursor_of("2026-12-01T12:00:00+00:00", "not-a-uuid"), cursor_of(1, 2, 3),
        base64.urlsafe_b64encode(b"\xff\xfe").decode()]),
]  # fmt: skip


def wrong_problem(response: httpx.Response, status: int, code: str, field: str | None = None) -> str | None:
    """What is wrong with ``response`` as the problem ``assert_problem`` expects (None: nothing)."""
    try:
        body = assert_problem(response, status, code, field=field)
    except AssertionError as exc:
        return f"{exc}".splitlines()[0][:300]
    if field is not None and field not in body["detail"]:
        return f"the detail does not name {field}: {body['detail']!r}"
    return None


async def test_an_unknown_mistyped_or_out_of_range_query_value_is_400_naming_it(api, world, bearer, unchanged):
    """One table, one app and world per database (these rows used to be 51 tests per database, each building both): every
    failing row is reported, by its request."""
    headers = await bearer(world.gov_admin)
    wrong = []
    async with unchanged():
        for path, params, field in QUERIES:
            response = await api.get(f"{API}/{path}", params=params, headers=headers)
            if (problem := wrong_problem(response, 400, "validation_error", field)) is not None:
                wrong.append(f"GET {path} {params}: {problem}")
    assert not wrong, "\n".join(wrong)
    assert len(QUERIES) == 51


async def test_a_non_uuid_path_id_is_404(api, world, bearer):
    response = await api.get(f"{API}/grants/not-a-uuid", headers=await bearer(world.gov_admin))
    assert_problem(response, 404, "http_404")


async def test_a_method_the_route_does_not_have_is_405(api, world, bearer):
    response = await api.delete(f"{API}/grants", headers=await bearer(world.gov_admin))
    assert_problem(response, 405, "http_405")


def nomination_body(world, organisation, clock) -> dict[str, object]:
    return {"model_id": str(world.model.id), "organisation_id": str(organisation.id),
            "starts_at": iso(clock.now() + timedelta(days=40)), "ends_at": iso(clock.now() + timedelta(days=50)),
            "actions": ["invoke"], "justification": "evaluation"}  # fmt: skip


UNDECODABLE = {
    "100k [": (b"[" * 100_000, 400, "body_too_deep"),
    "5k objects": (b'{"a":' * 5000 + b"1" + b"}" * 5000, 400, "body_too_deep"),
    "40 levels": (b'{"justification": ' + b"[" * 40 + b"]" * 40 + b"}", 400, "body_too_deep"),
    "invalid UTF-8": (b'{"justification": "\xff\xfe"}', 400, "malformed_body"),
    "latin-1": (b'{"justification": "caf\xe9"}', 400, "malformed_body"),
    "BOM-ish bytes": (b"\xff\xfe{}", 400, "malformed_body"),
    "truncated": (b'{"model_id": ', 400, "malformed_body"),
}
NOT_JSON = ["text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x", "application/jsonx", "application/json; charset=latin-1", "text/json", ""]  # fmt: skip
JSON = ["application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8",
        "application/merge-patch+json", "Application/JSON"]  # fmt: skip


async def test_a_body_the_decoder_cannot_take_or_of_another_media_type_is_a_4xx_problem(
    api, world, bearer, unchanged, clock
):  # fmt: skip
    organisation, _ = await partner(world)
    token = await bearer(world.gov_admin)
    body = json.dumps(nomination_body(world, organisation, clock))
    wrong = []
    async with unchanged():
        for name, (content, status, code) in UNDECODABLE.items():
            response = await api.post(f"{API}/nominations", content=content,
                                      headers={**token, "Content-Type": "application/json"})  # fmt: skip
            if (problem := wrong_problem(response, status, code)) is not None:
                wrong.append(f"{name}: {problem}")
        for content_type in NOT_JSON:
            response = await api.post(f"{API}/nominations", content=body, headers={**token, "Content-Type": content_type})
            if (problem := wrong_problem(response, 415, "unsupported_media_type")) is not None:
                wrong.append(f"sent as {content_type!r}: {problem}")
        response = await api.post(f"{API}/nominations", content=b'"' + b"a" * (MAX_BODY_BYTES + 1) + b'"',
                                  headers={**token, "Content-Type": "application/json"})  # fmt: skip
        if (problem := wrong_problem(response, 413, "body_too_large")) is not None:
            wrong.append(f"a body over {MAX_BODY_BYTES} bytes: {problem}")
    assert not wrong, "\n".join(wrong)


async def test_json_media_types_are_taken(api, world, bearer, clock):
    token = await bearer(world.gov_admin)
    for content_type in JSON:  # a partner each: one nomination per partner and window
        organisation, _ = await partner(world)
        response = await api.post(f"{API}/nominations", content=json.dumps(nomination_body(world, organisation, clock)),
                                  headers={**token, "Content-Type": content_type})  # fmt: skip
        assert response.status_code == 201, (content_type, response.text)


async def test_options_lists_every_method_of_the_path(api, world, bearer):
    token = await bearer(world.gov_admin)
    for path, allowed in [("nominations", "GET, OPTIONS, POST"), ("models", "GET, OPTIONS, POST"),
                          ("organisations", "GET, OPTIONS, POST"), ("models/{model}", "GET, OPTIONS, PATCH"),
                          ("nominations/{model}/decisions", "OPTIONS, POST"), ("grants/{model}", "GET, OPTIONS")]:  # fmt: skip
        response = await api.options(f"{API}/{path.format(model=world.model.id)}", headers=token)
        assert (response.status_code, response.headers["allow"]) == (204, allowed), path


def test_every_options_answer_matches_its_route():
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"), embedded_worker=False)
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            options, _ = route.route_handler_map["OPTIONS"]
            answer = options.fn(scope={})
            assert isinstance(answer, Response)  # Litestar's own OPTIONS handler answers at once, not awaited
            assert answer.headers["Allow"] == ", ".join(sorted(route.methods)), route.path
