"""How each domain service is made for one request: the one place that says it, for every surface that injects them
(the JSON API and the console). Each service is made on the request's one unit of work, so everything a request
does commits or rolls back together.

Who the actor is differs by surface (a bearer token for the API, the signed session for the console): each surface
provides ``actor`` itself."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from accessdesk.domain.compliance import Compliance
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.credentials import Credentials
from accessdesk.domain.deliveries import Deliveries
from accessdesk.domain.evidence import Evidence
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.grants import Grants
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.queries import Queries
from accessdesk.domain.readiness import Readiness
from accessdesk.domain.reminders import Reminders
from accessdesk.domain.sessions import SessionPolicy, WebSessions
from accessdesk.domain.slack_links import SlackLinks
from accessdesk.domain.unit import Unit
from accessdesk.request_scope import request_unit
from accessdesk.settings import Settings


def provide_unit(request: Request[Any, Any, Any], state: State) -> Unit:
    return request_unit(request, state)


def provide_credentials(unit: NamedDependency[Unit], state: State) -> Credentials:
    settings: Settings = state.settings
    return Credentials(unit, pepper=settings.pepper, overlap=timedelta(hours=settings.secret_overlap_hours))


def provide_readiness(unit: NamedDependency[Unit], state: State) -> Readiness:
    settings: Settings = state.settings
    return Readiness(unit, pepper=settings.pepper)


def provide_sessions(unit: NamedDependency[Unit], state: State) -> WebSessions:
    settings: Settings = state.settings
    policy = SessionPolicy(idle=timedelta(minutes=settings.session_idle_minutes),
                           absolute=timedelta(hours=settings.session_max_hours))  # fmt: skip
    return WebSessions(unit, policy)


def _made_on_the_unit(cls: type[Any]) -> Provide:
    def provide(unit: Unit) -> Any:
        return cls(unit)

    provide.__annotations__ = {"unit": NamedDependency[Unit], "return": cls}
    return Provide(provide, sync_to_thread=False)


SERVICES = {
    "unit": Provide(provide_unit, sync_to_thread=False),
    "compliance": _made_on_the_unit(Compliance),
    "coselection": _made_on_the_unit(CoSelection),
    "credentials": Provide(provide_credentials, sync_to_thread=False),
    "deliveries": _made_on_the_unit(Deliveries),
    "evidence": _made_on_the_unit(Evidence),
    "grants": _made_on_the_unit(Grants),
    "models": _made_on_the_unit(FrontierModels),
    "organisations": _made_on_the_unit(Organisations),
    "queries": _made_on_the_unit(Queries),
    "readiness": Provide(provide_readiness, sync_to_thread=False),
    "reminders": _made_on_the_unit(Reminders),
    "sessions": Provide(provide_sessions, sync_to_thread=False),
    "slack_links": _made_on_the_unit(SlackLinks),
}
