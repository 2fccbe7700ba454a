"""Waybill numbers without a database: FF1 known answers, bijection, Damm's guarantees, parsing."""

from __future__ import annotations

import itertools
import re
import threading
import traceback
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcelguard.accounts.service import WAYBILL_PREFIX as CARRIER_PREFIX
from parcelguard.core.errors import Invalid
from parcelguard.crypto.fpe import FF1Decimal
from parcelguard.waybills import numbers
from parcelguard.waybills.numbers import (
    DOMAIN,
    BadWaybillNumber,
    WaybillNumber,
    WaybillNumbers,
    check,
    damm_check_digit,
    damm_interim,
    normalise,
    parse,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(100, 132))
DE = WaybillNumbers(KEY, "DE")

# NIST SP 800-38G, "FF1samples" (Examples with Intermediate Values), the radix-10 samples
NIST_K128 = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")
NIST_K192 = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F")
NIST_K256 = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94")
NIST_TWEAK = bytes.fromhex("39383736353433323130")


@pytest.mark.parametrize(
    ("sample", "key", "tweak", "ciphertext"),
    [
        (1, NIST_K128, b"", "2433477484"),
        (2, NIST_K128, NIST_TWEAK, "6124200773"),
        (4, NIST_K192, b"", "2830668132"),
        (5, NIST_K192, NIST_TWEAK, "2496655549"),
        (7, NIST_K256, b"", "6657667009"),
        (8, NIST_K256, NIST_TWEAK, "1001623463"),
    ],
)
def test_the_permutation_is_ff1_as_nist_publishes_it(
    sample: int, key: bytes, tweak: bytes, ciphertext: str
) -> None:
    ff1 = FF1Decimal(key, length=10, tweak=tweak)
    assert f"{ff1.encrypt(123456789):010d}" == ciphertext  # plaintext "0123456789"
    assert ff1.decrypt(int(ciphertext)) == 123456789


@pytest.mark.parametrize(("length", "tweak"), [(2, b""), (3, b"DE"), (4, b"DE"), (4, b"ZTOX"), (5, b"SF")])
def test_the_same_code_on_a_small_domain_is_a_bijection_and_decrypt_inverts_it(
    length: int, tweak: bytes
) -> None:
    ff1 = FF1Decimal(KEY, length=length, tweak=tweak)
    domain = range(10**length)
    images = [ff1.encrypt(x) for x in domain]
    assert sorted(images) == list(domain)  # exhaustive: onto, hence one-to-one
    assert [ff1.decrypt(y) for y in images] == list(domain)
    # not the identity: a random permutation has one fixed point on average, whatever its size
    assert sum(x == y for x, y in zip(domain, images, strict=True)) < 10


@given(st.integers(min_value=0, max_value=DOMAIN - 1))
@settings(max_examples=500)
def test_a_counter_comes_back_from_its_number(counter: int) -> None:
    number = DE.format(counter)
    assert re.fullmatch(r"DE[0-9]{13}", number)
    assert check(number).ok
    assert DE.counter_of(number) == counter


@pytest.mark.parametrize("counter", [0, 1, 2, DOMAIN - 2, DOMAIN - 1])
def test_the_ends_of_the_domain_round_trip(counter: int) -> None:
    assert DE.counter_of(DE.format(counter)) == counter


@pytest.mark.parametrize("counter", [-1, DOMAIN, 2**64, True, 1.0, "1"])
def test_a_counter_outside_the_domain_is_refused(counter: object) -> None:
    with pytest.raises(ValueError, match="counter"):
        DE.format(counter)  # type: ignore[arg-type]


def test_a_number_is_the_same_every_time_and_in_every_thread() -> None:
    expected = [DE.format(c) for c in range(2000)]
    assert [WaybillNumbers(KEY, "DE").format(c) for c in range(2000)] == expected
    results: list[list[str]] = []

    def work() -> None:
        results.append([DE.format(c) for c in range(2000)])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 4


# --- not guessable from a neighbour ---------------------------------------------------------------

SAMPLE = [int(DE.format(c)[2:14]) for c in range(1, 10_001)]


