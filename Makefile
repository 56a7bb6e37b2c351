# Two entry points (see README): `make run` and `make test`. Everything else is set up on the way, from nothing
# but Python 3.11+: a private uv in .tools/, then the locked dependencies in .venv/.
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_VERSION := 0.13.8
export UV_PROJECT_ENVIRONMENT := .venv
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test bench install

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

install: .venv/.synced

run: .venv/.synced
	.venv/bin/accessdesk db upgrade
	.venv/bin/accessdesk demo
	.venv/bin/accessdesk serve --host 127.0.0.1 --port 8000

test: .venv/.synced
	.venv/bin/pytest -n auto $(PYTEST_ARGS)

bench: .venv/.synced
	.venv/bin/python -m bench.audit_chain
	.venv/bin/python -m bench.approval_queue
	.venv/bin/python -m bench.oauth_throughput
	.venv/bin/python -m bench.slack_ack --db postgresql
	.venv/bin/python -m bench.reminder_sweep
