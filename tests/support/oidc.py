"""A real OpenID Connect provider for the tests: panva's ``oidc-provider`` (npm, 9.x), run by Node on loopback.

Install it once with ``npm ci --no-audit --no-fund`` at the repository root (package.json / package-lock.json).
Outside CI a missing ``node`` or ``node_modules/oidc-provider`` skips the tests that use it, with the reason; with
CI=true it fails them (``tests.databases.missing``).

Fixtures (bring them into a test module or conftest with
``from tests.support.oidc import oidc_provider, oidc_providers  # noqa: F401``):

* ``oidc_provider`` (session): one running provider, default settings (email claims from userinfo only).
* ``oidc_providers`` (session): a factory; ``oidc_providers.start(clients=[...], id_token_claims=True)`` starts
  another provider with other settings. Every provider it started stops at the end of the session.

A provider's accounts: any login name and any password sign in (oidc-provider's development interactions). The
login name is the subject; if it contains '@' it is also the email, verified. ``unverified+NAME@DOMAIN`` signs in
as subject ``unverified+NAME@DOMAIN`` with email ``NAME@DOMAIN`` and ``email_verified`` false.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from joserfc.jwk import KeySetSerialization

from tests.databases import missing

ROOT = Path(__file__).resolve().parents[2]
SERVER = Path(__file__).resolve().parent / "oidc_provider" / "server.mjs"
PACKAGE = ROOT / "node_modules" / "oidc-provider" / "package.json"
READY_TIMEOUT = 20.0
INSTALL_HINT = "run `npm ci --no-audit --no-fund` at the repository root"
_Request = tuple[str, str, dict[str, str] | None]  # method, URL, form data


class OidcLoginError(AssertionError):
    """The provider's pages did not lead back to the relying party."""


@dataclass
class _Form:
    action: str = ""
    method: str = "get"
    fields: dict[str, str] = field(default_factory=dict)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(_Form(action=attributes.get("action", ""), method=attributes.get("method", "get")))
        elif tag == "input" and self.forms and attributes.get("name"):
            self.forms[-1].fields[attributes["name"]] = attributes.get("value", "")


def _forms(html: str) -> list[_Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


class OidcProvider:
    """One running oidc-provider process. ``issuer`` is ``http://127.0.0.1:PORT``."""

    def __init__(self, issuer: str, process: subprocess.Popen[str], lines: list[str], registration_token: str,
                 id_token_claims: bool) -> None:  # fmt: skip
        self.issuer = issuer
        self.id_token_claims = id_token_claims
        self._process = process
        self._lines = lines
        self._registration_token = registration_token
        self._metadata: dict[str, Any] | None = None

    # -- what a relying party needs ---------------------------------------------------------------------------

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def metadata(self) -> dict[str, Any]:
        """The discovery document (authorization_endpoint, token_endpoint, userinfo_endpoint, jwks_uri, ...)."""
        if self._metadata is None:
            response = httpx.get(self.discovery_url, timeout=10)
            response.raise_for_status()
            self._metadata = response.json()
        return self._metadata

    def jwks(self) -> KeySetSerialization:
        response = httpx.get(self.metadata["jwks_uri"], timeout=10)
        response.raise_for_status()
        return response.json()

    def register_client(self, client_id: str, client_secret: str | None, redirect_uris: Sequence[str], *,
                        token_endpoint_auth_method: str = "client_secret_basic",
                        post_logout_redirect_uris: Sequence[str] = (), **metadata: Any) -> dict[str, Any]:  # fmt: skip
        """Register (or replace) a confidential web client through the provider's dynamic client registration
        endpoint (RFC 7591), keeping the given client_id and client_secret. Returns the registered metadata
        (``client_secret`` included; generated when None is given)."""
        body = {
            "client_id": client_id,
            "redirect_uris": list(redirect_uris),
            "token_endpoint_auth_method": token_endpoint_auth_method,
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "post_logout_redirect_uris": list(post_logout_redirect_uris),
            **metadata,
        }
        if client_secret is not None:
            body["client_secret"] = client_secret
        response = httpx.post(f"{self.issuer}/reg", json=body, timeout=10,
                              headers={"Authorization": f"Bearer {self._registration_token}"})  # fmt: skip
        if response.status_code != 201:
            raise AssertionError(f"client registration refused ({response.status_code}): {response.text}")
        return response.json()

    # -- signing in without a browser -------------------------------------------------------------------------

    def login_with_http(self, authorize_url: str, login: str, password: str = "any password") -> str:
        """Drive the provider's sign-in and consent pages with a fresh cookie jar, as ``login``, starting at the
        relying party's ``authorize_url``; return the provider's final redirect to the relying party (its
        ``redirect_uri?code=...&state=...&iss=...``, or ``?error=...``) without requesting it."""
        with httpx.Client(follow_redirects=False, timeout=10) as client:
            request: _Request = ("GET", authorize_url, None)
            for _ in range(12):
                method, url, data = request
                step = self._step(client.request(method, url, data=data), login, password)
                if isinstance(step, str):
                    return step
                request = step
        raise OidcLoginError(f"no redirect to the relying party after 12 steps, from {authorize_url}")

    async def alogin_with_http(self, authorize_url: str, login: str, password: str = "any password") -> str:
        """``login_with_http`` without blocking the event loop (for an in-process relying party)."""
        async with httpx.AsyncClient(follow_redirects=False, timeout=10) as client:
            request: _Request = ("GET", authorize_url, None)
            for _ in range(12):
                method, url, data = request
                step = self._step(await client.request(method, url, data=data), login, password)
                if isinstance(step, str):
                    return step
                request = step
        raise OidcLoginError(f"no redirect to the relying party after 12 steps, from {authorize_url}")

    def _step(self, response: httpx.Response, login: str, password: str) -> str | _Request:
        url = str(response.url)
        if response.is_redirect:
            location = urljoin(url, response.headers["location"])
            if _origin(location) != _origin(self.issuer):
                return location
            return ("GET", location, None)
        forms = _forms(response.text) if "html" in response.headers.get("content-type", "") else []
        if response.status_code == 200 and len(forms) == 1:
            form = forms[0]
            prompt = form.fields.get("prompt")
            if prompt == "login":
                return ("POST", urljoin(url, form.action), {**form.fields, "login": login, "password": password})
            if prompt == "consent":
                return ("POST", urljoin(url, form.action), dict(form.fields))
        raise OidcLoginError(f"unexpected answer {response.status_code} from {response.request.method} {url}:\n"
                             f"{response.text[:3000]}\n-- provider output --\n{self.output()}")  # fmt: skip

    # -- process ----------------------------------------------------------------------------------------------

    def output(self) -> str:
        """What the provider printed so far (stdout and stderr: warnings, errors it reported)."""
        return "".join(self._lines)

    def stop(self) -> None:
        if self._process.poll() is None:
            if self._process.stdin is not None:
                self._process.stdin.close()  # --exit-on-stdin-eof
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)


