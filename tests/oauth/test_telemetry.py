"""What an operator sees of the app while it serves: one access line per request (request id, route, status,
duration, actor), the request id on every line logged meanwhile, and the Prometheus metrics at ``/metrics``, read
with prometheus_client's own parser. Counters belong to the test process: each test compares before and after."""

from __future__ import annotations

import json
import logging
import secrets
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from accessdesk import logs
from accessdesk.clock import FrozenClock
from accessdesk.db.tables import AuditHead, OutboxMessage
from accessdesk.settings import Settings
from tests.support.api import app_engine, commit_world_first, url_of
from tests.support.apps import wired_app
from tests.support.oauth import ISSUER, basic, post_token, transport
from tests.world import World

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}  # fmt: skip


def value(seen: Samples, name: str, **labels: str) -> float:
    return seen.get((name, frozenset(labels.items())), 0.0)


async def scrape(http: httpx.AsyncClient, **headers: str) -> Samples:
    response = await http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain") and response.headers["cache-control"] == "no-store"
    return samples(response.text)


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    """The access lines logged, as the JSON format writes them."""
    formatter = logs.JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "accessdesk.access"]


async def test_metrics_count_requests_by_route_and_status_and_tokens_by_outcome(http, world, credentials, live_grant):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="cluster")
    before = await scrape(http)
    assert (await http.get("/oauth/jwks")).status_code == 200
    assert (await http.get("/no/such/page/a1b2")).status_code == 404
    assert (await post_token(http, {"grant_type": "client_credentials"},
                             headers=basic(issued.client.client_id, issued.secret or ""))).status_code == 200  # fmt: skip
    assert (await post_token(http, {"grant_type": "client_credentials"},
                             headers=basic(issued.client.client_id, "wrong"))).status_code == 401  # fmt: skip
    after = await scrape(http)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("accessdesk_http_requests_total", method="GET", route="/oauth/jwks", status="200") == 1
    # A path no route answers counts under one label, whatever was asked: scanners cannot grow the series.
    assert moved("accessdesk_http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    assert moved("accessdesk_http_requests_total", method="POST", route="/oauth/token", status="401") == 1
    assert moved("accessdesk_http_request_duration_seconds_count", method="POST", route="/oauth/token") == 2
    assert moved("accessdesk_oauth_tokens_issued_total") == 1
    assert moved("accessdesk_oauth_tokens_refused_total", error="invalid_client") == 1


async def test_metrics_read_the_deployment_from_the_database(http, world, engine: AsyncEngine, clock: FrozenClock):
    partner, _ = await world.partner()
    await world.nominate(partner)  # queues notifications
    await world.commit()
    clock.advance(timedelta(minutes=5))
    seen = await scrape(http)
    async with engine.connect() as connection:
        pending = (await connection.execute(select(func.count()).select_from(OutboxMessage)
                                            .where(col(OutboxMessage.delivered_at).is_(None)))).scalar()  # fmt: skip
        head = (await connection.execute(select(col(AuditHead.seq)))).scalar()
    assert pending and value(seen, "accessdesk_outbox_pending") == pending
    assert value(seen, "accessdesk_outbox_oldest_pending_age_seconds") == 300
    assert value(seen, "accessdesk_outbox_dead_letters") == 0
    assert head and value(seen, "accessdesk_audit_head_seq") == head
    assert value(seen, "accessdesk_database_up") == 1


async def test_each_request_has_one_access_line_with_its_request_id_route_status_and_actor(
    http, world, credentials, live_grant, caplog
):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="cluster")
    caplog.set_level(logging.INFO)
    answered = await post_token(http, {"grant_type": "client_credentials"}, headers={
        **basic(issued.client.client_id, issued.secret or ""), "X-Request-ID": "trace-42"})  # fmt: skip
    assert answered.status_code == 200 and answered.headers["x-request-id"] == "trace-42"
    refused = await http.get("/oauth/jwks", headers={"X-Request-ID": "bad id\nwith newline"})
    [issued_line, jwks_line] = access_lines(caplog)
    assert issued_line["request_id"] == "trace-42" and issued_line["route"] == "/oauth/token"
    assert issued_line["status"] == 200 and issued_line["method"] == "POST"
    assert issued_line["actor"] == f"client:{issued.client.client_id}"
    assert isinstance(issued_line["duration_ms"], float) and issued_line["duration_ms"] >= 0
    # An unusable X-Request-ID is replaced, and the new one is the answer's.
    assert jwks_line["request_id"] == refused.headers["x-request-id"] != "bad id\nwith newline"
    assert jwks_line["actor"] == "-"


