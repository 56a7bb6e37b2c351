"""Property-based fuzzing of every operation in the app's own OpenAPI document: whatever a client sends, valid by
the schema or not, the answer is never a server error (schemathesis' ``not_a_server_error`` check).

Why not ``@schema.parametrize()``: the app must stand on the test database the ``database`` fixture gives (so the
fuzz runs on SQLite and PostgreSQL like every other test), which needs schemathesis' lazy loader
``schemathesis.pytest.from_fixture``, and that loader does not work with the pytest in this venv (it sets
``node._nodeid``, which pytest 9.2 no longer has). So the test loads the schema itself and drives each operation's
schemathesis strategies with Hypothesis, positive and negative data alike, collecting every failure before
reporting. The app is served from schemathesis' own event-loop thread; its engine has no pool (``app_engine``).
"""

from __future__ import annotations

import os
import re
from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from accessdesk.api.links import linked_schema
from tests.support.api import as_enforced

Known = dict[str, list[str]]
Identities = list[dict[str, str]]
PATH_PARAMETER = re.compile(r"{(\w+)}")

# Bounded so that the whole run (about 40 operations × 2 kinds of data × 2 databases) stays under a minute on two
# cores. derandomize: the same cases on every run, so a failure here is reproducible, never a flake.
EXAMPLES_PER_OPERATION = int(os.environ.get("ACCESSDESK_FUZZ_EXAMPLES", "12"))
FUZZ = hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)


def cases(operation: Any, mode: GenerationMode, known: Known) -> st.SearchStrategy[schemathesis.Case]:
    """Generated cases, half of them aimed at rows that exist: random ids only ever reach a 404, while the
    interesting code runs behind an id that is found."""
    generated = operation.as_strategy(generation_mode=mode)
    in_path = [name for name in PATH_PARAMETER.findall(operation.path) if name in known]
    if in_path:
        existing = st.fixed_dictionaries({name: st.sampled_from(known[name]) for name in in_path})
        generated = st.one_of(generated, existing.flatmap(
            lambda ids: operation.as_strategy(generation_mode=mode, path_parameters=ids)))
    swaps = st.fixed_dictionaries({name: st.sampled_from([None, *known[name]]) for name in ("model_id", "organisation_id")})
    return st.tuples(generated, swaps).map(lambda pair: aimed(*pair))


def aimed(case: schemathesis.Case, swaps: dict[str, str | None]) -> schemathesis.Case:
    """Point ids in the body and query at existing rows, where the case has them and the draw says so."""
    for where in ("body", "query"):
        values = getattr(case, where)
        if isinstance(values, dict):
            setattr(case, where, {**values, **{k: v for k, v in swaps.items() if v is not None and k in values}})
    return case


def fuzz(operation: Any, mode: GenerationMode, identities: Identities, known: Known) -> None:
    @hypothesis.given(case=cases(operation, mode, known), headers=st.sampled_from(identities))
    @FUZZ
    def no_server_error(case: schemathesis.Case, headers: dict[str, str]) -> None:
        response = case.call(headers=dict(headers))  # call() adds its own headers to the dict it is given
        case.validate_response(response, checks=[not_a_server_error])

    no_server_error()


def test_no_request_makes_the_server_fail(served):
    app, identities, known = served
    schema = schemathesis.openapi.from_dict(as_enforced(linked_schema(app)))
    schema.app = app  # what from_asgi does: requests go to the app in-process
    # Authentication is tested on its own (test_health_and_auth); here every case carries a valid token.
    schema.config.generation.update(with_security_parameters=False)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # every operation in the document must load
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz(operation, mode, identities, known)
            except hypothesis.errors.Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE, operation.label  # nothing to break in /healthz, /me, ...
            except Exception as exc:  # noqa: BLE001 - every failing operation is reported, not just the first
                failures.append(f"{operation.label} ({mode.value} data):\n{exc}")
    assert operations >= 38, f"the schema lost operations: {operations}"
    assert not failures, "server errors:\n\n" + "\n\n".join(failures)
