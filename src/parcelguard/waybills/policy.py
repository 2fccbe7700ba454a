"""A carrier's label settings as data: how a label masks names, phones and the address detail
(`MaskingPolicy`), and its sorting-code table (三段码, `SortingRule`). Pure: no database, no HTTP.

The masking forms are small named operators, chosen by name in the settings (`NAME_FORMS`,
`DETAIL_FORMS`; phones by `display_phone`); the defaults are the strictest that still deliver.

Sorting codes. A rule names a place by its names (province, optionally city, optionally district) as
addresses write them, and gives the carrier's code for it. The most specific rule that matches an
address wins: district over city over province; between two district rules, the one that also names
the city. Names are compared in a loose form (`place_key`): NFKC, no spaces, without the suffix 省, 市,
自治区 (and its 壮族/回族/维吾尔 forms) or 特别行政区, so 上海 and 上海市 are the same place. The city of a
municipality (直辖市) is the province itself: a city equal to the province (unless the province has a
city of that name, as 吉林省 has 吉林市), 市辖区, 县 or none all mean "no city", so {上海市, 上海市, 浦东新区} and {上海, -, 浦东新区} are the same place, and two rules for it
are refused.

With no matching rule, the default code is the GB/T 2260 code of the most specific division the
address names that the newest edition lists, split 3 + 3: 浦东新区 (310115) → `310-115`, a city only
(深圳市, 440300) → `440-300`, a province only (上海市, 310000) → `310-000`, nothing known → `000-000`.
Names of divisions that no longer exist (崇文区) fall back to their parent's code.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from parcelguard.core.errors import FieldError, Invalid
from parcelguard.crypto.types import Masked
from parcelguard.identity import regions
from parcelguard.waybills.masking import MASK, LatinStyle, mask_name

PhoneForm = Literal["none", "last4"]
DetailForm = Literal["clear", "hide_door"]

# A carrier's 三段码: one to three segments of 1-4 capital letters or digits, joined by "-". The first
# segment is usually the destination sorting centre, the second the station, the third the courier's
# route (755-W12-03); a carrier may use fewer. The defaults have two (310-115).
SORTING_CODE_PATTERN = r"^[0-9A-Z]{1,4}(-[0-9A-Z]{1,4}){0,2}$"
UNKNOWN_SORTING_CODE = "000-000"
MAX_SORTING_RULES = 5000

_STRICT = ConfigDict(strict=True, extra="forbid", frozen=True)
PlaceName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]


class MaskingPolicy(BaseModel):
    """How a label shows the recipient's and the sender's name, the recipient's phone and the address detail."""

    model_config = _STRICT

    latin_names: LatinStyle = Field(default="initials", description=(
        "Names in Latin letters: `initials` (John Smith → J*** S****) or `surname_initial`, the initial of "
        "the first word only (J*** *****). Chinese names always keep the surname only (张*)."))
    phone: PhoneForm = Field(default="none", description=(
        "`none`: no digit of the phone (the label shows the virtual number and its extension); "
        "`last4`: the last four digits (***5678)."))
    address_detail: DetailForm = Field(default="clear", description=(
        "`clear`: the detail as given (the courier delivers to it); `hide_door`: the street and its number "
        "in clear, every digit and letter after it masked (示例路2号 1单元 101 → 示例路2号 *单元 ***); "
        "the full detail is revealed only at the delivery scan, through the gate."))


class SortingRule(BaseModel):
    """The carrier's sorting code (三段码) for a province, a city or a district."""

    model_config = _STRICT

    province: PlaceName
    city: PlaceName | None = None
    district: PlaceName | None = None
    code: Annotated[str, StringConstraints(pattern=SORTING_CODE_PATTERN)] = Field(description=(
        "One to three segments of 1-4 capital letters or digits joined by `-`: `021`, `755-W12`, `021-PD-07`."))

    @property
    def place(self) -> tuple[str, str | None, str | None]:
        """The place in the loose form rules are compared in (see the module docstring)."""
        return place_of(self.province, self.city, self.district)


class LabelSettings(BaseModel):
    """A carrier's label settings: the masking policy and the sorting-code table. No rule: defaults."""

    model_config = _STRICT

    masking: MaskingPolicy = MaskingPolicy()
    # A tuple (the settings are shared between requests, so they cannot change); JSON arrays come in.
    sorting: Annotated[tuple[SortingRule, ...], Field(max_length=MAX_SORTING_RULES, strict=False, description=(
        f"At most {MAX_SORTING_RULES:,} rules, one per place; the most specific matching rule wins."))] = ()

    _codes: dict[tuple[str, str | None, str | None], str] = PrivateAttr(default_factory=dict)

    @field_validator("sorting")
    @classmethod
    def _one_rule_per_place(cls, rules: tuple[SortingRule, ...]) -> tuple[SortingRule, ...]:
        first: dict[tuple[str, str | None, str | None], int] = {}
        duplicates = []
        for i, rule in enumerate(rules):
            j = first.setdefault(rule.place, i)
            if j != i:
                duplicates.append((i, j))
        if duplicates:
            raise PydanticCustomError("sorting_duplicate", "{count} rule(s) for a place that already has one.",
                                      {"count": len(duplicates), "duplicates": duplicates})
        return rules

    def model_post_init(self, context: Any, /) -> None:
        self._codes = {rule.place: rule.code for rule in self.sorting}

    def rule_code(self, province: str | None, city: str | None, district: str | None) -> str | None:
        """The code of the most specific rule matching the address, or None."""
        if not self._codes:
            return None
        p, c, d = place_of(province or "", city, district)
        for key in ((p, c, d), (p, None, d), (p, c, None), (p, None, None)):
            found = self._codes.get(key)
            if found is not None:
                return found
        return None


