"""Label rendering: what a 203-dpi printer makes of the PDF scans (clean and worn), the bars sit on whole
dots, the text layer holds what a courier reads and the customer stub holds no phone digit, the PDF carries
its font, and the ZPL job is well formed with a font subset that has every glyph it needs. Pure: no database.
"""

from __future__ import annotations

import base64
import ctypes
import dataclasses
import io
import os
import re
from datetime import UTC, datetime, timedelta, timezone

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
import pytest
import segno
import zxingcpp
from fontTools.ttLib import TTFont
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from parcelguard.waybills import labels
from parcelguard.waybills.labels import (
    DOTS_PER_INCH,
    LabelData,
    Layout,
    code128_modules,
    code128_plan,
    render_pdf,
    render_png,
    render_zpl,
    sample_label,
)

LAYOUTS = list(Layout)
# What each layout promises a printer: Code 128 module and QR module, in dots (the one-part label runs its
# Code 128 down the right edge: 76 mm is too narrow for 4-dot bars with their quiet zones across it).
CODE_MODULE = {Layout.TWO_PART: 4, Layout.ONE_PART: 4}
QR_MODULE = {Layout.TWO_PART: 5, Layout.ONE_PART: 5}
STUB_TOP_MM = 130  # the tear line of the two-part label: the customer stub is below it
MM = 72 / 25.4


def random_token() -> str:
    return base64.b32encode(os.urandom(96)).decode("ascii").rstrip("=")


def a_label(**changes: object) -> LabelData:
    return dataclasses.replace(sample_label(random_token()), **changes)


def page_image(pdf: bytes, page: int = 0, dpi: int = DOTS_PER_INCH) -> Image.Image:
    doc = pdfium.PdfDocument(pdf)
    try:
        return doc[page].render(scale=dpi / 72, grayscale=True).to_pil()
    finally:
        doc.close()


def decoded(image: Image.Image, fmt: zxingcpp.BarcodeFormat) -> list[zxingcpp.Barcode]:
    return [b for b in zxingcpp.read_barcodes(image) if b.format == fmt and b.valid]


def bounds(barcode: zxingcpp.Barcode, margin: int) -> tuple[int, int, int, int]:
    p = barcode.position
    xs = [p.top_left.x, p.top_right.x, p.bottom_left.x, p.bottom_right.x]
    ys = [p.top_left.y, p.top_right.y, p.bottom_left.y, p.bottom_right.y]
    return min(xs) - margin, min(ys) - margin, max(xs) + margin, max(ys) + margin


def page_text(pdf: bytes, page: int = 0, box: tuple[float, float, float, float] | None = None) -> str:
    doc = pdfium.PdfDocument(pdf)
    try:
        text = doc[page].get_textpage()
        return text.get_text_bounded(*box) if box else text.get_text_range()
    finally:
        doc.close()


# -- scanning ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("prefix", ["DE", "ABCD"])  # the shortest and the longest waybill numbers
def test_a_203_dpi_print_scans_clean_and_worn(layout: Layout, prefix: str) -> None:
    label = a_label(waybill_no=prefix + "4839201746559")
    image = page_image(render_pdf([label], layout))
    for worn in (False, True):
        if worn:  # a worn thermal print: everything blurred by 2 pixels
            image = image.filter(ImageFilter.GaussianBlur(2))
        codes = {c.text for c in decoded(image, zxingcpp.BarcodeFormat.Code128)}
        assert codes == {label.waybill_no}, worn
        assert [q.text for q in decoded(image, zxingcpp.BarcodeFormat.QRCode)] == [label.token], worn
    if layout is Layout.TWO_PART:  # the stub's smaller bars read from a clean print
        assert len(decoded(page_image(render_pdf([label], layout)), zxingcpp.BarcodeFormat.Code128)) == 2


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_box_blurred_print_scans_too(layout: Layout) -> None:
    label = a_label()
    image = page_image(render_pdf([label], layout)).filter(ImageFilter.BoxBlur(2))
    assert label.waybill_no in {c.text for c in decoded(image, zxingcpp.BarcodeFormat.Code128)}
    assert [q.text for q in decoded(image, zxingcpp.BarcodeFormat.QRCode)] == [label.token]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_300_dpi_raster_scans_too(layout: Layout) -> None:
    label = a_label()
    image = page_image(render_pdf([label], layout), dpi=300)
    assert label.waybill_no in {c.text for c in decoded(image, zxingcpp.BarcodeFormat.Code128)}
    assert [q.text for q in decoded(image, zxingcpp.BarcodeFormat.QRCode)] == [label.token]


