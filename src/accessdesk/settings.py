"""Every setting accessdesk reads, typed, documented, read once from ``ACCESSDESK_*`` environment variables."""

from __future__ import annotations

import functools
import importlib.util
import ipaddress
import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from accessdesk.domain.vocabulary import API_TOKEN_DAYS, DEFAULT_API_TOKEN_DAYS

DEFAULT_SECRET_KEY = "dev-insecure-secret-key-change-me"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/accessdesk.db"
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*(second|minute|hour|day)s?\s*")
_RATE_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")  # what both logging and uvicorn take


class SettingsError(ValueError):
    """Settings that are missing, malformed, or unsafe for the chosen environment: ``problems`` has one line for
    each, naming its variable, so that an operator fixes them all in one go rather than one per start."""

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"not a boolean: {raw!r}")


# A secret's strength cannot be measured from one value, but a value made by hand can be caught: 40 × "a", "abab…",
# a word repeated. The estimate is the value's length times the Shannon entropy of its characters' frequencies; a
# random one clears 80 bits easily (32 hex digits, as a Slack signing secret, ~116; secrets.token_urlsafe(32) ~230).
GUESSABLE_BITS = 80
MAKE_ONE = "python -c 'import secrets;print(secrets.token_urlsafe(48))'"


def estimated_bits(value: str) -> float:
    counts, n = Counter(value), len(value)
    return max(0.0, -n * sum(c / n * math.log2(c / n) for c in counts.values())) if n else 0.0


