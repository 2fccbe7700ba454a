"""Province-level division names (省级行政区) as rate tables write them, and their one canonical form.

The 34 names come from the region-code table `identity.regions` already ships (GB/T 2260, the newest
edition): the codes `xx0000` still listed there, i.e. the 31 mainland divisions, 香港, 澳门 and 台湾. Only
the short forms are derived here, by one rule: a name without its suffix (`省`, `市`, `自治区` with its
nationality, `特别行政区`), e.g. `广东` for 广东省, `广西` for 广西壮族自治区, `北京` for 北京市.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from parcelguard.identity import regions as identity_regions

_PROVINCE_CODE = re.compile(r"[1-9]\d0000")
_SUFFIX = re.compile(r"(?:(?:壮族|回族|维吾尔)?自治区|特别行政区|省|市)$")


@functools.cache
def provinces() -> tuple[str, ...]:
    """The 34 canonical names in code order (北京市 ... 澳门特别行政区)."""
    newest = identity_regions.newest_edition()
    found = []
    for code in sorted(identity_regions.region_codes()):
        entry = identity_regions.region(code)
        if _PROVINCE_CODE.fullmatch(code) and entry is not None and entry.last == newest:
            found.append(entry.name)
    return tuple(found)


@functools.cache
def _names() -> dict[str, str]:
    names = {}
    for name in provinces():
        names[name] = name
        names[_SUFFIX.sub("", name)] = name
    return names


def short_name(province: str) -> str:
    """The short form of a canonical name: 广东省 → 广东, 内蒙古自治区 → 内蒙古."""
    return _SUFFIX.sub("", province)


def canonical_province(text: str) -> str | None:
    """The canonical name for a full or short name (`广东` and `广东省` → 广东省), None for anything else.

    Full-width characters and spaces inside are forgiven (`广 东`, a name typed with a Chinese IME)."""
    key = "".join(unicodedata.normalize("NFKC", text).split())
    return _names().get(key)


__all__ = ["canonical_province", "provinces", "short_name"]
