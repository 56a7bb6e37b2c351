"""The Litestar application: JSON API, OpenAPI, health checks (and, in later issues, console, OAuth, Slack)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncGenerator
from datetime import timedelta
from typing import Any

from litestar import Litestar, Request, Response, Router, get
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from sqlalchemy.ext.asyncio import AsyncEngine

from accessdesk import telemetry
from accessdesk.api import audit as audit_api
from accessdesk.api.bodies import MAX_BODY_BYTES, JsonApiRequest
from accessdesk.api.cohorts import CohortController
from accessdesk.api.compliance import NdaController, OrganisationComplianceController
from accessdesk.api.consultations import ConsultationController
from accessdesk.api.delegations import DelegationController
from accessdesk.api.deps import API_DEPENDENCIES
from accessdesk.api.errors import HANDLERS
from accessdesk.api.findings import FindingController
from accessdesk.api.grants import GrantController
from accessdesk.api.links import LinkedJsonRenderPlugin
from accessdesk.api.models import ModelController
from accessdesk.api.nominations import NominationController
from accessdesk.api.organisations import OrganisationController, UserController, me
from accessdesk.api.programme import ProgrammeController
from accessdesk.api.readiness import ReadinessController
from accessdesk.api.reconsiderations import ReconsiderationController
from accessdesk.api.routes import allow_every_method
from accessdesk.audit_endpoints import AuditPublicationController
from accessdesk.clock import Clock, SystemClock
from accessdesk.compose import notifier_for, slack_bolt, slack_route, slack_signature, slack_warm_up, slack_work
from accessdesk.crypto import KeyUnavailable
from accessdesk.db.engine import make_engine, make_sessionmaker
from accessdesk.db.schema import read_schema
from accessdesk.domain.consultations import reads_any as reads_consultations
from accessdesk.domain.nominees import is_grantee
from accessdesk.domain.notifier import Notifier
from accessdesk.domain.permissions import Permission
from accessdesk.domain.unit import Unit
from accessdesk.oauth.cache import IssuanceCounter, OAuthCache, flush_forever, listen, watch_sqlite
from accessdesk.oauth.endpoints import OAuthController
from accessdesk.oauth.keys import KeyCache
from accessdesk.providers import SERVICES
from accessdesk.ratelimit import RateLimits, rate_limited
from accessdesk.request_scope import close_request_session, request_id_of
from accessdesk.resources import templates_dir
from accessdesk.settings import Settings
from accessdesk.unavailable import OutageLog, with_database_outages
from accessdesk.web.audit_pages import AuditPagesController
from accessdesk.web.cases import CasesController
from accessdesk.web.cohort_pages import CohortPagesController
from accessdesk.web.console import ConsoleController
from accessdesk.web.consultation_pages import ConsultationPagesController
from accessdesk.web.credential_pages import CredentialPagesController
from accessdesk.web.delegation_pages import DelegationPagesController
from accessdesk.web.delivery_pages import DeliveryPagesController
from accessdesk.web.finding_pages import FindingPagesController
from accessdesk.web.model_pages import ModelPagesController
from accessdesk.web.nda_pages import NdaPagesController
from accessdesk.web.oidc import RelyingParty
from accessdesk.web.organisation_pages import OrganisationPagesController
from accessdesk.web.pages import pages_answer_in_html, shown_utc, shown_window
from accessdesk.web.portal import PortalController
from accessdesk.web.programme_pages import ProgrammePagesController
from accessdesk.web.readiness_pages import ReadinessPagesController
from accessdesk.web.reconsideration_pages import ReconsiderationPagesController
from accessdesk.web.security import add_security_headers, security_headers
from accessdesk.web.slack_link_pages import SlackLinkPagesController
from accessdesk.worker import (
    PromptDelivery,
    checkpoint_policy_for,
    consultation_schedule_for,
    retention_policy_for,
    run_forever,
)

log = logging.getLogger(__name__)


@get("/healthz", tags=["health"], include_in_schema=True)
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@get("/readyz", tags=["health"])
async def readyz(state: State) -> Response[dict[str, str]]:
    """The database answers, holds the schema this version needs, and the token-signing keys exist (made on the
    first start) and open with this deployment's key-encryption key: 503 otherwise, saying why."""
    try:
        async with state.engine.connect() as connection:
            schema = await asyncio.wait_for(read_schema(connection), timeout=5)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return Response({"status": "unavailable", "detail": type(exc).__name__}, status_code=503)
    if schema.problem is not None:
        return Response({"status": "unavailable", "detail": schema.problem}, status_code=503)
    try:
        async with state.sessionmaker() as session:  # read at most every few minutes (KeyCache)
            await asyncio.wait_for(state.oauth_keys.signer(Unit(session, state.clock)), timeout=5)
    except KeyUnavailable as exc:
        return Response({"status": "unavailable", "detail": f"the token-signing keys cannot be used: {exc}"},
                        status_code=503)  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return Response({"status": "unavailable", "detail": f"the token-signing keys: {type(exc).__name__}"},
                        status_code=503)  # fmt: skip
    return Response({"status": "ok"})


