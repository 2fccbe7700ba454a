"""Phone numbers are checked as real numbers, with the reason for a refusal (issue 18)."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from parcelguard.core import phones
from parcelguard.core.phones import PhoneRefused, check_phone


@pytest.mark.parametrize(("typed", "stored"), [
    ("13812345678", "+8613812345678"),
    ("+8613812345678", "+8613812345678"),
    ("+86 138 1234 5678", "+8613812345678"),
    ("19912345678", "+8619912345678"),
    ("010-65529988", "+861065529988"),      # a Beijing fixed line with its area code
    ("+86 571 8888 0001", "+8657188880001"),
    ("+852 2123 4567", "+85221234567"),     # Hong Kong
    ("+44 20 7946 0958", "+442079460958"),
    ("+1 415 555 0123", "+14155550123"),
])
def test_real_numbers_are_stored_in_e164(typed: str, stored: str) -> None:
    assert check_phone(typed) == stored


@pytest.mark.parametrize(("typed", "code"), [
    ("12345", "phone_too_short"),           # stored as +8612345 before issue 18
    ("+8612345", "phone_too_short"),
    ("6552 9988", "phone_invalid"),         # a Beijing number without its area code
    ("12", "phone_too_short"),
    ("14012345678", "phone_invalid"),       # 11 digits, but no operator has the 140 range
    ("12012345678", "phone_invalid"),
    ("+86 138 1234 56789", "phone_invalid"),  # a mobile with a digit too many
    ("+44 20 7946 0958 1234 5678", "phone_too_long"),
    ("+999 1234 5678", "phone_country_unknown"),
    ("call me", "phone_format"),
    ("", "phone_missing"),
    ("   ", "phone_missing"),
    ("010-65529988 ext. 12", "phone_extension"),
    ("1" * 40, "phone_too_long"),
])
def test_numbers_that_are_not_real_are_refused_with_the_reason(typed: str, code: str) -> None:
    with pytest.raises(PhoneRefused) as caught:
        check_phone(typed)
    assert caught.value.code == code and str(caught.value) == phones.MESSAGES[code]


def answer(check, number: str) -> str:  # type: ignore[no-untyped-def]
    try:
        return check(number)  # type: ignore[no-any-return]
    except PhoneRefused as refused:
        return refused.code


mainland_mobiles = st.from_regex(r"\A(\+86)?1[3-9][0-9]{9}\Z")


@given(mainland_mobiles)
def test_the_mobile_shortcut_answers_as_the_full_parser(number: str) -> None:
    assert answer(check_phone, number) == answer(phones._full_check, number)


def test_every_five_digit_mobile_range_answers_as_the_full_parser() -> None:
    # libphonenumber's mobile ranges look at five digits at most; the shortcut keys on seven.
    for head in range(13000, 20000):
        for tail in ("000000", "999999", "504817"):
            number = f"{head}{tail}"
            assert answer(check_phone, number) == answer(phones._full_check, number), number


@given(st.text(max_size=40))
def test_any_text_is_a_real_number_or_a_reason_never_an_echo(text: str) -> None:
    try:
        stored = check_phone(text)
    except PhoneRefused as refused:
        assert refused.code in phones.MESSAGES
        digits = re.sub(r"\D", "", text)
        assert len(digits) < 4 or digits not in re.sub(r"\D", "", str(refused))
    else:
        assert re.fullmatch(r"\+[1-9][0-9]{4,14}", stored)
        assert phonenumbers.is_valid_number(phonenumbers.parse(stored))
        assert check_phone(stored) == stored
