"""Waybill numbers (运单号): carrier prefix + 12 digits + a Damm check digit, e.g. `DE` `483920174655` `9`.

The 12 digits are a keyed permutation of a database counter, so numbers are unique by construction
(a permutation never maps two counters to one number) and a neighbour tells nothing about the next
one: without the carrier's key, number n+1 is as hard to guess as any other unissued number.

**The permutation is FF1** (NIST SP 800-38G, §6.2, Algorithm 7) with radix 10 over the 12 digits:
a balanced Feistel network of two halves of 10^6, 10 rounds, whose round function is AES-256
CBC-MAC over the fixed block P and the block Q that carries the round number and the other half.
The carrier prefix is the FF1 tweak, so one key used under two prefixes still gives unrelated
permutations. `decrypt` inverts it, so support can turn a number back into its counter.

Why FF1, and why by hand (about 60 lines): FF1 is the NIST format-preserving mode that has held
up, and its published samples let the tests prove this code is FF1, not merely "a Feistel network".
No well-kept Python package does it with pyca `cryptography` (the only crypto library we use):
`ff3` implements FF3/FF3-1 (FF3 was broken by Durak and Vaudenay, 2017; FF3-1, its repair, drew
further attacks and NIST's later revision draft proposes dropping it) and needs PyCryptodome; `pyffx` (0.3.0)
is an unmaintained FFX variant over HMAC-SHA1 with no published test vectors; `fpe` (0.1.2,
2021) is a one-off release. With halves of exactly 10^6 no cycle-walking is needed.

The FF1 primitive itself lives in `parcelguard.crypto.fpe`, with the other primitives.

**The check digit is Damm's** (H. M. Damm, *Total anti-symmetrische Quasigruppen*, 2004; the
order-10 table below is the one his dissertation and the literature use) over the 12 digits only.
It detects every single-digit error and every adjacent transposition, the check digit included,
and needs no key, so a terminal or the public lookup can reject a mistyped number at once. The
prefix is letters and is not covered: a wrong prefix is caught by the carrier lookup
(`waybill_prefix` when a prefix is expected). Hand-written too: no maintained package; 10 lines.

Waybill numbers are user information under the 2014 rules (寄递服务用户个人信息安全管理规定), so
no exception message and no `repr` here carries one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from parcelguard.core.errors import Invalid
from parcelguard.crypto.fpe import FF1Decimal

DIGITS = 12
DOMAIN = 10**DIGITS
KEY_BYTES = 32

# The carriers table's `waybill_prefix` (accounts.service.WAYBILL_PREFIX): 2-4 capital letters.
PREFIX = re.compile(r"[A-Z]{2,4}")
_SHAPE = re.compile(r"([A-Z]{2,4})([0-9]{12})([0-9])")
_MAX_INPUT = 64  # longer input is not a waybill number; refuse before normalising it
_IGNORED = re.compile(r"[\s\-]+")

# Stable reason codes (also the `code` of `BadWaybillNumber`).
WAYBILL_FORMAT = "waybill_format"
WAYBILL_CHECK_DIGIT = "waybill_check_digit"
WAYBILL_PREFIX = "waybill_prefix"

_MESSAGES = {
    WAYBILL_FORMAT: "A waybill number is 2-4 capital letters followed by 13 digits.",
    WAYBILL_CHECK_DIGIT: "The waybill number's check digit is wrong: a digit is mistyped or two are swapped.",
    WAYBILL_PREFIX: "The waybill number is not one of this carrier's.",
}


# Damm's totally anti-symmetric quasigroup of order 10 (dissertation, 2004, p. 111): row = interim
# digit, column = next digit. Zero diagonal, so a valid number (check digit included) ends at 0.
_DAMM_TABLE = (
    "0317598642",
    "7092154863",
    "4206871359",
    "1750983426",
    "6123045978",
    "3674209581",
    "5869720134",
    "8945362017",
    "9438617205",
    "2581436790",
)
_DAMM = tuple({str(col): int(row[col]) for col in range(10)} for row in _DAMM_TABLE)


def damm_interim(digits: str) -> int:
    """Damm's interim digit after `digits` (ASCII 0-9): the check digit to append, or 0 when valid."""
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][ch]
    return interim


def damm_check_digit(digits: str) -> str:
    """The Damm check digit of `digits`, e.g. `damm_check_digit("572") == "4"`."""
    return str(damm_interim(digits))


