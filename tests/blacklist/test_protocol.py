"""The wire format's pure parts: the same document typed any way is one keyed hash; evidence references hold
no personal data; a signed report round-trips and verifies."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcelguard.blacklist import protocol
from parcelguard.core.clock import now
from parcelguard.crypto import signing
from parcelguard.identity import documents
from parcelguard.identity.documents import id_check_character

KEY = bytes(range(160, 192))


def person(typed: str, doc_type: str | None = None) -> bytes:
    return protocol.person_hash(KEY, documents.parse(typed, doc_type).index_key)


@st.composite
def citizen_numbers(draw: st.DrawFn) -> str:
    """A valid 18-digit resident ID of someone born 1900-1999 (so it has a 15-digit form too)."""
    region = draw(st.sampled_from(["110105", "310115", "440305", "510107", "650102"]))
    born = date(1900, 1, 1) + timedelta(days=draw(st.integers(0, 36523)))
    body = f"{region}{born:%Y%m%d}{draw(st.integers(0, 999)):03d}"
    return body + id_check_character(body)


def _spaced(number: str, cuts: list[int]) -> str:
    out, last = [], 0
    for cut in sorted(set(cuts)):
        out.append(number[last:cut])
        last = cut
    return " ".join([*out, number[last:]])


@settings(max_examples=300, deadline=None)
@given(number=citizen_numbers(), cuts=st.lists(st.integers(1, 17), max_size=4), full_width=st.booleans(),
       lower=st.booleans(), typed_as=st.sampled_from([None, "resident_id", "temporary_resident_id"]))
def test_the_same_document_typed_any_way_is_one_keyed_hash(
    number: str, cuts: list[int], full_width: bool, lower: bool, typed_as: str | None,
) -> None:
    canonical = person(number)
    typed = _spaced(number, cuts)
    if lower:
        typed = typed.lower()
    if full_width:  # the way a Chinese input method types digits and letters
        typed = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else "\u3000" for c in typed)
        assert unicodedata.normalize("NFKC", typed).replace(" ", "").upper() == number
    assert person(typed, typed_as) == canonical
    short = number[:6] + number[8:17]  # the first-generation (GB 11643-1989) 15-digit number
    assert person(short) == canonical
    assert len(canonical) == 32 and number.encode() not in canonical


@settings(max_examples=100, deadline=None)
@given(a=citizen_numbers(), b=citizen_numbers())
def test_different_documents_hash_apart_and_the_key_matters(a: str, b: str) -> None:
    assert (person(a) == person(b)) == (a == b)
    other_key = bytes(32)
    assert protocol.person_hash(other_key, documents.parse(a).index_key) != person(a)


@pytest.mark.parametrize(("ref", "code"), [
    ("CASE-2026-0042", None),
    ("2f1c9d4e-1111-4222-8333-123456789012", None),  # a UUID whose last group is all digits
    ("case:2026/07#3", None),
    ("ID-11010519491231002X", "evidence_ref_personal"),
    ("phone13912345678", "evidence_ref_personal"),
    ("欧阳内鬼", "evidence_ref_format"),
    ("has space", "evidence_ref_format"),
    ("", "evidence_ref_format"),
    ("x" * 65, "evidence_ref_format"),
])
def test_an_evidence_reference_is_a_case_id_never_personal_data(ref: str, code: str | None) -> None:
    if code is None:
        assert protocol.check_evidence_ref(ref) == ref
        return
    with pytest.raises(protocol.ProtocolError) as refused:
        protocol.check_evidence_ref(ref)
    assert refused.value.code == code and (not ref or ref not in refused.value.detail)


def test_a_signed_report_round_trips_and_verifies_only_as_sent() -> None:
    seed, public = signing.generate()
    report = protocol.Report(carrier="demo", key_id=signing.key_id(public), entry_id=uuid.uuid4(),
                             person=person("11010519491231002X"), reason_code="sold_user_data",
                             evidence_ref="CASE-1", reported_at=now())
    wire = report.signed(lambda m: signing.sign(seed, m))
    parsed, signature = protocol.parse_report(wire)
    assert parsed == report and "person" not in repr(parsed).replace("Report(", "")
    parsed.verify(signature, public)
    for member, value in (("entry_id", str(uuid.uuid4())), ("entry_id", wire["entry_id"].upper()),
                          ("evidence_ref", "CASE-2")):
        with pytest.raises(protocol.ProtocolError) as refused:
            altered, sig = protocol.parse_report({**wire, member: value})
            altered.verify(sig, public)
        assert refused.value.code in ("request_signature", "uuid_format")
