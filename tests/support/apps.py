"""The app under test, wired to a test's deployment the way ``create_app`` wires a new one
(:func:`accessdesk.app.wire`), but assembled once per test process: registering its routes takes about 0.15 s,
the largest part of many a test's set-up when every test assembled its own app. Assembled apps are kept in a pool;
a test takes a free one (or a new one when every app is serving), and gives it back with its deployment removed
(``app.state`` emptied), so nothing of one test reaches the next. An app whose block failed is not given back: it
may still be serving."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from litestar import Litestar
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncEngine

from accessdesk.app import assemble, wire
from accessdesk.clock import Clock
from accessdesk.domain.notifier import Notifier
from accessdesk.settings import Settings

_idle: list[Litestar] = []


@contextmanager
def wired_app(settings: Settings, *, clock: Clock | None = None, engine: AsyncEngine | None = None,
              notifier: Notifier | None = None, embedded_worker: bool = False) -> Iterator[Litestar]:  # fmt: skip
    """An app wired to this deployment for as long as the block runs (``create_app``'s arguments; the embedded
    worker off unless asked)."""
    app = _idle.pop() if _idle else assemble()
    wire(app, settings, clock=clock, engine=engine, notifier=notifier, embedded_worker=embedded_worker)
    yield app
    app.state = State()
    _idle.append(app)
