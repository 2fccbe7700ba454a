"""Reading carriers' rate tables from CSV and XLSX: what is accepted, and every refusal named by its sheet,
row and column in one error. XLSX files are built here with openpyxl, as Excel would save them."""

from __future__ import annotations

import csv
import io
import json
import random
import zipfile
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parcelguard.core import errors as core_errors
from parcelguard.enterprise.rates import (
    FREIGHT,
    MAX_FILE_BYTES,
    Lane,
    RateTable,
    RateTableInvalid,
    Surcharge,
    cells,
    parse,
    parse_csv,
    parse_xlsx,
    provinces,
    sheets,
)
from parcelguard.enterprise.rates.model import city_key
from parcelguard.enterprise.rates.regions import canonical_province, short_name

META = {"carrier": "SF", "version": "2027 协议价", "effective_from": date(2027, 3, 1)}
EN = ["origin_province", "destination_province", "destination_city", "first_weight_kg", "first_price_yuan",
      "step_kg", "step_price_yuan", "max_weight_kg", "transit_days_min", "transit_days_max"]
ZH = ["始发省", "目的省", "目的市", "首重(kg)", "首重价格(元)", "续重单位(kg)", "续重价格(元)", "最大重量(kg)",
      "最快时效(天)", "最慢时效(天)"]
SURCHARGE_EN = ["name", "kind", "amount", "destination_provinces", "min_weight_kg"]
SURCHARGE_ZH = ["名称", "类型", "金额", "目的省", "起始重量(kg)"]
GD, XJ, XZ = "广东省", "新疆维吾尔自治区", "西藏自治区"

Rows = list[list[object]]


def csv_bytes(rows: Sequence[Sequence[object]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(sheets: dict[str, Sequence[Sequence[object]]], percent_cells: Sequence[str] = ()) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(list(row))
    for ref in percent_cells:
        title, cell = ref.split("!")
        book[title][cell].number_format = "0.00%"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def invalid(call: object, *args: object, **kwargs: object) -> RateTableInvalid:
    with pytest.raises(RateTableInvalid) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value


def pointers(exc: RateTableInvalid) -> set[tuple[str, str]]:
    return {(e.pointer, e.code) for e in exc.errors}


GOOD_EN: Rows = [
    EN,
    ["广东", "广东", "", "1", "12", "1", "2", "30", "1", "2"],
    ["广东省", "广东省", "深圳市", "1", "10.5", "0.5", "1.00", "", "1", "1"],
    ["广东", "新疆", "", "1", "￥20", "1", "10", "", "3", "5"],
]
GOOD_LANES = (
    Lane(GD, GD, None, 1000, 1200, 1000, 200, 30_000, 1, 2),
    Lane(GD, GD, "深圳市", 1000, 1050, 500, 100, None, 1, 1),
    Lane(GD, XJ, None, 1000, 2000, 1000, 1000, None, 3, 5),
)
GOOD_SURCHARGES_ZH: Rows = [
    SURCHARGE_ZH,
    ["偏远地区附加费", "固定", "8", "新疆、西藏", ""],
    ["超重附加费", "每公斤", "1", "", "30"],
    ["燃油附加费", "百分比", "5.5%", "", ""],
]
GOOD_SURCHARGES = (
    Surcharge("偏远地区附加费", "fixed", 800, frozenset({XJ, XZ})),
    Surcharge("超重附加费", "per_kg", 100, min_weight_g=30_000),
    Surcharge("燃油附加费", "percent", 550),
)


def zh(rows: Rows) -> Rows:
    return [ZH, *rows[1:]]


# -- what is accepted ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("encoding", "headers"), [
    ("utf-8", "en"), ("utf-8-sig", "en"), ("utf-8-sig", "zh"), ("gb18030", "zh"), ("gb18030", "en"),
])
def test_a_csv_parses_in_utf8_with_or_without_bom_and_in_gb18030(encoding: str, headers: str) -> None:
    rows = GOOD_EN if headers == "en" else zh(GOOD_EN)
    t = parse_csv(csv_bytes(rows, encoding), **META, surcharges=csv_bytes(GOOD_SURCHARGES_ZH, encoding))
    assert t == RateTable(**META, lanes=GOOD_LANES, surcharges=GOOD_SURCHARGES)


