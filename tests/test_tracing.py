"""OpenTelemetry tracing (``ACCESSDESK_OTEL=true``, the ``otel`` extra): every request is a span, exported over
OTLP/HTTP to the collector the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` names. The collector here is a loopback
HTTP server that keeps what it is sent; the spans are read back with OpenTelemetry's own protobuf classes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from litestar.testing import AsyncTestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from accessdesk.app import create_app
from accessdesk.settings import Settings
from tests.support.api import app_engine, url_of


class Collector(ThreadingHTTPServer):
    def __init__(self) -> None:
        self.received: list[tuple[str, bytes]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                body = self.rfile.read(int(self.headers["content-length"]))
                owner.received.append((self.path, body))
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        owner = self
        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


async def test_every_request_is_a_span_exported_to_the_collector(engine, collector):
    served = app_engine(url_of(engine))
    app = create_app(Settings(database_url=url_of(engine), otel=True), engine=served, embedded_worker=False)
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/oauth/jwks")).status_code == 200
        assert (await client.get("/no/such/page")).status_code == 404
    await served.dispose()
    # The app's shutdown flushed the batch: the spans are at the collector now.
    spans = []
    for path, body in collector.received:
        assert path == "/v1/traces"
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource.resource.attributes}["service.name"]
            assert service == "accessdesk"
            spans += [span for scope in resource.scope_spans for span in scope.spans]
    servers = {span.name: {a.key: a.value for a in span.attributes} for span in spans if span.kind == 2}  # SERVER
    # Named by route template and method; a request no route answered by its method only (no path, no ids).
    assert set(servers) == {"GET /oauth/jwks", "GET"}, list(servers)
    assert servers["GET /oauth/jwks"]["http.route"].string_value == "/oauth/jwks"
    assert servers["GET"]["http.status_code"].int_value == 404 and "http.route" not in servers["GET"]
