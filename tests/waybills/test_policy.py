"""Label settings as data: the masking policy's forms, the sorting-code table's rules and defaults, and
the settings' validation (every error with its pointer)."""

from __future__ import annotations

import re
import unicodedata
from string import ascii_letters

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from parcelguard.core.errors import Invalid
from parcelguard.identity import regions
from parcelguard.waybills import policy
from parcelguard.waybills.masking import MASK
from parcelguard.waybills.policy import (
    MAX_SORTING_RULES,
    SORTING_CODE_PATTERN,
    LabelSettings,
    MaskingPolicy,
    SettingsInvalid,
    SortingRule,
    display_name,
    display_phone,
    division_code,
    mask_detail,
    parse_settings,
    sorting_code,
    street_part,
)


def settings(*rules: dict[str, str | None], **masking: str) -> LabelSettings:
    return parse_settings({"masking": masking, "sorting": list(rules)})


def errors_of(data: object) -> list[tuple[str, str]]:
    with pytest.raises(SettingsInvalid) as raised:
        parse_settings(data)
    assert raised.value.code == "waybill_settings_invalid" and raised.value.status == 422
    assert isinstance(raised.value, Invalid)
    return [(e.pointer, e.code) for e in raised.value.errors]


# -- the models ------------------------------------------------------------------------------------

def test_the_defaults_are_the_strictest_forms_and_no_rule() -> None:
    defaults = LabelSettings()
    assert defaults.masking == MaskingPolicy(latin_names="initials", phone="none", address_detail="clear")
    assert defaults.sorting == () and parse_settings({}) == defaults
    assert defaults.model_dump(mode="json") == {
        "masking": {"latin_names": "initials", "phone": "none", "address_detail": "clear"}, "sorting": []}


def test_settings_survive_a_json_round_trip() -> None:
    s = settings({"province": "上海市", "district": "浦东新区", "code": "021-PD-07"},
                 {"province": "广东", "city": "深圳", "code": "755"}, phone="last4", address_detail="hide_door")
    assert LabelSettings.model_validate_json(s.model_dump_json()) == s
    assert parse_settings(s.model_dump(mode="json")) == s
    assert s.sorting[0] == SortingRule(province="上海市", district="浦东新区", code="021-PD-07")


def test_settings_are_frozen() -> None:
    s = LabelSettings()
    with pytest.raises(ValidationError, match="frozen"):
        s.masking = MaskingPolicy(phone="last4")  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        s.masking.phone = "last4"  # type: ignore[misc]


def test_every_shape_error_has_its_pointer_and_pydantics_code() -> None:
    assert errors_of({
        "masking": {"latin_names": "full", "phone": 4, "address": "clear"},
        "sorting": [
            {"province": "上海", "code": "021"},
            {"province": "  ", "code": "021-pd"},
            {"city": "深圳", "code": "755-ABCDE"},
            {"province": "北京", "code": 10, "station": "ST-1"},
            "010",
        ],
        "colour": "red",
    }) == [
        ("/masking/latin_names", "literal_error"), ("/masking/phone", "literal_error"),
        ("/masking/address", "extra_forbidden"),
        ("/sorting/1/province", "string_too_short"), ("/sorting/1/code", "string_pattern_mismatch"),
        ("/sorting/2/province", "missing"), ("/sorting/2/code", "string_pattern_mismatch"),
        ("/sorting/3/code", "string_type"), ("/sorting/3/station", "extra_forbidden"),
        ("/sorting/4", "model_type"),
        ("/colour", "extra_forbidden"),
    ]
    assert errors_of([]) == [("/", "model_type")]
    assert errors_of({"sorting": "none"}) == [("/sorting", "list_type")]
    assert errors_of({"sorting": [{"province": "上海" * 17, "code": "021"}]}) == [
        ("/sorting/0/province", "string_too_long")]


def test_no_error_message_echoes_the_input() -> None:
    with pytest.raises(SettingsInvalid) as raised:
        parse_settings({"masking": {"phone": "SECRET-1"}, "sorting": [{"province": "SECRET-2", "code": "SECRET-3"}]})
    assert "SECRET" not in str([e.as_dict() for e in raised.value.errors]) + raised.value.detail


