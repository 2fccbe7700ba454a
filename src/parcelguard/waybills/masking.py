"""Masked display forms of names and phone numbers: what a label, a terminal or a lookup may show.

Names keep the surname and hide the rest (张三 → 张*, 欧阳娜娜 → 欧阳**, 阿卜杜拉·买买提 → 阿*****·***,
John Smith → J*** S****); a phone keeps at most its last four digits. Per-carrier policies (issue 7)
choose among these forms; the defaults here are the strictest.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from importlib import resources

from parcelguard.crypto.types import Masked

MASK = "*"
_MIDDLE_DOTS = "·•‧・．."  # the interpunct and the look-alikes people type for it
_LATIN = re.compile(r"^[A-Za-z][A-Za-z' \-]*$")


@cache
def compound_surnames() -> frozenset[str]:
    """Two-character surnames (复姓), shipped as data: `surnames.txt`, one per line."""
    text = resources.files("parcelguard.waybills").joinpath("surnames.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def normalise_name(name: str) -> str:
    """NFKC (full-width letters and spaces become half-width), trimmed, inner spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name).split())


def mask_name(name: str) -> Masked:
    """The surname in clear, every other character masked (one mask per character, spaces kept)."""
    name = normalise_name(name)
    if not name:
        return Masked("")
    if _LATIN.match(name):
        # Latin script: the initial of each word, the rest masked (John Smith -> J*** S****).
        return Masked(" ".join(w[0] + MASK * (len(w) - 1) for w in name.split(" ")))
    for dot in _MIDDLE_DOTS:
        if dot in name:
            # Transliterated names (阿卜杜拉·买买提): the first character of the first part only.
            parts = name.split(dot)
            return Masked("·".join([parts[0][0] + MASK * (len(parts[0]) - 1)] + [MASK * len(p) for p in parts[1:]]))
    keep = 2 if len(name) > 2 and name[:2] in compound_surnames() else 1
    if len(name) == 1:
        return Masked(MASK)  # a one-character name is all surname or all given name: show nothing
    return Masked(name[:keep] + "".join(" " if c == " " else MASK for c in name[keep:]))


def mask_phone(phone: str, *, keep_last: int = 0) -> Masked:
    """A phone number with no digits shown (the default) or only its last `keep_last` (at most 4)."""
    digits = [c for c in phone if c.isdigit()]
    keep = min(max(keep_last, 0), 4, len(digits))
    return Masked(MASK * 3 + "".join(digits[len(digits) - keep:]) if keep else MASK * 3)