def _guessable(name: str, value: str) -> Iterator[str]:
    """The line that says why ``value`` of ``name`` is no random secret, if it is not."""
    bits = estimated_bits(value)
    if bits < GUESSABLE_BITS:
        yield (f"{name} looks made by hand, not at random: about {bits:.0f} bits by its characters (its length × the "
               f"Shannon entropy of their frequencies) where production needs {GUESSABLE_BITS}; make one with {MAKE_ONE}")  # fmt: skip
        return
    period = next((p for p in range(1, len(value) // 2 + 1) if value[p:] == value[:-p]), None)
    if period is not None:
        yield (f"{name} repeats the same {period} characters over and over: production needs a random value; make "
               f"one with {MAKE_ONE}")  # fmt: skip


@dataclass(frozen=True, slots=True)
class OidcProvider:
    """One organisation's identity provider. People whose e-mail domain is in ``domains`` sign in through it."""

    name: str
    issuer: str
    client_id: str
    client_secret: str
    domains: tuple[str, ...]
    title: str = ""
    scope: str = "openid email"

    @property
    def label(self) -> str:
        return self.title or self.name

    @property
    def origin(self) -> str:
        """Where its sign-in pages are served: the issuer's scheme, host and port."""
        parts = urlsplit(self.issuer)
        return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``count`` per ``seconds``, counted in fixed windows of that length; written ``600/minute`` or
    ``5/15minutes`` (units: second, minute, hour, day)."""

    count: int
    seconds: int

    @classmethod
    def parse(cls, raw: str, *, name: str) -> Rate:
        match = _RATE.fullmatch(raw.lower())
        if match is None:
            raise SettingsError(f"{name} must read like 600/minute or 5/15minutes, not {raw!r}")
        return cls(int(match[1]), int(match[2] or 1) * _RATE_UNITS[match[3]])

    def __str__(self) -> str:
        unit = next(u for u, s in reversed(_RATE_UNITS.items()) if self.seconds % s == 0)
        n = self.seconds // _RATE_UNITS[unit]
        return f"{self.count}/{unit}" if n == 1 else f"{self.count}/{n}{unit}s"


@functools.lru_cache(maxsize=16)
def _derived(material: str, purpose: bytes) -> bytes:
    """32 bytes for one purpose, stretched from a configured secret (HKDF-SHA256), so that one setting never
    serves two purposes with the same bytes."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(material.encode())


def _proxies(raw: str) -> tuple[str, ...]:
    """``ACCESSDESK_TRUSTED_PROXIES``: addresses and networks, written as the server compares them. uvicorn takes a
    value it cannot read as a name that never matches, so a typo here would silently trust nobody."""
    name = "ACCESSDESK_TRUSTED_PROXIES"
    found: list[str] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        everyone = (f"{name}: {item[:64]!r} would let every client choose its own address; list the addresses (or "
                    "CIDR networks) of your load balancers and proxies")  # fmt: skip
        if item == "*":
            raise SettingsError(everyone)
        try:
            trusted = ipaddress.ip_network(item, strict=True) if "/" in item else ipaddress.ip_address(item)
        except ValueError as exc:
            hint = ""
            if "host bits set" in str(exc):
                hint = f" (its network is {ipaddress.ip_network(item, strict=False)})"
            raise SettingsError(f"{name}: {item[:64]!r} is not an IP address or CIDR network{hint}; write them "
                                "comma-separated, like 10.0.0.5, 10.1.0.0/16") from None  # fmt: skip
        if isinstance(trusted, ipaddress.IPv4Network | ipaddress.IPv6Network) and trusted.prefixlen == 0:
            raise SettingsError(everyone)
        found.append(str(trusted))
    return tuple(dict.fromkeys(found))


def _providers(raw: str, *, production: bool) -> tuple[OidcProvider, ...]:
    try:
        items = json.loads(raw)
        if not isinstance(items, list):
            raise TypeError("a JSON array of objects")
        providers = tuple(
            OidcProvider(name=str(i["name"]), issuer=str(i["issuer"]).rstrip("/"), client_id=str(i["client_id"]),
                         client_secret=str(i["client_secret"]),
                         domains=tuple(str(d).strip().lower() for d in i["domains"]),
                         title=str(i.get("title", "")), scope=str(i.get("scope", "openid email")))  # fmt: skip
            for i in items
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise SettingsError(
            "ACCESSDESK_OIDC_PROVIDERS must be a JSON array of objects with name, issuer, client_id, client_secret "
            f"and domains ({exc})"
        ) from exc
    for provider in providers:
        loopback = provider.issuer.startswith(("http://127.0.0.1", "http://localhost"))
        if not provider.issuer.startswith("https://") and (production or not loopback):
            raise SettingsError(f"ACCESSDESK_OIDC_PROVIDERS: the issuer of {provider.name} must be an https:// URL")
        if not provider.domains or "openid" not in provider.scope.split():
            raise SettingsError(f"ACCESSDESK_OIDC_PROVIDERS: {provider.name} needs domains and the openid scope")
    if len({p.name for p in providers}) != len(providers):
        raise SettingsError("ACCESSDESK_OIDC_PROVIDERS: provider names must be unique")
    return providers


@dataclass(frozen=True, slots=True)
class Settings:
    env: str = field(default="development", metadata={"env": "ACCESSDESK_ENV"})
    """``development`` (default) or ``production``. Production refuses unsafe defaults at start-up."""

    database_url: str = field(default=DEFAULT_DATABASE_URL, metadata={"env": "ACCESSDESK_DATABASE_URL"})
    """SQLAlchemy async URL: ``sqlite+aiosqlite:///path`` (embedded default, ``./var/accessdesk.db``) or
    ``postgresql+asyncpg://user:password@host:5432/db``."""

    allow_sqlite_in_production: bool = field(default=False, metadata={"env": "ACCESSDESK_ALLOW_SQLITE_IN_PRODUCTION"})
    """Production refuses SQLite (one file on one machine: no second instance, no worker of its own, no
    failover) unless this says the operator chose it knowingly."""

    secret_key: str = field(default=DEFAULT_SECRET_KEY, metadata={"env": "ACCESSDESK_SECRET_KEY"})
    """Server secret (≥ 32 characters in production); keys session cookies and other server-side MACs."""

    base_url: str = field(default="http://127.0.0.1:8000", metadata={"env": "ACCESSDESK_BASE_URL"})
    """Public URL of this deployment, used in links the service sends out (and as OAuth issuer later)."""

    embedded_worker: bool | None = field(default=None, metadata={"env": "ACCESSDESK_EMBEDDED_WORKER"})
    """Run the background worker inside ``accessdesk serve``. Default: on in development, off in production
    (run ``accessdesk worker`` as its own process there)."""

    worker_interval_seconds: float = field(default=15.0, metadata={"env": "ACCESSDESK_WORKER_INTERVAL"})
    """Seconds between two sweeps of the worker (grant transitions, lapsed nominations, outbox)."""

    log_level: str = field(default="INFO", metadata={"env": "ACCESSDESK_LOG_LEVEL"})
    """Python logging level name for the server and the worker."""

    log_format: str = field(default="", metadata={"env": "ACCESSDESK_LOG_FORMAT"})
    """``text`` (one readable line per record) or ``json`` (one JSON object per line, the traceback one of its
    fields). Default: json in production, text in development."""

    metrics: bool | None = field(default=None, metadata={"env": "ACCESSDESK_METRICS"})
    """Serve Prometheus metrics at ``/metrics``. Default: on in development; in production on when
    ``ACCESSDESK_METRICS_TOKEN`` is set, which production then requires."""

    metrics_token: str = field(default="", metadata={"env": "ACCESSDESK_METRICS_TOKEN"})
    """The bearer token a scraper must send to ``/metrics`` (``Authorization: Bearer …``); when set it is
    required in development too."""

    otel: bool = field(default=False, metadata={"env": "ACCESSDESK_OTEL"})
    """Trace requests with OpenTelemetry (needs the ``otel`` extra: ``pip install 'accessdesk[otel]'``); the
    exporter is configured by the standard ``OTEL_*`` variables (``OTEL_EXPORTER_OTLP_ENDPOINT``…)."""

    trusted_proxies: tuple[str, ...] = field(default=(), metadata={"env": "ACCESSDESK_TRUSTED_PROXIES"})
    """The load balancers and reverse proxies in front of ``accessdesk serve``: IP addresses and CIDR networks,
    comma-separated. Only a request whose TCP peer is one of them has its client address taken from
    ``X-Forwarded-For``: the rightmost address there that is not itself a trusted proxy (the ones to its left were
    written by the client). Default: none, and ``X-Forwarded-For`` is ignored: anyone can write it."""

    dev_login: bool | None = field(default=None, metadata={"env": "ACCESSDESK_DEV_LOGIN"})
    """The development sign-in that lists every user and signs in as any of them without a password. Default: on
    in development; production refuses to start with it on."""

    session_idle_minutes: float = field(default=30.0, metadata={"env": "ACCESSDESK_SESSION_IDLE_MINUTES"})
    """A console session ends after this many minutes without a request."""

    session_max_hours: float = field(default=12.0, metadata={"env": "ACCESSDESK_SESSION_MAX_HOURS"})
    """A console session ends this many hours after sign-in, however active."""

    oidc_providers: tuple[OidcProvider, ...] = field(default=(), metadata={"env": "ACCESSDESK_OIDC_PROVIDERS"})
    """The identity providers people sign in with, as a JSON array: ``[{"name": "oais", "title": "Office of AI
    Security", "issuer": "https://login.oais.example", "client_id": "...", "client_secret": "...",
    "domains": ["oais.example"]}]``. Each is tied to organisations by e-mail domain (home-realm discovery). The
    redirect URI to register with each provider is ``<ACCESSDESK_BASE_URL>/login/callback``."""

    token_ttl_seconds: int = field(default=900, metadata={"env": "ACCESSDESK_TOKEN_TTL_SECONDS"})
    """Longest life of an OAuth access token, in seconds (default 15 minutes). A token never outlives its grant's
    window either: it expires at whichever comes first."""

    secret_overlap_hours: float = field(default=24.0, metadata={"env": "ACCESSDESK_SECRET_OVERLAP_HOURS"})
    """After a client secret is rotated, the old secret keeps working this many hours, then dies."""

    api_token_days: int = field(default=DEFAULT_API_TOKEN_DAYS, metadata={"env": "ACCESSDESK_API_TOKEN_DAYS"})
    """A personal API token expires this many days after it is created unless its creator chooses otherwise
    (``accessdesk tokens create --days``); 1 to 3650."""

    client_secret_pepper: str = field(default="", metadata={"env": "ACCESSDESK_CLIENT_SECRET_PEPPER"})
    """Server pepper under which client secrets are stored (HMAC-SHA256). Required in production (≥ 32
    characters); in development derived from the secret key. Changing it invalidates every client secret."""

    key_encryption_key: str = field(default="", metadata={"env": "ACCESSDESK_KEY_ENCRYPTION_KEY"})
    """Key that seals the token-signing keys at rest (AES-256-GCM; any string of ≥ 32 characters, stretched with
    HKDF). Required in production; in development derived from the secret key. Losing it loses the signing keys
    (tokens then stop verifying; rotate to make new ones)."""

    slack_bot_token: str = field(default="", metadata={"env": "ACCESSDESK_SLACK_BOT_TOKEN"})
    """The Slack app's bot token (``xoxb-…``). Without it the bot is off (no ``/slack/events``, notifications are
    only logged) and the rest of accessdesk works as before."""

    slack_signing_secret: str = field(default="", metadata={"env": "ACCESSDESK_SLACK_SIGNING_SECRET"})
    """The Slack app's signing secret: every request to ``/slack/events`` must be signed with it. Required in
    production once a bot token is set; in development the bot stays off without it."""

    slack_app_token: str = field(default="", metadata={"env": "ACCESSDESK_SLACK_APP_TOKEN"})
    """An app-level token (``xapp-…``) for Socket Mode, the alternative to Slack calling ``/slack/events``."""

    slack_api_url: str = field(default="https://slack.com/api/", metadata={"env": "ACCESSDESK_SLACK_API_URL"})
    """Base URL of the Slack Web API, ending with ``/``. Slack's own by default; tests point it at a fake."""

    audit_checkpoint_minutes: float = field(default=15.0, metadata={"env": "ACCESSDESK_AUDIT_CHECKPOINT_MINUTES"})
    """The worker signs a checkpoint of the audit chain (its head's sequence number and hash, and the time) at most
    this many minutes after the previous one, and only when the head has moved since. ``0`` turns this off (then
    take them with ``accessdesk audit checkpoint``). Each checkpoint is logged and, with a channel set, posted to
    Slack: keep them where the database's owner cannot reach."""

    audit_checkpoint_slack_channel: str = field(default="", metadata={"env": "ACCESSDESK_AUDIT_CHECKPOINT_SLACK_CHANNEL"})
    """The id of a Slack channel (``C…`` or ``G…``) every audit checkpoint is posted to, with its signed text,
    and where a refusal to sign one (the chain no longer holds) is reported. Empty: checkpoints are only logged."""

    consultation_remind_days: int = field(default=14, metadata={"env": "ACCESSDESK_CONSULTATION_REMIND_DAYS"})
    """A designation consultation still open this many days after it was opened reminds the government's admins
    and approvers, once; 1 to 365."""

    consultation_release_warn_days: int = field(default=30,
                                                metadata={"env": "ACCESSDESK_CONSULTATION_RELEASE_WARN_DAYS"})  # fmt: skip
    """A model whose planned release is this many days away or fewer while its consultation is still open: both
    sides are told (the developer's admins, the government's admins and approvers), once per planned release;
    1 to 365."""

    # Retention (domain.retention): how many days the worker keeps finished rows, counted from when each was
    # finished; 0 keeps them for good. Never the audit trail.
    retain_sessions_days: int = field(default=90, metadata={"env": "ACCESSDESK_RETAIN_SESSIONS_DAYS"})
    """Console sessions (with their IP address and user agent), after they ended."""

    retain_outbox_days: int = field(default=30, metadata={"env": "ACCESSDESK_RETAIN_OUTBOX_DAYS"})
    """Outbox messages, after they were delivered or given up on (a dead letter can be retried until then)."""

    retain_slack_deliveries_days: int = field(default=7, metadata={"env": "ACCESSDESK_RETAIN_SLACK_DELIVERIES_DAYS"})
    """The record of each Slack post an outbox message made, after the message was delivered (at most as long as
    the message itself)."""

    retain_link_requests_days: int = field(default=7, metadata={"env": "ACCESSDESK_RETAIN_LINK_REQUESTS_DAYS"})
    """One-time Slack link requests (``/accessdesk link``), after they were used or expired."""

    rate_limits: bool | None = field(default=None, metadata={"env": "ACCESSDESK_RATE_LIMITS"})
    """Refuse requests over the limits below with 429 and ``Retry-After``. Default: on in production, off in
    development. Counted per client address (``X-Forwarded-For`` only from ``ACCESSDESK_TRUSTED_PROXIES``), shared
    by every instance through PostgreSQL, in memory on SQLite."""

    rate_limit_sign_in: Rate = field(default=Rate(20, 60), metadata={"env": "ACCESSDESK_RATE_LIMIT_SIGN_IN"})
    """Per client address: the sign-in page, the start of a sign-in at an identity provider, the development
    sign-in."""

    rate_limit_sign_in_email: Rate = field(default=Rate(5, 600),
                                           metadata={"env": "ACCESSDESK_RATE_LIMIT_SIGN_IN_EMAIL"})  # fmt: skip
    """Per e-mail address, sign-ins started for it (from any address)."""

    rate_limit_oidc_callback: Rate = field(default=Rate(20, 60), metadata={"env": "ACCESSDESK_RATE_LIMIT_OIDC_CALLBACK"})
    """Per client address: answers from identity providers (``/login/callback``; each costs a call to the provider)."""

    rate_limit_token: Rate = field(default=Rate(3000, 60), metadata={"env": "ACCESSDESK_RATE_LIMIT_TOKEN"})
    """Per client address: requests to the OAuth token endpoint (generous: a partner's fleet may share one address)."""

    rate_limit_introspect: Rate = field(default=Rate(60000, 60), metadata={"env": "ACCESSDESK_RATE_LIMIT_INTROSPECT"})
    """Per client address: requests to OAuth introspection (a gateway may ask on every call to the model)."""

    rate_limit_revoke: Rate = field(default=Rate(600, 60), metadata={"env": "ACCESSDESK_RATE_LIMIT_REVOKE"})
    """Per client address: requests to OAuth revocation."""

    rate_limit_oauth_failures: Rate = field(default=Rate(20, 60),
                                            metadata={"env": "ACCESSDESK_RATE_LIMIT_OAUTH_FAILURES"})  # fmt: skip
    """Per client address and claimed ``client_id``: failed client authentications (``invalid_client``) at the token,
    introspection and revocation endpoints. Reached, that client is refused from that address only."""

    rate_limit_oauth_failures_per_address: Rate = field(
        default=Rate(100, 60), metadata={"env": "ACCESSDESK_RATE_LIMIT_OAUTH_FAILURES_PER_ADDRESS"})  # fmt: skip
    """Per client address: failed client authentications, whatever ``client_id`` they claimed."""

    rate_limit_api: Rate = field(default=Rate(1200, 60), metadata={"env": "ACCESSDESK_RATE_LIMIT_API"})
    """Per client address: requests to the JSON API."""

    rate_limit_api_token: Rate = field(default=Rate(600, 60), metadata={"env": "ACCESSDESK_RATE_LIMIT_API_TOKEN"})
    """Per personal API token: requests to the JSON API."""

    rate_limit_api_failures: Rate = field(default=Rate(20, 60), metadata={"env": "ACCESSDESK_RATE_LIMIT_API_FAILURES"})
    """Per client address: JSON API requests refused for want of a valid token (401)."""

    rate_limit_slack_link: Rate = field(default=Rate(10, 60), metadata={"env": "ACCESSDESK_RATE_LIMIT_SLACK_LINK"})
    """Per client address, and per console session: the pages that show and confirm a Slack link."""

    rate_limit_flush_seconds: float = field(default=0.5, metadata={"env": "ACCESSDESK_RATE_LIMIT_FLUSH_SECONDS"})
    """On PostgreSQL, the busy doors (token, introspection, revocation, JSON API) count in memory and add their
    counts to the shared ones this often; between two flushes the instances together may let through up to what
    the others admitted in one interval beyond a limit. The other doors count in the database at each request."""

    @property
    def issuer(self) -> str:
        """The OAuth issuer identifier: the base URL, without a trailing slash."""
        return self.base_url.rstrip("/")

    @property
    def pepper(self) -> bytes:
        return _derived(self.client_secret_pepper or self.secret_key, b"accessdesk client-secret pepper")

    @property
    def sealing_key(self) -> bytes:
        return _derived(self.key_encryption_key or self.secret_key, b"accessdesk signing-key sealing")

    @property
    def sign_in_origins(self) -> tuple[str, ...]:
        """The identity providers' origins, which the console's sign-in form sends the browser to."""
        return tuple(p.origin for p in self.oidc_providers)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def run_embedded_worker(self) -> bool:
        return (not self.is_production) if self.embedded_worker is None else self.embedded_worker

    @property
    def dev_login_enabled(self) -> bool:
        return (not self.is_production) if self.dev_login is None else self.dev_login

    @property
    def slack_enabled(self) -> bool:
        """The bot runs, and notifications go to Slack: a bot token and a signing secret are both set."""
        return bool(self.slack_bot_token and self.slack_signing_secret)

    @property
    def log_format_name(self) -> str:
        return self.log_format or ("json" if self.is_production else "text")

    @property
    def metrics_enabled(self) -> bool:
        return (not self.is_production or bool(self.metrics_token)) if self.metrics is None else self.metrics

    @property
    def rate_limits_enabled(self) -> bool:
        return self.is_production if self.rate_limits is None else self.rate_limits

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """The settings from ``environ`` (the process's environment by default). Every problem is collected, each a
        line of the one :class:`SettingsError` raised: a value that cannot be read is left out of the checks that
        would only repeat it."""
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}  # by field name, each of its field's type
        problems: list[str] = []
        unreadable: set[str] = set()
        for f in fields(cls):
            name, raw = f.metadata["env"], environ.get(f.metadata["env"])
            if raw is None:
                continue
            try:
                values[f.name] = cls._read(f.name, f.type, raw, environ)
            except SettingsError as exc:
                problems += [p if p.startswith(name) else f"{name}: {p}" for p in exc.problems]
                unreadable.add(name)
        settings = cls(**values)
        problems += settings.problems(unreadable=frozenset(unreadable))
        if problems:
            raise SettingsError(*problems)
        return settings

    @staticmethod
    def _read(name: str, kind: Any, raw: str, environ: dict[str, str]) -> Any:
        """One variable's value as its field's type; SettingsError when it is not one."""
        env = Settings.__dataclass_fields__[name].metadata["env"]
        if name in ("embedded_worker", "dev_login", "rate_limits", "metrics", "otel", "allow_sqlite_in_production"):
            return _bool(raw)
        if kind == "Rate":
            return Rate.parse(raw, name=env)
        if name == "trusted_proxies":
            return _proxies(raw)
        if name == "oidc_providers":
            return _providers(raw, production=environ.get("ACCESSDESK_ENV") == "production")
        if name in ("token_ttl_seconds", "api_token_days"):
            try:
                return int(raw)
            except ValueError as exc:
                unit = "seconds" if name == "token_ttl_seconds" else "days"
                raise SettingsError(f"{env}: not a whole number of {unit}: {raw!r}") from exc
        if name in ("worker_interval_seconds", "session_idle_minutes", "session_max_hours",
                    "secret_overlap_hours", "audit_checkpoint_minutes", "rate_limit_flush_seconds"):  # fmt: skip
            try:
                return float(raw)
            except ValueError as exc:
                raise SettingsError(f"{env}: not a number: {raw!r}") from exc
        if name.startswith(("retain_", "consultation_")):
            try:
                return int(raw)
            except ValueError as exc:
                raise SettingsError(f"{env}: not a whole number of days: {raw!r}") from exc
        if name == "log_level":
            return raw.strip().upper()
        return raw

    def check(self) -> None:
        """Refuse configurations that are malformed, or unsafe for production: every problem at once."""
        if problems := self.problems():
            raise SettingsError(*problems)

    def problems(self, *, unreadable: frozenset[str] = frozenset()) -> list[str]:
        """Every problem of this configuration, one line each (none: it holds). ``unreadable``: variables whose
        value could not be read, already reported, whose consequences are not reported again."""
        return [*self._check_basics(), *self._check_production(unreadable), *self._check_slack(),
                *self._check_observability(), *self._check_rate_limits(), *self._check_retention()]  # fmt: skip

    def _check_basics(self) -> Iterator[str]:
        if self.env not in {"development", "production"}:
            yield f"ACCESSDESK_ENV must be 'development' or 'production', not {self.env!r}"
        if not self.database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            yield "ACCESSDESK_DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
        if self.log_level not in LOG_LEVELS:
            yield f"ACCESSDESK_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {self.log_level!r}"
        if not 30 <= self.token_ttl_seconds <= 86400:
            yield "ACCESSDESK_TOKEN_TTL_SECONDS must be between 30 and 86400"
        if self.api_token_days not in API_TOKEN_DAYS:
            yield f"ACCESSDESK_API_TOKEN_DAYS must be between {API_TOKEN_DAYS[0]} and {API_TOKEN_DAYS[-1]}"
        if self.secret_overlap_hours < 0:
            yield "ACCESSDESK_SECRET_OVERLAP_HOURS must not be negative"
        if self.session_idle_minutes <= 0 or self.session_max_hours <= 0:
            yield "ACCESSDESK_SESSION_IDLE_MINUTES and ACCESSDESK_SESSION_MAX_HOURS must be positive"
        if self.audit_checkpoint_minutes < 0:
            yield "ACCESSDESK_AUDIT_CHECKPOINT_MINUTES must not be negative (0 turns checkpoints off)"
        for f in fields(self):
            if f.name.startswith("consultation_") and not 1 <= getattr(self, f.name) <= 365:
                yield f"{f.metadata['env']} must be a number of days from 1 to 365"
        if self.audit_checkpoint_slack_channel and not _CHANNEL_ID.fullmatch(self.audit_checkpoint_slack_channel):
            yield "ACCESSDESK_AUDIT_CHECKPOINT_SLACK_CHANNEL must be a Slack channel id (C… or G…), not a channel's name"

    def _check_production(self, unreadable: frozenset[str]) -> Iterator[str]:
        if not self.is_production:
            return
        if not self.secret_key or self.secret_key == DEFAULT_SECRET_KEY or len(self.secret_key) < 32:
            yield "ACCESSDESK_SECRET_KEY must be set to a random value of at least 32 characters in production"
        else:
            yield from _guessable("ACCESSDESK_SECRET_KEY", self.secret_key)
        if not self.base_url.startswith("https://"):
            yield "ACCESSDESK_BASE_URL must be an https:// URL in production"
        if self.dev_login:
            yield "ACCESSDESK_DEV_LOGIN signs anyone in as anyone: it is refused in production"
        for name, value in (("ACCESSDESK_CLIENT_SECRET_PEPPER", self.client_secret_pepper),
                            ("ACCESSDESK_KEY_ENCRYPTION_KEY", self.key_encryption_key)):  # fmt: skip
            if len(value) < 32 or value == self.secret_key:
                yield f"{name} must be set in production to its own random value of at least 32 characters"
            else:
                yield from _guessable(name, value)
        if self.slack_bot_token and not self.slack_signing_secret:
            yield "ACCESSDESK_SLACK_SIGNING_SECRET must be set in production when ACCESSDESK_SLACK_BOT_TOKEN is"
        elif self.slack_signing_secret:
            yield from _guessable("ACCESSDESK_SLACK_SIGNING_SECRET", self.slack_signing_secret)
        if self.is_sqlite and not self.allow_sqlite_in_production:
            yield ("ACCESSDESK_DATABASE_URL is SQLite, which production refuses (one file on one machine: one server "
                   "process, no failover): use postgresql+asyncpg://, or set ACCESSDESK_ALLOW_SQLITE_IN_PRODUCTION=true "
                   "to run on it knowingly")  # fmt: skip
        if not self.oidc_providers and "ACCESSDESK_OIDC_PROVIDERS" not in unreadable:
            yield ("ACCESSDESK_OIDC_PROVIDERS names no identity provider: in production nobody could sign in to the "
                   "console (the development sign-in is refused there)")  # fmt: skip

    def _check_rate_limits(self) -> Iterator[str]:
        for f in fields(self):
            rate = getattr(self, f.name)
            if isinstance(rate, Rate) and not (rate.count >= 1 and 1 <= rate.seconds <= 86400):
                yield f"{f.metadata['env']} must allow at least 1 per a window of 1 second to 1 day"
        if not 0.05 <= self.rate_limit_flush_seconds <= 10:
            yield "ACCESSDESK_RATE_LIMIT_FLUSH_SECONDS must be between 0.05 and 10"

    def _check_observability(self) -> Iterator[str]:
        if self.log_format not in {"", "json", "text"}:
            yield f"ACCESSDESK_LOG_FORMAT must be 'json' or 'text', not {self.log_format!r}"
        if self.otel and importlib.util.find_spec("opentelemetry.sdk") is None:
            yield "ACCESSDESK_OTEL needs the otel extra: pip install 'accessdesk[otel]'"
        if self.is_production and self.metrics_enabled and len(self.metrics_token) < 32:
            yield ("ACCESSDESK_METRICS_TOKEN must be set in production, to a random value of at least "
                   "32 characters, for /metrics to be served (or set ACCESSDESK_METRICS=false)")

    def _check_slack(self) -> Iterator[str]:
        # A token in the wrong variable (a user or app token as the bot token) fails at Slack much later and
        # obscurely; here it fails at start-up, naming the variable.
        for name, value, prefix in (("ACCESSDESK_SLACK_BOT_TOKEN", self.slack_bot_token, "xoxb-"),
                                    ("ACCESSDESK_SLACK_APP_TOKEN", self.slack_app_token, "xapp-")):  # fmt: skip
            if value and not value.startswith(prefix):
                yield f"{name} must be a {prefix}… token"
        if self.slack_app_token and not self.slack_bot_token:
            yield "ACCESSDESK_SLACK_APP_TOKEN (Socket Mode) needs ACCESSDESK_SLACK_BOT_TOKEN as well"
        loopback = self.slack_api_url.startswith(("http://127.0.0.1", "http://localhost"))
        if not self.slack_api_url.startswith("https://") and (self.is_production or not loopback):
            yield "ACCESSDESK_SLACK_API_URL must be an https:// URL"
        # slack_sdk joins method names onto the base URL: without the final slash, ".../api" + "chat.postMessage"
        # would silently become ".../chat.postMessage".
        if not self.slack_api_url.endswith("/"):
            yield "ACCESSDESK_SLACK_API_URL must end with /"

    def _check_retention(self) -> Iterator[str]:
        for f in fields(self):
            if f.name.startswith("retain_") and not 0 <= getattr(self, f.name) <= 36500:
                yield f"{f.metadata['env']} must be a number of days from 0 (keep for good) to 36500"

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        path = self.database_url.split(":///", 1)[1]
        return None if path in {"", ":memory:"} else Path(path)