def test_a_gb18030_file_is_not_mistaken_for_utf8() -> None:
    data = csv_bytes(zh(GOOD_EN), "gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert parse_csv(data, **META).lanes == GOOD_LANES


def test_columns_come_in_any_order_and_optional_ones_may_be_left_out() -> None:
    order = [8, 9, 6, 5, 4, 3, 1, 0]  # no city, no max weight
    rows = [[r[i] for i in order] for r in GOOD_EN if r[2] == "" or r is GOOD_EN[0]]
    t = parse_csv(csv_bytes(rows), **META)
    assert t.lanes == (replace_max(GOOD_LANES[0], None), GOOD_LANES[2])


def replace_max(lane: Lane, max_g: int | None) -> Lane:
    return Lane(lane.origin_province, lane.destination_province, lane.destination_city, lane.first_weight_g,
                lane.first_price_fen, lane.step_g, lane.step_price_fen, max_g, lane.transit_days_min,
                lane.transit_days_max)


def test_an_xlsx_with_chinese_sheets_and_headers_parses_with_its_surcharges() -> None:
    lanes = [ZH, ["广东", "广东", None, 1, 12, 1, 2, 30, 1, 2],
             ["广东省", "广东省", " 深圳市 ", 1, Decimal("10.5"), 0.5, 1, None, 1, 1],
             ["广东", "新疆", None, "1", "￥20", 1, 10, None, 3, 5]]
    surcharges = [SURCHARGE_ZH, ["偏远地区附加费", "固定", 8, "新疆，西藏", None],
                  ["超重附加费", "每公斤", 1, None, 30], ["燃油附加费", "百分比", 0.055, None, None]]
    data = xlsx_bytes({"说明": [["这张表是说明"]], "价格表": lanes, "附加费": surcharges},
                      percent_cells=["附加费!C4"])
    assert parse_xlsx(data, **META) == RateTable(**META, lanes=GOOD_LANES, surcharges=GOOD_SURCHARGES)


def test_the_first_sheet_holds_the_lanes_when_none_is_named_rates() -> None:
    data = xlsx_bytes({"Sheet1": GOOD_EN, "Sheet2": [["anything"]]})
    assert parse_xlsx(data, **META).lanes == GOOD_LANES


def test_an_xlsx_number_is_read_as_excel_shows_it() -> None:
    rows = [EN, ["广东", "广东", None, 1, 10 * 1.1, 1, 0.1 + 0.2, None, 1, 2]]  # 11.000000000000002, 0.30000000000000004
    lane = parse_xlsx(xlsx_bytes({"rates": rows}), **META).lanes[0]
    assert (lane.first_price_fen, lane.step_price_fen) == (1100, 30)


@pytest.mark.parametrize(("cell", "fen"), [
    ("12.5", 1250), ("12.50", 1250), ("￥12.5", 1250), ("¥ 12.5", 1250), ("12.5元", 1250), ("１２.５", 1250),
    ("0", 0), ("12.500", 1250), (12, 1200), (12.5, 1250), (Decimal("0.01"), 1),
])
def test_money_is_yuan_with_at_most_two_decimals(cell: object, fen: int) -> None:
    assert cells.money_fen(cell) == fen


@pytest.mark.parametrize(("cell", "code"), [
    ("-1", "amount_negative"), ("12.345", "amount_precision"), ("12,5", "not_an_amount"), ("", "not_an_amount"),
    ("十二", "not_an_amount"), (True, "not_an_amount"), (float("nan"), "not_an_amount"), ("1e3", "not_an_amount"),
    ("100000.01", "amount_too_large"), (date(2027, 1, 1), "not_an_amount"),
])
def test_money_that_is_not_yuan_is_refused(cell: object, code: str) -> None:
    with pytest.raises(cells.CellError) as caught:
        cells.money_fen(cell)
    assert caught.value.code == code


@pytest.mark.parametrize(("cell", "grams"), [("1", 1000), ("0.5", 500), ("1.25kg", 1250), ("0.001", 1), (2, 2000)])
def test_weights_are_kilograms_with_at_most_three_decimals(cell: object, grams: int) -> None:
    assert cells.weight_grams(cell) == grams


@pytest.mark.parametrize(("cell", "code"), [
    ("0", "weight_not_positive"), ("0.0005", "weight_precision"), ("-1", "weight_not_positive"),
    ("1斤", "not_a_weight"), ("10001", "weight_too_large"),
])
def test_weights_that_are_not_kilograms_are_refused(cell: object, code: str) -> None:
    with pytest.raises(cells.CellError) as caught:
        cells.weight_grams(cell)
    assert caught.value.code == code


def test_the_34_provinces_are_known_by_full_and_short_names() -> None:
    names = provinces()
    assert len(names) == 34 and {"香港特别行政区", "澳门特别行政区", "台湾省"} <= set(names)
    for short, full in [("广东", "广东省"), ("内蒙古", "内蒙古自治区"), ("北京", "北京市"), ("广西", "广西壮族自治区"),
                        ("新疆", "新疆维吾尔自治区"), ("宁夏", "宁夏回族自治区"), ("香港", "香港特别行政区"),
                        ("台湾", "台湾省"), ("黑龙江", "黑龙江省")]:
        assert canonical_province(short) == canonical_province(full) == full
    assert all(canonical_province(n) == n and canonical_province(short_name(n)) == n for n in names)
    assert canonical_province("广东市") is None and canonical_province("") is None


# -- what is refused, and where ---------------------------------------------------------------------------

def test_the_error_names_the_row_and_column_as_excel_shows_them() -> None:
    rows = [EN, *[["广东", "广东", f"城市{i}", "1", "12", "1", "2", "", "1", "2"] for i in range(5)],
            ["广东", "广东", "城市9", "1", "十二元", "1", "2", "", "1", "2"]]
    exc = invalid(parse_csv, csv_bytes(rows), **META)
    assert [e.as_dict() for e in exc.errors] == [{
        "pointer": "/rates/row/7/column/E", "code": "not_an_amount",
        "detail": "行 7 列 E（首重价格(元)）: 不是金额（元，最多两位小数） / "
                  "row 7 column E (first_price_yuan): not an amount (yuan, at most 2 decimals)",
    }]
    assert exc.code == "rate_table_invalid" and exc.status == 422


def test_every_error_in_the_file_is_named_in_one_raise() -> None:
    rows = [
        EN,
        ["广东", "火星", "", "1", "12", "1", "2", "", "1", "2"],          # 2: B province
        ["广东", "广东", "", "1", "-12", "1", "2.345", "", "1", "2"],     # 3: E negative, G 3 decimals
        ["广东", "广东", "", "", "12", "0", "2", "", "x", "2"],           # 4: D missing, F zero step, I days
        ["广东", "广东", "", "2", "12", "1", "2", "1.5", "1", "2"],       # 5: H max below first
        ["广东", "广东", "", "1", "12", "1", "2", "", "3", "2"],          # 6: J max days below min
        ["广东", "广东", "", "1", "12", "1", "2", "", "1", "2"],          # 7: good
        ["广东省", "广东省", "", "1", "13", "1", "2", "", "1", "2"],      # 8: the same lane as 7
        ["广东", "广东", "深圳", "1", "12", "1", "2", "", "1", "2", "x"],  # 9: K outside the header
    ]
    exc = invalid(parse_csv, csv_bytes(rows), **META)
    assert pointers(exc) == {
        ("/rates/row/2/column/B", "province_unknown"),
        ("/rates/row/3/column/E", "amount_negative"),
        ("/rates/row/3/column/G", "amount_precision"),
        ("/rates/row/4/column/D", "value_missing"),
        ("/rates/row/4/column/F", "weight_not_positive"),
        ("/rates/row/4/column/I", "not_a_day_count"),
        ("/rates/row/5/column/H", "max_below_first"),
        ("/rates/row/6/column/J", "transit_days_order"),
        ("/rates/row/8", "lane_duplicate"),
        ("/rates/row/9/column/K", "cell_outside_header"),
    }
    assert exc.extensions["error_count"] == 10
    assert "与行 7" in next(e.detail for e in exc.errors if e.code == "lane_duplicate")


def test_header_errors_name_the_column_letter_and_header() -> None:
    header = [*EN[:3], "origin_province", *EN[3:8], "备注", "transit_days_min"]  # no transit_days_max
    exc = invalid(parse_csv, csv_bytes([header, ["广东"] * len(header)]), **META)
    assert pointers(exc) == {
        ("/rates/row/1/column/D", "column_duplicate"),
        ("/rates/row/1/column/J", "column_unknown"),
        ("/rates/row/1", "column_missing"),
    }
    missing = next(e for e in exc.errors if e.code == "column_missing")
    assert "最慢时效(天)" in missing.detail and "transit_days_max" in missing.detail
    unknown = next(e for e in exc.errors if e.code == "column_unknown")
    assert unknown.detail == "行 1 列 J: 未知的列「备注」 / row 1 column J: unknown column “备注”"


def test_cell_text_is_never_repeated() -> None:
    secret = "张三 13800138000 广州市天河区某路1号"
    rows = [EN, [secret, secret, secret * 3, secret, secret, secret, secret, secret, secret, secret]]
    exc = invalid(parse_csv, csv_bytes(rows), **META)
    assert len(exc.errors) == 10
    assert all("13800138000" not in e.detail and "张三" not in e.detail for e in exc.errors)


def test_an_unknown_header_is_named_back_cut_to_20_characters() -> None:
    exc = invalid(parse_csv, csv_bytes([[*EN, "x" * 30], ["广东"] * 11]), **META)
    assert [e.pointer for e in exc.errors] == ["/rates/row/1/column/K"]
    assert "x" * 20 + "…" in exc.errors[0].detail and "x" * 21 not in exc.errors[0].detail


def test_surcharge_errors_point_into_the_surcharges_sheet() -> None:
    surcharges = [
        SURCHARGE_EN,
        ["燃油", "percent", "5.555", "", ""],            # 2: C percent 3 decimals
        ["燃油", "fixed", "1", "", ""],                  # 3: A the same name as 2
        ["燃油2", "fixed", "1%", "", ""],                # 4: C a fixed amount is yuan
        ["偏远", "按票?", "1", "", ""],                  # 5: B kind
        ["偏远2", "fixed", "1", "新疆、火星", ""],         # 6: D province
        [FREIGHT, "fixed", "1", "", ""],                # 7: A reserved name
        ["超重", "per_kg", "", "", "0"],                 # 8: C missing, E not positive
    ]
    data = xlsx_bytes({"rates": GOOD_EN, "surcharges": surcharges})
    exc = invalid(parse_xlsx, data, **META)
    assert pointers(exc) == {
        ("/surcharges/row/2/column/C", "percent_precision"),
        ("/surcharges/row/3/column/A", "surcharge_duplicate"),
        ("/surcharges/row/4/column/C", "not_an_amount"),
        ("/surcharges/row/5/column/B", "surcharge_kind_unknown"),
        ("/surcharges/row/6/column/D", "province_unknown"),
        ("/surcharges/row/7/column/A", "name_reserved"),
        ("/surcharges/row/8/column/C", "value_missing"),
        ("/surcharges/row/8/column/E", "weight_not_positive"),
    }


def test_the_callers_fields_are_checked_with_the_file() -> None:
    exc = invalid(parse_csv, csv_bytes(GOOD_EN), carrier="顺丰", version=" ", effective_from="2027-03-01")
    assert pointers(exc) == {("/carrier", "carrier_invalid"), ("/version", "version_invalid"),
                             ("/effective_from", "effective_from_invalid")}


@pytest.mark.parametrize(("data", "expected"), [
    (b"", ("/rates", "file_empty")),
    (b"  \r\n", ("/rates", "file_empty")),
    (b"\r\n\r\n" + csv_bytes(GOOD_EN), ("/rates", "file_empty")),   # the header is row 1
    (csv_bytes([EN]), ("/rates", "no_lanes")),
    (csv_bytes([EN, [""] * 10, [""] * 10]), ("/rates", "no_lanes")),
    (b"\xff\xfe\x00h\x00i" * 3, ("/rates", "file_encoding")),
])
def test_a_csv_without_lanes_is_refused(data: bytes, expected: tuple[str, str]) -> None:
    assert pointers(invalid(parse_csv, data, **META)) == {expected}


def test_a_file_over_the_size_limit_is_refused_before_it_is_read() -> None:
    data = csv_bytes(GOOD_EN) + b"\xff" * MAX_FILE_BYTES  # not even decodable: the size is checked first
    assert pointers(invalid(parse_csv, data, **META)) == {("/rates", "file_too_large")}
    assert pointers(invalid(parse_xlsx, data, **META)) == {("/", "file_too_large")}


def test_an_xlsx_that_unpacks_too_large_is_refused_before_openpyxl_reads_it() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b" " * (sheets.MAX_XLSX_UNPACKED_BYTES + 1))
    assert pointers(invalid(parse_xlsx, out.getvalue(), **META)) == {("/", "file_too_large")}


