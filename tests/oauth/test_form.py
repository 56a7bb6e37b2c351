"""The endpoints read form bodies with their own parser (it is on every request's path): it must read exactly what
the standard library's does."""

from __future__ import annotations

from urllib.parse import parse_qsl

from hypothesis import given, settings
from hypothesis import strategies as st

from accessdesk.oauth.presented import form_pairs

FORMISH = st.text(st.sampled_from(list("az09=&%+;2Fé ")))


@settings(max_examples=2000, deadline=None)
@given(FORMISH | st.text())
def test_form_pairs_reads_what_parse_qsl_reads(text: str) -> None:
    assert form_pairs(text) == parse_qsl(text, keep_blank_values=True)


def test_form_pairs_on_what_clients_send() -> None:
    body = "grant_type=client_credentials&scope=model%3Aatlas%3Ainvoke+model%3Aatlas%3Aeval&client_id=&flag"
    assert form_pairs(body) == [("grant_type", "client_credentials"),
                                ("scope", "model:atlas:invoke model:atlas:eval"), ("client_id", ""), ("flag", "")]  # fmt: skip