@pytest.mark.parametrize("code", ["0", "021", "755-W", "021-PD-07", "ABCD-1234-Z9Z9", "310-115"])
def test_a_sorting_code_is_one_to_three_segments_of_capitals_and_digits(code: str) -> None:
    assert settings({"province": "上海", "code": code}).sorting[0].code == code


@pytest.mark.parametrize("code", ["", "-", "021-", "-021", "021--07", "021-pd", "ABCDE", "1-2-3-4", "021 07",
                                  "０２１", "021_07", "021-PD-07\n"])
def test_anything_else_is_no_sorting_code(code: str) -> None:
    assert errors_of({"sorting": [{"province": "上海", "code": code}]}) == [("/sorting/0/code",
                                                                          "string_pattern_mismatch")]


def test_two_rules_for_the_same_place_are_refused_with_the_pointer_of_the_later() -> None:
    rules = [
        {"province": "上海市", "district": "浦东新区", "code": "021-PD"},      # 0
        {"province": "广东省", "city": "深圳市", "code": "755"},               # 1
        {"province": "上海", "city": "上海市", "district": "浦东新区", "code": "021-X"},  # 2: same as 0
        {"province": "广东", "city": "深圳", "code": "755-A"},                # 3: same as 1
        {"province": "广东", "city": "深圳", "district": "南山区", "code": "755-NS"},  # 4: another place
        {"province": " 上海 ", "city": "市辖区", "district": "浦东新区", "code": "021-Y"},  # 5: same as 0
    ]
    with pytest.raises(SettingsInvalid) as raised:
        parse_settings({"sorting": rules})
    assert [(e.pointer, e.code) for e in raised.value.errors] == [
        ("/sorting/2", "sorting_duplicate"), ("/sorting/3", "sorting_duplicate"), ("/sorting/5", "sorting_duplicate")]
    assert raised.value.errors[0].detail == "The same place as /sorting/0: one rule per place."
    assert raised.value.errors[1].detail == "The same place as /sorting/1: one rule per place."
    # Building the settings in code is refused as well.
    with pytest.raises(ValueError):
        LabelSettings(sorting=tuple(SortingRule.model_validate(r) for r in rules))


def test_a_city_named_as_its_province_is_a_city_where_the_province_has_one() -> None:
    # 吉林省 has a city 吉林市: a rule for the province and one for that city are two places.
    s = settings({"province": "吉林省", "code": "431"}, {"province": "吉林", "city": "吉林市", "code": "432"})
    assert sorting_code(s, "吉林省", "吉林市", "船营区") == "432"
    assert sorting_code(s, "吉林省", "长春市", "朝阳区") == "431"


def test_at_most_the_documented_number_of_rules() -> None:
    rules = [{"province": "上海", "district": f"区{n}", "code": "021"} for n in range(MAX_SORTING_RULES)]
    assert len(settings(*rules).sorting) == MAX_SORTING_RULES
    with pytest.raises(SettingsInvalid) as raised:
        parse_settings({"sorting": [*rules, {"province": "北京", "code": "010"}]})
    assert [(e.pointer, e.code, e.detail) for e in raised.value.errors] == [
        ("/sorting", "too_long", f"At most {MAX_SORTING_RULES:,} sorting rules.")]


# -- sorting codes ---------------------------------------------------------------------------------

TABLE = settings(
    {"province": "上海市", "code": "021"},
    {"province": "上海市", "district": "浦东新区", "code": "021-PD"},
    {"province": "广东省", "code": "020"},
    {"province": "广东省", "city": "深圳市", "code": "755"},
    {"province": "广东省", "city": "深圳市", "district": "南山区", "code": "755-NS-01"},
    {"province": "广东省", "district": "南山区", "code": "000-X"},  # any 南山区 of 广东 not in 深圳
)


