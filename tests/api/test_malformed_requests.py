"""Malformed query strings, cursors and bodies: refused as 4xx problems naming what is wrong, never 500, changing
nothing."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from litestar.routes import HTTPRoute

from accessdesk.api.bodies import MAX_BODY_BYTES
from accessdesk.app import create_app
from accessdesk.settings import Settings
from tests.support.api import API, assert_problem
from tests.support.scenes import iso, partner

LISTS = ["organisations", "models", "nominations", "grants"]


def cursor_of(*parts: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
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
    ],
)
async def test_an_unknown_or_mistyped_query_value_is_400_naming_it(api, world, bearer, unchanged, path, params, field):
    headers = await bearer(world.gov_admin)
    async with unchanged():
        response = await api.get(f"{API}/{path}", params=params, headers=headers)
    body = assert_problem(response, 400, "validation_error", field=field)
    assert field in body["detail"]


@pytest.mark.parametrize("path", [*LISTS, "audit/events"])
@pytest.mark.parametrize("limit", ["0", "201", "-1"])
async def test_a_limit_out_of_range_is_400(api, world, bearer, unchanged, path, limit):
    headers = await bearer(world.gov_admin)
    async with unchanged():
        response = await api.get(f"{API}/{path}", params={"limit": limit}, headers=headers)
    assert_problem(response, 400, "validation_error", field="limit")


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    "cursor",
    ["not-a-cursor", "%%%", cursor_of("yesterday", "00000000-0000-0000-0000-000000000000"),
     cursor_of("2026-12-01T12:00:00+00:00", "not-a-uuid"), cursor_of(1, 2, 3),
     base64.urlsafe_b64encode(b"\xff\xfe").decode()],
)
async def test_a_cursor_this_api_never_issued_is_400(api, world, bearer, unchanged, path, cursor):
    headers = await bearer(world.gov_admin)
    async with unchanged():
        response = await api.get(f"{API}/{path}", params={"cursor": cursor}, headers=headers)
    assert_problem(response, 400, "validation_error", field="cursor")


async def test_a_non_uuid_path_id_is_404(api, world, bearer):
    response = await api.get(f"{API}/grants/not-a-uuid", headers=await bearer(world.gov_admin))
    assert_problem(response, 404, "http_404")


async def test_a_method_the_route_does_not_have_is_405(api, world, bearer):
    response = await api.delete(f"{API}/grants", headers=await bearer(world.gov_admin))
    assert_problem(response, 405, "http_405")


def nomination_body(world, organisation, clock) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {"model_id": str(world.model.id), "organisation_id": str(organisation.id),
            "starts_at": iso(clock.now() + timedelta(days=40)), "ends_at": iso(clock.now() + timedelta(days=50)),
            "actions": ["invoke"], "justification": "evaluation"}  # fmt: skip


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"[" * 100_000, 400, "body_too_deep"),
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, 400, "body_too_deep"),
        (b'{"justification": ' + b"[" * 40 + b"]" * 40 + b"}", 400, "body_too_deep"),
        (b'{"justification": "\xff\xfe"}', 400, "malformed_body"),
        (b'{"justification": "caf\xe9"}', 400, "malformed_body"),
        (b"\xff\xfe{}", 400, "malformed_body"),
        (b'{"model_id": ', 400, "malformed_body"),
    ],
    ids=["100k [", "5k objects", "40 levels", "invalid UTF-8", "latin-1", "BOM-ish bytes", "truncated"],
)
async def test_a_body_the_decoder_cannot_take_is_a_400_problem(api, world, bearer, unchanged, content, status, code):
    headers = {**await bearer(world.gov_admin), "Content-Type": "application/json"}
    async with unchanged():
        response = await api.post(f"{API}/nominations", content=content, headers=headers)
    assert_problem(response, status, code)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
     "application/jsonx", "application/json; charset=latin-1", "text/json", ""],
)
async def test_a_json_body_sent_as_another_media_type_is_415(api, world, bearer, unchanged, clock, content_type):
    organisation, _ = await partner(world)
    headers = {**await bearer(world.gov_admin), "Content-Type": content_type}
    async with unchanged():
        response = await api.post(f"{API}/nominations", content=json.dumps(nomination_body(world, organisation, clock)),
                                  headers=headers)  # fmt: skip
    assert_problem(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8",
                     "application/merge-patch+json", "Application/JSON"],
)
async def test_json_media_types_are_taken(api, world, bearer, clock, content_type):
    organisation, _ = await partner(world)
    headers = {**await bearer(world.gov_admin), "Content-Type": content_type}
    response = await api.post(f"{API}/nominations", content=json.dumps(nomination_body(world, organisation, clock)),
                              headers=headers)  # fmt: skip
    assert response.status_code == 201, response.text


async def test_a_body_larger_than_any_the_api_takes_is_413(api, world, bearer, unchanged):
    headers = {**await bearer(world.gov_admin), "Content-Type": "application/json"}
    async with unchanged():
        response = await api.post(f"{API}/nominations", content=b'"' + b"a" * (MAX_BODY_BYTES + 1) + b'"',
                                  headers=headers)  # fmt: skip
    assert_problem(response, 413, "body_too_large")


@pytest.mark.parametrize(
    ("path", "allowed"),
    [("nominations", "GET, OPTIONS, POST"), ("models", "GET, OPTIONS, POST"), ("organisations", "GET, OPTIONS, POST"),
     ("models/{model}", "GET, OPTIONS, PATCH"), ("nominations/{model}/decisions", "OPTIONS, POST"),
     ("grants/{model}", "GET, OPTIONS")],
)
async def test_options_lists_every_method_of_the_path(api, world, bearer, path, allowed):
    response = await api.options(f"{API}/{path.format(model=world.model.id)}", headers=await bearer(world.gov_admin))
    assert response.status_code == 204
    assert response.headers["allow"] == allowed


def test_every_options_answer_matches_its_route():
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"), embedded_worker=False)
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            options, _ = route.route_handler_map["OPTIONS"]
            answer = options.fn(scope={})
            assert answer.headers["Allow"] == ", ".join(sorted(route.methods)), route.path
