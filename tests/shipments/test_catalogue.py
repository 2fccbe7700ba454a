"""The prohibited and restricted items catalogue: the shipped data, matching (robust to spacing, punctuation
and full-width forms; whole English words; most severe rule first; never echoing the description), and
the validation an admin's edit goes through."""

from __future__ import annotations

import copy
import re
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcelguard.shipments import catalogue
from parcelguard.shipments.catalogue import Catalogue, CatalogueInvalid, CategoryUnknown, Match, validate
from parcelguard.shipments.schemas import ItemIn

CAT = Catalogue.default()
PROHIBITED = [r for r in CAT.rules if r.level == "prohibited"]
PROHIBITED_ZH = [(r.id, k) for r in PROHIBITED for k in r.keywords_zh]
PROHIBITED_EN = [(r.id, k) for r in PROHIBITED for k in r.keywords_en]
HAN = re.compile(r"[\u3400-\u9fff]")

# Surrounding text that cannot itself form a keyword or an allowed phrase: Chinese characters that
# appear in none, and English words that appear in none.
_USED_CHARS = {ch for r in CAT.rules for w in (*r.keywords_zh, *r.allow_zh, *r.keywords_en, *r.allow_en)
               for ch in w}
SAFE_HAN = [ch for ch in "的一是不了人我在有这为之大来以个中们到说国和也子时道出而要于就下得可你年生自会那后能对着事其里所去行过家十用发天如然作方成者多日都三小军二无同么经法当起与好看学进种将还分此心前面又定见只主没公从"
            if ch not in _USED_CHARS]
_USED_WORDS = {w for r in CAT.rules for p in (*r.keywords_en, *r.allow_en) for w in p.split()}
SAFE_WORDS = [w for w in ("box", "new", "red", "small", "pack", "of", "two", "with", "and", "for", "kids", "set",
                          "3pcs", "blue", "old", "large", "item", "in", "a", "the", "x2", "brand")
              if w not in _USED_WORDS]
SEPARATORS = [" ", "-", "·", "、", "，", "*", "_", "/", "\u3000", "\u200b", ".", "  ", " - "]

INNOCENT = ["衣服", "书", "手机壳", "茶叶", "shoes", "begun", "spoon", "羽绒服 黑色 XL", "儿童绘本 10本",
            "笔记本电脑", "不锈钢保温杯", "running shoes, size 42", "wireless earbuds", "coffee beans 1kg"]
# Contain a keyword, but are everyday things (allowed phrases) or words that only look like one.
LOOK_ALIKES = ["筋膜枪", "massage gun", "glue gun", "手枪钻", "子弹笔记本", "沐浴炸弹", "bath bombs x3",
               "象牙白衬衫", "ivory white dress", "酒精湿巾 10包", "硫磺皂", "油漆笔", "bullet journal",
               "gunmetal grey phone case", "shotgun microphone", "香蕉水果干", "手机枪战游戏手柄", "黑芝麻古法糕点",
               "虎皮蛋糕", "diamond painting kit", "一氧化碳报警器", "non-radioactive crystal", "防假冒标签",
               "bootleg jeans", "香水柠檬", "骨灰级玩家周边", "Not dangerous goods"]


def full_width(text: str) -> str:
    """ASCII to its full-width form (U+FF01..U+FF5E), space to the ideographic space."""
    return "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def spread(keyword: str, separators: list[str]) -> str:
    """Put a separator at every boundary next to a Chinese character: 炸药 -> 炸 - 药."""
    out = [keyword[0]]
    for i, ch in enumerate(keyword[1:]):
        if HAN.match(ch) or HAN.match(keyword[i]):
            out.append(separators[i % len(separators)])
        out.append(ch)
    return "".join(out)


def minimal_data() -> dict[str, Any]:
    return {
        "categories": [{"code": "other", "label_zh": "其他", "label_en": "Other"},
                       {"code": "batteries", "label_zh": "电池", "label_en": "Batteries"}],
        "rules": [
            {"id": "explosives", "level": "prohibited", "label_zh": "爆炸物品", "label_en": "Explosives",
             "reason": "No.", "keywords_zh": ["炸药"], "keywords_en": ["dynamite"], "allow_zh": ["炸药味"]},
            {"id": "batteries", "level": "restricted", "label_zh": "电池", "label_en": "Batteries",
             "reason": "Inspect.", "categories": ["batteries"], "keywords_zh": ["充电宝"]},
        ],
    }


