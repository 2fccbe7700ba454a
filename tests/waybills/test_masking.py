"""Masked names and phones: the surname stays, nothing of the given name or the number leaks."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from parcelguard.crypto.types import Masked
from parcelguard.waybills.masking import (
    MASK,
    LatinStyle,
    compound_surnames,
    mask_name,
    mask_phone,
    normalise_name,
)

HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)


@pytest.mark.parametrize("name, masked", [
    ("张三", "张*"), ("张三丰", "张**"), ("欧阳娜娜", "欧阳**"), ("司马光", "司马*"), ("诸葛亮", "诸葛*"),
    ("欧阳", "欧*"),  # two characters: a surname and a given name, not a bare compound surname
    ("阿卜杜拉·买买提", "阿***·***"), ("阿卜杜拉•买买提", "阿***·***"), ("John Smith", "J*** S****"),
    ("Ｊｏｈｎ　Ｓｍｉｔｈ", "J*** S****"), ("  张三  ", "张*"), ("王", "*"), ("", ""), ("   ", ""),
])
def test_names_keep_the_surname_only(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_the_shipped_compound_surnames_include_the_common_ones() -> None:
    assert {"欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙"} <= compound_surnames()


@given(surname=HAN, given_name=st.text(HAN, min_size=1, max_size=3))
def test_a_masked_chinese_name_shows_no_given_name_character(surname: str, given_name: str) -> None:
    name = surname + given_name
    masked = mask_name(name)
    kept = masked.rstrip(MASK)
    assert len(masked) == len(name) and masked[len(kept):] == MASK * (len(masked) - len(kept))
    assert name.startswith(kept) and len(kept) <= 2
    # Whatever the split, no given-name position is shown.
    assert all(c == MASK for c in masked[2 if name[:2] in compound_surnames() and len(name) > 2 else 1:])


@given(st.from_regex(r"\+?86 ?1[3-9]\d{9}", fullmatch=True), st.integers(-2, 8))
def test_a_phone_shows_at_most_its_last_four_digits(phone: str, keep: int) -> None:
    masked = mask_phone(phone, keep_last=keep)
    digits = "".join(c for c in phone if c.isdigit())
    shown = "".join(c for c in masked if c.isdigit())
    assert len(shown) == min(max(keep, 0), 4) and digits.endswith(shown)
    assert mask_phone(phone) == "***"


# -- the issue's cases ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name, masked", [
    ("·买买提", "·***"),  # a name that starts with its dot once raised IndexError
    ("阿卜杜拉.买买提", "阿***·***"), ("阿卜杜拉・买买提", "阿***·***"), ("阿卜杜拉‧买买提", "阿***·***"),
    ("阿卜杜拉．买买提", "阿***·***"), ("阿卜杜拉·买买提·艾力", "阿***·***·**"), ("阿卜杜拉·John", "阿***·****"),
    ("J. Smith", "J* S****"),  # a period in a Latin name is no middle dot (it once gave J·******)
    ("Smith Jr.", "S**** J**"), ("José Müller", "J*** M*****"),  # accented letters are Latin letters
    ("Mary-Jane O'Brien", "M******** O******"), ("Jean·Paul Sartre", "J***·P*** S*****"),
    ("Иван Петров", "И*** П*****"), ("john smith", "j*** s****"), ("J", "*"), ("Jo", "J*"),
    ("John张", "J****"), ("张John", "张****"), ("张 三", "张 *"), ("张\t三", "张 *"), ("欧阳 娜娜", "欧阳 **"),
    ("欧阳娜", "欧阳*"), ("欧阳", "欧*"), ("上官", "上*"),
    ("3张", "**"), ("张3", "张*"), ("123", "***"), ("(张三)", "****"), ("\u200b张三", "张*"), ("张\u200d三", "张*"),
    ("ＪＯＨＮ　ＳＭＩＴＨ", "J*** S****"), ("\u3000王\u3000", "*"),
])
def test_the_issues_names_are_masked_as_documented(name: str, masked: str) -> None:
    assert mask_name(name) == masked
    assert isinstance(mask_name(name), Masked)


@pytest.mark.parametrize("name, masked", [
    ("John Smith", "J*** *****"), ("Mary-Jane O'Brien", "M******** *******"), ("José Müller", "J*** ******"),
    ("Zhang San", "Z**** ***"), ("Ｊｏｈｎ　Ｓｍｉｔｈ", "J*** *****"),
    # The style is for alphabetic names only: Chinese and dotted names are masked as ever.
    ("张三丰", "张**"), ("欧阳娜娜", "欧阳**"), ("阿卜杜拉·买买提", "阿***·***"),
])
def test_surname_initial_keeps_only_the_first_words_initial(name: str, masked: str) -> None:
    assert mask_name(name, latin="surname_initial") == masked


def test_normalising_a_name_drops_invisible_characters_and_width() -> None:
    assert normalise_name("  Ｊｏｈｎ\u3000\u200bＳｍｉｔｈ\n") == "John Smith"
    assert normalise_name("张\t\t三") == "张 三"


def test_a_phone_too_short_to_be_one_shows_no_digit() -> None:
    assert mask_phone("5678", keep_last=4) == "***" and mask_phone("", keep_last=4) == "***"
    assert mask_phone("8765678", keep_last=4) == "***5678"


# -- the property the issue requires -------------------------------------------------------------------
#
# The shown part of a name is its surname (Chinese and other scripts: the first character, two for a
# compound surname, the first of the first part for a dotted name) or its initials (alphabetic names:
# the first letter of each word, or of the first word only). Its given name is every other character
# except spaces and middle dots. No character of the given name that differs from every shown character
# may appear in the masked name; it is masked one for one.

SEPARATORS = frozenset(" ·•‧・.")
LATIN = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéüñçøÅßĳ")
CYRILLIC = st.characters(min_codepoint=0x0410, max_codepoint=0x044F)
FULL_WIDTH_LATIN = st.characters(min_codepoint=0xFF21, max_codepoint=0xFF3A)
OTHERS = st.sampled_from(list("0123456789-'·•‧・.．･ 　\u200b\t") + ["欧阳", "司马", "诸葛", "上官"])
WORD = st.text(st.one_of(LATIN, CYRILLIC, FULL_WIDTH_LATIN), min_size=1, max_size=8)
NAMES = st.one_of(
    st.builds(lambda s, g: s + g, st.sampled_from(sorted(compound_surnames())) | HAN, st.text(HAN, max_size=3)),
    st.lists(WORD, min_size=1, max_size=4).map(" ".join),
    st.lists(st.one_of(HAN, LATIN, FULL_WIDTH_LATIN, CYRILLIC, OTHERS), max_size=12).map("".join),
)


def _words_starts(name: str, breaks: frozenset[str]) -> list[int]:
    return [i for i, c in enumerate(name) if c not in breaks and (i == 0 or name[i - 1] in breaks)]


def _may_show(name: str, style: str) -> set[int]:
    """The positions the module docstring allows to be shown, written out independently of the code."""
    if sum(c not in SEPARATORS for c in name) <= 1:
        return set()
    letters = [c for c in name if c.isalpha()]
    if letters and all(unicodedata.name(c).split()[0] in ("LATIN", "GREEK", "CYRILLIC") for c in letters):
        starts = _words_starts(name, frozenset(" ·•‧・"))
        return set(starts[:1] if style == "surname_initial" else starts)
    if any(c in SEPARATORS - {" "} for c in name):
        return {0}
    return {0, 1} if len(name) > 2 and name[:2] in compound_surnames() else {0}


@example(name="a.", style="initials")  # an alphabetic name's period is part of its word: masked, not a dot
@given(name=NAMES, style=st.sampled_from(["initials", "surname_initial"]))
def test_a_masked_name_never_shows_a_character_of_the_given_name(name: str, style: LatinStyle) -> None:
    plain = normalise_name(name)
    masked = mask_name(name, latin=style)
    assert len(masked) == len(plain)  # one mask per character, spaces and dots in place
    shown = {i for i, (c, m) in enumerate(zip(plain, masked, strict=True)) if c == m and c not in SEPARATORS}
    assert shown <= _may_show(plain, style)
    letters = [c for c in plain if c.isalpha()]
    alphabetic = letters and all(unicodedata.name(c).split()[0] in ("LATIN", "GREEK", "CYRILLIC") for c in letters)
    dots = SEPARATORS - {" ", "."} if alphabetic else SEPARATORS - {" "}  # J. Smith: the period is masked
    for i, (c, m) in enumerate(zip(plain, masked, strict=True)):
        assert m == c if i in shown else m == (" " if c == " " else "·" if c in dots else MASK), (i, c, m)
    given_name = {c for i, c in enumerate(plain) if i not in shown and c not in SEPARATORS and c != MASK}
    kept = {plain[i] for i in shown}
    assert not (given_name - kept) & set(masked)
    assert all(plain[i].isalpha() for i in shown)  # only letters are ever shown: never a digit or a sign


@given(surname=st.sampled_from(sorted(compound_surnames())), given_name=st.text(HAN, min_size=1, max_size=3))
def test_a_compound_surname_is_shown_whole(surname: str, given_name: str) -> None:
    assert mask_name(surname + given_name) == surname + MASK * len(given_name)


@given(words=st.lists(st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
                              min_size=1, max_size=8), min_size=1, max_size=4),
       style=st.sampled_from(["initials", "surname_initial"]))
def test_a_full_width_name_is_masked_as_its_half_width_form(words: list[str], style: LatinStyle) -> None:
    half = " ".join(words)
    full = "\u3000".join("".join(chr(ord(c) + 0xFEE0) for c in w) for w in words)
    assert mask_name(full, latin=style) == mask_name(f"  {half} ", latin=style)