class SettingsInvalid(Invalid):
    """Label settings that do not validate: every error with its pointer. Nothing was saved."""

    code = "waybill_settings_invalid"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"The label settings have {len(errors)} error(s).", errors=errors)


def parse_settings(data: object) -> LabelSettings:
    """Label settings from a decoded JSON body. Raises `SettingsInvalid` (422) with every error: codes are
    pydantic's error types (`extra_forbidden`, `literal_error`, `string_pattern_mismatch`, `missing`,
    `too_long`, ...) and `sorting_duplicate` (pointer: the later rule; rules are compared once each one
    is well-formed). Messages never echo the input."""
    try:
        return LabelSettings.model_validate(data)
    except ValidationError as exc:
        raise SettingsInvalid(_field_errors(exc)) from None


def _field_errors(exc: ValidationError) -> list[FieldError]:
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        pointer = "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in err["loc"])
        kind, message = err["type"], err["msg"]
        if kind == "sorting_duplicate":
            out += [FieldError(f"/sorting/{i}", kind, f"The same place as /sorting/{j}: one rule per place.")
                    for i, j in err.get("ctx", {}).get("duplicates", [])]
            continue
        if kind == "tuple_type":  # what JSON calls an array
            kind, message = "list_type", "Input should be a list."
        elif kind == "too_long" and pointer == "/sorting":
            message = f"At most {MAX_SORTING_RULES:,} sorting rules."
        out.append(FieldError(pointer, kind, message))
    return out


# -- masking forms ----------------------------------------------------------------------------------

def display_name(masking: MaskingPolicy, name: str) -> Masked:
    """A name as the label shows it (`masking.mask_name` with the policy's style for Latin names)."""
    return NAME_FORMS[masking.latin_names](name)


def display_phone(masking: MaskingPolicy, tail: str) -> Masked | None:
    """The recipient's phone as the label shows it, from the last four digits kept at intake (the label
    never reads the number itself): None under `none` (no digit at all), `***5678` under `last4`; None
    too when no four digits were kept (a shipment older than the kept tail)."""
    digits = "".join(c for c in tail if c.isdigit())[-4:]
    return Masked(MASK * 3 + digits) if masking.phone == "last4" and len(digits) == 4 else None


def mask_detail(detail: str, mode: DetailForm) -> str:
    """The address detail (after province, city and district) as the label shows it.

    `clear`: stripped, nothing else. `hide_door`: the street part (`street_part`) in clear, then every
    digit (any script: 3, ３, ①), Latin letter (A, ａ) and Chinese numeral (〇零一二三四五六七八九十两) masked,
    one mask per character, so the output is exactly as long as the stripped detail:

        示例路2号 1单元 101       → 示例路2号 *单元 ***
        朝阳路10号院3号楼2单元301  → 朝阳路10号院*号楼*单元***
        幸福小区5栋2单元301室      → 幸福小区*栋*单元***室
        示例路2号楼301            → 示例路*号楼***        (2号楼 is a building, not a street number)
        5栋301                    → *栋***                 (no street part: everything is door)
    """
    return DETAIL_FORMS[mode](detail)


# Street words a street number follows, and words after 号 that make it a building or room number.
_STREET_WORDS = "大街|大道|胡同|路|街|道|巷|弄|里|村|屯|坊|条"
_BUILDING_WORDS = "楼|栋|幢|座|单元|室|房|层|门|铺|库|间|户|梯"
_STREET_NUMBER = re.compile(
    rf"(?:{_STREET_WORDS})\s*\d+(?:\s*[-－—~～]\s*\d+)?号(?!\s*(?:{_BUILDING_WORDS}))(?:大院|院)?")
# Words that end the name of a street, a community or an estate, when there is no street number.
_PLACE_WORDS = re.compile("小区|花园|家园|新村|公寓|大厦|大楼|广场|中心|山庄|公馆|社区|"
                          "苑|园|庭|府|城|村|里|弄|巷|胡同|街|路|道|坊|院|屯")
_CHINESE_NUMERALS = frozenset("〇零一二三四五六七八九十两")


def street_part(detail: str) -> str:
    """The beginning of a (stripped) detail that `hide_door` keeps in clear.

    1. Up to and including the first street number: a street word (路, 街, 道, 巷, 弄, 胡同, 村, ...), digits
       and 号, not followed by a building or room word (楼, 栋, 座, 单元, 室, ...); a following 院 belongs to
       it (10号院 is an address, 3号楼 inside it is not).
    2. Else up to the end of the last street, community or estate word (路, 小区, 花园, 大厦, 苑, ...)
       before the first digit.
    3. Else nothing.
    """
    found = _STREET_NUMBER.search(detail)
    if found is not None:
        return detail[:found.end()]
    first_digit = next((i for i, c in enumerate(detail) if c.isdigit()), len(detail))
    end = 0
    for word in _PLACE_WORDS.finditer(detail, 0, first_digit):
        end = word.end()
    return detail[:end]