# -- the shipped data ---------------------------------------------------------------------------------

def test_the_shipped_catalogue_validates_clean() -> None:
    assert validate(catalogue.default_data()) == []


def test_the_default_catalogue_is_compiled_once() -> None:
    assert Catalogue.default() is Catalogue.default()


def test_every_category_code_is_one_the_intake_api_accepts() -> None:
    pattern = ItemIn.model_json_schema()["properties"]["category"]["pattern"]
    assert catalogue.CATEGORY_CODE.pattern == pattern
    codes = [c.code for c in CAT.categories()]
    assert len(codes) == len(set(codes)) and {"clothing", "documents", "batteries", "weapons", "other"} <= set(codes)
    assert all(c.label_zh and c.label_en for c in CAT.categories())


def test_every_prohibited_rule_cites_its_catalogue_item() -> None:
    assert all(r.source.startswith("禁止寄递物品指导目录") for r in PROHIBITED)
    assert len({r.source for r in PROHIBITED}) == 19


def test_a_category_is_known_or_an_error_for_the_caller() -> None:
    assert CAT.is_known_category("clothing") and not CAT.is_known_category("spaceships")
    with pytest.raises(CategoryUnknown) as caught:
        CAT.match("spaceships", "衣服")
    assert (caught.value.status, caught.value.code) == (422, "category_unknown")
    assert "spaceships" not in caught.value.detail


# -- prohibited keywords are caught ---------------------------------------------------------------------

surrounding_chinese = st.lists(st.sampled_from(SAFE_HAN + SEPARATORS), max_size=15).map("".join)


@settings(max_examples=400)
@given(st.sampled_from(PROHIBITED_ZH), surrounding_chinese, surrounding_chinese,
       st.lists(st.sampled_from(SEPARATORS), min_size=1, max_size=4), st.booleans(), st.booleans())
def test_every_prohibited_chinese_keyword_is_caught_in_any_text_spacing_and_width(
        rule_and_keyword: tuple[str, str], before: str, after: str, separators: list[str], spaced: bool,
        wide: bool) -> None:
    rule_id, keyword = rule_and_keyword
    written = spread(keyword, separators) if spaced else keyword
    description = before + written + after
    if wide:
        description = full_width(description)
    match = CAT.match("other", description)
    assert match == Match(rule_id, "prohibited", "keyword", keyword), description


@settings(max_examples=400)
@given(st.sampled_from(PROHIBITED_EN), st.lists(st.sampled_from(SAFE_WORDS), max_size=4),
       st.lists(st.sampled_from(SAFE_WORDS), max_size=4), st.sampled_from([" ", ", ", " - ", "/", "("]),
       st.sampled_from([str.lower, str.upper, str.title]), st.booleans(), st.booleans(), st.booleans())
def test_every_prohibited_english_keyword_is_caught_as_a_word_in_any_case_number_and_width(
        rule_and_keyword: tuple[str, str], before: list[str], after: list[str], separator: str,
        case: Any, plural: bool, among_chinese: bool, wide: bool) -> None:
    rule_id, keyword = rule_and_keyword
    written = case(keyword + ("s" if plural else ""))
    if among_chinese:  # a Chinese character next to an English word is a word boundary
        description = "".join(SAFE_HAN[:3]) + written + "".join(SAFE_HAN[3:5])
    else:
        description = separator.join([*before, written, *after])
    if wide:
        description = full_width(description)
    assert CAT.match("other", description) == Match(rule_id, "prohibited", "keyword", keyword), description


