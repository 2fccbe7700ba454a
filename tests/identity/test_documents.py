"""Identity documents: the GB 11643 citizen number, the other documents the real-name rules accept,
and the unified social credit code. Known answers from the standards next to property tests."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcelguard.core.errors import Invalid
from parcelguard.crypto.blind_index import normalise_id_number
from parcelguard.identity import documents, regions
from parcelguard.identity.documents import DocType, Document, InvalidDocument, Reason

TODAY = date(2025, 6, 1)
GB11643_SAMPLE = "11010519491231002X"  # GB 11643-1999's own example: 北京市朝阳区, born 1949-12-31
HUAWEI_USCC = "914403001922038216"  # 华为技术有限公司, as on its business licence
JIANGSU_USCC = "11320000MB151840XJ"  # a 江苏 public institution (11: 机构编制, 事业单位)
GB32100_EXAMPLE_BODY = "91350100M000100Y4"  # GB 32100-2015's worked example: check character 3, not Z

MAINLAND = sorted(c for c in regions.region_codes() if c[:2] not in ("71", "81", "82", "83"))


def citizen_number(region: str, born: date, sequence: int) -> str:
    body = f"{region}{born:%Y%m%d}{sequence:03d}"
    return body + documents.id_check_character(body)


def reason(number: str, doc_type: DocType | str | None = None, today: date = TODAY) -> str:
    with pytest.raises(InvalidDocument) as caught:
        documents.parse(number, doc_type, today=today)
    return caught.value.code


citizen_numbers = st.builds(
    citizen_number,
    st.sampled_from(MAINLAND),
    st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    st.integers(0, 999),
)


# -- the citizen number (居民身份证, GB 11643-1999) -------------------------------------------------

def test_the_standards_sample_number_is_a_valid_resident_id() -> None:
    doc = documents.parse(GB11643_SAMPLE, today=TODAY)
    assert (doc.doc_type, doc.number, doc.birth_date, doc.region_code) == (
        DocType.RESIDENT_ID, GB11643_SAMPLE, date(1949, 12, 31), "110105")
    assert documents.id_check_character(GB11643_SAMPLE[:17]) == "X"


@given(citizen_numbers)
def test_every_generated_citizen_number_is_valid_and_comes_back_unchanged(number: str) -> None:
    doc = documents.parse(number, today=TODAY)
    assert doc.doc_type is DocType.RESIDENT_ID and doc.number == number and doc.normalised == number
    assert doc.region_code == number[:6] and doc.birth_date == date.fromisoformat(
        f"{number[6:10]}-{number[10:12]}-{number[12:14]}")
    assert documents.parse(number, DocType.TEMPORARY_RESIDENT_ID, today=TODAY).number == number


_FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９ｘ")


@given(citizen_numbers, st.integers(1, 17))
def test_spaces_lower_case_and_full_width_digits_are_the_same_number(number: str, cut: int) -> None:
    for typed in (f" {number[:cut]} {number[cut:]} ", number.lower(), number.translate(_FULL_WIDTH),
                  f"{number[:6]}\u3000{number[6:14]}\t{number[14:]}"):
        assert documents.parse(typed, today=TODAY).number == number


@given(st.text(alphabet="0123456789xX -\u3000Ａ１", max_size=24))
def test_cleaning_agrees_with_the_blind_index_normaliser_on_ascii(text: str) -> None:
    ascii_only = text.encode("ascii", "ignore").decode()
    assert documents.clean(ascii_only) == normalise_id_number(ascii_only)


def test_mod_11_2_weights_catch_every_single_substitution() -> None:
    # A substitution at position i changes the weighted sum by w_i * d, d in ±1..±10 (10 = X in the
    # check position). 11 is prime and no weight is 0 mod 11, so w_i * d is never 0 mod 11.
    weights = [pow(2, 17 - i, 11) for i in range(17)]
    assert all(w * d % 11 for w in weights for d in range(1, 11))


def test_every_single_character_change_of_the_sample_fails_the_check_digit() -> None:
    for i in range(18):
        for c in "0123456789X":
            if c == GB11643_SAMPLE[i]:
                continue
            changed = GB11643_SAMPLE[:i] + c + GB11643_SAMPLE[i + 1:]
            assert reason(changed, DocType.RESIDENT_ID) == ("id_format" if c == "X" and i < 17 else "id_check_digit")


@given(citizen_numbers, st.integers(0, 17), st.sampled_from("0123456789X"))
def test_any_single_substitution_of_a_valid_number_fails_the_check_digit(number: str, i: int, c: str) -> None:
    changed = number[:i] + c + number[i + 1:]
    if changed == number:
        return
    if c == "X" and i < 17:
        assert reason(changed, DocType.RESIDENT_ID) == "id_format"
    else:
        assert documents.id_check_character(changed[:17]) != changed[17]
        assert reason(changed, DocType.RESIDENT_ID) == "id_check_digit"


@given(st.builds(citizen_number, st.sampled_from(MAINLAND),
                 st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)), st.integers(0, 999)))
def test_a_15_digit_legacy_number_converts_to_its_18_digit_form_and_back(number: str) -> None:
    legacy = number[:6] + number[8:17]
    assert documents.to_18_digits(legacy) == number
    doc = documents.parse(legacy, today=TODAY)
    assert doc.number == number and doc.entered_as_15_digits and doc.normalised == number
    assert doc.masked == documents.parse(number, today=TODAY).masked
    assert doc.number[:6] + doc.number[8:17] == legacy


def test_the_legacy_form_of_the_sample_is_the_sample() -> None:
    assert documents.parse("110105491231002", today=TODAY).number == GB11643_SAMPLE


def test_a_merged_countys_old_code_is_still_accepted() -> None:
    # 崇文区 (110103) and 宣武区 (110104) were merged into 东城区 and 西城区 in 2010.
    for code, name in (("110103", "崇文区"), ("110104", "宣武区")):
        entry = regions.region(code)
        assert entry is not None and entry.name == name and entry.last < 2010 < regions.newest_edition()
        doc = documents.parse(citizen_number(code, date(1975, 3, 8), 17), today=TODAY)
        assert doc.region_code == code
    # and a county of the newest editions only: 延庆区 (110119, 2015)
    assert regions.region("110119").first >= 2015  # type: ignore[union-attr]
    documents.parse(citizen_number("110119", date(2016, 1, 1), 2), today=TODAY)


def test_the_region_table_covers_1980_to_the_newest_edition_and_loads_once() -> None:
    codes = regions.region_codes()
    assert isinstance(codes, frozenset) and len(codes) > 7000 and regions.region_codes() is codes
    assert min(r.first for r in map(regions.region, codes) if r) == 1980
    assert regions.newest_edition() >= 2025
    regions.region_codes.cache_clear()
    started = time.perf_counter()
    assert regions.region_codes() == codes
    assert time.perf_counter() - started < 0.5


# -- one concrete bad input per reason ------------------------------------------------------------

def test_id_length() -> None:
    assert reason(GB11643_SAMPLE[:16]) == "id_length"
    assert reason(GB11643_SAMPLE + "1", DocType.RESIDENT_ID) == "id_length"
    assert reason("9" * 200, DocType.RESIDENT_ID) == "id_length"


def test_id_format() -> None:
    assert reason("11010519491231002Y") == "id_format"
    assert reason("1101051949123100X2", DocType.RESIDENT_ID) == "id_format"
    assert reason("11010519491231\u066002X", DocType.RESIDENT_ID) == "id_format"  # an Arabic-Indic digit


def test_id_check_digit() -> None:
    assert reason("110105194912310021") == "id_check_digit"


@pytest.mark.parametrize("born", ["19491331", "19490230", "19000229", "18991231", "20250602"])
def test_id_birth_date(born: str) -> None:
    body = f"110105{born}002"
    assert reason(body + documents.id_check_character(body)) == "id_birth_date"


def test_a_birth_date_of_today_is_fine_and_tomorrow_is_not() -> None:
    assert documents.parse(citizen_number("110105", TODAY, 1), today=TODAY).birth_date == TODAY
    assert reason(citizen_number("110105", TODAY + timedelta(days=1), 1)) == "id_birth_date"
    assert documents.parse(citizen_number("110105", date(2000, 2, 29), 1), today=TODAY)


@pytest.mark.parametrize("region", ["110199", "000000", "710000", "810000", "830000"])
def test_id_region(region: str) -> None:
    assert reason(citizen_number(region, date(1990, 1, 1), 1), DocType.RESIDENT_ID) == "id_region"


def test_id_type_unknown() -> None:
    assert reason("abc") == "id_type_unknown"
    # all digits, no valid ID but a valid USCC: a mistyped ID passes the USCC check one time in 31
    assert reason(HUAWEI_USCC) == "id_type_unknown"
    with pytest.raises(InvalidDocument):
        documents.detect("???")


def test_a_type_given_that_is_none_of_ours_is_named_as_the_problem() -> None:
    # Before issue 18 this was `id_type_unknown`, "give the type", though a type was given.
    for typed, hint in (("passport", "foreign_passport"), ("Passport", "foreign_passport"),
                        ("resident-id", "resident_id"), ("drivers_licence", None)):
        with pytest.raises(InvalidDocument) as caught:
            documents.parse("E!23", typed)
        refused = caught.value
        assert (refused.code, refused.part) == ("id_type_invalid", "type")
        assert refused.detail.startswith("This document type is not one parcelguard accepts.")
        assert all(t.value in refused.detail for t in DocType)
        assert (f"Did you mean {hint}?" in refused.detail) if hint else ("Did you mean" not in refused.detail)


@given(st.text(max_size=32).filter(lambda s: s not in set(DocType)))
def test_any_other_type_is_refused_as_a_type_without_repeating_it(given_type: str) -> None:
    with pytest.raises(InvalidDocument) as caught:
        documents.parse(GB11643_SAMPLE, given_type)
    assert (caught.value.code, caught.value.part) == ("id_type_invalid", "type")
    base = documents.MESSAGES[Reason.ID_TYPE_INVALID]
    assert caught.value.detail in {base, *(f"{base} Did you mean {t.value}?" for t in DocType)}


@given(citizen_numbers, st.integers(14, 16), st.sampled_from("ABCDEFGHJKLMNPQRTUWXY"))
def test_a_citizen_number_with_a_letter_typed_among_its_last_digits_is_a_format_error(
    number: str, i: int, letter: str
) -> None:
    # 11010519491231A02X: read as a USCC before issue 18 (uscc_check_digit). With or without the type, it
    # is a citizen number mistyped, unless it also happens to be a valid USCC: then only the type settles it.
    typo = number[:i] + letter + number[i + 1:]
    expected = "id_type_unknown" if documents.is_valid(typo, DocType.USCC) else "id_format"
    assert reason(typo) == expected
    assert reason(typo, DocType.RESIDENT_ID) == "id_format"


def test_the_issues_mistyped_number_is_a_format_error() -> None:
    assert reason("11010519491231A02X") == reason("11010519491231A02X", DocType.RESIDENT_ID) == "id_format"
    assert documents.parse(JIANGSU_USCC).doc_type is DocType.USCC  # a USCC with letters still reads as one


def test_uscc_length() -> None:
    assert reason(GB32100_EXAMPLE_BODY, DocType.USCC) == "uscc_length"


def test_uscc_format() -> None:
    assert reason("91350100M0001OOY43", DocType.USCC) == "uscc_format"  # O is not in the set
    assert reason("9135010AM000100Y43", DocType.USCC) == "uscc_format"  # position 8 is a region digit


def test_uscc_check_digit() -> None:
    assert reason(GB32100_EXAMPLE_BODY + "4") == "uscc_check_digit"
    # The standard's own failing example ends in Z, which is outside the character set altogether.
    assert reason(GB32100_EXAMPLE_BODY + "Z") == "uscc_format"


def test_reason_codes_and_type_codes_are_stable() -> None:
    assert [r.value for r in Reason] == [
        "id_length", "id_format", "id_check_digit", "id_birth_date", "id_region", "id_type_unknown",
        "id_type_invalid", "uscc_length", "uscc_format", "uscc_check_digit"]
    assert [t.value for t in DocType] == [
        "resident_id", "temporary_resident_id", "hmt_residence_permit", "foreign_permanent_resident_id",
        "hk_macao_travel_permit", "taiwan_travel_permit", "military_officer_id", "armed_police_officer_id",
        "foreign_passport", "uscc"]
    assert set(documents.MESSAGES) == set(Reason)


def test_an_invalid_document_is_a_domain_error_with_the_reason_as_its_code() -> None:
    with pytest.raises(Invalid) as caught:
        documents.parse("110105194912310021", today=TODAY)
    assert caught.value.status == 422 and caught.value.code == "id_check_digit"
    assert caught.value.reason is Reason.ID_CHECK_DIGIT  # type: ignore[attr-defined]


# -- the other documents --------------------------------------------------------------------------

def test_a_temporary_id_needs_its_type_and_checks_like_a_resident_id() -> None:
    assert documents.parse(GB11643_SAMPLE, "temporary_resident_id", today=TODAY).doc_type is DocType.TEMPORARY_RESIDENT_ID
    assert reason("110105194912310021", "temporary_resident_id") == "id_check_digit"
    assert documents.parse(GB11643_SAMPLE, "temporary_resident_id").index_key == \
        documents.parse(GB11643_SAMPLE).index_key == f"citizen:{GB11643_SAMPLE}"


@pytest.mark.parametrize("region", ["810000", "820000", "830000"])
def test_hmt_residence_permits_carry_their_own_region(region: str) -> None:
    number = citizen_number(region, date(1990, 1, 1), 3)
    doc = documents.parse(number, today=TODAY)
    assert doc.doc_type is DocType.HMT_RESIDENCE_PERMIT and doc.region_code == region
    assert reason(GB11643_SAMPLE, DocType.HMT_RESIDENCE_PERMIT) == "id_region"
    assert reason(number[:17] + ("1" if number[17] != "1" else "2")) == "id_check_digit"


def test_the_permanent_resident_card_of_2023_is_9_and_a_mod_11_2_number() -> None:
    number = citizen_number("944124", date(1988, 1, 15), 3)  # 9, 广东, 124 (Canada)
    doc = documents.parse(number, today=TODAY)
    assert (doc.doc_type, doc.region_code, doc.birth_date) == (
        DocType.FOREIGN_PERMANENT_RESIDENT_ID, "440000", date(1988, 1, 15))
    assert doc.masked == "9441**********" + number[-4:]
    assert reason(number[:17] + ("1" if number[17] != "1" else "2")) == "id_check_digit"
    assert reason(citizen_number("999124", date(1988, 1, 15), 3)) == "id_region"
    assert reason(GB11643_SAMPLE, DocType.FOREIGN_PERMANENT_RESIDENT_ID) == "id_format"


def test_the_permanent_resident_card_of_2017_is_letters_digits_and_an_icao_check_digit() -> None:
    # CAN, 4400 (广东), born 88-01-15, sequence 0; 7-3-1 weights: C=12 A=10 N=23 → check 8
    assert documents.parse("CAN440088011508", today=TODAY).birth_date == date(1988, 1, 15)
    doc = documents.parse("CAN440000022911", today=TODAY)  # born 2000-02-29: 20YY before 19YY
    assert (doc.birth_date, doc.masked) == (date(2000, 2, 29), "CAN**********11")
    assert reason("CAN440088011509") == "id_check_digit"
    assert reason("CAN990088011508") == "id_region"
    assert reason("CAN44008813150" + documents._icao_check_digit("CAN44008813150")) == "id_birth_date"
    assert reason("CAN4400880115", DocType.FOREIGN_PERMANENT_RESIDENT_ID) == "id_length"


def test_hk_macao_travel_permits_are_h_or_m_and_8_digits_with_an_issue_count() -> None:
    assert documents.parse("h12345678").masked == "H*****678"
    doc = documents.parse("M1234567801")
    assert (doc.doc_type, doc.number, doc.normalised, doc.masked) == (
        DocType.HK_MACAO_TRAVEL_PERMIT, "M1234567801", "M12345678", "M*****678")
    assert reason("H1234567", DocType.HK_MACAO_TRAVEL_PERMIT) == "id_length"
    assert reason("X12345678", DocType.HK_MACAO_TRAVEL_PERMIT) == "id_format"


def test_taiwan_travel_permits_are_8_digits_or_an_older_10_with_a_letter() -> None:
    assert documents.parse("12345678").doc_type is DocType.TAIWAN_TRAVEL_PERMIT
    doc = documents.parse("1234567890（b）")
    assert (doc.number, doc.normalised, doc.masked) == ("1234567890(B)", "1234567890", "*******890")
    assert reason("1234567", DocType.TAIWAN_TRAVEL_PERMIT) == "id_length"
    assert reason("12345678B", DocType.TAIWAN_TRAVEL_PERMIT) == "id_length"
    assert reason("1234-5678", DocType.TAIWAN_TRAVEL_PERMIT) == "id_format"


def test_officer_ids_are_stored_in_one_form_however_typed() -> None:
    for typed in ("南字第1234567号", "南 字第 1234567 号", "南1234567"):
        doc = documents.parse(typed)
        assert (doc.doc_type, doc.number, doc.masked) == (DocType.MILITARY_OFFICER_ID, "南字第1234567号", "南字第****567号")
    assert documents.parse("武字第012345号").doc_type is DocType.ARMED_POLICE_OFFICER_ID
    assert reason("军字第12345号", DocType.MILITARY_OFFICER_ID) == "id_length"
    assert reason("字第1234567号", DocType.MILITARY_OFFICER_ID) == "id_format"
    assert reason("1234567", DocType.ARMED_POLICE_OFFICER_ID) == "id_format"


def test_foreign_passports_need_their_type_and_get_a_format_check() -> None:
    assert reason("E12345678") == "id_type_unknown"
    doc = documents.parse("e1234567 8<<", DocType.FOREIGN_PASSPORT)
    assert (doc.number, doc.masked) == ("E12345678", "******678")
    assert reason("E123", DocType.FOREIGN_PASSPORT) == "id_length"
    assert reason("PASSPORT", DocType.FOREIGN_PASSPORT) == "id_format"
    assert reason("E1234-5678", DocType.FOREIGN_PASSPORT) == "id_format"


# -- unified social credit code (GB 32100-2015) ---------------------------------------------------

def test_the_uscc_weights_are_powers_of_3_mod_31_as_the_standard_lists() -> None:
    assert [pow(3, i, 31) for i in range(17)] == [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    assert len(documents.USCC_ALPHABET) == 31 and not set("IOSVZ") & set(documents.USCC_ALPHABET)


def test_known_unified_social_credit_codes() -> None:
    assert documents.uscc_check_character(GB32100_EXAMPLE_BODY) == "3"
    for code in (GB32100_EXAMPLE_BODY + "3", JIANGSU_USCC, HUAWEI_USCC):
        doc = documents.parse(code, DocType.USCC)
        assert (doc.number, doc.masked, doc.region_code) == (code, code, code[2:8])
    assert documents.parse(JIANGSU_USCC.lower()).doc_type is DocType.USCC


uscc_bodies = st.text(alphabet=documents.USCC_ALPHABET, min_size=2, max_size=2).flatmap(
    lambda head: st.builds(lambda r, tail: head + r + tail, st.sampled_from(MAINLAND),
                           st.text(alphabet=documents.USCC_ALPHABET, min_size=9, max_size=9)))


@given(uscc_bodies, st.integers(0, 17), st.sampled_from(documents.USCC_ALPHABET))
def test_a_uscc_with_one_character_changed_fails(body: str, i: int, c: str) -> None:
    code = body + documents.uscc_check_character(body)
    assert documents.parse(code, DocType.USCC).number == code
    changed = code[:i] + c + code[i + 1:]
    if changed != code:
        assert reason(changed, DocType.USCC) in ("uscc_check_digit", "uscc_format")


# -- nothing personal in a repr, an error or a log line -------------------------------------------

def test_a_document_prints_masked() -> None:
    doc = documents.parse(GB11643_SAMPLE, today=TODAY)
    for shown in (repr(doc), str(doc), f"{doc}", repr([doc]), repr(doc.masked)):
        assert GB11643_SAMPLE not in shown and "1101**********002X" in shown
    assert doc.masked == "1101**********002X" and isinstance(doc, Document)


@settings(max_examples=300)
@given(st.text(alphabet="0123456789XHM", min_size=6, max_size=24),
       st.one_of(st.none(), st.sampled_from(list(DocType))))
def test_an_error_never_holds_the_number(number: str, doc_type: DocType | None) -> None:
    try:
        doc = documents.parse(number, doc_type, today=TODAY)
    except InvalidDocument as exc:
        assert number not in str(exc) + repr(exc) + exc.detail + repr(exc.errors) + repr(exc.args)
        assert exc.code in {r.value for r in Reason}
    else:
        assert doc.number not in repr(doc) or doc.doc_type is DocType.USCC


@given(citizen_numbers)
def test_the_18_character_mask_keeps_the_first_4_and_last_4(number: str) -> None:
    masked = documents.parse(number, today=TODAY).masked
    assert masked == number[:4] + "*" * 10 + number[-4:]