class OidcProviders:
    """Starts oidc-provider processes; ``stop_all`` ends every one it started."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._started: list[OidcProvider] = []

    def start(self, *, clients: Iterable[dict[str, Any]] = (), id_token_claims: bool = False) -> OidcProvider:
        """Start a provider. ``clients``: client metadata known from the start (client_id, client_secret,
        redirect_uris, token_endpoint_auth_method, ...); more can be added with ``register_client``.
        ``id_token_claims``: also put the scope's claims (email, email_verified) into the ID token; by default
        (oidc-provider's conformIdTokenClaims) they come from the userinfo endpoint only."""
        node = shutil.which("node")
        if node is None:
            missing(f"Node.js (`node`) not found on PATH: the OIDC provider tests need it; install Node.js, then "
                    f"{INSTALL_HINT}")  # fmt: skip
        if not PACKAGE.is_file():
            missing(f"oidc-provider is not installed ({PACKAGE.parent} missing): {INSTALL_HINT}")
        registration_token = secrets.token_urlsafe(24)
        config = self._workdir / f"oidc-provider-{len(self._started) + 1}.json"
        config.write_text(json.dumps({
            "clients": list(clients),
            "idTokenClaims": id_token_claims,
            "registrationToken": registration_token,
            "cookieKeys": [secrets.token_urlsafe(32)],
        }))  # fmt: skip
        # Port 0: the server binds a free port itself and prints it, so no other process can take it in between.
        process = subprocess.Popen(
            [node, str(SERVER), "--config", str(config), "--port", "0", "--exit-on-stdin-eof"],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        lines: list[str] = []
        ready = threading.Event()
        issuer: list[str] = []

        def read() -> None:  # also keeps the pipe drained for the process's whole life
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                if line.startswith("READY ") and not ready.is_set():
                    issuer.append(line.split()[1])
                    ready.set()
            ready.set()

        threading.Thread(target=read, name="oidc-provider-output", daemon=True).start()
        ready.wait(READY_TIMEOUT)  # set by READY, or when the process closes its output (it ended)
        if not issuer:
            code = process.poll()
            if code is None:
                process.kill()
                process.wait(timeout=5)
            state = f"exited with {code}" if code is not None else f"not ready after {READY_TIMEOUT:.0f} s"
            pytest.fail(f"oidc-provider ({SERVER.relative_to(ROOT)}) {state}; its output:\n{''.join(lines)}",
                        pytrace=False)  # fmt: skip
        provider = OidcProvider(issuer[0], process, lines, registration_token, id_token_claims)
        self._started.append(provider)
        return provider

    def stop_all(self) -> None:
        for provider in self._started:
            provider.stop()
        self._started.clear()


@pytest.fixture(scope="session")
def oidc_providers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProviders]:
    providers = OidcProviders(tmp_path_factory.mktemp("oidc-provider"))
    yield providers
    providers.stop_all()


@pytest.fixture(scope="session")
def oidc_provider(oidc_providers: OidcProviders) -> OidcProvider:
    return oidc_providers.start()