def test_consecutive_counters_give_numbers_with_no_constant_step() -> None:
    steps = [b - a for a, b in itertools.pairwise(SAMPLE[:1000])]
    assert len(set(steps)) > 990
    assert len({s % 10**6 for s in steps}) > 990  # not even in the low half alone
    assert len(set(SAMPLE)) == len(SAMPLE)


def _chi_square(counts: Counter[str], total: int) -> float:
    expected = total / 10
    return sum((counts.get(str(d), 0) - expected) ** 2 / expected for d in range(10))


def test_every_digit_position_is_close_to_uniform() -> None:
    # Fixed key, fixed counters: deterministic. 27.88 is chi-square's 0.1 % point at 9 degrees of freedom.
    numbers_ = [DE.format(c) for c in range(1, 10_001)]
    for position in range(2, 15):  # 12 digits and the check digit
        counts = Counter(n[position] for n in numbers_)
        assert _chi_square(counts, len(numbers_)) < 27.88, position


def test_two_carriers_keys_give_unrelated_sequences() -> None:
    ours = [DE.format(c)[2:] for c in range(1, 1001)]
    # another key under the same prefix; the same key under another prefix (the FF1 tweak)
    for other in (WaybillNumbers(OTHER_KEY, "DE"), WaybillNumbers(KEY, "ZT")):
        theirs = [other.format(c)[-13:] for c in range(1, 1001)]
        assert not set(ours) & set(theirs)
        for position in range(12):
            same = sum(a[position] == b[position] for a, b in zip(ours, theirs, strict=True))
            assert 55 < same < 145, position  # binomial(1000, 0.1): mean 100, sd 9.5


# --- Damm ----------------------------------------------------------------------------------------


def test_damm_gives_the_published_example() -> None:
    assert damm_check_digit("572") == "4"
    assert damm_interim("5724") == 0
    assert damm_interim("5274") != 0


def test_the_damm_table_is_a_weakly_totally_anti_symmetric_quasigroup() -> None:
    table = [[int(c) for c in row] for row in numbers._DAMM_TABLE]
    digits = range(10)
    assert all(sorted(row) == list(digits) for row in table)
    assert all(sorted(table[r][c] for r in digits) == list(digits) for c in digits)
    assert all(table[x][x] == 0 for x in digits)
    for c, x, y in itertools.product(digits, repeat=3):
        if table[table[c][x]][y] == table[table[c][y]][x]:
            assert x == y


def _every_single_error(body: str) -> list[str]:
    return [body[:i] + d + body[i + 1:] for i in range(len(body)) for d in "0123456789" if d != body[i]]


def _every_adjacent_swap(body: str) -> list[str]:
    return [body[:i] + body[i + 1] + body[i] + body[i + 2:]
            for i in range(len(body) - 1) if body[i] != body[i + 1]]


def test_damm_catches_every_single_digit_error_and_adjacent_swap_in_issued_numbers() -> None:
    for counter in range(300):
        number = DE.format(counter)
        body = number[2:]
        for wrong in _every_single_error(body) + _every_adjacent_swap(body):
            assert check("DE" + wrong).reason == "waybill_check_digit"


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_damm_catches_every_single_digit_error_and_adjacent_swap_in_any_digits(digits: str) -> None:
    body = digits + damm_check_digit(digits)
    assert damm_interim(body) == 0
    for wrong in _every_single_error(body) + _every_adjacent_swap(body):
        assert damm_interim(wrong) != 0


# --- parsing ----------------------------------------------------------------------------------------

GOOD = DE.format(42)


