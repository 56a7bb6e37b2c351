# accessdesk's container image: the wheel built in one stage, installed in a slim one that runs it as a user who owns
# nothing of the code.
#
#   docker build -t accessdesk .
#   docker run --rm -p 8000:8000 accessdesk                 # `accessdesk serve` on 0.0.0.0:8000
#   docker run --rm --no-healthcheck accessdesk worker      # any other command: `accessdesk <command>`
#
# Where no registry or index is reachable: make a base image from Debian's packages (deploy/base-image.sh) and
# the wheels beforehand (deploy/wheelhouse.sh, into var/wheelhouse), then
#   docker build --network host --build-arg BASE=accessdesk-base:bookworm -t accessdesk .
# No BuildKit-only syntax: the classic builder builds it too. Any Debian bookworm image with python3 (3.11) and venv will do.
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS build
ARG UV_VERSION=0.13.8
# Optional extras of the package, space separated: "otel" adds OpenTelemetry tracing (ACCESSDESK_OTEL).
ARG EXTRAS=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 UV_NO_CACHE=1 UV_PYTHON_DOWNLOADS=never
# var/wheelhouse, when the context has it (uv.lock is only there so that the COPY has a source when it does not).
COPY uv.lock var/wheelhouse* /wheels/
RUN set -eu; \
    if ls /wheels/*.whl >/dev/null 2>&1; then echo "--no-index --find-links /wheels" >/wheels/.from; \
    else : >/wheels/.from; fi; \
    python3 -m venv /opt/uv; \
    /opt/uv/bin/pip install $(cat /wheels/.from) "uv==${UV_VERSION}"
WORKDIR /src
# The locked dependencies first, in a layer of their own: a change to the code alone does not reinstall them.
COPY pyproject.toml uv.lock ./
RUN set -eu; \
    /opt/uv/bin/uv export --quiet --frozen --no-dev --no-emit-project $(for e in $EXTRAS; do echo "--extra $e"; done) \
        --format requirements.txt -o /tmp/requirements.txt; \
    /opt/uv/bin/uv venv --quiet --python python3 /opt/accessdesk; \
    /opt/uv/bin/uv pip install --quiet --compile-bytecode --python /opt/accessdesk/bin/python --require-hashes \
        $(cat /wheels/.from) -r /tmp/requirements.txt
COPY README.md ./
COPY src src
COPY bots bots
COPY migrations migrations
COPY templates templates
RUN set -eu; \
    /opt/uv/bin/uv build --quiet --wheel --out-dir /dist $(cat /wheels/.from); \
    /opt/uv/bin/uv pip install --quiet --compile-bytecode --python /opt/accessdesk/bin/python --no-deps \
        /dist/accessdesk-*.whl; \
    /opt/accessdesk/bin/accessdesk --version

FROM ${BASE}
# A system user with a home for the embedded SQLite default (./var), owning none of the installed code.
RUN groupadd --system --gid 10001 accessdesk \
    && useradd --system --uid 10001 --gid accessdesk --home-dir /var/lib/accessdesk --create-home \
        --shell /usr/sbin/nologin accessdesk
# Compiled at install (--compile-bytecode): the runtime user may not write bytecode (PYTHONDONTWRITEBYTECODE, and
# it owns none of the code), and would otherwise compile every module at every start of every process.
COPY --from=build /opt/accessdesk /opt/accessdesk
COPY deploy/healthcheck.py /opt/accessdesk/healthcheck.py
ENV PATH=/opt/accessdesk/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER accessdesk:accessdesk
WORKDIR /var/lib/accessdesk
EXPOSE 8000
# Ready, not merely up: /readyz, asked with Python's standard library (no curl here).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["python3", "/opt/accessdesk/healthcheck.py"]
ENTRYPOINT ["accessdesk"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