@pytest.mark.parametrize("data", [b"PK\x03\x04 not really", csv_bytes(GOOD_EN), b"\x00" * 100])
def test_what_is_not_an_xlsx_is_refused(data: bytes) -> None:
    assert pointers(invalid(parse_xlsx, data, **META)) == {("/", "file_not_xlsx")}


def test_a_zip_that_is_not_a_workbook_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hello")
    assert pointers(invalid(parse_xlsx, out.getvalue(), **META)) == {("/", "file_not_xlsx")}


def test_more_than_20000_lanes_are_refused() -> None:
    names = provinces()
    rows: Rows = [EN]
    rows += [[o, d, f"城市{i}", "1", "12", "1", "2", "", "1", "2"]
             for i, (o, d) in enumerate((o, d) for o in names for d in names for _ in range(18))][:20_001]
    assert len(rows) == 20_002
    exc = invalid(parse_csv, csv_bytes(rows), **META)
    assert pointers(exc) == {("/rates", "too_many_rows")}
    assert len(parse_csv(csv_bytes(rows[:-1]), **META).lanes) == 20_000


def test_an_xlsx_with_too_many_lanes_is_refused_without_reading_them_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse, "MAX_LANES", 3)
    rows = [EN, *[["广东", "广东", f"城市{i}", 1, 12, 1, 2, None, 1, 2] for i in range(10)]]
    assert pointers(invalid(parse_xlsx, xlsx_bytes({"rates": rows}), **META)) == {("/rates", "too_many_rows")}