@get("/", include_in_schema=False)
async def home(state: State) -> Template:
    return Template("index.html", context={"settings": state.settings})


def listen_dsn(database_url: str) -> str:
    """The libpq form of the SQLAlchemy URL, for the one plain asyncpg connection that LISTENs."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


@contextlib.asynccontextmanager
async def _unit(app: Litestar, clock: Clock) -> AsyncGenerator[Unit, None]:
    async with app.state.sessionmaker() as session:
        yield Unit(session, clock)


def _template_globals(engine: JinjaTemplateEngine) -> None:
    # Templates show or hide actions with the same permissions the domain checks (the domain still decides).
    engine.engine.globals["Permission"] = Permission
    engine.engine.globals["is_grantee"] = is_grantee  # who owes NDAs and attestations (the portal's people)
    engine.engine.globals["reads_consultations"] = reads_consultations  # whom the consultation queue is for
    # One convention for time on every page: UTC, said so, with the viewer's own time beside it where scripts run.
    engine.engine.filters["utc"] = shown_utc
    engine.engine.filters["day"] = functools.partial(shown_utc, day=True)
    engine.engine.globals["window"] = shown_window


SLACK_WARM_UP = 5.0
SLACK_DRAIN = 30.0  # at shutdown, the longest wait for what the bot acknowledged (a few calls to a slow Slack)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    engine: AsyncEngine | None = None,
    notifier: Notifier | None = None,
    embedded_worker: bool | None = None,
) -> Litestar:
    """The app for one deployment: the routes every deployment serves (:func:`assemble`), wired to this one's
    settings, clock, database and notifier (:func:`wire`)."""
    settings = settings or Settings.from_env()
    tracer_provider = telemetry.tracer_provider() if settings.otel else None
    app = assemble(tracer_provider=tracer_provider)
    wire(app, settings, clock=clock, engine=engine, notifier=notifier, embedded_worker=embedded_worker,
         tracer_provider=tracer_provider)  # fmt: skip
    return app


def wire(
    app: Litestar,
    settings: Settings,
    *,
    clock: Clock | None = None,
    engine: AsyncEngine | None = None,
    notifier: Notifier | None = None,
    embedded_worker: bool | None = None,
    tracer_provider: Any = None,
) -> None:
    """Give ``app`` (from :func:`assemble`, not serving) a deployment: everything that differs from one deployment
    to the next lives in ``app.state``, which this replaces whole. ``engine``: the database to use and leave open
    (by default the app opens its own on ``settings.database_url`` and closes it when it stops)."""
    clock = clock or SystemClock()
    notifier = notifier or notifier_for(settings)
    owns_engine = engine is None
    engine = engine or make_engine(settings.database_url)
    outage = OutageLog()
    outage.watch(engine)
    rate_limits = RateLimits(settings, engine=engine, clock=clock) if settings.rate_limits_enabled else None
    slack_at_work = slack_work(settings)
    app.state = State({
        "settings": settings, "clock": clock, "engine": engine, "owns_engine": owns_engine,
        "run_worker": settings.run_embedded_worker if embedded_worker is None else embedded_worker,
        "database_outage": outage, "sessionmaker": make_sessionmaker(engine), "notifier": notifier,
        # Only a notifier that reaches people is worth not waiting for the worker (Slack).
        "prompt_delivery": (PromptDelivery(make_sessionmaker(engine), clock, notifier)
                            if settings.slack_enabled else None),
        "slack_bolt": slack_bolt(settings, sessionmaker=make_sessionmaker(engine), clock=clock, outage=outage,
                                 work=slack_at_work),
        "slack_work": slack_at_work,
        "slack_signature": slack_signature(settings),
        "relying_party": RelyingParty(settings.oidc_providers),
        "oauth_cache": OAuthCache(), "oauth_issuances": IssuanceCounter(),
        "oauth_keys": KeyCache(sealing_key=settings.sealing_key,
                               token_ttl=timedelta(seconds=settings.token_ttl_seconds)),
        "security_headers": security_headers(hsts=settings.is_production, sign_in_origins=settings.sign_in_origins),
        "rate_limit_doors": rate_limits.doors if rate_limits is not None else None,
        "tracer_provider": tracer_provider,
        **({"rate_limits": rate_limits.limiter, "rate_limit_flush": rate_limits} if rate_limits is not None else {}),
    })  # fmt: skip


@contextlib.asynccontextmanager
async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
    """What runs beside the requests while the app serves, as its deployment (``app.state``) asks: bolt warmed
    up, the embedded worker, PostgreSQL's notifications to the OAuth cache, the shared rate-limit counts."""
    state = app.state
    settings: Settings = state.settings
    clock: Clock = state.clock
    tasks = []
    if state.slack_bolt is not None:
        # Before serving: the first acknowledgement must not wait for bolt's auth.test. A Slack out of reach
        # delays the start by at most SLACK_WARM_UP seconds; bolt then tries again at the first request.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(slack_warm_up(state.slack_bolt), timeout=SLACK_WARM_UP)
    if state.run_worker:
        tasks.append(asyncio.create_task(
            run_forever(state.sessionmaker, clock, state.notifier, interval=settings.worker_interval_seconds,
                        checkpoints=checkpoint_policy_for(settings), retention=retention_policy_for(settings),
                        consultations=consultation_schedule_for(settings))
        ))  # fmt: skip
    # What the OAuth endpoints may keep, and when to forget it (oauth/cache.py): PostgreSQL notifies; a SQLite file
    # counts its commits. Kept or not, issuances are then counted in memory and flushed.
    sqlite_file = settings.sqlite_path()
    if not settings.is_sqlite:
        tasks.append(asyncio.create_task(listen(state.oauth_cache, listen_dsn(settings.database_url))))
    elif sqlite_file is not None:
        tasks.append(asyncio.create_task(watch_sqlite(state.oauth_cache, str(sqlite_file))))
    if not settings.is_sqlite or sqlite_file is not None:
        tasks.append(asyncio.create_task(flush_forever(state.oauth_issuances, lambda: _unit(app, clock))))
    rate_limits: RateLimits | None = state.get("rate_limit_flush")
    if rate_limits is not None:
        tasks.append(asyncio.create_task(rate_limits.flush_forever()))
    try:
        yield
    finally:
        if state.slack_work is not None:  # what the bot acknowledged is finished, not cut off
            try:
                await asyncio.wait_for(state.slack_work.drain(), timeout=SLACK_DRAIN)
            except TimeoutError:
                log.warning("stopping: Slack work acknowledged more than %.0f s ago is still under way; cut off",
                            SLACK_DRAIN)
        if state.prompt_delivery is not None:
            await state.prompt_delivery.drain()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if rate_limits is not None:
            await rate_limits.limiter.flush()  # what was counted since the last flush still counts for the others
        if state.owns_engine:
            await state.engine.dispose()
        if state.tracer_provider is not None:  # the spans still batched leave before the process does
            await asyncio.to_thread(state.tracer_provider.shutdown)


