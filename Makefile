# Two entry points (see README): `make run` and `make test`. Everything else is set up on the way, from nothing
# but Python 3.11+: a private uv in .tools/, then the locked dependencies in .venv/.
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_VERSION := 0.13.8
export UV_PROJECT_ENVIRONMENT := .venv
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test bench install chromium docker

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --compile-bytecode: every process (the server, the worker, each CLI command, each test's subprocess) then loads
# the dependencies' bytecode instead of compiling them from source, which environments with PYTHONDONTWRITEBYTECODE
# (containers, CI images) would otherwise do at every start: `import accessdesk.app` 3.0 s -> 1.4 s here.
.venv/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	touch $@

install: .venv/.synced

run: .venv/.synced
	.venv/bin/accessdesk db upgrade
	.venv/bin/accessdesk demo
	.venv/bin/accessdesk serve --host 127.0.0.1 --port 8000

# npm's oidc-provider, the identity provider the sign-in tests run against. Without npm (or without a registry to
# install from) those tests skip and say why, except in CI (CI=true), where that is a failure.
node_modules/.package-lock.json: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund || { echo "npm ci failed: the sign-in tests will skip"; test -z "$$CI"; }; \
	else \
		echo "npm not found: the sign-in tests will skip (install Node.js 20 and npm)"; test -z "$$CI"; \
	fi

# Debian's Chromium, the browser the console's browser tests drive (never a browser Playwright downloads).
# Installed where this machine allows it (root with apt-get); otherwise those tests skip and say how, except in CI.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the browser tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
			|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
			|| { echo "could not install chromium: the browser tests will skip"; test -z "$$CI"; }; \
	else \
		echo "no $(CHROMIUM): the browser tests will skip (as root: apt-get install -y chromium)"; test -z "$$CI"; \
	fi

# Debian's docker.io and debootstrap, for the container test (tests/test_container.py), which starts dockerd itself
# (host networking only) and makes its base image from Debian's packages. Installed where this machine allows it
# (root with apt-get); otherwise that test skips and says how, except in CI.
docker:
	@missing=""; \
	docker info >/dev/null 2>&1 || command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ] || missing="docker.io"; \
	command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing="$${missing:+$$missing }debootstrap"; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's $$missing for the container test"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null 2>&1 \
			|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; } \
			|| { echo "could not install $$missing: the container test will skip"; test -z "$$CI"; }; \
	else \
		echo "no $$missing: the container test will skip (as root: apt-get install -y $$missing)"; test -z "$$CI"; \
	fi

# Our own code compiled too (the tests start many accessdesk processes; an unchanged file is not compiled again).
test: .venv/.synced node_modules/.package-lock.json chromium docker
	.venv/bin/python -m compileall -q src bots
	.venv/bin/pytest -n auto $(PYTEST_ARGS)

bench: .venv/.synced node_modules/.package-lock.json
	.venv/bin/python -m bench.audit_chain
	.venv/bin/python -m bench.approval_queue
	.venv/bin/python -m bench.oauth_throughput
	.venv/bin/python -m bench.oauth_throughput --db sqlite
	.venv/bin/python -m bench.oauth_throughput --scaling 2
	.venv/bin/python -m bench.oauth_vs_peer
	.venv/bin/python -m bench.oauth_cpu
	.venv/bin/python -m bench.slack_ack --db postgresql
	.venv/bin/python -m bench.reminder_sweep
	.venv/bin/python -m bench.cohort
