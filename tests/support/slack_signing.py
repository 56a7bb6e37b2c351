"""Requests to ``/slack/events`` signed exactly as Slack signs them.

Slack computes ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{raw body}`` under the app's signing secret, and sends
it in ``X-Slack-Signature`` with the timestamp in ``X-Slack-Request-Timestamp``. Slash commands arrive
form-encoded; interactivity arrives form-encoded too, as one ``payload`` field holding JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class Signed:
    body: bytes
    headers: dict[str, str]


def signature(body: bytes, *, timestamp: int, secret: str = SIGNING_SECRET) -> str:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed(body: bytes, *, content_type: str = FORM, secret: str = SIGNING_SECRET, age: float = 0) -> Signed:
    """``body`` with Slack's headers; ``age`` seconds makes it that much older than now."""
    timestamp = int(time.time() - age)
    return Signed(body, {"Content-Type": content_type, "X-Slack-Request-Timestamp": str(timestamp),
                         "X-Slack-Signature": signature(body, timestamp=timestamp, secret=secret)})  # fmt: skip


def slash_command(text: str, *, response_url: str, command: str = "/accessdesk", user_id: str = "U0ALICE",
                  **signing: Any) -> Signed:  # fmt: skip
    """A slash command as Slack posts it."""
    fields = {"token": "deprecated-verification-token", "team_id": "T0FAKE", "team_domain": "fake",
              "channel_id": "C0GENERAL", "channel_name": "general", "user_id": user_id, "user_name": "alice",
              "command": command, "text": text, "api_app_id": "A0ACCESSDESK", "is_enterprise_install": "false",
              "response_url": response_url, "trigger_id": "1337.42.abcdef"}  # fmt: skip
    return signed(urlencode(fields).encode(), **signing)


def interaction(payload: dict[str, Any], **signing: Any) -> Signed:
    """An interactivity request (button, modal submission): the JSON payload in one form field."""
    return signed(urlencode({"payload": json.dumps(payload)}).encode(), **signing)
