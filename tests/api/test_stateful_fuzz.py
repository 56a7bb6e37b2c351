"""Stateful fuzzing: schemathesis follows the OpenAPI document's links (api/links.py) from one answer to the next
call — a created nomination to its decisions, a registered model to its release move, a grant to its usability —
so sequences of calls reach rows that exist. Every answer must be no server error and must match the document
(``response_schema_conformance``). Bounded: a few short scenarios, derandomized, per database.

The app is served as in test_fuzz.py (which says why ``from_fixture`` is not used)."""

from __future__ import annotations

from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from accessdesk.api.links import linked_schema
from tests.support.api import as_enforced

STATEFUL = hypothesis.settings(max_examples=12, stateful_step_count=6, deadline=None, derandomize=True,
                               database=None, phases=[Phase.explicit, Phase.generate],
                               suppress_health_check=list(HealthCheck))  # fmt: skip


def test_linked_sequences_of_calls_never_fail_and_match_the_document(served):
    app, identities, _ = served
    schema = schemathesis.openapi.from_dict(as_enforced(linked_schema(app)))
    schema.app = app
    schema.config.generation.update(with_security_parameters=False)
    links = sum(len(r.get("links", {})) for item in schema.raw_schema["paths"].values() for op in item.values()
                if isinstance(op, dict) for r in op.get("responses", {}).values())  # fmt: skip
    assert links >= 40, links
    machine: Any = schema.as_state_machine()  # a class made at run time: mypy takes no variable as a base class

    class AsTheGovernment(machine):
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": dict(identities[0])}

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    run_state_machine_as_test(AsTheGovernment, settings=STATEFUL)