def test_after_100_errors_the_rest_are_counted() -> None:
    rows = [EN, *[["火星", "广东", f"城市{i}", "1", "12", "1", "2", "", "1", "2"] for i in range(150)]]
    exc = invalid(parse_csv, csv_bytes(rows), **META)
    assert len(exc.errors) == 100 and exc.extensions["error_count"] == 150
    assert "50 more" in exc.detail and "另有 50 处" in exc.detail
    assert exc.errors[-1].pointer == "/rates/row/101/column/A"


def test_the_error_becomes_one_problem_json_with_every_error() -> None:
    exc = invalid(parse_csv, csv_bytes([EN, ["广东", "火星", "", "1", "12", "1", "2", "", "1", "2"]]), **META)
    # what core.errors.install's handler answers for any DomainError
    answer = core_errors.problem(exc.status, exc.code, exc.detail, errors=exc.errors, extensions=exc.extensions)
    assert answer.status_code == 422 and answer.media_type == "application/problem+json"
    body = json.loads(answer.body)
    assert (body["code"], body["type"], body["error_count"]) == (
        "rate_table_invalid", "urn:parcelguard:problem:rate_table_invalid", 1)
    assert body["errors"] == [{"pointer": "/rates/row/2/column/B", "code": "province_unknown",
                               "detail": exc.errors[0].detail}]


