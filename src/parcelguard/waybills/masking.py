"""Masked display forms of names and phone numbers: what a label, a terminal or a lookup may show.

Names keep the surname and hide the rest, one mask per character (the length of a name shows, as on
every Chinese label: 张**), spaces kept and middle dots shown as `·`:

- Chinese and other names (any script but the alphabetic ones below): the surname stays, a compound
  one (复姓, `surnames.txt`) as two characters. 张三 → 张*, 欧阳娜娜 → 欧阳**. A two-character name is a
  surname and a given name even when it spells a compound surname: 欧阳 → 欧* (showing 欧阳 could show
  the whole name of someone surnamed 欧).
- Names with a middle dot (transliterations: 阿卜杜拉·买买提; `.`, `•`, `‧` and `・` are typed for it):
  the first character of the first part only. 阿卜杜拉·买买提 → 阿***·***.
- Alphabetic names (every letter Latin, Greek or Cyrillic; full-width letters count, they are normalised
  first): by `LatinStyle`, the first letter of each word (`initials`: John Smith → J*** S****) or of the
  first word only (`surname_initial`: J*** *****). Words are separated by spaces (and middle dots);
  hyphens, apostrophes and periods belong to a word and are masked: Mary-Jane O'Brien → M******** O******.

What is shown is only ever a letter: a name that starts with a digit or a sign shows nothing of that
part (3张 → **), and a name of a single letter or digit shows nothing at all (王 → *). Everything else
(the given name) is masked. A phone keeps at most its last four digits.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib import resources
from typing import Literal

from parcelguard.crypto.types import Masked

MASK = "*"
DOT = "·"  # how every middle dot is shown
# After NFKC: the interpunct and the look-alikes people type for it (full-width ．becomes ., ･ becomes ・).
_MIDDLE_DOTS = frozenset("·•‧・.")
# In an alphabetic name a period is an abbreviation (J. Smith), not a middle dot.
_ALPHABETIC_DOTS = _MIDDLE_DOTS - {"."}
_SEPARATORS = tuple(_MIDDLE_DOTS | {" "})
_ALPHABETIC_SCRIPTS = ("LATIN ", "GREEK ", "CYRILLIC ")
MIN_PHONE_DIGITS = 7  # the shortest subscriber number; a shorter "phone" shows no digit at all

LatinStyle = Literal["initials", "surname_initial"]


@cache
def compound_surnames() -> frozenset[str]:
    """Two-character surnames (复姓), shipped as data: `surnames.txt`, one per line."""
    text = resources.files("parcelguard.waybills").joinpath("surnames.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def normalise_name(name: str) -> str:
    """NFKC (full-width letters and spaces become half-width), invisible characters dropped, trimmed,
    inner spaces collapsed."""
    # Invisible characters (controls, zero-width spaces and joiners, direction marks: Cc and Cf) are
    # dropped, so that none can stand in front of the surname and push it out of the shown part.
    text = unicodedata.normalize("NFKC", name)
    if text.isprintable():  # no Cc or Cf in it (nor any space but " "): nothing to drop, the common case
        return " ".join(text.split())
    return " ".join("".join(c for c in text if c.isspace() or unicodedata.category(c) not in ("Cc", "Cf")).split())


@cache
def _alphabetic_letter(c: str) -> bool:
    # Cached: looking a character's name up is most of masking a name, and names share their characters.
    return unicodedata.name(c, "").startswith(_ALPHABETIC_SCRIPTS)


def is_alphabetic(name: str) -> bool:
    """Whether a (normalised) name is written in an alphabetic script: it has letters, all of them Latin,
    Greek or Cyrillic. Such names are masked by `LatinStyle`."""
    letters = [c for c in name if c.isalpha()]
    return bool(letters) and all(_alphabetic_letter(c) for c in letters)


def shown_positions(name: str, *, latin: LatinStyle = "initials", alphabetic: bool | None = None) -> frozenset[int]:
    """The positions of a normalised name that `mask_name` shows in clear (the surname or the initials);
    every other character but spaces and middle dots is masked. See the module docstring. (`alphabetic`:
    `is_alphabetic(name)` when the caller knows it already.)"""
    if len(name) - sum(name.count(c) for c in _SEPARATORS) <= 1:
        return frozenset()  # one character is all surname or all given name: show nothing
    if is_alphabetic(name) if alphabetic is None else alphabetic:
        breaks = _ALPHABETIC_DOTS | {" "}
        starts = [i for i, c in enumerate(name) if c not in breaks and (i == 0 or name[i - 1] in breaks)]
        if latin == "surname_initial":
            starts = starts[:1]
        return frozenset(i for i in starts if name[i].isalpha())
    if any(c in _MIDDLE_DOTS for c in name):
        return frozenset({0}) if name[0].isalpha() else frozenset()
    if len(name) > 2 and name[:2] in compound_surnames():
        return frozenset({0, 1})
    return frozenset({0}) if name[0].isalpha() else frozenset()


def mask_name(name: str, *, latin: LatinStyle = "initials") -> Masked:
    """The surname (or the initials) in clear, every other character masked: one mask per character,
    spaces kept, middle dots shown as `·`. The output is exactly as long as `normalise_name(name)`."""
    name = normalise_name(name)
    alphabetic = is_alphabetic(name)
    shown = shown_positions(name, latin=latin, alphabetic=alphabetic)
    dots = _ALPHABETIC_DOTS if alphabetic else _MIDDLE_DOTS
    return Masked("".join(c if i in shown else " " if c == " " else DOT if c in dots else MASK
                          for i, c in enumerate(name)))


def mask_phone(phone: str, *, keep_last: int = 0) -> Masked:
    """A phone number with no digits shown (the default) or only its last `keep_last` (at most 4).

    A number of fewer than `MIN_PHONE_DIGITS` digits is no phone number: it shows no digit at all
    (its last four could be the whole of it)."""
    digits = [c for c in phone if c.isdigit()]
    keep = min(max(keep_last, 0), 4) if len(digits) >= MIN_PHONE_DIGITS else 0
    return Masked(MASK * 3 + "".join(digits[len(digits) - keep:]) if keep else MASK * 3)
