"""What accessdesk tells its operators about itself: one access line per request, the request id on every line
logged while serving it, Prometheus metrics (``/metrics``), and, with the ``otel`` extra, OpenTelemetry traces.

The metrics live in this module's registry, one per process: run one server process per container (or per host
port) and let Prometheus scrape each; ``accessdesk worker --metrics-port`` serves the worker's. The figures that
belong to the deployment rather than to a process (outbox backlog, dead letters, the audit head) are read from the
database at each scrape, so any instance answers them alike.
"""

from __future__ import annotations

import hmac
import json
import logging
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.client_address import client_address
from accessdesk.db.tables import AuditHead, OutboxMessage
from accessdesk.logs import request_id_var
from accessdesk.request_scope import REQUEST_ID
from accessdesk.unavailable import is_database_unavailable

access_log = logging.getLogger("accessdesk.access")
# The error codes a refused token request may carry (RFC 6749 §5.2, RFC 9449 §7): the label's only values.
OAUTH_ERRORS = frozenset({"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                          "unsupported_grant_type", "invalid_scope", "invalid_target", "invalid_dpop_proof",
                          "use_dpop_nonce", "temporarily_unavailable", "server_error"})  # fmt: skip
UNMATCHED = "<unmatched>"  # the route of a request no route answered: one label, whatever paths are tried

REGISTRY = CollectorRegistry()
REQUESTS = Counter("accessdesk_http_requests", "HTTP requests answered, by route template and status",
                   ["method", "route", "status"], registry=REGISTRY)  # fmt: skip
LATENCY = Histogram("accessdesk_http_request_duration_seconds", "Time to answer an HTTP request, by route template",
                    ["method", "route"], registry=REGISTRY,
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))  # fmt: skip
TOKENS_ISSUED = Counter("accessdesk_oauth_tokens_issued", "Access tokens issued by /oauth/token", registry=REGISTRY)
TOKENS_REFUSED = Counter("accessdesk_oauth_tokens_refused", "Token requests refused, by OAuth error code",
                         ["error"], registry=REGISTRY)  # fmt: skip
SWEEPS = Histogram("accessdesk_worker_sweep_duration_seconds", "Duration of the worker's sweeps that finished",
                   registry=REGISTRY, buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))  # fmt: skip
SWEEP_FAILURES = Counter("accessdesk_worker_sweep_failures", "Worker sweeps that failed (database away included)",
                         registry=REGISTRY)  # fmt: skip
LAST_SWEEP = Gauge("accessdesk_worker_last_success_timestamp_seconds",
                   "Unix time at which this process's worker last finished a sweep", registry=REGISTRY)  # fmt: skip
OUTBOX_PENDING = Gauge("accessdesk_outbox_pending", "Notifications waiting to be delivered", registry=REGISTRY)
OUTBOX_OLDEST = Gauge("accessdesk_outbox_oldest_pending_age_seconds",
                      "Age of the oldest notification waiting to be delivered (0 when none)", registry=REGISTRY)  # fmt: skip
OUTBOX_DEAD = Gauge("accessdesk_outbox_dead_letters", "Notifications given up after their last try",
                    registry=REGISTRY)  # fmt: skip
AUDIT_HEAD = Gauge("accessdesk_audit_head_seq", "Sequence number of the audit chain's head", registry=REGISTRY)
DATABASE_UP = Gauge("accessdesk_database_up", "1 when the last scrape could read the database, else 0",
                    registry=REGISTRY)  # fmt: skip
POOL_CHECKED_OUT = Gauge("accessdesk_db_pool_checked_out", "Database connections lent out by this process's pool",
                         registry=REGISTRY)  # fmt: skip
POOL_SIZE = Gauge("accessdesk_db_pool_size", "Connections this process's pool keeps open (0: none kept)",
                  registry=REGISTRY)  # fmt: skip


def observed(app: ASGIApp) -> ASGIApp:
    """Wrap the whole app (outside routing, so that a 404 is seen too): the request id is fixed first (the
    caller's ``X-Request-ID`` when sane, else a new one) and set for every line logged meanwhile; when the answer
    is sent, one access line and the request metrics."""

    async def observe(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        given = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-request-id"), "")
        rid = state.setdefault("request_id", given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex)
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status = 500  # what the server answers when the app ends without a response

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_observed)
        finally:
            elapsed = time.perf_counter() - started
            method, route = scope.get("method", ""), scope.get("path_template") or UNMATCHED
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(elapsed)
            actor = state.get("actor", "-")
            access_log.info(
                "%s %s %d %.1f ms actor=%s", method, scope.get("path", ""), status, elapsed * 1000, actor,
                extra={"fields": {"method": method, "path": scope.get("path", ""), "route": route, "status": status,
                                  "duration_ms": round(elapsed * 1000, 2), "actor": actor,
                                  "client": client_address(scope)}},
            )  # fmt: skip
            request_id_var.reset(token)

    return observe