class BadWaybillNumber(Invalid):
    """A malformed waybill number; `code` says why. The message never holds the number."""

    def __init__(self, code: str) -> None:
        super().__init__(_MESSAGES[code], code=code)


class WaybillNumber:
    """A well-formed waybill number. Prints as its kind and prefix only; `.value` is the text."""

    __slots__ = ("check_digit", "digits", "prefix")

    def __init__(self, prefix: str, digits: str, check_digit: str) -> None:
        self.prefix = prefix
        self.digits = digits  # the 12 permuted digits
        self.check_digit = check_digit

    @property
    def value(self) -> str:
        return f"{self.prefix}{self.digits}{self.check_digit}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WaybillNumber) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return f"WaybillNumber({self.prefix!r}, <13 digits>)"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The answer of `check`: `ok`, or the reason code; `waybill` is the normalised number when ok."""

    ok: bool
    reason: str | None = None
    waybill: WaybillNumber | None = field(default=None, repr=False)


def normalise(number: str) -> str:
    """What a person typed, as a waybill number is stored: full-width forms folded (NFKC), spaces and
    hyphens dropped, capitals. May still be malformed; `parse` decides."""
    if not isinstance(number, str):
        raise TypeError("a waybill number is a str")
    if len(number) > _MAX_INPUT:
        raise BadWaybillNumber(WAYBILL_FORMAT)
    text = _IGNORED.sub("", unicodedata.normalize("NFKC", number))
    if not text.isascii():  # before upper(): "ß".upper() is "SS"
        raise BadWaybillNumber(WAYBILL_FORMAT)
    return text.upper()


def parse(number: str, *, prefix: str | None = None) -> WaybillNumber:
    """Check shape, then the Damm check digit, then (if given) the expected carrier prefix.

    Raises `BadWaybillNumber` with code `waybill_format`, `waybill_check_digit` or `waybill_prefix`.
    Needs no key: it cannot tell an issued number from an unissued one.
    """
    match = _SHAPE.fullmatch(normalise(number))
    if match is None:
        raise BadWaybillNumber(WAYBILL_FORMAT)
    found_prefix, digits, check_digit = match.groups()
    if damm_interim(digits + check_digit) != 0:
        raise BadWaybillNumber(WAYBILL_CHECK_DIGIT)
    if prefix is not None and found_prefix != prefix:
        raise BadWaybillNumber(WAYBILL_PREFIX)
    return WaybillNumber(found_prefix, digits, check_digit)


def check(number: str, *, prefix: str | None = None) -> CheckResult:
    """`parse` as an answer instead of an exception."""
    try:
        return CheckResult(ok=True, waybill=parse(number, prefix=prefix))
    except BadWaybillNumber as exc:
        return CheckResult(ok=False, reason=exc.code)


class WaybillNumbers:
    """One carrier's waybill numbers: `format(counter)` and back with `counter_of(number)`.

    `key` is 32 bytes used for nothing else (the caller derives it per carrier); `prefix` is the
    carrier's `waybill_prefix` and the FF1 tweak.
    """

    def __init__(self, key: bytes, prefix: str) -> None:
        if not isinstance(key, bytes):
            raise TypeError("a waybill key is bytes")
        if len(key) != KEY_BYTES:
            raise ValueError(f"a waybill key is {KEY_BYTES} bytes")
        if not isinstance(prefix, str) or PREFIX.fullmatch(prefix) is None:
            raise ValueError("a waybill prefix is 2-4 capital letters")
        self.prefix = prefix
        self._ff1 = FF1Decimal(key, length=DIGITS, tweak=prefix.encode("ascii"))

    def format(self, counter: int) -> str:
        """The waybill number of counter `counter` (0 ≤ counter < 10^12): prefix, 12 digits, check digit."""
        if type(counter) is not int or not 0 <= counter < DOMAIN:
            raise ValueError("a waybill counter is an int in [0, 10**12)")
        digits = f"{self._ff1.encrypt(counter):012d}"
        interim = 0
        for ch in digits:  # damm_interim, inlined: this is the intake's hot path
            interim = _DAMM[interim][ch]
        return f"{self.prefix}{digits}{interim}"

    def counter_of(self, number: str) -> int:
        """The counter a number was made from. Raises `BadWaybillNumber` for a malformed number or one of
        another prefix. Every well-formed number maps to some counter: whether it was issued is the
        database's question."""
        return self._ff1.decrypt(int(parse(number, prefix=self.prefix).digits))

    def __repr__(self) -> str:
        return f"WaybillNumbers(prefix={self.prefix!r})"
