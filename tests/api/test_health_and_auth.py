"""Health checks, who the caller is, and the refusals every endpoint shares: no token, a bad one, an old one."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlmodel import col

from accessdesk.app import create_app
from accessdesk.db.schema import head_revision
from accessdesk.db.tables import SigningKey
from accessdesk.domain.tokens import Tokens
from accessdesk.settings import Settings
from tests.databases import at_revision
from tests.support.api import API, app_engine, assert_problem, bearer_headers, url_of
from tests.world import OPERATOR


async def test_healthz_says_the_process_is_up(api):
    response = await api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_says_the_database_answers(api):
    response = await api.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("where", ["sqlite in a missing directory", "postgresql on a closed port"])
async def test_readyz_is_503_when_the_database_is_unreachable(where, tmp_path: Path):
    url = {
        "sqlite in a missing directory": f"sqlite+aiosqlite:///{tmp_path}/missing/dir/accessdesk.db",
        "postgresql on a closed port": "postgresql+asyncpg://postgres@127.0.0.1:1/accessdesk",
    }[where]
    app = create_app(Settings(database_url=url), embedded_worker=False)
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/readyz")
        alive = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert alive.status_code == 200


async def test_readyz_is_503_on_a_database_without_the_schema(tmp_path: Path):
    """An unmigrated database answers SELECT 1, but every page would fail (``no such table``): not ready."""
    empty = tmp_path / "empty.db"
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{empty}"), embedded_worker=False)
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable",
                               "detail": "the database has no accessdesk schema: run `accessdesk db upgrade`"}
    assert sqlite3.connect(empty).execute("SELECT name FROM sqlite_master").fetchall() == []  # nothing created


async def test_readyz_is_503_on_a_schema_behind_this_version_and_ready_once_upgraded(engine, clock):
    async with at_revision(engine, "0015") as url:
        app = create_app(Settings(database_url=url), clock=clock, engine=app_engine(url), embedded_worker=False)
        async with AsyncTestClient(app=app) as client:
            behind = await client.get("/readyz")
    assert behind.status_code == 503
    assert behind.json()["detail"] == (f"the database schema is at revision 0015 and this version of accessdesk "
                                       f"needs {head_revision()}: run `accessdesk db upgrade`")  # fmt: skip
    app = create_app(Settings(database_url=url), clock=clock, engine=app_engine(url), embedded_worker=False)
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/readyz")).json() == {"status": "ok"}


async def test_readyz_makes_the_signing_keys_on_a_first_start_and_is_503_when_they_cannot_be_opened(engine, clock):
    url = url_of(engine)
    async with engine.connect() as connection:
        assert (await connection.execute(select(func.count()).select_from(SigningKey))).scalar() == 0
    first = create_app(Settings(database_url=url), clock=clock, engine=app_engine(url), embedded_worker=False)
    async with AsyncTestClient(app=first) as client:
        assert (await client.get("/readyz")).json() == {"status": "ok"}
    async with engine.connect() as connection:  # one current key and the next one
        assert (await connection.execute(select(func.count()).select_from(SigningKey))).scalar() == 2
        before = (await connection.execute(select(col(SigningKey.kid), col(SigningKey.private_key_sealed)))).all()
    # Another key-encryption key than the one that sealed them: no token could be signed, so not ready.
    wrong = Settings(database_url=url, key_encryption_key="another-key-encryption-key-" + "z" * 20)
    app = create_app(wrong, clock=clock, engine=app_engine(url), embedded_worker=False)
    async with AsyncTestClient(app=app) as client:
        refused = await client.get("/readyz")
    assert refused.status_code == 503
    assert refused.json()["detail"].startswith("the token-signing keys cannot be used: key ")
    assert "cannot be unsealed with the configured key-encryption key (ACCESSDESK_KEY_ENCRYPTION_KEY)" in refused.text
    async with engine.connect() as connection:  # nothing made, nothing changed
        after = (await connection.execute(select(col(SigningKey.kid), col(SigningKey.private_key_sealed)))).all()
    assert sorted(after) == sorted(before)


async def test_me_names_the_caller_their_organisation_and_permissions(api, world, bearer):
    response = await api.get(f"{API}/me", headers=await bearer(world.gov_approver))
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["email"] == "gov1@aiso.test"
    assert body["user"]["roles"] == ["approver"]
    assert body["organisation"]["slug"] == "aiso"
    assert body["organisation"]["kind"] == "government"
    assert "nominations:decide" in body["permissions"]
    assert "models:create" not in body["permissions"]
    assert body["permissions"] == sorted(body["permissions"])


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer    ", "Basic dXNlcjpwYXNz", "Bearer adk_not-a-token-we-issued", "Bearer not-even-ours"],
)
async def test_a_request_without_a_valid_token_is_401_with_a_bearer_challenge(api, unchanged, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    async with unchanged():
        response = await api.get(f"{API}/me", headers=headers)
        write = await api.post(f"{API}/organisations", headers=headers, json={"name": "Sneaky", "slug": "sneaky"})
    for refused in (response, write):
        assert_problem(refused, 401, "http_401")
        assert refused.headers["www-authenticate"].startswith("Bearer")


async def test_an_expired_token_is_401(api, world, clock):
    token = await Tokens(world.unit).create(actor=OPERATOR, email=world.gov_admin.label, days=1)
    assert (await api.get(f"{API}/me", headers=bearer_headers(token))).status_code == 200
    clock.advance(timedelta(days=1, seconds=1))
    response = await api.get(f"{API}/me", headers=bearer_headers(token))
    assert_problem(response, 401, "http_401")
    assert "www-authenticate" in response.headers


async def test_the_token_of_a_disabled_user_stops_working_at_once(api, world, bearer):
    partner_headers = await bearer(world.gov_member)
    assert (await api.get(f"{API}/me", headers=partner_headers)).status_code == 200
    disabled = await api.patch(f"{API}/users/{world.gov_member.user_id}", headers=await bearer(world.gov_admin),
                               json={"disabled": True})  # fmt: skip
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["disabled"] is True
    assert_problem(await api.get(f"{API}/me", headers=partner_headers), 401, "http_401")


async def test_the_request_id_is_echoed_and_recorded_in_the_audit_trail(api, world, bearer):
    response = await api.post(f"{API}/organisations", headers={**await bearer(world.gov_admin), "X-Request-ID": "req-42"},
                              json={"name": "Traced Ltd", "slug": "traced"})  # fmt: skip
    assert response.status_code == 201, response.text
    assert response.headers["x-request-id"] == "req-42"
    events = await api.get(f"{API}/audit/events", params={"subject_id": response.json()["id"]},
                           headers=await bearer(world.gov_admin))  # fmt: skip
    assert [e["request_id"] for e in events.json()["items"]] == ["req-42"]


async def test_an_insane_request_id_is_replaced_by_a_fresh_one(api, world, bearer):
    response = await api.get(f"{API}/me", headers={**await bearer(world.gov_admin), "X-Request-ID": "no spaces; please"})
    assert response.headers["x-request-id"] != "no spaces; please"
    assert len(response.headers["x-request-id"]) == 32


async def test_an_unknown_route_is_a_404_problem(api, world, bearer):
    response = await api.get(f"{API}/nowhere", headers=await bearer(world.gov_admin))
    assert_problem(response, 404, "http_404")


async def test_the_openapi_document_describes_the_api(api):
    response = await api.get("/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/nominations/{nomination_id}/decisions" in paths
    assert response.json()["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


async def test_the_served_document_carries_every_link_between_operations(api):
    """The links are added the first time the document is asked for (not at every start), and each names an
    operation the document has."""
    from accessdesk.api.links import LINKS

    document = (await api.get("/schema/openapi.json")).json()
    operations = {op["operationId"]: op for item in document["paths"].values() for op in item.values()
                  if isinstance(op, dict) and "operationId" in op}  # fmt: skip
    for (source, status), links in LINKS.items():
        served = operations[source]["responses"][status]["links"]
        assert {name: target for name, (target, _) in links.items()} == {n: v["operationId"] for n, v in served.items()}
        assert all(target in operations for target, _ in links.values())
    assert (await api.get("/schema/openapi.json")).json() == document  # linked once, served the same again
