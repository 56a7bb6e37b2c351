"""The console's doors: sign-in (development, or through an organisation's identity provider), step-up, sign-out,
and the staff home page."""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie, State
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException
from litestar.params import Body, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from accessdesk.client_address import client_address
from accessdesk.domain.actor import Actor
from accessdesk.domain.deliveries import Deliveries
from accessdesk.domain.errors import DomainError, Forbidden
from accessdesk.domain.queries import ENDING_SOON, HOME_LIST, Queries
from accessdesk.domain.sessions import Signed, WebSessions, sign_in_choices
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import GrantState
from accessdesk.settings import Settings
from accessdesk.web.oidc import (
    PENDING_COOKIE,
    PENDING_LIFETIME,
    Pending,
    ProviderUnavailable,
    SignInRefused,
    provider_for,
    shown,
)
from accessdesk.web.pages import PAGE_DEPENDENCIES, PAGE_ERRORS, cookie_name, page, signed_in
from accessdesk.web.portal import partner_home
from accessdesk.web.security import ANONYMOUS_CSRF_COOKIE, check_csrf, local_path, new_csrf_token

Form = Annotated[Any, Body(media_type=RequestEncodingType.URL_ENCODED)]


def _session_cookie(settings: Settings, value: str, *, max_age: int | None) -> Cookie:
    return Cookie(key=cookie_name(settings), value=value, path="/", httponly=True, samesite="lax",
                  secure=settings.is_production, max_age=max_age)  # fmt: skip


def _sign_in_csrf(request: Request[Any, Any, Any], settings: Settings) -> tuple[str, Cookie]:
    """Sign-in forms are posted before there is a session: their CSRF token lives in its own strict cookie."""
    csrf = request.cookies.get(ANONYMOUS_CSRF_COOKIE) or new_csrf_token()
    return csrf, Cookie(key=ANONYMOUS_CSRF_COOKIE, value=csrf, path="/", httponly=True, samesite="strict",
                        secure=settings.is_production)  # fmt: skip


def _callback(settings: Settings) -> str:
    return f"{settings.base_url.rstrip('/')}/login/callback"


def _provider_away(exc: ProviderUnavailable, *, cookies: list[Cookie] | None = None) -> Template:
    return Template("console/error.html", status_code=503, cookies=cookies or [],
                    headers={"Retry-After": str(ProviderUnavailable.RETRY_AFTER)},
                    context={"status": 503, "message": f"Sign-in could not go on: {exc}", "retry": True})  # fmt: skip