@pytest.mark.parametrize("address, code", [
    (("上海市", "上海市", "浦东新区"), "021-PD"), (("上海", None, "浦东新区"), "021-PD"),
    (("上海市", "市辖区", "浦东新区"), "021-PD"), ((" 上海 市", "", " 浦东新区 "), "021-PD"),
    (("上海市", "上海市", "黄浦区"), "021"), (("上海市", None, None), "021"),
    (("广东省", "深圳市", "南山区"), "755-NS-01"),  # district beats city beats province
    (("广东", "深圳", "南山区"), "755-NS-01"), (("广东省", "深圳市", "福田区"), "755"), (("广东省", "深圳市", None), "755"),
    (("广东省", "汕头市", "南山区"), "000-X"),  # a district rule without a city, in another city
    (("广东省", "广州市", "天河区"), "020"), (("广东省", None, None), "020"),
    (("北京市", "北京市", "朝阳区"), "110-105"),  # no rule: the default
])
def test_the_most_specific_matching_rule_wins(address: tuple[str, str | None, str | None], code: str) -> None:
    assert sorting_code(TABLE, *address) == code


@pytest.mark.parametrize("address, code", [
    (("上海市", "上海市", "浦东新区"), "310-115"), (("上海", None, "浦东新区"), "310-115"),
    (("上海市", "市辖区", "浦东新区"), "310-115"), (("广东省", "深圳市", "南山区"), "440-305"),
    (("广东省", "深圳市", None), "440-300"), (("广东省", "深圳市", "no such district"), "440-300"),
    (("上海市", None, None), "310-000"), (("上海市", "上海市", "no such district"), "310-000"),
    (("新疆维吾尔自治区", "乌鲁木齐市", "天山区"), "650-102"), (("新疆", "乌鲁木齐", "天山区"), "650-102"),
    (("内蒙古自治区", "呼和浩特市", "新城区"), "150-102"), (("香港特别行政区", None, None), "810-000"),
    (("吉林省", "吉林市", "船营区"), "220-204"), (("吉林", "吉林", None), "220-200"),
    (("辽宁省", "朝阳市", "双塔区"), "211-302"), (("北京市", "北京市", "朝阳区"), "110-105"),
    (("湖北省", "仙桃市", None), "429-004"), (("湖北省", "仙桃市", "仙桃市"), "429-004"),  # governed by the province
    (("重庆市", "县", "城口县"), "500-229"), (("广东省", "东莞市", "南城街道"), "441-900"),
    (("北京市", "北京市", "崇文区"), "110-000"),  # merged into 东城区 in 2010: the province's code
    (("火星", "火星市", "火星区"), "000-000"), (None, "000-000"), (("", "", ""), "000-000"),
])
def test_without_a_rule_the_code_comes_from_the_destinations_division(
    address: tuple[str, str | None, str | None] | None, code: str
) -> None:
    assert sorting_code(LabelSettings(), *(address or (None, None, None))) == code
    assert re.fullmatch(SORTING_CODE_PATTERN, code)


def test_every_current_district_is_found_by_its_names() -> None:
    """Round trip over the newest edition: each county-level division, named by its province, its city
    (the province for a municipality, whose districts have no city) and itself, gives back its code,
    unless its name is shared in the place it is looked for in."""
    newest = regions.newest_edition()
    current = {code: r.name for code in regions.region_codes()
               if (r := regions.region(code)) is not None and r.last == newest}
    checked = 0
    for code, name in current.items():
        if code.endswith("00"):
            continue
        province = current[code[:2] + "0000"]
        city = current.get(code[:4] + "00", province)
        namesakes = [c for c, n in current.items() if n == name and c[:4 if city != province else 2] ==
                     code[:4 if city != province else 2] and not c.endswith("00")]
        if len(namesakes) > 1:
            continue
        assert division_code(province, city, name) == code, (province, city, name)
        assert sorting_code(LabelSettings(), province, city, name) == f"{code[:3]}-{code[3:]}"
        checked += 1
    assert checked > 2800


# -- masking forms ---------------------------------------------------------------------------------

