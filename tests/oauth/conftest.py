"""This folder's clock: two hours before the real time (see ``tests.support.oauth``)."""

from __future__ import annotations

import pytest

from accessdesk.clock import FrozenClock
from tests.support.oauth import real_time_clock


@pytest.fixture
def clock() -> FrozenClock:
    return real_time_clock()