# -- round trips and fuzz -----------------------------------------------------------------------------------

city_names = st.text(st.sampled_from("深圳广州东莞佛山珠海汕头中山江门市县区州 ,\"'abcAB-1"), min_size=1, max_size=12) \
    .map(str.strip).filter(lambda s: s != "")
fen = st.integers(0, 10_000_000)
grams = st.integers(1, 10_000_000)


@st.composite
def tables(draw: st.DrawFn) -> RateTable:
    names = provinces()
    lanes: dict[tuple[str, str, str], Lane] = {}
    for _ in range(draw(st.integers(1, 12))):
        first = draw(grams)
        extra = draw(st.none() | st.integers(0, 10_000_000 - first))
        days = draw(st.integers(0, 365))
        lane = Lane(draw(st.sampled_from(names)), draw(st.sampled_from(names)), draw(st.none() | city_names),
                    first, draw(fen), draw(grams), draw(fen), None if extra is None else first + extra,
                    days, draw(st.integers(days, 365)))
        lanes.setdefault(lane.key, lane)
    surcharges = draw(st.lists(
        st.builds(lambda name, kind, amount, bp, where, heavy: Surcharge(
            name, kind, bp if kind == "percent" else amount, where, heavy),
            st.text(st.sampled_from("燃油偏远超重附加费ab, "), min_size=1, max_size=10).map(str.strip)
            .filter(lambda s: s not in ("", FREIGHT)),
            st.sampled_from(["fixed", "per_kg", "percent"]), fen, st.integers(0, 10_000),
            st.frozensets(st.sampled_from(names), max_size=3), st.none() | grams),
        max_size=4, unique_by=lambda s: s.name))
    return RateTable(**META, lanes=tuple(lanes.values()), surcharges=tuple(surcharges))


def _yuan(amount: int, rng: random.Random) -> str:
    text = f"{amount // 100}.{amount % 100:02d}"
    return rng.choice([text, f"￥{text}", f"{text}元", text.rstrip("0").rstrip(".") or "0"])


def _kg(g: int) -> str:
    return format(Decimal(g).scaleb(-3), "f")