def count_token_answer(status: int, body: bytes) -> None:
    """An answer of ``/oauth/token``: a token issued, or refused with the RFC 6749 error code it names."""
    if status == 200:
        TOKENS_ISSUED.inc()
        return
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        error = None
    TOKENS_REFUSED.labels(error if isinstance(error, str) and error in OAUTH_ERRORS else "other").inc()


@contextmanager
def sweep_timed() -> Iterator[None]:
    """Around one sweep of the worker: its duration and time of success, or a failure counted."""
    started = time.perf_counter()
    try:
        yield
    except Exception:  # cancelled (the process stopping) is not a failure
        SWEEP_FAILURES.inc()
        raise
    SWEEPS.observe(time.perf_counter() - started)
    LAST_SWEEP.set(time.time())


async def _read_deployment(sessionmaker: async_sessionmaker[AsyncSession], now: Any) -> None:
    async with sessionmaker() as session:
        pending = (await session.exec(
            select(func.count(), func.min(col(OutboxMessage.created_at)))
            .where(col(OutboxMessage.delivered_at).is_(None), col(OutboxMessage.dead_at).is_(None))
        )).one()  # fmt: skip
        dead = (await session.exec(select(func.count()).where(col(OutboxMessage.dead_at).is_not(None)))).one()
        head = (await session.exec(select(col(AuditHead.seq)))).first()
    OUTBOX_PENDING.set(pending[0])
    OUTBOX_OLDEST.set(max(0.0, (now - pending[1]).total_seconds()) if pending[1] is not None else 0)
    OUTBOX_DEAD.set(dead or 0)
    AUDIT_HEAD.set(head or 0)


def _read_pool(engine: AsyncEngine) -> None:
    pool: Any = engine.pool
    POOL_CHECKED_OUT.set(pool.checkedout() if hasattr(pool, "checkedout") else 0)
    POOL_SIZE.set(pool.size() if hasattr(pool, "size") else 0)


@get("/metrics", include_in_schema=False)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus' text format. Served when ``ACCESSDESK_METRICS`` allows it; with ``ACCESSDESK_METRICS_TOKEN``,
    only to a scraper that sends it as a bearer token."""
    state = request.app.state
    settings = state.settings
    if not settings.metrics_enabled:
        raise NotFoundException()
    if settings.metrics_token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), settings.metrics_token.encode()):
            raise NotAuthorizedException("send the metrics token as 'Authorization: Bearer <token>'",
                                         headers={"WWW-Authenticate": 'Bearer realm="metrics"'})  # fmt: skip
    try:
        await _read_deployment(state.sessionmaker, state.clock.now())
        DATABASE_UP.set(1)
    except Exception as exc:
        if not is_database_unavailable(exc):
            raise
        DATABASE_UP.set(0)  # the process's own figures are still worth scraping
    _read_pool(state.engine)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def tracer_provider() -> Any:
    """OpenTelemetry's tracer provider for this process, exporting over OTLP/HTTP as the standard ``OTEL_*``
    variables say (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_SERVICE_NAME``…). Needs the ``otel`` extra."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise RuntimeError("ACCESSDESK_OTEL needs the otel extra: pip install 'accessdesk[otel]'") from exc
    provider = TracerProvider(resource=Resource.create({"service.name": "accessdesk"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def tracing(provider: Any) -> Any:
    """Litestar's OpenTelemetry plugin, tracing every request through ``provider``. A span starts before routing,
    named by its method only (Litestar's default names it by the path, ids and all: one name per grant);
    :func:`name_span` names it by its route once routing has found one."""
    from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

    def by_method(scope: Scope) -> tuple[str, dict[str, str]]:
        return str(scope.get("method", "")), {}

    return OpenTelemetryPlugin(OpenTelemetryConfig(tracer_provider=provider, scope_span_details_extractor=by_method,
                                                   exclude_spans=["receive", "send"]))  # fmt: skip


def name_span(scope: Scope) -> None:
    """The request's span, when it is traced, named and marked by its route template (OpenTelemetry's
    ``http.route``)."""
    trace = sys.modules.get("opentelemetry.trace")  # loaded only where tracing is on
    if trace is None:
        return
    span = trace.get_current_span()
    template = scope.get("path_template")
    if span.is_recording() and template:
        span.update_name(f"{scope.get('method', '')} {template}")
        span.set_attribute("http.route", template)