def test_every_prohibited_keyword_is_caught_in_every_written_form() -> None:
    """Exhaustive, next to the sampled property tests above: each keyword of each prohibited rule, plain,
    spread with separators, full-width, upper case and plural, inside text."""
    missed = []
    for rule_id, keyword in PROHIBITED_ZH:
        for written in (keyword, spread(keyword, SEPARATORS), full_width(spread(keyword, [" ", "-"]))):
            for description in (written, f"{SAFE_HAN[0]}{written}{SAFE_HAN[1]}", f"寄：{written}，2件"):
                if CAT.match("other", description) != Match(rule_id, "prohibited", "keyword", keyword):
                    missed.append(description)
    for rule_id, keyword in PROHIBITED_EN:
        for written in (keyword, keyword.upper() + "S", full_width(keyword.title())):
            for description in (written, f"new {written}, 2 pcs", f"{SAFE_HAN[0]}{written}{SAFE_HAN[1]}"):
                if CAT.match("other", description) != Match(rule_id, "prohibited", "keyword", keyword):
                    missed.append(description)
    assert missed == []


@pytest.mark.parametrize(("description", "rule_id", "term"), [
    ("炸 药", "explosives", "炸药"),
    ("炸-药", "explosives", "炸药"),
    ("炸　药 ２公斤", "explosives", "炸药"),
    ("雷\u200b管", "explosives", "雷管"),
    ("ＧＵＮＳ", "firearms_ammunition", "gun"),
    ("Butterfly-Knives x2", "controlled_instruments", "butterfly knife"),
    ("shotgun", "firearms_ammunition", "shotgun"),
    ("stun gun", "controlled_instruments", "stun gun"),  # the earliest keyword, not the later `gun`
    ("lighter fluid", "flammable_liquids", "lighter fluid"),  # the longest at the same place
    ("买gun两把", "firearms_ammunition", "gun"),
    ("手槍", "firearms_ammunition", "手槍"),
    ("象牙雕刻 象牙白", "protected_wildlife", "象牙"),  # an allowed phrase only cancels inside itself
    ("酒精 酒精湿巾", "flammable_liquids", "酒精"),
    ("2 massage guns and a gun", "firearms_ammunition", "gun"),
])
def test_descriptions_that_name_a_prohibited_item(description: str, rule_id: str, term: str) -> None:
    assert CAT.match("other", description) == Match(rule_id, "prohibited", "keyword", term)


# -- everyday items are not ----------------------------------------------------------------------------

@pytest.mark.parametrize("description", INNOCENT)
def test_everyday_items_match_nothing(description: str) -> None:
    assert CAT.match("other", description) is None
    assert CAT.match("clothing", full_width(description)) is None


@pytest.mark.parametrize("description", LOOK_ALIKES)
def test_look_alikes_of_prohibited_words_are_not_prohibited(description: str) -> None:
    match = CAT.match("other", description)
    assert match is None or match.level == "restricted", match


# -- severity ----------------------------------------------------------------------------------------------

def test_prohibited_beats_restricted() -> None:
    assert CAT.match("batteries", "雷管") == Match("explosives", "prohibited", "keyword", "雷管")
    assert CAT.match("other", "充电宝和炸药") == Match("explosives", "prohibited", "keyword", "炸药")
    assert CAT.match("other", "蓄电池") == Match("corrosives", "prohibited", "keyword", "蓄电池")
    assert CAT.match("weapons", "充电宝") == Match("firearms_ammunition", "prohibited", "category", "weapons")
    assert CAT.match("other", "盐酸二甲双胍片") == Match("chemical_products", "restricted", "keyword", "盐酸")


def test_a_restricted_item_is_matched_by_its_category_or_its_keyword() -> None:
    assert CAT.match("batteries", "户外用品") == Match("batteries", "restricted", "category", "batteries")
    assert CAT.match("other", "20000mAh 充电宝") == Match("batteries", "restricted", "keyword", "充电宝")
    assert CAT.match("electronics", "power banks") == Match("batteries", "restricted", "keyword", "power bank")
    assert CAT.match("other", "white wine 750ml") == Match("alcoholic_beverages", "restricted", "keyword", "wine")
    assert CAT.rule("batteries").reason