def test_a_number_typed_with_spaces_hyphens_lowercase_or_full_width_characters_is_accepted() -> None:
    spaced = f" {GOOD[:2].lower()} {GOOD[2:6]} {GOOD[6:10]}-{GOOD[10:]}\t"
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in GOOD)
    for typed in (spaced, full_width, GOOD.lower()):
        assert normalise(typed) == GOOD
        assert parse(typed).value == GOOD
        assert DE.counter_of(typed) == 42


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "DE",
        GOOD[2:],  # no prefix
        "D" + GOOD[2:],  # 1 letter
        "DEXYZ" + GOOD[2:],  # 5 letters
        GOOD[:-1],  # 12 digits
        GOOD + "0",  # 14 digits
        GOOD[:8] + "O" + GOOD[9:],  # a letter among the digits
        GOOD[:8] + "\u0663" + GOOD[9:],  # an Arabic-Indic digit: a digit, but not 0-9
        "Ä" + GOOD[1:],
        "ß" + GOOD[2:],  # would be "SS" after upper()
        GOOD[2:] + "DE",  # prefix at the end
        GOOD[:2] + "_" + GOOD[2:],
        GOOD * 5,  # too long to be one
    ],
)
def test_a_malformed_number_is_refused_as_waybill_format(bad: str) -> None:
    assert check(bad).reason == "waybill_format"
    with pytest.raises(BadWaybillNumber) as caught:
        parse(bad)
    assert caught.value.code == "waybill_format"
    with pytest.raises(BadWaybillNumber):
        DE.counter_of(bad)


def test_a_wrong_check_digit_is_refused_as_waybill_check_digit() -> None:
    wrong = GOOD[:-1] + str((int(GOOD[-1]) + 1) % 10)
    assert check(wrong) == numbers.CheckResult(ok=False, reason="waybill_check_digit")
    with pytest.raises(BadWaybillNumber) as caught:
        DE.counter_of(wrong)
    assert caught.value.code == "waybill_check_digit"


def test_another_carriers_number_is_refused_as_waybill_prefix() -> None:
    theirs = WaybillNumbers(OTHER_KEY, "ZT").format(42)
    assert check(theirs).ok
    assert check(theirs, prefix="DE").reason == "waybill_prefix"
    assert check(GOOD, prefix="DE").ok
    with pytest.raises(BadWaybillNumber) as caught:
        DE.counter_of(theirs)
    assert caught.value.code == "waybill_prefix"


def test_a_bad_number_is_a_domain_error_with_a_stable_code() -> None:
    with pytest.raises(Invalid) as caught:
        parse("nonsense")
    assert caught.value.status == 422
    assert caught.value.code == "waybill_format"


@given(st.integers(min_value=0, max_value=DOMAIN - 1), st.integers(min_value=2, max_value=14), st.data())
@settings(max_examples=200)
def test_no_error_or_repr_shows_the_number(counter: int, position: int, data: st.DataObject) -> None:
    number = DE.format(counter)
    wrong_digit = data.draw(st.sampled_from([d for d in "0123456789" if d != number[position]]))
    bad_numbers = [
        number[:position] + wrong_digit + number[position + 1:],  # check digit
        number[:position] + "X" + number[position + 1:],  # format
        number + "9",  # format
    ]
    secrets_ = {number[2:], number[2:14]}
    for bad in bad_numbers:
        secrets_ |= {bad, bad[2:], bad[2:14]}
        try:
            DE.counter_of(bad)
        except BadWaybillNumber as exc:
            shown = " ".join([str(exc), repr(exc), repr(exc.args), exc.detail, str(exc.errors),
                              "".join(traceback.format_exception(exc))])
            assert exc.__cause__ is None and exc.__context__ is None
        else:
            pytest.fail("a bad number was accepted")
        shown += repr(check(bad))
    good = check(number)
    shown += repr(good) + str(good.waybill) + repr(good.waybill) + repr(DE) + repr(parse(number))
    assert not any(secret in shown for secret in secrets_)
    assert good.waybill == WaybillNumber("DE", number[2:14], number[14]) and good.waybill.value == number


def test_the_key_is_32_bytes_and_never_shown() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        WaybillNumbers(KEY[:31], "DE")
    with pytest.raises(TypeError):
        WaybillNumbers(KEY.hex(), "DE")  # type: ignore[arg-type]
    assert KEY.hex() not in repr(DE) and repr(KEY) not in repr(DE)


@given(st.text(max_size=6))
def test_the_prefix_rule_is_the_carriers_tables(prefix: str) -> None:
    carrier_ok = CARRIER_PREFIX.match(prefix) is not None
    assert (numbers.PREFIX.fullmatch(prefix) is not None) == carrier_ok
    if carrier_ok:
        assert check(WaybillNumbers(KEY, prefix).format(7)).ok
    else:
        with pytest.raises(ValueError, match="prefix"):
            WaybillNumbers(KEY, prefix)
