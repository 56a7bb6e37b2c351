"""The Slack app manifest asks for exactly the scopes the bot's code needs, and points Slack at ``/slack/events``.

The Web API methods are found in the source itself: any attribute of the bot's code named like a method of
slack_sdk's Web API client (``client.chat_postMessage(...)``, or ``self._client.chat_update`` handed on to be
called). A method missing from :data:`SCOPES_OF` fails the test, so the table, and the manifest, follow the code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_sdk.web.async_client import AsyncWebClient

from accessdesk.slackbot.ids import CommandName, Subcommand

BOT = Path(__file__).resolve().parents[2] / "bots" / "accessdesk" / "slackbot"
MANIFEST = BOT / "manifest.yml"

# The bot token scopes each Web API method needs, as the bot uses it.
SCOPES_OF: dict[str, frozenset[str]] = {
    "auth.test": frozenset(),  # who the bot is, at start-up (endpoint.warm_up): no scope needed
    "chat.postEphemeral": frozenset({"chat:write"}),
    "chat.postMessage": frozenset({"chat:write"}),
    "chat.update": frozenset({"chat:write"}),
    # Finding a card whose post got no answer (bots/accessdesk/slackbot/notifier.py), in a public or a private channel.
    "conversations.history": frozenset({"channels:history", "groups:history"}),
    # users.info answers without the profile's e-mail unless users:read.email is granted, and the bot matches
    # people by that e-mail (identity.py).
    "users.info": frozenset({"users:read", "users:read.email"}),
    # Slack grants users:read.email only together with users:read.
    "users.lookupByEmail": frozenset({"users:read", "users:read.email"}),
    "views.open": frozenset(),
    "views.publish": frozenset(),
}
# A slash command needs the commands scope, whichever method answers it.
SLASH_COMMAND_SCOPE = "commands"

WEB_API_METHODS = frozenset(name for name in vars(AsyncWebClient) if not name.startswith("_"))
ATTRIBUTE = re.compile(r"\.([A-Za-z]+_[A-Za-z0-9_]+)\b")


def manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text())


def methods_called(source: str) -> set[str]:
    """The Web API methods ``source`` calls, by their Slack names (``chat_postMessage`` → ``chat.postMessage``)."""
    return {name.replace("_", ".") for name in ATTRIBUTE.findall(source) if name in WEB_API_METHODS}


def bot_sources() -> dict[Path, str]:
    return {path: path.read_text() for path in sorted(BOT.rglob("*.py"))}


def test_the_scan_finds_calls_and_methods_handed_on_and_nothing_else():
    source = ("await client.users_lookupByEmail(email=e)\nawait self._call(c, self._client.chat_update, ts=t)\n"
              "blocks.home_view(home)\nhandler.client.issue_new_wss_url()")  # fmt: skip
    assert methods_called(source) == {"users.lookupByEmail", "chat.update"}
    assert methods_called("client.chat_scheduledMessages_list()") == {"chat.scheduledMessages.list"}


def test_every_method_the_bot_calls_is_known_and_its_scopes_are_granted():
    called = {method: path.name for path, source in bot_sources().items() for method in methods_called(source)}
    unknown = {method: where for method, where in called.items() if method not in SCOPES_OF}
    assert not unknown, f"add these Web API methods to SCOPES_OF (and their scopes to the manifest): {unknown}"
    granted = set(manifest()["oauth_config"]["scopes"]["bot"])
    for method in called:
        assert SCOPES_OF[method] <= granted, f"{method} ({called[method]}) needs {sorted(SCOPES_OF[method] - granted)}"


def test_the_manifest_asks_no_scope_the_code_does_not_need():
    called = set().union(*(methods_called(source) for source in bot_sources().values()))
    assert called, "the scan found no Web API call at all: it has stopped working"
    needed = set().union(*(SCOPES_OF[m] for m in called if m in SCOPES_OF))
    if manifest()["features"].get("slash_commands"):
        needed.add(SLASH_COMMAND_SCOPE)
    assert sorted(manifest()["oauth_config"]["scopes"]["bot"]) == sorted(needed)
    assert "user" not in manifest()["oauth_config"]["scopes"], "the bot acts as itself, never as a person"


def test_no_call_escapes_the_scan():
    # A method named in a string (api_call("chat.postMessage")) is invisible to the scan above.
    assert [path.name for path, source in bot_sources().items() if "api_call(" in source] == []


def test_the_slash_command_is_the_one_the_bot_listens_to():
    [command] = manifest()["features"]["slash_commands"]
    assert command["command"] == CommandName.ACCESSDESK
    assert {usage.split()[0] for usage in command["usage_hint"].split(" | ")} == set(Subcommand)


def test_the_home_tab_is_on_and_its_opening_is_subscribed():
    assert manifest()["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest()["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]


def request_urls(node: Any, key: str = "") -> list[str]:
    if isinstance(node, dict):
        return [url for k, v in node.items() for url in request_urls(v, k)]
    if isinstance(node, list):
        return [url for item in node for url in request_urls(item, key)]
    return [node] if key in {"url", "request_url", "message_menu_options_url"} else []


def test_every_request_url_is_the_events_endpoint_over_https():
    urls = request_urls(manifest())
    assert len(urls) == 4  # the command, events, interactivity and the options of external selects
    assert all(url.startswith("https://") and url.endswith("/slack/events") for url in urls), urls
    assert len(set(urls)) == 1, "one deployment answers every request: one URL, replaced once"


@pytest.mark.parametrize("setting", ["socket_mode_enabled", "org_deploy_enabled", "token_rotation_enabled"])
def test_http_mode_in_one_workspace_with_a_long_lived_token(setting):
    assert manifest()["settings"][setting] is False
