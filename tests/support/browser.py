"""Real-browser end-to-end tests: the app served over real HTTP, driven by Debian's Chromium through Playwright.

``live_server`` serves the real app (the same ``create_app`` as the ``api`` fixture of ``tests/support/api.py``,
on the test database, with the test's frozen clock) from uvicorn in a background thread on 127.0.0.1 and a free
port, and yields its base URL. ``browser_page`` is a fresh Chromium page per test. Both reach every test by name (this module is a
plugin: ``pytest_plugins`` in ``tests/conftest.py``); ask for ``browser_page`` before ``live_server`` in a test's
arguments, so that a missing browser is reported before a database and a server are set up for nothing.

The browser is the system's Chromium (``apt-get install -y chromium``), never one Playwright downloads; it is
looked for at ``$ACCESSDESK_TEST_CHROMIUM`` (default ``/usr/bin/chromium``). Outside CI a missing browser or a
missing ``playwright`` package skips the test with the reason; with CI=true it fails it (``tests.databases``).

Playwright's async API is tied to the event loop that started it, and pytest-asyncio gives every test a loop of
its own: so the browser is launched per test (about a second), not per session.

The world session and the app share the database, but unlike the ``api`` fixture's client the browser cannot
commit the world before it asks: a test that adds to the world (or reads it) after the server started must
``await world.commit()`` before the browser asks for a page (on SQLite an open world transaction holds the write
lock and every request would wait for the busy timeout; on either database the app would not see the rows).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from accessdesk.clock import FrozenClock
from accessdesk.settings import Settings
from tests.databases import missing
from tests.support.api import app_engine, url_of
from tests.support.apps import wired_app
from tests.world import World

if TYPE_CHECKING:
    from playwright.async_api import Page

HOST = "127.0.0.1"
CHROMIUM = os.environ.get("ACCESSDESK_TEST_CHROMIUM", "/usr/bin/chromium")
# axe-core from npm (package.json), injected into the pages it checks.
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Generous limits for a loaded CI machine: they only bound how long a broken start or stop can hang the run,
# no test asserts anything about how long something took.
START_LIMIT_SECONDS = 30.0
STOP_LIMIT_SECONDS = 15.0
CSP_WORDS = "Content Security Policy"  # in every console message of a Content Security Policy violation
# Where the browser tests save their screenshots (CI keeps var/); ACCESSDESK_SCREENSHOTS_DIR=docs/screenshots
# refreshes the set committed for the README.
SHOTS = Path(os.environ.get("ACCESSDESK_SCREENSHOTS_DIR", "var/screenshots"))


def _listening_socket() -> socket.socket:
    """A socket bound to a free port, handed to uvicorn as is: no window in which another process takes the port
    between choosing it and binding it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    return sock


async def _until_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_LIMIT_SECONDS
    while not server.started:
        if not thread.is_alive():
            pytest.fail("the live server stopped during start-up (see the captured log)", pytrace=False)
        if loop.time() > deadline:
            pytest.fail(f"the live server did not start within {START_LIMIT_SECONDS:.0f} s", pytrace=False)
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def serving(
    engine: AsyncEngine, clock: FrozenClock, world: World, settings: Callable[[str], Settings] | None = None
) -> AsyncIterator[str]:
    """Serve the real app over real HTTP on 127.0.0.1 and a free port, on the test database; yields the base URL.
    ``settings`` builds the app's settings from that URL (default: the embedded defaults). The world is committed
    as the server starts; after that the test commits it before the browser asks for what it added."""
    await world.commit()
    url = url_of(engine)
    served = app_engine(url)
    sock = _listening_socket()
    port = sock.getsockname()[1]
    base_url = f"http://{HOST}:{port}"
    chosen = settings(base_url) if settings else Settings(database_url=url, base_url=base_url)
    with wired_app(chosen, clock=clock, engine=served) as app:
        # log_config=None: uvicorn would otherwise run logging.config.dictConfig in the middle of the test session.
        config = uvicorn.Config(app, host=HOST, port=port, lifespan="on", log_level="warning", log_config=None,
                                access_log=False, timeout_graceful_shutdown=5)  # fmt: skip
        server = uvicorn.Server(config)
        # uvicorn installs no signal handlers outside the main thread, so it runs in a plain thread with its own loop.
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"live-server-{port}",
                                  daemon=True)  # fmt: skip
        thread.start()
        try:
            await _until_started(server, thread)
            yield base_url
        finally:
            await world.unit.session.rollback()  # a read the test ended with must not hold up the server's last writes
            server.should_exit = True
            await asyncio.to_thread(thread.join, STOP_LIMIT_SECONDS)
            if thread.is_alive():
                server.force_exit = True
                await asyncio.to_thread(thread.join, STOP_LIMIT_SECONDS)
            sock.close()
            await served.dispose()
        assert not thread.is_alive(), "the live server did not stop"