async def _stamp_request_id(message: Any, scope: Any) -> None:
    if message["type"] == "http.response.start":
        rid = scope.get("state", {}).get("request_id")
        if rid:
            message.setdefault("headers", []).append((b"x-request-id", rid.encode()))


async def _before_request(request: Request[Any, Any, Any]) -> None:
    request_id_of(request)
    telemetry.name_span(request.scope)


def assemble(*, tracer_provider: Any = None) -> Litestar:
    """The routes, hooks and middleware every deployment serves, reading what is particular to a deployment from
    ``app.state`` (:func:`wire` puts it there before the app serves). ``tracer_provider``: trace every request
    with OpenTelemetry through it (:func:`accessdesk.telemetry.tracer_provider`)."""
    api_router = Router(
        path="/api/v1",
        route_handlers=[
            OrganisationController, UserController, me, ModelController, NdaController,
            OrganisationComplianceController, NominationController, GrantController, audit_api.list_events,
            audit_api.verify_chain, audit_api.export_json, audit_api.export_csv, ProgrammeController,
            CohortController, ReadinessController, ConsultationController,
            FindingController, DelegationController, ReconsiderationController,
        ],
        security=[{"bearer": []}],
        dependencies=API_DEPENDENCIES,
        request_class=JsonApiRequest,
        request_max_body_size=MAX_BODY_BYTES,
    )  # fmt: skip
    app = Litestar(
        route_handlers=[api_router, healthz, readyz, telemetry.metrics, home, slack_route(), OAuthController,
                        AuditPublicationController,
                        ConsoleController, CasesController, AuditPagesController, PortalController, ModelPagesController,
                        OrganisationPagesController, NdaPagesController, CredentialPagesController,
                        DeliveryPagesController, SlackLinkPagesController, ProgrammePagesController,
                        CohortPagesController, ConsultationPagesController, ReadinessPagesController,
                        FindingPagesController, DelegationPagesController, ReconsiderationPagesController,
                        create_static_files_router(path="/static", directories=[templates_dir() / "static"],
                                                   include_in_schema=False)],  # fmt: skip
        dependencies=SERVICES,
        middleware=[close_request_session, rate_limited],
        exception_handlers=with_database_outages(pages_answer_in_html(HANDLERS)),
        lifespan=[lifespan],
        before_request=_before_request,
        before_send=[_stamp_request_id, add_security_headers],
        template_config=TemplateConfig(directory=templates_dir(), engine=JinjaTemplateEngine,
                                       engine_callback=_template_globals),
        openapi_config=OpenAPIConfig(
            title="accessdesk",
            version="1",
            description="Co-selected early access to frontier AI models. Authenticate with "
            "`Authorization: Bearer <personal API token>` (`accessdesk tokens create --email ...`).",
            path="/schema",
            # The document only: the documentation UIs Litestar offers load their scripts from public CDNs.
            render_plugins=[LinkedJsonRenderPlugin()],
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer", description="personal API token")}
            ),
        ),
        plugins=[telemetry.tracing(tracer_provider)] if tracer_provider is not None else [],
        logging_config=None,  # every process's logging is accessdesk.logs' (one line per record, text or JSON)
        debug=False,
    )
    allow_every_method(app)
    # Outside routing, so that every request, a 404 too, has its request id, access line and metrics.
    app.asgi_handler = telemetry.observed(app.asgi_handler)
    return app