def table_rows(t: RateTable, rng: random.Random, *, headers: list[str], as_numbers: bool) -> tuple[Rows, Rows]:
    def province(name: str) -> str:
        return rng.choice([name, short_name(name)])

    def number(text: str, value: Decimal) -> object:
        return value if as_numbers else text

    lanes: Rows = [headers]
    for ln in t.lanes:
        lanes.append([province(ln.origin_province), province(ln.destination_province), ln.destination_city or "",
                      _kg(ln.first_weight_g), number(_yuan(ln.first_price_fen, rng), Decimal(ln.first_price_fen) / 100),
                      _kg(ln.step_g), number(_yuan(ln.step_price_fen, rng), Decimal(ln.step_price_fen) / 100),
                      "" if ln.max_weight_g is None else _kg(ln.max_weight_g),
                      ln.transit_days_min, str(ln.transit_days_max)])
    surcharges: Rows = [rng.choice([SURCHARGE_EN, SURCHARGE_ZH])]
    for s in t.surcharges:
        amount = f"{s.amount // 100}.{s.amount % 100:02d}" + ("%" if s.kind == "percent" else "")
        surcharges.append([s.name, s.kind, amount, "、".join(sorted(province(p) for p in s.destination_provinces)),
                           "" if s.min_weight_g is None else _kg(s.min_weight_g)])
    order = list(range(len(headers)))
    rng.shuffle(order)
    return [[row[i] for i in order] for row in lanes], surcharges


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]), st.sampled_from([EN, ZH]), st.randoms())
def test_a_table_written_to_csv_parses_back_equal(t: RateTable, encoding: str, headers: list[str],
                                                  rng: random.Random) -> None:
    lanes, surcharges = table_rows(t, rng, headers=headers, as_numbers=False)
    back = parse_csv(csv_bytes(lanes, encoding), **META,
                     surcharges=csv_bytes(surcharges, encoding) if t.surcharges else None)
    assert back == t


@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.sampled_from([EN, ZH]), st.booleans(), st.randoms())
def test_a_table_written_to_xlsx_parses_back_equal(t: RateTable, headers: list[str], as_numbers: bool,
                                                   rng: random.Random) -> None:
    lanes, surcharges = table_rows(t, rng, headers=headers, as_numbers=as_numbers)
    sheets = {"价格表" if headers is ZH else "rates": lanes}
    if t.surcharges:
        sheets["附加费" if headers is ZH else "surcharges"] = surcharges
    assert parse_xlsx(xlsx_bytes(sheets), **META) == t


def _only_invalid(call: object, data: bytes, **kwargs: object) -> None:
    try:
        call(data, **META, **kwargs)  # type: ignore[operator]
    except RateTableInvalid as exc:
        assert exc.errors and len(exc.errors) <= 100
        assert all(e.pointer.startswith("/") for e in exc.errors)


@settings(max_examples=300)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_nothing_but_the_validation_error(data: bytes) -> None:
    _only_invalid(parse_csv, data)
    _only_invalid(parse_csv, csv_bytes(GOOD_EN), surcharges=data)
    _only_invalid(parse_xlsx, data)


@settings(max_examples=200)
@given(st.text(max_size=400), st.sampled_from(["utf-8", "gb18030"]), st.sampled_from([EN, ZH, SURCHARGE_EN]))
def test_arbitrary_text_under_a_good_header_raises_nothing_but_the_validation_error(text: str, encoding: str,
                                                                                   header: list[str]) -> None:
    data = (",".join(header) + "\r\n" + text).encode(encoding, errors="replace")
    _only_invalid(parse_csv, data)
    _only_invalid(parse_csv, csv_bytes(GOOD_EN), surcharges=data)


GOOD_XLSX = xlsx_bytes({"rates": GOOD_EN, "surcharges": [SURCHARGE_EN, ["燃油", "percent", "5%", "", ""]]})


@settings(max_examples=150)
@given(st.lists(st.tuples(st.integers(0, len(GOOD_XLSX) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_a_damaged_xlsx_raises_nothing_but_the_validation_error(flips: list[tuple[int, int]]) -> None:
    data = bytearray(GOOD_XLSX)
    for at, byte in flips:
        data[at] = byte
    _only_invalid(parse_xlsx, bytes(data))


def test_cities_match_by_name_with_or_without_their_suffix() -> None:
    assert city_key("深圳") == city_key("深圳市") == city_key(" 深圳 市 ")
    assert city_key("沙市") == "沙市"  # a two-character name keeps its 市
