"""The log redacts anything shaped like an ID number or a mobile number, exception text included."""

from __future__ import annotations

import io
import json
import logging
import uuid

from hypothesis import given
from hypothesis import strategies as st

from parcelguard.core.logging import configure, get_logger, redact_text

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)
id_18 = st.builds(lambda body, last: body + last, st.text("0123456789", min_size=17, max_size=17),
                  st.sampled_from("0123456789Xx"))
id_15 = st.text("0123456789", min_size=15, max_size=15)
mobile = st.builds(lambda rest: "1" + rest, st.text("0123456789", min_size=10, max_size=10))
around = st.text(alphabet=st.characters(blacklist_categories=("Nd",), blacklist_characters="Xx"), max_size=20)


@given(before=around, secret=st.one_of(id_18, id_15, mobile), after=around)
def test_an_id_or_mobile_number_anywhere_in_text_is_redacted(before: str, secret: str, after: str) -> None:
    redacted = redact_text(before + secret + after)
    assert secret not in redacted
    assert "[REDACTED-" in redacted


def test_grouped_and_prefixed_forms_are_redacted_too() -> None:
    for text in ("110105 19491231 002X", "+86 138 1234 5678", "138-1234-5678", "+8613812345678"):
        assert "[REDACTED-" in redact_text(f"value {text}."), text


def test_numbers_of_other_lengths_are_left_alone() -> None:
    text = "waybill DE4829173645 counted 1234567 items in 2026"
    assert redact_text(text) == text


def test_exception_text_and_nested_values_are_redacted_in_the_rendered_line() -> None:
    stream = io.StringIO()
    configure("info", stream=stream)
    try:
        try:
            raise ValueError("bad sender 11010519491231002X phone 13812345678")
        except ValueError:
            get_logger("test").exception("failed", body={"phone": ["13812345678"]})
        logging.getLogger("uvicorn.error").error("stdlib says 11010519491231002X")
    finally:
        configure("info")
    out = stream.getvalue()
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["event"] == "failed" and "ValueError" in lines[0]["exception"]
    assert lines[1]["event"].startswith("stdlib says")
    assert "11010519491231002X" not in out and "13812345678" not in out


@given(st.uuids())
def test_identifiers_are_logged_whole_and_a_phone_beside_one_is_still_redacted(value: uuid.UUID) -> None:
    """A UUID's or a request id's digits can look like a mobile number by chance; the id stays whole (a
    registration id seen as `...-d13164912696` was once cut), what stands beside it is still redacted."""
    for ident in (str(value), value.hex):
        assert redact_text(f"id={ident}") == f"id={ident}"
        assert redact_text(f"{ident} 13912345678") == f"{ident} [REDACTED-PHONE]"
    assert redact_text("0c6a2f1e-0b1d-4c3e-9a7b-d13164912696") == "0c6a2f1e-0b1d-4c3e-9a7b-d13164912696"
