"""Log lines are one line each, whatever a request put in them (issue 11: log injection)."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time

import httpx

from accessdesk import logs

FORGED = "look\nCRITICAL 2026-12-03 accessdesk.audit: forged\r\x1b[2Jcleared"


def test_a_message_with_newlines_and_escapes_stays_one_line() -> None:
    record = logging.LogRecord("accessdesk.test", logging.WARNING, __file__, 1, "refused %s", (FORGED,), None)
    line = logs.Formatter(logs.FORMAT).format(record)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert "look\\nCRITICAL 2026-12-03 accessdesk.audit: forged\\r\\x1b[2Jcleared" in line


def test_a_huge_message_is_cut_and_says_how_much() -> None:
    line = logs.one_line("x" * 10_000)
    assert len(line) < logs.LONGEST + 50 and line.endswith("(6000 more characters)")


def test_a_traceback_keeps_its_lines_after_a_one_line_message() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("accessdesk.test", logging.ERROR, __file__, 1, "failed on %s", ("/a\nb",),
                                   sys.exc_info())  # fmt: skip
    text = logs.Formatter(logs.FORMAT).format(record)
    first, *rest = text.split("\n")
    assert first.endswith("failed on /a\\nb") and rest[0] == "Traceback (most recent call last):"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_served_app_logs_an_injected_path_on_one_line(tmp_path) -> None:
    """``accessdesk serve`` as an operator runs it: uvicorn's access line holds the path, decoded (``%0A`` is a
    newline); it must still be one line."""
    port = _free_port()
    env = {**os.environ, "ACCESSDESK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/d.db", "ACCESSDESK_ENV": "development"}
    subprocess.run([sys.executable, "-m", "accessdesk.cli", "db", "upgrade"], env=env, check=True, capture_output=True,
                   timeout=120)  # fmt: skip
    server = subprocess.Popen([sys.executable, "-m", "accessdesk.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        forged = "/nothing%0ACRITICAL%20accessdesk.audit:%20forged%0D%1B[2J"
        assert httpx.get(f"http://127.0.0.1:{port}{forged}", timeout=5).status_code == 404
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    lines = output.splitlines()
    assert any("/nothing" in line and "forged" in line for line in lines), output  # escaped or quoted, one line
    assert not any(line.startswith("CRITICAL") for line in lines) and "\x1b" not in output, output
    assert all(line[:4].isdigit() or line.startswith(("/", " ")) for line in lines if line), output


def _python_warning(line: str) -> bool:
    """A line the interpreter's warnings module writes (a dependency's deprecation), not a log record."""
    return line.startswith(("/", " "))


def test_served_with_the_json_format_every_record_is_one_json_object(tmp_path) -> None:
    """``ACCESSDESK_LOG_FORMAT=json``: uvicorn's lines and the app's, each one object per line; the access line is
    the app's own (request id, route, status, duration), uvicorn's is off."""
    port = _free_port()
    env = {**os.environ, "ACCESSDESK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/d.db",
           "ACCESSDESK_ENV": "development", "ACCESSDESK_LOG_FORMAT": "json"}  # fmt: skip
    subprocess.run([sys.executable, "-m", "accessdesk.cli", "db", "upgrade"], env=env, check=True, capture_output=True,
                   timeout=120)  # fmt: skip
    server = subprocess.Popen([sys.executable, "-m", "accessdesk.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", headers={"X-Request-ID": "ops-7"}, timeout=5).is_success
        forged = "/nothing%0A%7B%22level%22:%22CRITICAL%22%7D"
        assert httpx.get(f"http://127.0.0.1:{port}{forged}", timeout=5).status_code == 404
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    records = [json.loads(line) for line in output.splitlines() if line and not _python_warning(line)]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records), output
    assert not any(r["logger"] == "uvicorn.access" for r in records), output
    [ready] = [r for r in records if r.get("route") == "/readyz"]
    assert ready["request_id"] == "ops-7" and ready["status"] == 200 and ready["logger"] == "accessdesk.access"
    [nothing] = [r for r in records if r.get("status") == 404]
    assert nothing["path"] == '/nothing\n{"level":"CRITICAL"}' and nothing["route"] == "<unmatched>"
    assert any(r["logger"] == "uvicorn.error" and "Application startup complete" in r["message"] for r in records)