@pytest.fixture
async def live_server(engine: AsyncEngine, clock: FrozenClock, world: World) -> AsyncIterator[str]:
    """The real app over real HTTP on 127.0.0.1 and a free port, on the test database; yields the base URL."""
    async with serving(engine, clock, world) as base_url:
        yield base_url


@pytest.fixture
async def browser_page() -> AsyncIterator[Page]:
    """A page in a fresh headless Chromium (its own temporary profile, which Playwright creates and removes)."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing(f"Chromium not found at {CHROMIUM}: install Debian's browser (apt-get install -y chromium) or set "
                "ACCESSDESK_TEST_CHROMIUM to its path; never `playwright install`")  # fmt: skip
    try:
        from playwright.async_api import async_playwright
    except ImportError as exc:
        missing(f"the playwright package is not installed ({exc}); run `make install` (uv sync) for the dev group")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context()
            page = await context.new_page()
            yield page
            await context.close()
        finally:
            await browser.close()


def heard(page) -> list[str]:
    """Every console message of the page from now on, as ``type: text``."""
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    return messages


async def sign_in_as(page, base: str, name: str) -> None:
    """From the protected page to the sign-in page and back, as a person would."""
    await page.goto(f"{base}/console")
    assert page.url == f"{base}/login?next=/console"
    await page.get_by_role("button", name=f"Sign in as {name}").click()
    await page.wait_for_url(f"{base}/console")


async def accessibility_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2 A/AA violations on the page ``page`` shows, one line each. axe is a script injected into
    the page, which the console's Content Security Policy refuses: it runs in a context of the same browser that
    bypasses the CSP (this one, and nothing else), signed in as ``page`` is, at the same address and size."""
    if not AXE.is_file():
        missing(f"axe-core is not installed at {AXE}: run `npm ci` (make test does)")
    browser_ = page.context.browser
    assert browser_ is not None
    context = await browser_.new_context(bypass_csp=True, storage_state=await page.context.storage_state(),
                                         viewport=page.viewport_size)  # fmt: skip
    try:
        checked = await context.new_page()
        await checked.goto(page.url)
        await checked.add_script_tag(path=str(AXE))
        result = await checked.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    finally:
        await context.close()
    return [f"{v['id']} ({v['impact']}): {v['help']}: {[n['target'] for n in v['nodes']][:5]}"
            for v in result["violations"]]  # fmt: skip


async def checked(page: Page, console: list[str], shot: str | None = None) -> None:
    """The page as it is now: one h1, no CSP violation nor script error in ``console`` (:func:`heard`), nothing
    axe-core finds; saved as ``shot`` (in :data:`SHOTS`) when named."""
    assert await page.locator("h1").count() == 1, page.url
    if shot:
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
    assert [m for m in console if CSP_WORDS in m or m.startswith("pageerror")] == [], (page.url, console)
    assert await accessibility_violations(page) == [], page.url


async def switch_to(page: Page, base: str, name: str) -> None:
    """Sign out and sign in again as ``name`` with the development login."""
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"{base}/login")
    await page.get_by_role("button", name=f"Sign in as {name}").click()
    await page.wait_for_url(f"{base}/console")
