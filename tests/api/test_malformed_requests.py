"""Malformed query strings and cursors: refused as 400 (or 422 for a cursor this API never issued), never 500."""

from __future__ import annotations

import base64
import json

import pytest

from tests.api.conftest import API, assert_problem

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
async def test_a_cursor_this_api_never_issued_is_422(api, world, bearer, unchanged, path, cursor):
    headers = await bearer(world.gov_admin)
    async with unchanged():
        response = await api.get(f"{API}/{path}", params={"cursor": cursor}, headers=headers)
    assert_problem(response, 422, "invalid", field="cursor")


async def test_a_non_uuid_path_id_is_404(api, world, bearer):
    response = await api.get(f"{API}/grants/not-a-uuid", headers=await bearer(world.gov_admin))
    assert_problem(response, 404, "http_404")


async def test_a_method_the_route_does_not_have_is_405(api, world, bearer):
    response = await api.delete(f"{API}/grants", headers=await bearer(world.gov_admin))
    assert_problem(response, 405, "http_405")
