"""How accessdesk's processes write their logs: one line per record, whatever a request put in it.

Log lines carry values that came from outside (a path, a header, a Slack user's text, a provider's error). A value
with a newline could forge a line of its own (``\\nCRITICAL accessdesk.audit: forged``), and a terminal escape could
rewrite what an operator sees. Every formatter here escapes control characters in the message (a traceback, added
after the message, keeps its lines), and cuts a message longer than ``LONGEST`` characters. Used by ``accessdesk
serve`` (the app's loggers and uvicorn's), the worker and every other command.
"""

from __future__ import annotations

import logging
import re
from typing import Any, TextIO

LONGEST = 4000
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char, f"\\x{ord(char):02x}" if ord(char) < 0x100 else
                                                        f"\\u{ord(char):04x}")  # fmt: skip


def one_line(text: str, longest: int = LONGEST) -> str:
    """``text`` as one log line: control characters escaped, at most ``longest`` characters (and a count of the
    rest)."""
    line = _CONTROL.sub(_escaped, text)
    if len(line) > longest:
        line = f"{line[:longest]}… ({len(line) - longest} more characters)"
    return line


class _OneLine(logging.Formatter):
    """Mixed into a formatter: the formatted message (not the traceback after it) is made one line."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        return one_line(super().formatMessage(record))


class Formatter(_OneLine, logging.Formatter):
    """accessdesk's own log lines."""


def uvicorn_config(level: str) -> dict[str, Any]:
    """uvicorn's logging configuration, with its formatters made one-line too (its access line holds the path)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {"()": f"{__name__}.UvicornFormatter", "fmt": FORMAT},
            "access": {"()": f"{__name__}.UvicornAccessFormatter",
                       "fmt": '%(asctime)s %(levelname)s %(name)s: %(client_addr)s - "%(request_line)s" %(status_code)s'},
        },  # fmt: skip
        "handlers": {
            "default": {"formatter": "default", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
            "access": {"formatter": "access", "class": "logging.StreamHandler", "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
            # The app's own loggers: the root logger, through the same kind of handler.
            "": {"handlers": ["default"], "level": level},
        },
    }


class _Handler(logging.StreamHandler[TextIO]):
    """The root logger's handler that :func:`configure` installs, and replaces when called again."""

    _accessdesk = True


def configure(level: str | int = logging.INFO) -> None:
    """The root logger writes one-line records to stderr (every command)."""
    handler = _Handler()
    handler.setFormatter(Formatter(FORMAT))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_accessdesk", False):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # Alembic announces each of its plugins at INFO whenever it reads the migrations (db upgrade, the schema check
    # at start): set-up chatter, not news.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def _uvicorn_formatters() -> tuple[type[logging.Formatter], type[logging.Formatter]]:
    from uvicorn.logging import AccessFormatter, DefaultFormatter

    class Default(_OneLine, DefaultFormatter):
        pass

    class Access(_OneLine, AccessFormatter):
        pass

    return Default, Access


def UvicornFormatter(**kwargs: Any) -> logging.Formatter:  # noqa: N802 - named as the class it builds
    return _uvicorn_formatters()[0](**{"use_colors": False, **kwargs})


def UvicornAccessFormatter(**kwargs: Any) -> logging.Formatter:  # noqa: N802
    return _uvicorn_formatters()[1](**{"use_colors": False, **kwargs})