def test_the_phone_is_shown_as_the_policy_says() -> None:
    assert display_phone(MaskingPolicy(), "5678") is None
    assert display_phone(MaskingPolicy(phone="last4"), "5678") == "***5678"
    assert display_phone(MaskingPolicy(phone="last4"), "") is None  # no tail kept: no digit printed


def test_names_are_shown_as_the_policy_says() -> None:
    assert display_name(MaskingPolicy(), "John Smith") == "J*** S****"
    assert display_name(MaskingPolicy(latin_names="surname_initial"), "John Smith") == "J*** *****"
    assert display_name(MaskingPolicy(latin_names="surname_initial"), "欧阳娜娜") == "欧阳**"


@pytest.mark.parametrize("detail, hidden", [
    ("示例路2号 1单元 101", "示例路2号 *单元 ***"),
    ("  示例路2号 1单元 101 ", "示例路2号 *单元 ***"),
    ("朝阳路10号院3号楼2单元301", "朝阳路10号院*号楼*单元***"),
    ("幸福小区5栋2单元301室", "幸福小区*栋*单元***室"),
    ("幸福小区五栋二单元三〇一室", "幸福小区*栋*单元***室"),
    ("示例路2号楼301", "示例路*号楼***"),
    ("收件大道9号 1202室", "收件大道9号 ****室"),
    ("淮海中路100弄5号301室", "淮海中路100弄5号***室"),
    ("建国路88号SOHO现代城A座1201", "建国路88号****现代城*座****"),
    ("示例路2-4号 B座 ２０１", "示例路2-4号 *座 ***"),
    ("5栋301", "*栋***"),
    ("幸福小区", "幸福小区"),
    ("", ""),
])
def test_hide_door_keeps_the_street_and_its_number_only(detail: str, hidden: str) -> None:
    assert mask_detail(detail, "hide_door") == hidden
    assert mask_detail(detail, "clear") == detail.strip()


DOOR = st.integers(1, 9999).map(str)
ROAD = st.sampled_from(["示例路", "幸福大街", "收件大道", "金融街", "南锣鼓巷", "东四十条", "淮海中路"])
PART = st.sampled_from(["", "楼", "栋", "幢", "座", "单元", "室", "层", "号楼", "号", " ", "-", "A", "b", "东", "侧"])


@given(road=ROAD, number=DOOR, doors=st.lists(st.tuples(DOOR, PART), min_size=1, max_size=4),
       sep=st.sampled_from(["", " "]))
def test_a_door_number_after_the_street_number_never_shows(road: str, number: str,
                                                           doors: list[tuple[str, str]], sep: str) -> None:
    # The door part starts with a digit: 号 is not followed by a building word, so the street number is whole.
    rest = "".join(d + p for d, p in doors)
    detail = f"{road}{number}号{sep}{rest}"
    hidden = mask_detail(detail, "hide_door")
    street = f"{road}{number}号"
    assert hidden.startswith(street) and len(hidden) == len(detail.strip())
    assert not any(c.isdigit() for c in hidden[len(street):])


ADDRESS = st.text(st.one_of(st.sampled_from(list("路街道号院楼栋座单元室小区花园大厦幸福示例 -ABｂ１２〇")),
                            st.characters(min_codepoint=0x30, max_codepoint=0x39),
                            st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)), max_size=30)


@given(ADDRESS)
def test_hide_door_masks_every_digit_after_the_street_part_one_for_one(detail: str) -> None:
    hidden = mask_detail(detail, "hide_door")
    stripped = detail.strip()
    street = street_part(stripped)
    assert len(hidden) == len(stripped) and hidden.startswith(street) and stripped.startswith(street)
    for c, h in zip(stripped[len(street):], hidden[len(street):], strict=True):
        door = c.isdigit() or c in "〇零一二三四五六七八九十两" or unicodedata.normalize("NFKC", c) in ascii_letters
        assert h == (MASK if door else c)
    assert not any(c.isdigit() for c in hidden[len(street):])


def test_the_forms_are_named_operators() -> None:
    assert set(policy.DETAIL_FORMS) == {"clear", "hide_door"}
    assert set(policy.NAME_FORMS) == {"initials", "surname_initial"}