@pytest.mark.injects_fault  # a handler that fails on purpose: its traceback is logged
async def test_a_failed_request_is_one_json_line_with_its_request_id_and_traceback(http, world, caplog, monkeypatch):
    from accessdesk.oauth import endpoints

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the signing key store is on fire")

    monkeypatch.setattr(endpoints, "_cache", broken)
    caplog.set_level(logging.INFO)
    answered = await http.post("/oauth/token", data={"grant_type": "client_credentials"},
                               headers={"X-Request-ID": "boom-1"})  # fmt: skip
    assert answered.status_code == 500
    lines = [logs.JsonFormatter().format(r) for r in caplog.records if r.name != "accessdesk.access"]
    [failure] = [json.loads(line) for line in lines if "on fire" in line]
    assert all("\n" not in line for line in lines)
    assert failure["request_id"] == "boom-1" and failure["level"] == "ERROR"
    assert "RuntimeError: the signing key store is on fire" in failure["exception"]
    text = logs.Formatter(logs.FORMAT).format(next(r for r in caplog.records if r.exc_info))
    assert " [boom-1]: " in text.split("\n")[0]  # the text format names the request too
    [line] = access_lines(caplog)
    assert line["status"] == 500 and line["request_id"] == "boom-1"


async def metrics_app_answers(engine: AsyncEngine, clock: FrozenClock, world: World, settings: Settings,
                              **headers: str) -> httpx.Response:  # fmt: skip
    served = app_engine(url_of(engine))
    try:
        with wired_app(settings, clock=clock, engine=served) as app:
            async with commit_world_first(httpx.AsyncClient(transport=transport(app), base_url=ISSUER), world) as c:
                return await c.get("/metrics", headers=headers)
    finally:
        await served.dispose()


async def test_metrics_need_the_token_when_one_is_set_and_can_be_turned_off(engine, clock, world):
    url, token = url_of(engine), secrets.token_urlsafe(32)
    with_token = Settings(database_url=url, metrics_token=token)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {token}"}):
        refused = await metrics_app_answers(engine, clock, world, with_token, **headers)
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        assert "accessdesk_" not in refused.text
    allowed = await metrics_app_answers(engine, clock, world, with_token, Authorization=f"Bearer {token}")
    assert allowed.status_code == 200 and "accessdesk_http_requests_total" in allowed.text
    off = await metrics_app_answers(engine, clock, world, Settings(database_url=url, metrics=False))
    assert off.status_code == 404 and "accessdesk_" not in off.text


def production_env() -> dict[str, str]:
    """A production configuration that holds on its own (strong secrets, PostgreSQL, an identity provider)."""
    provider = {"name": "oais", "issuer": "https://login.oais.example", "client_id": "accessdesk",
                "client_secret": secrets.token_urlsafe(32), "domains": ["oais.example"]}  # fmt: skip
    return {"ACCESSDESK_ENV": "production", "ACCESSDESK_SECRET_KEY": secrets.token_urlsafe(32),
            "ACCESSDESK_BASE_URL": "https://accessdesk.example",
            "ACCESSDESK_DATABASE_URL": "postgresql+asyncpg://accessdesk@db.example/accessdesk",
            "ACCESSDESK_CLIENT_SECRET_PEPPER": secrets.token_urlsafe(32),
            "ACCESSDESK_KEY_ENCRYPTION_KEY": secrets.token_urlsafe(32),
            "ACCESSDESK_OIDC_PROVIDERS": json.dumps([provider])}  # fmt: skip


def test_unprotected_metrics_are_refused_in_production():
    from accessdesk.settings import SettingsError

    production = production_env()
    with pytest.raises(SettingsError, match="ACCESSDESK_METRICS_TOKEN must be set in production"):
        Settings.from_env({**production, "ACCESSDESK_METRICS": "true"})
    assert not Settings.from_env(production).metrics_enabled  # off unless configured
    assert Settings.from_env({**production, "ACCESSDESK_METRICS_TOKEN": secrets.token_urlsafe(32)}).metrics_enabled
    with pytest.raises(SettingsError, match="ACCESSDESK_LOG_FORMAT must be 'json' or 'text', not 'xml'"):
        Settings.from_env({"ACCESSDESK_LOG_FORMAT": "xml"})
    assert Settings.from_env(production).log_format_name == "json"
    assert Settings.from_env({}).log_format_name == "text"