@settings(max_examples=300)
@given(st.sampled_from([c.code for c in CAT.categories()]), st.text(max_size=300))
def test_any_text_gives_none_or_a_match_with_the_catalogues_own_terms(category: str, description: str) -> None:
    match = CAT.match(category, description)
    if match is not None:
        rule = CAT.rule(match.rule_id)
        assert match.level == rule.level
        assert match.term in (rule.categories if match.matched_on == "category"
                              else (*rule.keywords_zh, *rule.keywords_en))


@given(st.sampled_from(PROHIBITED_ZH + PROHIBITED_EN), st.booleans())
def test_a_match_never_contains_the_description(rule_and_keyword: tuple[str, str], wide: bool) -> None:
    secret = "张三丰 13800138000 Zhang"
    description = f"{secret} {rule_and_keyword[1].upper()}S {secret}"
    match = CAT.match("other", full_width(description) if wide else description)
    assert match is not None
    shown = repr(match) + str(match.as_dict())
    assert "13800138000" not in shown and "张三丰" not in shown and "zhang" not in shown.lower()
    assert set(match.as_dict()) == {"rule", "level", "matched_on", "term"}


# -- validation -------------------------------------------------------------------------------------------

def _rule(data: dict[str, Any], i: int) -> dict[str, Any]:
    rule: dict[str, Any] = data["rules"][i]
    return rule


BAD_DATA = [
    ("duplicate rule id", lambda d: _rule(d, 1).update(id="explosives"), "/rules/1/id", "rule_id_duplicate"),
    ("rule id not snake_case", lambda d: _rule(d, 0).update(id="Explosives!"), "/rules/0/id", "rule_id_format"),
    ("unknown level", lambda d: _rule(d, 0).update(level="forbidden"), "/rules/0/level", "level_unknown"),
    ("no keywords and no categories", lambda d: _rule(d, 1).update(categories=[], keywords_zh=[]),
     "/rules/1", "rule_empty"),
    ("one Chinese character", lambda d: _rule(d, 0)["keywords_zh"].append("枪"), "/rules/0/keywords_zh/1",
     "keyword_too_short"),
    ("two Latin letters", lambda d: _rule(d, 0)["keywords_en"].append("c4"), "/rules/0/keywords_en/1",
     "keyword_too_short"),
    ("digits only", lambda d: _rule(d, 0)["keywords_en"].append("1234"), "/rules/0/keywords_en/1",
     "keyword_too_short"),
    ("empty keyword", lambda d: _rule(d, 0)["keywords_zh"].append(""), "/rules/0/keywords_zh/1",
     "keyword_too_short"),
    ("uppercase keyword", lambda d: _rule(d, 0)["keywords_en"].append("TNT"), "/rules/0/keywords_en/1",
     "keyword_not_normalised"),
    ("full-width keyword", lambda d: _rule(d, 0)["keywords_en"].append("ｔｎｔ"), "/rules/0/keywords_en/1",
     "keyword_not_normalised"),
    ("punctuation in a keyword", lambda d: _rule(d, 0)["keywords_zh"].append("雷-管"), "/rules/0/keywords_zh/1",
     "keyword_not_normalised"),
    ("English word among the Chinese", lambda d: _rule(d, 0)["keywords_zh"].append("semtex"),
     "/rules/0/keywords_zh/1", "keyword_script"),
    ("Chinese word among the English", lambda d: _rule(d, 0)["keywords_en"].append("雷管"),
     "/rules/0/keywords_en/1", "keyword_script"),
    ("a keyword in two rules", lambda d: _rule(d, 1)["keywords_zh"].append("炸药"), "/rules/1/keywords_zh/1",
     "keyword_duplicate"),
    ("category not in the list", lambda d: _rule(d, 0).update(categories=["fireworks"]), "/rules/0/categories/0",
     "category_unknown"),
    ("allowed phrase without a keyword", lambda d: _rule(d, 0)["allow_zh"].append("烟花棒"), "/rules/0/allow_zh/1",
     "allow_unused"),
    ("misspelt field", lambda d: _rule(d, 1).update(keyword_en=["battery"]), "/rules/1/keyword_en",
     "field_unknown"),
    ("field name with a slash", lambda d: _rule(d, 1).update({"a/b": 1}), "/rules/1/a~1b", "field_unknown"),
    ("missing label", lambda d: _rule(d, 0).pop("label_en"), "/rules/0/label_en", "field_missing"),
    ("empty reason", lambda d: _rule(d, 0).update(reason=" "), "/rules/0/reason", "field_type"),
    ("keywords not a list", lambda d: _rule(d, 0).update(keywords_zh="炸药"), "/rules/0/keywords_zh", "field_type"),
    ("duplicate category code", lambda d: d["categories"].append(dict(d["categories"][0])), "/categories/2/code",
     "category_duplicate"),
    ("category code the API refuses", lambda d: d["categories"][0].update(code="Other-1"), "/categories/0/code",
     "category_code_format"),
    ("category code with a trailing newline", lambda d: d["categories"][0].update(code="other\n"),
     "/categories/0/code", "category_code_format"),
    ("rule id with a trailing newline", lambda d: _rule(d, 0).update(id="explosives\n"), "/rules/0/id",
     "rule_id_format"),
    ("unknown top-level key", lambda d: d.update(version=2), "/version", "field_unknown"),
]