def _hide_door(detail: str) -> str:
    detail = detail.strip()
    street = street_part(detail)
    return street + "".join(MASK if _door_character(c) else c for c in detail[len(street):])


def _door_character(c: str) -> bool:
    if c.isdigit() or c in _CHINESE_NUMERALS:
        return True
    return c.isalpha() and unicodedata.normalize("NFKC", c).isascii()


NAME_FORMS: Mapping[LatinStyle, Callable[[str], Masked]] = {
    "initials": lambda name: mask_name(name, latin="initials"),
    "surname_initial": lambda name: mask_name(name, latin="surname_initial"),
}
DETAIL_FORMS: Mapping[DetailForm, Callable[[str], str]] = {
    "clear": str.strip,
    "hide_door": _hide_door,
}


# -- sorting codes ----------------------------------------------------------------------------------

def sorting_code(settings: LabelSettings, province: str | None, city: str | None, district: str | None) -> str:
    """The label's sorting code (三段码): the most specific matching rule's, else the default derived from
    the destination's GB/T 2260 code (see the module docstring)."""
    found = settings.rule_code(province, city, district)
    if found is not None:
        return found
    code = division_code(province, city, district)
    return UNKNOWN_SORTING_CODE if code is None else f"{code[:3]}-{code[3:]}"


_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市")
# What addresses write as the city of a municipality (or of a county the province governs directly).
_NO_CITY = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})


def place_key(name: str | None) -> str:
    """A place name in the loose form names are compared in: NFKC, no spaces, one administrative suffix
    (省, 市, 自治区 and its forms, 特别行政区) dropped when two characters or more remain. 上海市 → 上海."""
    key = "".join(unicodedata.normalize("NFKC", name or "").split())
    for suffix in _SUFFIXES:
        if key.endswith(suffix) and len(key) - len(suffix) >= 2:
            return key[:-len(suffix)]
    return key


def place_of(province: str, city: str | None, district: str | None) -> tuple[str, str | None, str | None]:
    """(province, city, district) as rules and addresses are matched: loose keys, None for "not named";
    the city of a municipality is None (see the module docstring)."""
    p, c, d = place_key(province), place_key(city), place_key(district)
    if c in _NO_CITY or (c == p and not _has_city(p, c)):  # 吉林省吉林市 has a city of its name
        c = ""
    return p, c or None, d or None


def _has_city(province_key: str, city_key: str) -> bool:
    known = _divisions()
    prefix = known.provinces.get(province_key)
    return prefix is not None and (prefix, city_key) in known.cities


@dataclass(frozen=True)
class _Divisions:
    """The newest edition's divisions by loose name; a name two divisions share maps to None."""

    provinces: dict[str, str | None] = field(default_factory=dict)  # key → 2-digit prefix
    cities: dict[tuple[str, str], str | None] = field(default_factory=dict)  # (prefix 2, key) → prefix 4
    in_city: dict[tuple[str, str], str | None] = field(default_factory=dict)  # (prefix 4, key) → code
    in_province: dict[tuple[str, str], str | None] = field(default_factory=dict)  # (prefix 2, key) → code


@cache
def _divisions() -> _Divisions:
    def put(table: dict[Any, str | None], key: Any, value: str) -> None:
        table[key] = value if table.get(key, value) == value else None

    out, newest = _Divisions(), regions.newest_edition()
    for code in sorted(regions.region_codes()):
        found = regions.region(code)
        if found is None or found.last != newest:
            continue
        key = place_key(found.name)
        if code.endswith("0000"):
            put(out.provinces, key, code[:2])
        elif code.endswith("00"):
            put(out.cities, (code[:2], key), code[:4])
        else:
            put(out.in_city, (code[:4], key), code)
            put(out.in_province, (code[:2], key), code)
    return out


def division_code(province: str | None, city: str | None, district: str | None) -> str | None:
    """The GB/T 2260 code (newest edition) of the most specific division an address names, or None when
    even its province is unknown. A district is looked for in its city, or in the whole province when
    the city is a municipality's or unknown (and is skipped when the name is not unique there); a city
    that is a county the province governs directly (仙桃市) is found among the counties."""
    known = _divisions()
    p_key, c_key, d_key = place_of(province or "", city, district)
    prefix = known.provinces.get(p_key)
    if prefix is None:
        return None
    city_prefix = known.cities.get((prefix, c_key)) if c_key else None
    if d_key:
        found = (known.in_city.get((city_prefix, d_key)) if city_prefix
                 else known.in_province.get((prefix, d_key)))
        if found:
            return found
    if city_prefix:
        return city_prefix + "00"
    if c_key:
        found = known.in_province.get((prefix, c_key))
        if found:
            return found
    return prefix + "0000"
