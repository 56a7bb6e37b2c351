"""What the bot says, as pure Block Kit."""

from __future__ import annotations

from accessdesk.slackbot.blocks import escape, help_message, notification_text

CONSOLE = "https://accessdesk.example.gov"


def test_the_help_lists_every_subcommand():
    message = help_message(console_url=CONSOLE)
    assert message["response_type"] == "ephemeral"
    assert message["blocks"][1] == {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join([
        "`/accessdesk nominate` — nominate a partner organisation for early access to a model",
        "`/accessdesk status &lt;model&gt;` — where a model's nominations and grants stand",
        "`/accessdesk pending` — the nominations waiting for your decision",
        "`/accessdesk link` — link your Slack account to your accessdesk account",
        "`/accessdesk help` — this message",
    ])}}  # fmt: skip
    assert message["blocks"][2]["elements"][0]["text"] == (
        f"Everything else, and all of this too, is in the console: <{CONSOLE}|accessdesk>."
    )
    assert message["text"] == "accessdesk commands: nominate, status &lt;model&gt;, pending, link, help"


def test_a_notification_is_a_plain_summary_with_markup_escaped():
    text = notification_text("nomination.created", {"model": "<atlas> & co", "state": "pending"})
    assert text == "accessdesk: nomination.created\nmodel: &lt;atlas&gt; &amp; co\nstate: pending"
    assert escape("a&b") == "a&amp;b"