class ConsoleController(Controller):
    path = "/"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = PAGE_DEPENDENCIES

    @get("/login")
    async def login_page(
        self, request: Request[Any, Any, Any], state: State, unit: NamedDependency[Unit],
        next_: Annotated[str | None, QueryParameter(name="next")] = None,
    ) -> Template:  # fmt: skip
        settings: Settings = state.settings
        csrf, cookie = _sign_in_csrf(request, settings)
        choices = await sign_in_choices(unit) if settings.dev_login_enabled else []
        return Template(
            "login.html",
            context={"choices": choices, "csrf": csrf, "next": local_path(next_), "dev_login": settings.dev_login_enabled,
                     "providers": settings.oidc_providers},
            cookies=[cookie],
        )

    @post("/login/dev")
    async def dev_sign_in(
        self, request: Request[Any, Any, Any], state: State, sessions: NamedDependency[WebSessions], data: Form
    ) -> Redirect:
        settings: Settings = state.settings
        if not settings.dev_login_enabled:
            raise NotFoundException()
        check_csrf(request.cookies.get(ANONYMOUS_CSRF_COOKIE), str(data.get("csrf", "")))
        try:
            user_id = uuid.UUID(str(data.get("user_id", "")))
        except ValueError:
            raise HTTPException(status_code=400, detail="choose a person to sign in as") from None
        token = await sessions.start(
            user_id=user_id, method="development sign-in", replacing=request.cookies.get(cookie_name(settings)),
            ip=client_address(request.scope), user_agent=request.headers.get("user-agent"),
        )  # fmt: skip
        return Redirect(local_path(str(data.get("next", ""))), status_code=303,
                        cookies=[_session_cookie(settings, token, max_age=int(settings.session_max_hours * 3600))])  # fmt: skip

    @post("/login/start")
    async def start_sign_in(
        self, request: Request[Any, Any, Any], state: State, unit: NamedDependency[Unit], data: Form
    ) -> Response[Any]:
        """Home-realm discovery: the e-mail's domain picks the organisation's identity provider."""
        settings: Settings = state.settings
        check_csrf(request.cookies.get(ANONYMOUS_CSRF_COOKIE), str(data.get("csrf", "")))
        email = str(data.get("email", "")).strip()
        provider = provider_for(email, settings.oidc_providers) if email else None
        if provider is None and data.get("provider"):
            provider = next((p for p in settings.oidc_providers if p.name == data.get("provider")), None)
        if provider is None:
            raise HTTPException(status_code=400, detail=f"no identity provider signs in people of "
                                f"{shown(email.rsplit('@', 1)[-1], 100) or 'that address'}; check the address or ask "
                                "your administrator")  # fmt: skip
        fresh = data.get("step_up") == "1"
        pending = Pending.new(provider.name, local_path(str(data.get("next", ""))), unit.now(), fresh=fresh)
        try:
            url = await state.relying_party.authorization_url(provider, pending, _callback(settings),
                                                              login_hint=email or None)  # fmt: skip
        except SignInRefused as exc:
            raise PermissionDeniedException(f"Sign-in refused: {exc}") from exc
        except ProviderUnavailable as exc:
            return _provider_away(exc)
        return Redirect(url, status_code=303, cookies=[
            Cookie(key=PENDING_COOKIE, value=pending.seal(settings.secret_key), path="/login/callback",
                   httponly=True, samesite="lax", secure=settings.is_production,
                   max_age=int(PENDING_LIFETIME.total_seconds())),
        ])  # fmt: skip

    @get("/login/callback")
    async def finish_sign_in(
        self, request: Request[Any, Any, Any], state: State, unit: NamedDependency[Unit],
        sessions: NamedDependency[WebSessions], code: FromQuery[str | None] = None,
        returned_state: Annotated[str | None, QueryParameter(name="state")] = None, error: FromQuery[str | None] = None,
        error_description: FromQuery[str | None] = None,
    ) -> Response[Any]:  # fmt: skip
        settings: Settings = state.settings
        forget = Cookie(key=PENDING_COOKIE, value="", path="/login/callback", max_age=0, httponly=True)
        try:
            pending = Pending.open(request.cookies.get(PENDING_COOKIE), settings.secret_key, unit.now())
            if not returned_state or not secrets.compare_digest(returned_state.encode(), pending.state.encode()):
                raise SignInRefused("the answer does not belong to the sign-in this browser started")
            if error or not code:
                raise SignInRefused(f"the identity provider refused: {shown(error_description or error or 'no code')}")
            provider = next((p for p in settings.oidc_providers if p.name == pending.provider), None)
            if provider is None:
                raise SignInRefused("that identity provider is no longer configured")
            email = await state.relying_party.verified_email(
                provider, pending, code=code, redirect_uri=_callback(settings),
                now=lambda: int(unit.now().timestamp()),
            )  # fmt: skip
            user = await sessions.person_for_verified_email(email=email, vouched_domains=provider.domains)
        except ProviderUnavailable as exc:
            return _provider_away(exc, cookies=[forget])
        except (SignInRefused, DomainError) as exc:
            return Template("console/error.html", status_code=403, cookies=[forget],
                            context={"status": 403, "message": f"Sign-in refused: {getattr(exc, 'message', exc)}",
                                     "retry": True})  # fmt: skip
        token = await sessions.start(
            user_id=user.id, method=f"oidc:{provider.name}", replacing=request.cookies.get(cookie_name(settings)),
            ip=client_address(request.scope), user_agent=request.headers.get("user-agent"),
        )  # fmt: skip
        return Redirect(pending.next, status_code=303, cookies=[
            forget, _session_cookie(settings, token, max_age=int(settings.session_max_hours * 3600))])  # fmt: skip

    @post("/logout")
    async def sign_out(
        self, request: Request[Any, Any, Any], state: State, sessions: NamedDependency[WebSessions], data: Form
    ) -> Redirect:
        signed = await signed_in(request, sessions)
        if signed is not None:
            check_csrf(signed.csrf_token, str(data.get("csrf", "")))
            await sessions.end(request.cookies.get(cookie_name(state.settings)), actor=signed.actor)
        return Redirect("/login", status_code=303, cookies=[_session_cookie(state.settings, "", max_age=0)])

    @get("/login/again")
    async def step_up_page(
        self, request: Request[Any, Any, Any], state: State, signed: NamedDependency[Signed],
        next_: Annotated[str | None, QueryParameter(name="next")] = None,
    ) -> Template:  # fmt: skip
        """What a page that needs a recent sign-in shows: confirm who you are at your provider, then come back."""
        settings: Settings = state.settings
        provider = provider_for(signed.actor.label, settings.oidc_providers)
        login_csrf, cookie = _sign_in_csrf(request, settings)
        shown = page("console/step_up.html", signed, next=local_path(next_), provider=provider, login_csrf=login_csrf,
                     email=signed.actor.label, dev_login=settings.dev_login_enabled and provider is None)  # fmt: skip
        shown.cookies.append(cookie)
        return shown

    @get("/console")
    async def home(
        self, actor: NamedDependency[Actor], signed: NamedDependency[Signed], unit: NamedDependency[Unit],
        queries: NamedDependency[Queries], deliveries: NamedDependency[Deliveries],
    ) -> Template:  # fmt: skip
        if not actor.is_staff:  # a partner's home: its own access, what it still owes, its credentials
            return await partner_home(signed, queries)
        home = await queries.home(actor)
        blocked = await queries.grant_rows((await queries.grants(actor, state=GrantState.BLOCKED, limit=HOME_LIST)).items)
        try:
            undelivered = await deliveries.count_dead(actor)
        except Forbidden:  # only those who may retry them hear of them
            undelivered = 0
        return page("console/home.html", signed, home=home, ending_within_days=ENDING_SOON.days, blocked=blocked,
                    undelivered=undelivered)  # fmt: skip