def dark_runs(pixels: list[int]) -> list[int]:
    runs, n = [], 0
    for value in [*pixels, 255]:
        if value == 0:
            n += 1
        elif n:
            runs.append(n)
            n = 0
    return runs


@pytest.mark.parametrize("layout", LAYOUTS)
def test_bars_and_modules_are_whole_dots_on_the_dot_grid(layout: Layout) -> None:
    label = a_label()
    image = page_image(render_pdf([label], layout))
    assert image.size == layout.size_dots
    codes = decoded(image, zxingcpp.BarcodeFormat.Code128)
    main = max(codes, key=lambda c: max(bounds(c, 0)[2] - bounds(c, 0)[0], bounds(c, 0)[3] - bounds(c, 0)[1]))
    left, top, right, bottom = bounds(main, 0)
    if right - left > bottom - top:  # across the label: a row through the bars
        line = [image.getpixel((x, (top + bottom) // 2)) for x in range(left - 5, right + 5)]
    else:  # down the edge: a column
        line = [image.getpixel(((left + right) // 2, y)) for y in range(top - 5, bottom + 5)]
    assert (right - left > bottom - top) == (layout is Layout.TWO_PART)
    assert set(line) == {0, 255}  # crisp: no grey edge pixels
    module = CODE_MODULE[layout]
    runs = dark_runs(line)
    assert min(runs) == module and all(r % module == 0 for r in runs)
    assert sum(runs) == module * sum(code128_modules(label.waybill_no)[::2])

    qr = decoded(image, zxingcpp.BarcodeFormat.QRCode)[0]
    left, top, right, bottom = bounds(qr, 0)
    region = image.crop((left, top, right, bottom))
    assert set(region.tobytes()) == {0, 255}
    m = QR_MODULE[layout]
    # The finder pattern's first row: 7 dark modules.
    first_row = [region.getpixel((x, m // 2)) for x in range(region.width)]
    assert dark_runs(first_row)[0] == 7 * m
    assert region.width == 41 * m


def test_the_page_is_the_label_in_whole_dots() -> None:
    assert Layout.TWO_PART.size_dots == (799, 1439)
    assert Layout.ONE_PART.size_dots == (607, 1039)
    for layout in LAYOUTS:
        w_mm, h_mm = layout.size_mm
        w_pt, h_pt = layout.page_size
        assert abs(w_pt - w_mm * MM) < 0.1 * MM and abs(h_pt - h_mm * MM) < 0.1 * MM
        assert round(w_pt * DOTS_PER_INCH / 72, 3) == layout.size_dots[0]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_rectangles_are_drawn_in_whole_dots(layout: Layout) -> None:
    """Every path (bars, modules, rules) is drawn in dot units: integer points under a 72/203 scale."""
    dot = 72 / DOTS_PER_INCH
    doc = pdfium.PdfDocument(render_pdf([a_label()], layout))
    try:
        page = doc[0]
        forms = list(page.get_objects(filter=[pdfium_raw.FPDF_PAGEOBJ_FORM], max_depth=1))
        assert len(forms) == 1 and forms[0].get_matrix().get() == (1, 0, 0, 1, 0, 0)  # the static part
        paths = list(page.get_objects(filter=[pdfium_raw.FPDF_PAGEOBJ_PATH], max_depth=4))
        assert len(paths) == 2  # one in the static form, one with the page's bars and modules
        x, y = ctypes.c_float(), ctypes.c_float()
        for path in paths:
            assert path.get_matrix().get() == pytest.approx((dot, 0, 0, dot, 0, 0), abs=1e-7)
            segments = pdfium_raw.FPDFPath_CountSegments(path.raw)
            assert segments > 40
            for i in range(segments):
                pdfium_raw.FPDFPathSegment_GetPoint(pdfium_raw.FPDFPath_GetPathSegment(path.raw, i), x, y)
                assert x.value.is_integer() and y.value.is_integer(), (x.value, y.value)
    finally:
        doc.close()


# -- pages and text --------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_batch_has_one_page_per_label_of_the_layouts_size(layout: Layout) -> None:
    batch = [a_label(waybill_no=f"DE{4839201746000 + i:013d}") for i in range(7)]
    doc = pdfium.PdfDocument(render_pdf(batch, layout))
    try:
        assert len(doc) == 7
        for i in range(7):
            w, h = doc[i].get_size()
            assert abs(w - layout.page_size[0]) < 1e-3 and abs(h - layout.page_size[1]) < 1e-3
    finally:
        doc.close()
    for i in (0, 6):
        assert batch[i].waybill_no in page_text(render_pdf(batch, layout), i)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_text_layer_holds_what_the_courier_reads(layout: Layout) -> None:
    label = a_label()
    text = page_text(render_pdf([label], layout))
    for expected in ("演示快递", "310-115-07", "DE4839201746559", "欧阳**", "尾号5678", "上海市 上海市 浦东新区",
                     "示例路2号 *单元 ***", "张*", "北京市 朝阳区", "服装 ×2；文件 ×1", "扫码派送",
                     "虚拟号 +86 571 1234 5678 转 0421", "2026-11-26 13:05"):
        assert expected in text, expected


def test_the_customer_stub_holds_no_phone_digit_and_no_address() -> None:
    label = a_label(call_number="+8657198765432", call_extension="7319", recipient_phone_tail="***6640",
                    waybill_no="DE1111111111116", item_summary="书籍 ×3")
    pdf = render_pdf([label], Layout.TWO_PART)
    w, h = Layout.TWO_PART.page_size
    stub = page_text(pdf, box=(0, 0, w, h - STUB_TOP_MM * MM))
    main = page_text(pdf, box=(0, h - STUB_TOP_MM * MM, w, h))
    assert "98765432" in main.replace(" ", "") and "7319" in main and "尾号6640" in main  # the main part has them
    assert "DE1111111111116" in stub and "欧阳**" in stub and "书籍 ×3" in stub
    for absent in ("虚拟号", "转", "尾号", "+86", "浦东", "示例路", "上海"):
        assert absent not in stub, absent
    left = stub.replace("DE1111111111116", "").replace("书籍 ×3", "")
    assert not re.search(r"\d", left)  # no digit but the waybill number's and the item count


def test_a_label_without_a_virtual_number_says_so_and_shows_no_tail() -> None:
    label = a_label(call_number=None, call_extension=None, recipient_phone_tail=None)
    text = page_text(render_pdf([label], Layout.ONE_PART))
    assert "虚拟号未绑定" in text and "尾号" not in text and "+86" not in text


def test_the_print_time_is_shanghai_time() -> None:
    label = a_label(printed_at=datetime(2026, 1, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5))))
    assert "2026-02-01 12:30" in page_text(render_pdf([label], Layout.ONE_PART))


def test_the_pdf_embeds_a_subset_of_its_font_and_no_other_font() -> None:
    # Enough distinct characters for more than one 256-glyph subset.
    many = "".join(chr(0x4E00 + i) for i in range(300))
    pdf = render_pdf([a_label(recipient_detail=many[:40]), a_label(item_summary=many[40:300])], Layout.TWO_PART)
    names = re.findall(rb"/BaseFont\s*/([^\s/>]+)", pdf)
    assert len(names) >= 2
    assert all(re.fullmatch(rb"[A-Z]{6}\+WenQuanYiMicroHei-\d+", n) for n in names), names
    assert pdf.count(b"/FontFile2") == len(re.findall(rb"/Type\s*/FontDescriptor", pdf)) == len(names)
    assert b"Helvetica" not in pdf and b"/Type1" not in pdf
    doc = pdfium.PdfDocument(pdf)
    try:
        for page in doc:
            objects = list(page.get_objects(filter=[pdfium_raw.FPDF_PAGEOBJ_TEXT], max_depth=4))
            assert objects
            for obj in objects:
                font = pdfium_raw.FPDFTextObj_GetFont(obj.raw)
                name = ctypes.create_string_buffer(128)
                pdfium_raw.FPDFFont_GetBaseFontName(font, name, 128)
                assert pdfium_raw.FPDFFont_GetIsEmbedded(font) == 1, name.value
    finally:
        doc.close()


HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
LATIN = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
MASKY = st.sampled_from("*·- ")
TEXT = st.text(st.one_of(HAN, LATIN, MASKY), max_size=60)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=TEXT, region=TEXT, detail=TEXT, items=TEXT, sender=TEXT, layout=st.sampled_from(LAYOUTS))
def test_any_masked_looking_text_renders_and_the_waybill_still_scans(name: str, region: str, detail: str,
                                                                      items: str, sender: str,
                                                                      layout: Layout) -> None:
    label = a_label(recipient_name=name, recipient_region=region, recipient_detail=detail, item_summary=items,
                    sender_name=sender, sender_place=region, carrier_name=name or "演示快递")
    image = page_image(render_pdf([label], layout))
    assert label.waybill_no in {c.text for c in decoded(image, zxingcpp.BarcodeFormat.Code128)}
    render_zpl([label], layout).decode("utf-8")


@settings(max_examples=200, deadline=None)
@given(text=TEXT, width=st.integers(60, 500), max_lines=st.integers(1, 4))
def test_wrapped_lines_fit_and_lose_nothing_but_spaces_or_the_tail(text: str, width: int, max_lines: int) -> None:
    text = labels._clean(text)
    lines = labels._wrap(text, 24, width, max_lines)
    assert len(lines) <= max_lines and (lines or not text)
    assert all(labels._width(line, 24) <= width or len(line) == 1 for line in lines)
    joined = "".join(lines).replace(" ", "")
    if joined.endswith("…") and not text.replace(" ", "").endswith("…"):
        assert text.replace(" ", "").startswith(joined[:-1])
    else:
        assert joined == text.replace(" ", "")


def test_control_characters_and_odd_input_do_not_break_the_outputs() -> None:
    label = a_label(recipient_name="欧\x00阳\n**", recipient_detail="路\u202e2号\ud800", item_summary="\t")
    assert render_pdf([label], Layout.TWO_PART).startswith(b"%PDF")
    zpl = render_zpl([label], Layout.TWO_PART).decode("utf-8")
    assert "\x00" not in zpl and "\ud800" not in zpl


# -- input checks ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("changes, message", [
    ({"waybill_no": "de48392017465"}, "waybill_no"),
    ({"waybill_no": "DE 4839"}, "waybill_no"),
    ({"waybill_no": "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF"}, "too long"),
    ({"token": "abc"}, "token"),
    ({"token": "A" * 155}, "token"),
    ({"printed_at": datetime(2026, 11, 26, 13, 5)}, "printed_at"),
])
def test_bad_input_is_refused_without_quoting_it(changes: dict, message: str) -> None:
    label = a_label(**changes)
    for render in (lambda: render_pdf([label], Layout.TWO_PART), lambda: render_zpl([label], Layout.TWO_PART),
                   lambda: render_png(label, Layout.TWO_PART)):
        with pytest.raises(ValueError, match=message) as caught:
            render()
        for value in changes.values():
            assert str(value) not in str(caught.value)


def test_an_empty_batch_and_a_bare_label_are_refused() -> None:
    with pytest.raises(ValueError):
        render_pdf([], Layout.TWO_PART)
    with pytest.raises(TypeError):
        render_zpl(sample_label(), Layout.TWO_PART)  # type: ignore[arg-type]


def test_a_labels_repr_shows_nothing_personal() -> None:
    assert "欧阳" not in repr(sample_label()) and "DE48" not in repr(sample_label())


# -- PNG ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout, size", [(Layout.TWO_PART, (799, 1439)), (Layout.ONE_PART, (607, 1039))])
def test_the_png_preview_has_the_printers_pixels_and_scans(layout: Layout, size: tuple[int, int]) -> None:
    label = a_label()
    image = Image.open(io.BytesIO(render_png(label, layout)))
    assert image.format == "PNG" and image.size == size and image.mode in ("L", "1")
    assert size[0] == round(layout.size_mm[0] / 25.4 * 203)
    assert label.waybill_no in {c.text for c in decoded(image, zxingcpp.BarcodeFormat.Code128)}
    assert [q.text for q in decoded(image, zxingcpp.BarcodeFormat.QRCode)] == [label.token]
    wide = Image.open(io.BytesIO(render_png(label, layout, dpi=300)))
    assert wide.width == round(layout.page_size[0] * 300 / 72 + 0.5)


# -- ZPL -----------------------------------------------------------------------------------------------

def zpl_font(job: str) -> bytes:
    header = re.match(r"~DYE:PGCJK,A,T,(\d+),,([0-9A-F]+)\n", job)
    assert header, "the job starts with the font download"
    data = bytes.fromhex(header.group(2))
    assert len(data) == int(header.group(1))
    return data


def test_a_zpl_job_has_one_font_download_and_one_format_per_label() -> None:
    batch = [a_label(waybill_no=f"DE{4839201746000 + i:013d}", recipient_name=n)
             for i, n in enumerate(("欧阳**", "司马*", "J*** S****"))]
    job = render_zpl(batch, Layout.TWO_PART).decode("utf-8")
    assert job.count("~DY") == 1 and job.startswith("~DYE:PGCJK,A,T,")
    formats = re.findall(r"\^XA.*?\^XZ", job, re.DOTALL)
    assert len(formats) == 3 and job.count("^XA") == job.count("^XZ") == 3
    for label, fmt in zip(batch, formats, strict=True):
        assert "^CI28" in fmt and "^PW799" in fmt and "^LL1439" in fmt
        fields = re.findall(r"\^BY(\d+)\^BCN,\d+,N,N,N\^FD([^^]+)\^FS", fmt)
        assert [m for m, _ in fields] == ["4", "3"]  # the main part's and the stub's
        for _, data in fields:
            assert re.sub(r">[0-9:;]", "", data) == label.waybill_no
            assert data == ">:DE4>5" + label.waybill_no[3:]
        assert f"^BQN,2,5^FDMA,{label.token}^FS" in fmt
        assert f"^A@N,40,40,{labels.ZPL_FONT}^FH^FD{label.recipient_name}^FS" in fmt
        assert "+86" in fmt and "尾号" in fmt

    without = render_zpl(batch, Layout.TWO_PART, include_font=False).decode("utf-8")
    assert "~DY" not in without and without.startswith("^XA")
    assert without == job[job.index("^XA"):]


def test_the_one_part_zpl_runs_the_barcode_down_the_edge_like_the_pdf() -> None:
    label = a_label()
    job = render_zpl([label], Layout.ONE_PART, include_font=False).decode("utf-8")
    assert "^PW607^LL1039" in job
    assert re.findall(r"\^BY(\d)\^BC([NR]),\d+,N,N,N\^FD([^^]+)\^FS", job) == [("4", "R", ">:DE4>5839201746559")]
    assert f"^BQN,2,5^FDMA,{label.token}^FS" in job


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_zpl_font_subset_has_every_glyph_of_the_job(layout: Layout) -> None:
    batch = [a_label(recipient_detail="龘靐齉 示例路9号", item_summary="Ｔ恤 ×2"), a_label(sender_place="乌鲁木齐市 天山区")]
    job = render_zpl(batch, layout).decode("utf-8")
    font = TTFont(io.BytesIO(zpl_font(job)))
    cmap = font.getBestCmap()
    printed = set("".join(re.findall(r"\^FH\^FD([^^]*)\^FS", job)))
    assert {"龘", "靐", "齉", "乌", "鲁", "Ｔ", "恤", "收", "寄", "扫"} <= printed
    missing = {c for c in printed if not c.isspace() and ord(c) not in cmap}
    assert not missing
    glyf = font["glyf"]
    assert all(glyf[cmap[ord(c)]].numberOfContours != 0 for c in printed if not c.isspace())
    assert font["maxp"].numGlyphs < 400  # a subset, not the 49,531-glyph font
    assert f"^PW{layout.size_dots[0]}^LL{layout.size_dots[1]}" in job


def test_the_font_subset_draws_exactly_like_the_full_font() -> None:
    text = "欧阳** 尾号5678 上海市浦东新区 DE4839201746559 ×；"
    full = ImageFont.truetype(io.BytesIO(labels._font_bytes()), 40, index=0)
    subset = ImageFont.truetype(io.BytesIO(labels.font_subset(text)), 40)

    def draw(font: ImageFont.FreeTypeFont) -> Image.Image:
        image = Image.new("L", (1000, 60), 255)
        ImageDraw.Draw(image).text((0, 0), text, font=font, fill=0)
        return image

    assert ImageChops.difference(draw(full), draw(subset)).getbbox() is None


def test_zpl_field_data_cannot_smuggle_commands() -> None:
    label = a_label(recipient_name="A^XZ~JA_B", recipient_detail="^FO0,0")
    job = render_zpl([label], Layout.ONE_PART, include_font=False).decode("utf-8")
    assert "A_5EXZ_7EJA_5FB" in job and "_5EFO0,0" in job
    assert job.count("^XZ") == 1 and "~JA" not in job


# -- the hand-written parts: Code 128 and the QR mask choice -------------------------------------------

@pytest.mark.parametrize("data, plan", [
    ("DE4839201746559", [("B", "DE4"), ("C", "839201746559")]),
    ("ABCD1234567890123", [("B", "ABCD1"), ("C", "234567890123")]),
    ("123456", [("C", "123456")]),
    ("12345", [("C", "1234"), ("B", "5")]),
    ("AB1234CD", [("B", "AB1234CD")]),  # 4 digits in the middle: switching saves nothing
    ("AB123456CD", [("B", "AB"), ("C", "123456"), ("B", "CD")]),
    ("A1", [("B", "A1")]),
])
def test_code128_uses_set_c_for_digit_runs(data: str, plan: list[tuple[str, str]]) -> None:
    assert code128_plan(data) == plan


def test_a_waybill_number_is_145_modules() -> None:
    widths = code128_modules("DE4839201746559")
    assert sum(widths) == 11 * 12 + 13 and len(widths) == 6 * 12 + 7
    for data in ("DE4839201746559", "A", "12", "AB123456CD", "ABCD1234567890123", "1234567"):
        assert labels._code128_width(data) == sum(code128_modules(data))


def bars_image(data: str, module: int = 3) -> Image.Image:
    widths = code128_modules(data)
    quiet = 10 * module
    image = Image.new("L", (sum(widths) * module + 2 * quiet, 60), 255)
    draw = ImageDraw.Draw(image)
    x = quiet
    for i, w in enumerate(widths):
        if i % 2 == 0:
            draw.rectangle((x, 0, x + w * module - 1, 59), fill=0)
        x += w * module
    return image


@settings(max_examples=60, deadline=None)
@given(st.from_regex(r"[A-Z0-9]{1,24}", fullmatch=True))
def test_any_capitals_and_digits_encode_to_a_code128_that_reads_back(data: str) -> None:
    assert [b.text for b in zxingcpp.read_barcodes(bars_image(data), formats=zxingcpp.BarcodeFormat.Code128)] \
        == [data]


def test_the_qr_mask_choice_and_modules_match_segnos_own() -> None:
    for i in range(40):
        token = random_token()[:(154, 154, 120, 60, 25, 7)[i % 6]]
        ours = labels._qr_rows(token)
        theirs = segno.make(token, error="m", micro=False, boost_error=False)
        assert ours == ["".join(str(v) for v in row) for row in theirs.matrix], (i, theirs.version, theirs.mask)


def test_sample_label_is_fictitious_and_well_formed() -> None:
    label = sample_label()
    assert len(label.token) == 154 and re.fullmatch(r"[A-Z2-7]+", label.token)
    assert label.carrier_name == "演示快递" and label.printed_at.tzinfo is UTC
    assert sample_label("ABC").token == "ABC"
