"""Label rendering against its natural limits, in one process so machine noise hits both sides.

- `render_pdf` of 500 two-part labels (sample_label variants: each its own waybill number, token, names)
  vs reportlab drawing one fixed page of the same content (the same font, texts and rectangles, with plain
  `drawString` and `rect` calls, no layout, no barcode encoding) 500 times into one PDF, with the same
  binary-stream setting (goal: ≥ 150 labels/s)
- `render_zpl` of the same 500 labels, font subset download included, vs filling an f-string template of
  the same label with the same fields (no layout, no escaping, no font) (goal: ≥ 5,000 labels/s)
- the first job of each in the process (the font's registration, or its parsing for subsets, included), for
  the record

Run: .venv/bin/python bench/labels.py
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import random
import time
from collections.abc import Callable

from reportlab.pdfgen.canvas import Canvas

from parcelguard.waybills import labels
from parcelguard.waybills.labels import DOT, LabelData, Layout, render_pdf, render_zpl, sample_label
from parcelguard.waybills.numbers import damm_check_digit

N = 500
BEST_OF = 5
LAYOUT = Layout.TWO_PART

NAMES = ("欧阳**", "张*", "李**", "司马*", "王*", "J*** S****", "阿***·***", "陈**", "诸葛*", "刘*")
REGIONS = ("上海市 上海市 浦东新区", "北京市 北京市 朝阳区", "广东省 深圳市 南山区", "浙江省 杭州市 西湖区",
           "四川省 成都市 武侯区", "新疆维吾尔自治区 乌鲁木齐市 天山区")
DETAILS = ("示例路2号 *单元 ***", "演示大街118号 **号楼 ****", "", "样板巷7号", "测试园区 *栋 ***室")
ITEMS = ("服装 ×2；文件 ×1", "书籍 ×3", "电子产品 ×1；配件 ×2", "食品 ×4", "日用品 ×1")


def variants(n: int) -> list[LabelData]:
    """`n` sample labels, each with its own waybill number (valid check digit), token and fields."""
    rng = random.Random(20261126)
    base = sample_label()
    out = []
    for i in range(n):
        digits = f"{rng.randrange(10**12):012d}"
        out.append(dataclasses.replace(
            base, waybill_no=f"DE{digits}{damm_check_digit(digits)}",
            token=base64.b32encode(rng.randbytes(96)).decode("ascii").rstrip("="),
            sorting_code=f"{rng.randrange(100, 999)}-{rng.randrange(100, 999)}-{rng.randrange(1, 99):02d}",
            recipient_name=NAMES[i % len(NAMES)], recipient_region=REGIONS[i % len(REGIONS)],
            recipient_detail=DETAILS[i % len(DETAILS)], item_summary=ITEMS[i % len(ITEMS)],
            call_extension=f"{rng.randrange(10_000):04d}", recipient_phone_tail=f"***{rng.randrange(10_000):04d}"))
    return out


def static_page() -> tuple[list[tuple[float, float, float, float]], list[tuple[float, float, float, str]]]:
    """The sample label's rectangles and texts in points, as one fixed page (the static limit's content)."""
    static = labels._static(LAYOUT)
    drawing = labels._compose(sample_label(), LAYOUT)
    height = LAYOUT.size_dots[1]
    rects = [*static.rules, *(r for box in static.boxes for r in labels._box_rects(*box))]
    for code in drawing.codes:
        rects += labels._code_rects(code)
    for qr in drawing.qrs:
        rects += labels._qr_rects(qr)
    points = [(x * DOT, (height - top - h) * DOT, w * DOT, h * DOT) for x, top, w, h in rects]
    texts = [(t.x * DOT, (height - t.top - 0.8 * t.size) * DOT, t.size * DOT, t.text)
             for t in [*static.texts, *drawing.texts] if t.text]
    return points, texts


def best_rate(fn: Callable[[], object], n: int) -> float:
    """Labels per second of the fastest of the runs."""
    times = []
    for _ in range(BEST_OF):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return n / min(times)


def figure(name: str, value: float, unit: str, ratio_to: str | None = None, ratio: float | None = None) -> None:
    print(json.dumps({"name": name, "value": round(value), "unit": unit, "ratio_to": ratio_to,
                      "ratio": None if ratio is None else round(ratio, 3)}), flush=True)


def main() -> None:
    batch = variants(N)
    # The first job of each: the PDF's registers the font with reportlab, the ZPL's then parses it with
    # fontTools for the subsets. Each is paid once per process.
    t0 = time.perf_counter()
    render_pdf(batch, LAYOUT)
    pdf_first = N / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    render_zpl(batch, LAYOUT)
    zpl_first = N / (time.perf_counter() - t0)
    font = labels._pdf_font()[0]  # the limit draws with the same registered font

    rects, texts = static_page()

    def reportlab_static() -> None:
        out = io.BytesIO()
        with labels._binary_streams():
            canvas = Canvas(out, pagesize=LAYOUT.page_size, invariant=True, pageCompression=1,
                            initialFontName=font, initialFontSize=10)
            for _ in range(N):
                for x, y, w, h in rects:
                    canvas.rect(x, y, w, h, stroke=0, fill=1)
                for x, y, size, text in texts:
                    canvas.setFont(font, size)
                    canvas.drawString(x, y, text)
                canvas.showPage()
            canvas.save()

    head, static, _ = labels._zpl_static(LAYOUT)
    f = "E:PGCJK.TTF"

    def fstring_template() -> None:
        "".join(
            f"{head}{static}^FO208,28^A@N,44,44,{f}^FD{x.carrier_name}^FS^FO612,62^A@N,22,22,{f}^FD2026-11-26 "
            f"13:05^FS^FO137,117^A@N,104,104,{f}^FD{x.sorting_code}^FS^FO274,360^A@N,30,30,{f}^FD{x.waybill_no}"
            f"^FS^FO88,410^A@N,40,40,{f}^FD{x.recipient_name}^FS^FO236,420^A@N,30,30,{f}^FD尾号"
            f"{x.recipient_phone_tail}^FS^FO88,460^A@N,30,30,{f}^FD{x.recipient_region}^FS^FO88,498^A@N,30,30,"
            f"{f}^FD{x.recipient_detail}^FS^FO88,598^A@N,32,32,{f}^FD虚拟号 {x.call_number} 转 "
            f"{x.call_extension}^FS^FO88,652^A@N,28,28,{f}^FD{x.sender_name}^FS^FO88,691^A@N,28,28,{f}^FD"
            f"{x.sender_place}^FS^FO16,788^A@N,26,26,{f}^FD{x.item_summary}^FS^FO109,242^BY4^BCN,112,N,N,N^FD"
            f"{x.waybill_no}^FS^FO46,1113^BY3^BCN,72,N,N,N^FD{x.waybill_no}^FS^FO519,1134^A@N,30,30,{f}^FD"
            f"{x.waybill_no}^FS^FO116,1251^A@N,28,28,{f}^FD{x.recipient_name}^FS^FO116,1295^A@N,26,26,{f}^FD"
            f"{x.item_summary}^FS^FO558,772^BQN,2,5^FDMA,{x.token}^FS^XZ\n"
            for x in batch).encode()

    # Interleave ours and the limit, and keep the best of each.
    best = dict.fromkeys(("pdf", "static", "zpl", "template"), 0.0)
    for _ in range(2):
        best["pdf"] = max(best["pdf"], best_rate(lambda: render_pdf(batch, LAYOUT), N))
        best["static"] = max(best["static"], best_rate(reportlab_static, N))
        best["zpl"] = max(best["zpl"], best_rate(lambda: render_zpl(batch, LAYOUT), N))
        best["template"] = max(best["template"], best_rate(fstring_template, N))
    figure("labels_pdf_batch_500", best["pdf"], "labels/s", "reportlab_static_page_500", best["pdf"] / best["static"])
    figure("reportlab_static_page_500", best["static"], "pages/s")
    figure("labels_zpl_500", best["zpl"], "labels/s", "fstring_zpl_template_500", best["zpl"] / best["template"])
    figure("fstring_zpl_template_500", best["template"], "labels/s")
    figure("labels_pdf_batch_500_first_job", pdf_first, "labels/s")
    figure("labels_zpl_500_first_job", zpl_first, "labels/s")


if __name__ == "__main__":
    main()