def test_the_minimal_data_is_valid_and_matches() -> None:
    assert validate(minimal_data()) == []
    small = Catalogue.from_data(minimal_data())
    assert small.match("other", "炸药味薯片") is None
    assert small.match("batteries", "x") == Match("batteries", "restricted", "category", "batteries")
    assert [c.code for c in small.categories()] == ["other", "batteries"]


@pytest.mark.parametrize(("case", "damage", "pointer", "code"), BAD_DATA, ids=[b[0] for b in BAD_DATA])
def test_validation_names_each_kind_of_bad_data(case: str, damage: Any, pointer: str, code: str) -> None:
    data = copy.deepcopy(minimal_data())
    damage(data)
    errors = validate(data)
    assert (pointer, code) in [(e.pointer, e.code) for e in errors], errors
    with pytest.raises(CatalogueInvalid) as caught:  # a 422 listing every error, for the admin API
        Catalogue.from_data(data)
    assert (caught.value.status, caught.value.code, caught.value.errors) == (422, "catalogue_invalid", errors)


def test_validation_of_something_that_is_not_a_catalogue() -> None:
    assert [(e.pointer, e.code) for e in validate(["炸药"])] == [("", "field_type")]
    assert ("/rules", "field_type") in [(e.pointer, e.code) for e in validate({"categories": [], "rules": 3})]


def test_validation_reports_every_error_at_once() -> None:
    data = minimal_data()
    _rule(data, 0).update(level="nope", keywords_zh=["枪", "炸药"])
    _rule(data, 1).update(id="explosives")
    assert {e.code for e in validate(data)} == {"level_unknown", "keyword_too_short", "rule_id_duplicate"}


# -- speed (reported, not asserted) --------------------------------------------------------------------

def test_matching_speed_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    everyday = ["羽绒服 黑色 XL 2件", "iPhone 15 手机壳 透明", "茶叶 西湖龙井 250g 礼盒装", "Nike running shoes, 2 pairs",
                "笔记本电脑 联想 ThinkPad X1 含原装充电器 电脑包 鼠标", "充电宝 20000mAh", "不锈钢保温杯 500ml"]
    items = [everyday[i % len(everyday)] for i in range(20_000)]
    long_text = ("".join(SAFE_HAN) * 10)[:200]
    started = time.perf_counter()
    for description in items:
        CAT.match("other", description)
    typical = len(items) / (time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(2_000):
        CAT.match("other", long_text)
    longest = 2_000 / (time.perf_counter() - started)
    started = time.perf_counter()
    Catalogue.from_data(catalogue.default_data())
    build_ms = (time.perf_counter() - started) * 1000
    with capsys.disabled():
        print(f"\ncatalogue: {len(CAT.rules)} rules; matching {typical:,.0f} typical items/s, "
              f"{longest:,.0f} items/s at 200 characters; load + validate + compile {build_ms:.0f} ms")
