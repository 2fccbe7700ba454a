"""Masked names and phones: the surname stays, nothing of the given name or the number leaks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parcelguard.waybills.masking import MASK, compound_surnames, mask_name, mask_phone

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
