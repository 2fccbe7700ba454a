"""Phone numbers a person gives (a recipient's, a sender's): checked as real numbers, stored in E.164.

A number is taken when libphonenumber (the `phonenumbers` port) finds it valid: its country, its length
and its range exist in that country's numbering plan. Without a `+` it is read as a mainland number.
`12345` is refused (`phone_too_short`: a mainland mobile has 11 digits, a fixed line its area code
first), as is `14012345678` (`phone_invalid`: 11 digits, but no operator has that range), where the
blind index's normaliser (`crypto.blind_index.normalise_phone`) would put either in E.164 form.

`PhoneRefused.code` says why, in stable codes (docs/intake.md, "Phone numbers"); its message is fixed
text and never repeats the number.
"""

from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import NumberParseException, ValidationResult

# Nearly every number is a mainland mobile (1, then 3-9, then 9 digits). Whether one is valid depends
# on its first digits only (the operator's range; libphonenumber's patterns for them look at five at
# most), so the answer for each seven-digit head is computed once. tests/core/test_phones.py checks the
# shortcut against the full parser.
_CN_MOBILE = re.compile(r"(?:\+86)?(1[3-9]\d{9})")
_HEAD = 7

MAX_LENGTH = 32

MESSAGES = {
    "phone_missing": "Give a phone number.",
    "phone_format": "Not a phone number: use digits, with + and the country code for a number outside the "
                    "mainland.",
    "phone_country_unknown": "No country has this calling code.",
    "phone_too_short": "Too short for a phone number: a mainland mobile has 11 digits, a fixed line its area "
                       "code first (010 for Beijing).",
    "phone_too_long": "Too long for a phone number of this country.",
    "phone_length": "This country has no phone numbers of this length.",
    "phone_invalid": "No such number: the digits fit no range of the country's numbering plan.",
    "phone_extension": "Give the number without an extension: calls go through a virtual number.",
}


class PhoneRefused(ValueError):
    """Why a phone number was refused (`code`, one of `MESSAGES`), never the number."""

    def __init__(self, code: str) -> None:
        super().__init__(MESSAGES[code])
        self.code = code
        self.detail = MESSAGES[code]


def check_phone(value: str) -> str:
    """The number in E.164 (`+8613812345678`) if it is a real one, else raise `PhoneRefused`."""
    value = value.strip()
    if not value:
        raise PhoneRefused("phone_missing")
    if len(value) > MAX_LENGTH:
        raise PhoneRefused("phone_too_long")
    mobile = _CN_MOBILE.fullmatch(value)
    if mobile is not None:
        if not _mobile_head_valid(mobile[1][:_HEAD]):
            raise PhoneRefused("phone_invalid")
        return "+86" + mobile[1]
    return _full_check(value)


@functools.lru_cache(maxsize=8192)
def _mobile_head_valid(head: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.parse(head + "0" * (11 - len(head)), "CN"))


_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: "phone_country_unknown",
    NumberParseException.TOO_SHORT_AFTER_IDD: "phone_too_short",
    NumberParseException.TOO_SHORT_NSN: "phone_too_short",
    NumberParseException.TOO_LONG: "phone_too_long",
}

_LENGTH_ERRORS = {
    ValidationResult.INVALID_COUNTRY_CODE: "phone_country_unknown",
    ValidationResult.TOO_SHORT: "phone_too_short",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "phone_too_short",  # a local number without its area code
    ValidationResult.TOO_LONG: "phone_too_long",
    ValidationResult.INVALID_LENGTH: "phone_length",
}


def _full_check(value: str) -> str:
    try:
        parsed = phonenumbers.parse(value, "CN")
    except NumberParseException as exc:
        raise PhoneRefused(_PARSE_ERRORS.get(exc.error_type, "phone_format")) from None
    if parsed.extension:
        raise PhoneRefused("phone_extension")
    possible = phonenumbers.is_possible_number_with_reason(parsed)
    if possible != ValidationResult.IS_POSSIBLE:
        raise PhoneRefused(_LENGTH_ERRORS.get(possible, "phone_length"))
    if not phonenumbers.is_valid_number(parsed):
        raise PhoneRefused("phone_invalid")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
