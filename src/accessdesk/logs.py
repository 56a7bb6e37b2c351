"""How accessdesk's processes write their logs: one line per record, whatever a request put in it.

Log lines carry values that came from outside (a path, a header, a Slack user's text, a provider's error). A value
with a newline could forge a line of its own (``\\nCRITICAL accessdesk.audit: forged``), and a terminal escape could
rewrite what an operator sees. Every formatter here escapes control characters in the message (a traceback, added
after the message, keeps its lines), and cuts a message longer than ``LONGEST`` characters. Used by ``accessdesk
serve`` (the app's loggers and uvicorn's), the worker and every other command.

Two formats (``ACCESSDESK_LOG_FORMAT``): ``text`` for people, ``json`` for log pipelines (one object per line, the
traceback one of its fields). A line logged while a request is served names its request id in both.
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

LONGEST = 4000
# ``%(request)s``: " [<request id>]" on a line logged while serving a request, else nothing.
FORMAT = "%(asctime)s %(levelname)s %(name)s%(request)s: %(message)s"
FORMATS = ("text", "json")
request_id_var: ContextVar[str | None] = ContextVar("accessdesk_request_id", default=None)
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


_make_record = logging.getLogRecordFactory()


def _record_with_request(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Every record remembers the request being served when it was made: a handler that formats it later (a
    queue's, pytest's) still names the right one."""
    record = _make_record(*args, **kwargs)
    record.accessdesk_request_id = request_id_var.get()
    return record


logging.setLogRecordFactory(_record_with_request)


def _request_id(record: logging.LogRecord) -> str | None:
    """The request a record was logged for: given with it (``extra={"request_id": …}``), or the one being served
    when it was made."""
    return getattr(record, "request_id", None) or getattr(record, "accessdesk_request_id", None)


class _OneLine(logging.Formatter):
    """Mixed into a formatter: the formatted message (not the traceback after it) is made one line, and says which
    request it was logged for."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        rid = _request_id(record)
        record.request = f" [{rid}]" if rid else ""
        return one_line(super().formatMessage(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (UTC), ``level``, ``logger``, ``message``, ``request_id`` when the record
    was logged for a request, the record's ``fields`` (a dict given as ``extra={"fields": …}``: the access line's
    method, route, status…), and ``exception``, a traceback as one string. ``json.dumps`` escapes every control
    character, so a value from outside cannot break the line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # takes (and ignores) a text format, as uvicorn passes
        super().__init__()

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if len(message) > LONGEST:
            message = f"{message[:LONGEST]}… ({len(message) - LONGEST} more characters)"
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": message,
        }  # fmt: skip
        rid = _request_id(record)
        if rid:
            entry["request_id"] = rid
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update({k: v for k, v in fields.items() if k not in entry})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def formatter(fmt: str = "text") -> logging.Formatter:
    """accessdesk's formatter for ``ACCESSDESK_LOG_FORMAT`` (``text`` or ``json``)."""
    return JsonFormatter() if fmt == "json" else Formatter(FORMAT)


class Formatter(_OneLine, logging.Formatter):
    """accessdesk's own log lines."""


def uvicorn_config(level: str, fmt: str = "text") -> dict[str, Any]:
    """uvicorn's logging configuration, with its formatters made one-line too (its access line holds the path).
    ``serve`` turns uvicorn's access line off: the app writes its own (:mod:`accessdesk.telemetry`)."""
    default = ({"()": f"{__name__}.JsonFormatter"} if fmt == "json" else
               {"()": f"{__name__}.UvicornFormatter", "fmt": FORMAT})  # fmt: skip
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": default,
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


def configure(level: str | int = logging.INFO, fmt: str = "text") -> None:
    """The root logger writes one-line records to stderr (every command), as text or JSON."""
    handler = _Handler()
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_accessdesk", False):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # Alembic announces each of its plugins, and which dialect it drives, at INFO whenever it reads the migrations
    # (db upgrade, db copy, the schema check at start): set-up chatter, not news. "Running upgrade" lines stay.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    migration = logging.getLogger("alembic.runtime.migration")
    if not any(isinstance(f, _AlembicSetUp) for f in migration.filters):
        migration.addFilter(_AlembicSetUp())


class _AlembicSetUp(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(("Context impl", "Will assume")))


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
