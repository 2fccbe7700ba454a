"""Label rendering for privacy waybills (隐私面单): PDF, ZPL II and a PNG preview, pure, no database.

The caller has already decided and masked everything (`LabelData`); this module only lays it out. One
layout description in printer dots serves both outputs, so a PDF and a ZPL label of the same parcel
look alike: `TWO_PART` (100 × 180 mm, a main part and a tear-off customer stub, like the Cainiao/JD
two-part e-waybill) and `ONE_PART` (76 × 130 mm, its barcode down the right edge: see `_FRAMES`).

**Dots, not millimetres.** Thermal label printers have 203 dots per inch (8 per mm). A page is the
label rounded to whole dots (100 × 180 mm → 799 × 1439 dots) and every bar and QR module is a whole
number of dots placed on the dot grid (whole multiples of 72/203 pt from the page's corner, so from
every edge), so a 203-dpi raster of the PDF, by a printer driver or by `render_png`, has crisp edges
instead of grey half-dots that print as fuzzy or missing bars. The Code 128 symbols and the QR code are
therefore drawn here as filled rectangles from their encodings, not by reportlab's barcode widgets
(they place bars at fractional widths).

**PDF** (reportlab): Chinese text uses the bundled WenQuanYi Micro Hei (Apache-2.0), registered once per
process; reportlab embeds only the glyphs used (a subset, `AAAAAA+…` `FontFile2`), so the file prints the
same anywhere and stays small. What every page shares (rules, boxes, captions) is one Form XObject per
document; a page adds its texts and one path of bar and module rectangles in dot units.

**ZPL II**: the printer draws the barcodes itself (`^BC` Code 128 with explicit subset switching, the same
symbols as the PDF, `^BCR` where it runs down the label; `^BQN,2,m` QR, field data `MA,<token>`: error
level M, automatic input mode), and prints text with a downloaded TrueType font: at the start of a job, a
`~DY` download (ASCII hex) of a subset of the bundled font holding only the characters the job uses,
stored as `E:PGCJK.TTF` and named by `^A@`. Why a font and not `^GF` graphics: a rasterised label is
799 × 1439 dots ≈ 144 kB (≈ 288 kB as hex) and would be rasterised here for every label; the font subset
of a whole job is typically 20-60 kB, sent once, and each label is then about 3 kB of plain commands and
field data that the printer renders at its own resolution. The subset is built from a parsed copy of the
font kept per process (fontTools' general subsetter re-reads the 5 MB collection: ≈ 120 ms a job; building
the subset from the parsed tables takes a few ms). `include_font=False` assumes the printer already stores
the font under that name.

Labels carry personal data even when masked, so nothing here logs label content, and no exception raised
here carries it.
"""

from __future__ import annotations

import base64
import copy
import io
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from functools import cache, lru_cache
from importlib import resources
from itertools import pairwise, repeat
from typing import TYPE_CHECKING, NamedTuple

import segno

if TYPE_CHECKING:
    from reportlab.pdfgen.canvas import Canvas

DOTS_PER_INCH = 203
DOT = 72 / DOTS_PER_INCH  # one printer dot in PDF points
_MM_PER_INCH = 25.4

_FONT_RESOURCE = ("fonts", "wqy-microhei.ttc")
_PDF_FONT = "PGCJK"  # reportlab's name for the bundled font
ZPL_FONT = "E:PGCJK.TTF"  # where a ZPL job stores the downloaded subset on the printer
_ASCENT = 0.8  # baseline below the top of a text line, in ems (WenQuanYi Micro Hei: ascent 0.765)
_LINE = 1.25  # line pitch of wrapped text, in ems
# China Standard Time has had no daylight saving since 1991: a fixed +08:00 is Asia/Shanghai for any label
# printed today and needs no tz database on the host.
_SHANGHAI = timezone(timedelta(hours=8), "CST")


class Layout(StrEnum):
    """The label stock: a two-part 100 × 180 mm label (main part + customer stub) or a one-part 76 × 130 mm."""

    TWO_PART = "two_part"
    ONE_PART = "one_part"

    @property
    def size_mm(self) -> tuple[int, int]:
        return _SIZE_MM[self]

    @property
    def size_dots(self) -> tuple[int, int]:
        """Width and height in 203-dpi dots: the label rounded to whole dots (100 mm → 799)."""
        w, h = self.size_mm
        return round(w / _MM_PER_INCH * DOTS_PER_INCH), round(h / _MM_PER_INCH * DOTS_PER_INCH)

    @property
    def page_size(self) -> tuple[float, float]:
        """The PDF page in points: whole dots, rounded down to 1/10,000 pt, so that a renderer that takes the
        ceiling of size × scale (pdfium does) gets exactly the dot count and does not stretch the page."""
        w, h = self.size_dots
        return _points(w), _points(h)


_SIZE_MM = {Layout.TWO_PART: (100, 180), Layout.ONE_PART: (76, 130)}


def _points(dots: int) -> float:
    return int(dots * DOT * 10_000) / 10_000


@dataclass(frozen=True)
class LabelData:
    """What one label prints, already masked and decided by the caller (the renderer prints what it gets)."""

    carrier_name: str
    waybill_no: str
    sorting_code: str
    sender_name: str
    sender_place: str
    recipient_name: str
    recipient_region: str
    recipient_detail: str
    call_number: str | None
    call_extension: str | None
    recipient_phone_tail: str | None
    item_summary: str
    token: str
    printed_at: datetime

    def __repr__(self) -> str:  # personal data, even masked: keep it out of logs and tracebacks
        return "LabelData(…)"


# -- input checks (messages never carry the value) ----------------------------------------------------------

_WAYBILL_TEXT = re.compile(r"[0-9A-Z]{1,32}")  # 2-4 capital letters + 13 digits in practice
_TOKEN_TEXT = re.compile(r"[0-9A-Z]{1,154}")  # QR alphanumeric; a token is 154 characters of A-Z2-7


def _check(label: LabelData, layout: Layout) -> None:
    if not isinstance(label, LabelData):
        raise TypeError("a label is a LabelData")
    if not isinstance(label.waybill_no, str) or _WAYBILL_TEXT.fullmatch(label.waybill_no) is None:
        raise ValueError("waybill_no must be 1-32 capital letters and digits")
    if _code_module(_code128_width(label.waybill_no), _MIN_MODULE, _FRAMES[layout].code_room) < _MIN_MODULE:
        raise ValueError("waybill_no is too long for this label's barcode")
    if not isinstance(label.token, str) or _TOKEN_TEXT.fullmatch(label.token) is None:
        raise ValueError("token must be 1-154 capital letters and digits")
    if not isinstance(label.printed_at, datetime) or label.printed_at.utcoffset() is None:
        raise ValueError("printed_at must be a timezone-aware datetime")


def _clean(text: str | None) -> str:
    """Printable text on one line: control, format, surrogate and unassigned characters and line breaks become
    spaces (a stray newline or NUL must not break a PDF string or a ZPL field), runs of spaces one space."""
    if not text:
        return ""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(text.split())


# -- Code 128 (ISO/IEC 15417) -------------------------------------------------------------------------------
# By hand (about 40 lines): the bars must be whole dots on the dot grid, which reportlab's Code128 widget
# does not do, and the ZPL `^BC` field needs the same subset plan (set B for letters, set C for digit pairs)
# so the printer draws the same symbol as the PDF. The table is the standard's bar/space widths, symbol 0-106.

_C128 = (
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212", "221213",
    "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221", "223211", "221132",
    "221231", "213212", "223112", "312131", "311222", "321122", "321221", "312212", "322112", "322211",
    "212123", "212321", "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313",
    "231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121", "313121", "211331",
    "231131", "213113", "213311", "213131", "311123", "311321", "331121", "312113", "312311", "332111",
    "314111", "221411", "431111", "111224", "111422", "121124", "121421", "141122", "141221", "112214",
    "112412", "122114", "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111",
    "111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311", "113141",
    "114131", "311141", "411131", "211412", "211214", "211232", "2331112",
)
_CODE_C, _CODE_B, _START_B, _START_C, _STOP = 99, 100, 104, 105, 106
_C128_QUIET = 10  # modules of clear space each side (ISO/IEC 15417 §4.3.3)
_DIGIT_RUNS = re.compile(r"[0-9]+|[^0-9]+")


def code128_plan(data: str) -> list[tuple[str, str]]:
    """`data` split into code-set segments, e.g. DE4839201746559 → [("B", "DE4"), ("C", "839201746559")].

    Set C packs two digits per symbol; switching costs a symbol, so a digit run goes to set C when it is
    at least 4 long at the start or end, or 6 in the middle; an odd run leaves its first digit in set B.
    """
    parts = _DIGIT_RUNS.findall(data)
    plan: list[tuple[str, str]] = []

    def add(subset: str, text: str) -> None:
        if plan and plan[-1][0] == subset:
            plan[-1] = (subset, plan[-1][1] + text)
        elif text:
            plan.append((subset, text))

    for i, part in enumerate(parts):
        edge = i == 0 or i == len(parts) - 1
        odd = len(part) % 2
        if part[0].isdigit() and (len(part) >= (4 if edge else 6) or len(parts) == 1 and not odd):
            if i == 0 and odd:
                add("C", part[:-1])  # a leading run starts in C; its odd digit follows in B
                add("B", part[-1])
            else:
                add("B", part[:odd])
                add("C", part[odd:])
        else:
            add("B", part)
    return plan


def code128_modules(data: str) -> list[int]:
    """Bar and space widths in modules, bar first, start to stop: the symbol for `data` (set B/C only)."""
    plan = code128_plan(data)
    values = [_START_C if plan[0][0] == "C" else _START_B]
    for n, (subset, text) in enumerate(plan):
        if n:
            values.append(_CODE_C if subset == "C" else _CODE_B)
        if subset == "C":
            values.extend(int(text[j:j + 2]) for j in range(0, len(text), 2))
        else:
            values.extend(ord(c) - 32 for c in text)
    values.append((values[0] + sum(i * v for i, v in enumerate(values[1:], 1))) % 103)
    values.append(_STOP)
    return [int(w) for v in values for w in _C128[v]]


def _code128_width(data: str) -> int:
    """Modules in the symbol for `data` (11 a symbol, 13 the stop), without building it."""
    plan = code128_plan(data)
    symbols = 1 + len(plan) + sum(len(text) // 2 if subset == "C" else len(text) for subset, text in plan)
    return 11 * symbols + 13


def _zpl_code128(data: str) -> str:
    """The `^BC` field data for the same symbols: `>:` start B, `>;` start C, `>5` to C, `>6` to B."""
    out = []
    for n, (subset, text) in enumerate(code128_plan(data)):
        if n == 0:
            out.append(">;" if subset == "C" else ">:")
        else:
            out.append(">5" if subset == "C" else ">6")
        out.append(text)
    return "".join(out)


# -- fonts ------------------------------------------------------------------------------------------------

_font_lock = threading.Lock()


@cache
def _font_bytes() -> bytes:
    return resources.files("parcelguard.waybills").joinpath(*_FONT_RESOURCE).read_bytes()


@cache
def _pdf_font() -> tuple[str, dict[int, float], float]:
    """Register the bundled font with reportlab once per process: its name, advance widths (per 1000 em) by
    code point and the default width. The widths also lay out ZPL text, so both outputs wrap alike."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    with _font_lock:
        if _PDF_FONT not in pdfmetrics.getRegisteredFontNames():
            with resources.as_file(resources.files("parcelguard.waybills").joinpath(*_FONT_RESOURCE)) as path:
                pdfmetrics.registerFont(TTFont(_PDF_FONT, str(path), subfontIndex=0))
    face = pdfmetrics.getFont(_PDF_FONT).face
    return _PDF_FONT, dict(face.charWidths), float(face.defaultWidth)


class _Master:
    """The bundled font parsed once per process by fontTools, for the subsets ZPL jobs download."""

    # Tables copied as they are: the hinting programs (fpgm, prep, cvt, gasp) stay, as glyphs call them;
    # maxp's maxima and head's box are the whole font's, a valid upper bound for any subset.
    COPIED = ("head", "hhea", "maxp", "OS/2", "name", "fpgm", "prep", "cvt ", "gasp")

    def __init__(self) -> None:
        from fontTools.ttLib import TTFont

        self.font = TTFont(io.BytesIO(_font_bytes()), fontNumber=0, lazy=True)
        self.cmap = self.font.getBestCmap()
        self.glyph_id = {name: i for i, name in enumerate(self.font.getGlyphOrder())}
        self.glyf = self.font["glyf"]
        self.hmtx = self.font["hmtx"].metrics
        self.tables = {tag: self.font[tag] for tag in self.COPIED if tag in self.font}


@cache
def _master() -> _Master:
    return _Master()


def font_subset(chars: Iterable[str]) -> bytes:
    """A TrueType font with only the glyphs of `chars` (and .notdef), from the bundled font.

    Built from the parsed font rather than by `fontTools.subset` (same result for the glyphs kept, ≈ 20×
    faster): glyph outlines are copied as they are, composite glyphs re-point at their components' new ids.
    """
    from fontTools.ttLib import TTFont, newTable
    from fontTools.ttLib.tables._c_m_a_p import CmapSubtable
    from fontTools.ttLib.tables._g_l_y_f import Glyph

    with _font_lock:
        m = _master()
        mapping = {}
        for ch in set(chars):
            name = m.cmap.get(ord(ch))
            if name is not None:
                mapping[ord(ch)] = name
        names = {".notdef", *mapping.values()}
        raw = m.glyf.glyphs  # the glyphs as stored (`m.glyf[name]` would expand and keep them: memory)
        todo = list(names)
        while todo:
            for part in raw[todo.pop()].getComponentNames(m.glyf):
                if part not in names:
                    names.add(part)
                    todo.append(part)
        order = sorted(names, key=m.glyph_id.__getitem__)
        glyphs = {}
        for name in order:
            glyph = raw[name]
            if glyph.isComposite():
                # A fresh copy, expanded so that its components are named: compiled in the subset, they get
                # the subset's glyph ids. A simple glyph's stored bytes are copied as they are.
                glyph = Glyph(glyph.data)
                glyph.expand(m.glyf)
            glyphs[name] = glyph
        font = TTFont(recalcBBoxes=False, recalcTimestamp=False)
        font.setGlyphOrder(order)
        for tag, table in m.tables.items():
            font[tag] = copy.copy(table)
        glyf = newTable("glyf")
        glyf.glyphOrder = order
        glyf.glyphs = glyphs
        font["glyf"] = glyf
        font["loca"] = newTable("loca")
        hmtx = newTable("hmtx")
        hmtx.metrics = {name: m.hmtx[name] for name in order}
        font["hmtx"] = hmtx
        post = newTable("post")
        post.formatType = 3.0  # no glyph names: printers do not need them
        post.italicAngle, post.underlinePosition, post.underlineThickness = 0, -100, 50
        post.isFixedPitch = post.minMemType42 = post.maxMemType42 = post.minMemType1 = post.maxMemType1 = 0
        font["post"] = post
        cmap = newTable("cmap")
        cmap.tableVersion = 0
        bmp = CmapSubtable.newSubtable(4)
        bmp.platformID, bmp.platEncID, bmp.language = 3, 1, 0
        bmp.cmap = {cp: name for cp, name in mapping.items() if cp < 0x10000}
        cmap.tables = [bmp]
        if len(bmp.cmap) < len(mapping):  # characters beyond the BMP need a format 12 table too
            full = CmapSubtable.newSubtable(12)
            full.platformID, full.platEncID, full.language = 3, 10, 0
            full.cmap = dict(mapping)
            cmap.tables.append(full)
        font["cmap"] = cmap
        out = io.BytesIO()
        font.save(out)
        return out.getvalue()


# -- layout -----------------------------------------------------------------------------------------------

class _Text(NamedTuple):
    x: int  # dots from the left
    top: int  # dots from the top of the label to the top of the line
    size: int  # em in dots
    text: str
    bold: bool = False


class _Code(NamedTuple):
    x: int  # the first bar's left edge (its quiet zone is before it)
    top: int  # the bars' top edge
    module: int
    height: int  # the bars' length
    data: str
    vertical: bool = False  # turned 90° clockwise: start at the top, bars running across


class _QR(NamedTuple):
    x: int  # the top-left module (the quiet zone is around it)
    top: int
    module: int
    token: str


@dataclass(slots=True)
class _Drawing:
    texts: list[_Text]
    rules: list[tuple[int, int, int, int]]  # filled rectangles: x, top, width, height in dots
    boxes: list[tuple[int, int, int, int, int]]  # outlines: x, top, width, height, line thickness
    codes: list[_Code]
    qrs: list[_QR]


@dataclass(frozen=True, slots=True)
class _Frame:
    """Where things go on one layout, in dots from the top-left corner."""

    width: int
    height: int
    margin: int
    body_right: int  # right edge of the text blocks (a vertical barcode runs right of it)
    header_bottom: int
    logo: tuple[int, int, int, int]
    carrier_size: int
    time_size: int
    sort_bottom: int
    sort_size: int
    code_vertical: bool
    code_top: int  # the bars' top edge (horizontal) or the symbol's start (vertical)
    code_module: int
    code_height: int  # the bars' length
    number_size: int
    code_bottom: int  # the end of the waybill number's band
    marker: int  # side of the 收 / 寄 boxes
    name_size: int
    line_size: int
    detail_lines: int
    call_size: int
    recipient_bottom: int
    sender_size: int
    sender_bottom: int
    items_size: int
    items_lines: int
    qr_module: int
    caption_size: int
    qr_bottom: int  # the end of the items + QR band
    note_size: int
    main_bottom: int  # the end of the main part: the tear line on a two-part label
    stub: bool

    @property
    def code_room(self) -> int:
        """Dots along the barcode's axis for the symbol and its quiet zones (a vertical one runs from under
        the sorting code to the bottom margin, beside the body)."""
        return self.height - self.margin - self.sort_bottom - 8 if self.code_vertical else self.width


# Two-part: the Cainiao/JD 100 × 180 arrangement, 4-dot Code 128 across the label. One-part: 76 mm is too
# narrow for a 4-dot Code 128 with its quiet zones (145 modules + 2 × 10 = 660 dots > 607), and 3-dot bars
# do not survive a worn head (a 2-pixel blur leaves their narrow spaces at a tenth of the contrast), so the
# one-part label runs its barcode down the right edge, as many one-part labels do, and prints the number
# at the top of the body.
_FRAMES = {
    Layout.TWO_PART: _Frame(
        width=799, height=1439, margin=16, body_right=783, header_bottom=100, logo=(16, 12, 176, 76),
        carrier_size=44, time_size=22, sort_bottom=228, sort_size=104, code_vertical=False, code_top=242,
        code_module=4, code_height=112, number_size=30, code_bottom=400, marker=56, name_size=40, line_size=30,
        detail_lines=2, call_size=32, recipient_bottom=640, sender_size=28, sender_bottom=744, items_size=26,
        items_lines=4, qr_module=5, caption_size=24, qr_bottom=1036, note_size=20, main_bottom=1039, stub=True),
    Layout.ONE_PART: _Frame(
        width=607, height=1039, margin=12, body_right=483, header_bottom=80, logo=(12, 10, 132, 60),
        carrier_size=34, time_size=18, sort_bottom=176, sort_size=78, code_vertical=True, code_top=224,
        code_module=4, code_height=100, number_size=32, code_bottom=232, marker=44, name_size=34, line_size=24,
        detail_lines=2, call_size=26, recipient_bottom=482, sender_size=24, sender_bottom=570, items_size=24,
        items_lines=5, qr_module=5, caption_size=22, qr_bottom=880, note_size=18, main_bottom=1039, stub=False),
}
_QR_SIDE = 41  # modules of a version-6 symbol: a 154-character token at level M
_QR_QUIET = 4  # modules (ISO/IEC 18004 §6.3.8)
_STUB_MODULE = 3
_STUB_HEIGHT = 72
_STUB_TOP = 1047
_STUB_TEXT = 240  # dots kept right of the stub's barcode for the number
_MIN_MODULE = 2  # dots: narrower bars do not survive a worn thermal head


def _code_module(modules: int, preferred: int, room: int) -> int:
    """The widest whole-dot module, up to `preferred`, at which the symbol and its quiet zones fit `room`."""
    module = preferred
    while module > 1 and (modules + 2 * _C128_QUIET) * module > room:
        module -= 1
    return module


@cache
def _metrics() -> tuple[dict[int, float], float]:
    return _pdf_font()[1:]


def _width(text: str, size: float) -> float:
    """Advance width of `text` at `size`, in the size's unit."""
    widths, default = _metrics()
    return sum(map(widths.get, map(ord, text), repeat(default))) * size / 1000


def _wrap(text: str, size: int, width: int, max_lines: int) -> list[str]:
    """`text` broken into at most `max_lines` lines of `width` dots (at a space in the second half of a line,
    else between any two characters, as Chinese allows); what does not fit ends in an ellipsis."""
    widths, default = _metrics()
    get = widths.get
    limit = width * 1000 / size
    if sum(map(get, map(ord, text), repeat(default))) <= limit:
        return [text] if text else []
    lines: list[str] = []
    line: list[str] = []
    used = 0.0
    for c in text:
        w = get(ord(c), default)
        if used + w > limit and line:
            if c == " ":
                lines.append("".join(line))
                line, used = [], 0.0
                continue
            # At the last space when it is in the line's second half (a Latin word stays whole), else here.
            space = len(line) - 1 - line[::-1].index(" ") if " " in line else 0
            cut = space if 0 < space and space >= len(line) // 2 else len(line)
            lines.append("".join(line[:cut]).rstrip())
            line = line[cut:]
            while line and line[0] == " ":
                line.pop(0)
            used = sum(get(ord(x), default) for x in line)
        line.append(c)
        used += w
    if line:
        lines.append("".join(line))
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        ellipsis = get(ord("…"), default)
        while last and sum(get(ord(x), default) for x in last) + ellipsis > limit:
            last = last[:-1]
        lines = [*lines[:max_lines - 1], last.rstrip() + "…"]
    return lines


def _fit(text: str, size: int, width: int, min_size: int) -> tuple[str, int]:
    """One line: shrunk down to `min_size` to fit `width`, then cut with an ellipsis if still too long."""
    w = _width(text, size)
    if w > width:
        size = max(min_size, int(size * width / w))
        if _width(text, size) > width:
            text = _wrap(text, size, width, 1)[0]
    return text, size


def _box_rects(x: int, top: int, w: int, h: int, t: int) -> list[tuple[int, int, int, int]]:
    return [(x, top, w, t), (x, top + h - t, w, t), (x, top, t, h), (x + w - t, top, t, h)]


@cache
def _static(layout: Layout) -> _Drawing:
    """What every label of a layout shares: rules, boxes, captions. Built once per process."""
    f = _FRAMES[layout]
    d = _Drawing([], [], [], [], [])
    m, w = f.margin, f.width
    rule = 2
    body = w if not f.code_vertical else f.body_right + 6  # rules stop short of a vertical barcode
    for y, right in ((f.header_bottom, w), (f.sort_bottom, w), (f.code_bottom, body), (f.recipient_bottom, body),
                     (f.sender_bottom, body)):
        d.rules.append((0, y - rule // 2, right, rule))
    d.boxes.append((*f.logo, rule))
    if f.code_vertical:
        d.texts.append(_Text(m, f.sort_bottom + 10 + f.number_size - 22, 22, "运单号"))
    for above, mark in ((f.code_bottom, "收"), (f.recipient_bottom, "寄")):
        y = above + 12
        d.boxes.append((m, y, f.marker, f.marker, rule))
        size = f.marker * 3 // 4
        d.texts.append(_Text(m + (f.marker - size) // 2, y + (f.marker - size) // 2, size, mark))
    qr_box = (_QR_SIDE + 2 * _QR_QUIET) * f.qr_module
    split = f.body_right - qr_box - 8
    d.rules.append((split, f.sender_bottom, rule, f.qr_bottom - f.sender_bottom))
    d.texts.append(_Text(m, f.sender_bottom + 10, f.caption_size, "物品"))
    caption = "扫码派送"
    d.texts.append(_Text(f.body_right - qr_box // 2 - round(_width(caption, f.caption_size) / 2),
                         f.sender_bottom + 8 + qr_box + 2, f.caption_size, caption))
    note = "隐私面单：收寄件人信息已隐藏，请用虚拟号联系"
    if f.stub:
        d.texts.append(_Text(m, f.main_bottom - 8 - f.note_size, f.note_size, note))
        d.texts.append(_Text(m, f.main_bottom - 8 - 2 * f.note_size - 14, f.note_size, "签收人：          时间："))
        # The tear line: 12-dot dashes every 20 dots, 2 dots high, and the stub's own header rule.
        d.rules += [(x, f.main_bottom, 12, 2) for x in range(0, w, 20)]
        top = _STUB_TOP
        stub_title = "客户联"
        d.texts.append(_Text(w - m - round(_width(stub_title, 32)), top + 10, 32, stub_title))
        d.rules.append((0, top + 54, w, rule))
        d.rules.append((0, top + 54 + 136, w, rule))
        d.texts.append(_Text(m, top + 204, 28, "收件人"))
        d.texts.append(_Text(m, top + 248, 26, "物品"))
        d.texts.append(_Text(m, f.height - 8 - f.note_size, f.note_size, "请保留此联，凭运单号查询物流；此联不含联系电话"))
    else:
        d.rules.append((0, f.qr_bottom - 1, body, rule))
        d.texts.append(_Text(m, f.qr_bottom + 14, f.caption_size, "签收人："))
        d.texts.append(_Text(m, f.qr_bottom + 14 + f.caption_size + 16, f.caption_size, "签收时间："))
        d.texts.append(_Text(m, f.main_bottom - 8 - f.note_size, f.note_size, note))
    return d


@lru_cache(maxsize=1024)
def _call_line(number: str | None, extension: str | None) -> str:
    """"虚拟号 +86 571 1234 5678 转 0421": the virtual number grouped for reading aloud. Cached: virtual
    numbers are the carrier's pool, not anyone's phone."""
    number = _clean(number)
    if not number:
        return "虚拟号未绑定：请扫码联系收件人"
    import phonenumbers

    try:
        shown = phonenumbers.format_number(phonenumbers.parse(number, "CN"),
                                           phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        shown = number
    extension = _clean(extension)
    return f"虚拟号 {shown} 转 {extension}" if extension else f"虚拟号 {shown}"


def _compose(label: LabelData, layout: Layout) -> _Drawing:
    """The label's own texts and barcodes (the static parts are `_static`)."""
    f = _FRAMES[layout]
    m, w = f.margin, f.width
    texts: list[_Text] = []
    add = texts.append
    d = _Drawing(texts, [], [], [], [])

    # Header: carrier name right of the logo box; print time at the right.
    time_text = label.printed_at.astimezone(_SHANGHAI).strftime("%Y-%m-%d %H:%M")
    time_w = round(_width(time_text, f.time_size))
    lx, ly, lw, lh = f.logo
    name_x = lx + lw + m
    carrier, size = _fit(_clean(label.carrier_name), f.carrier_size, w - m - time_w - 16 - name_x,
                         f.carrier_size // 2)
    add(_Text(name_x, ly + (lh - size) // 2, size, carrier))
    add(_Text(w - m - round(_width("打印时间", f.time_size)), ly + 4, f.time_size, "打印时间"))
    add(_Text(w - m - time_w, ly + lh - f.time_size - 4, f.time_size, time_text))

    # The sorting code (三段码), large and bold, centred.
    sort, size = _fit(_clean(label.sorting_code), f.sort_size, w - 2 * m, f.sort_size // 3)
    band = f.sort_bottom - f.header_bottom
    add(_Text((w - round(_width(sort, size))) // 2, f.header_bottom + (band - round(size * 0.9)) // 2, size,
              sort, True))

    # The waybill number: Code 128 on the dot grid, across the label with the number under it, or down the
    # right edge with the number at the top of the body.
    number = label.waybill_no
    modules = _code128_width(number)
    module = _code_module(modules, f.code_module, f.code_room)
    if f.code_vertical:
        d.codes.append(_Code(w - m - f.code_height, f.code_top, module, f.code_height, number, vertical=True))
        x = m + round(_width("运单号", 22)) + 10
        line, size = _fit(number, f.number_size, f.body_right - x, f.number_size // 2)
        add(_Text(x, f.sort_bottom + 10, size, line))
    else:
        d.codes.append(_Code((w - modules * module) // 2, f.code_top, module, f.code_height, number))
        line, size = _fit(number, f.number_size, w - 2 * m, f.number_size // 2)
        add(_Text((w - round(_width(line, size))) // 2, f.code_top + f.code_height + 6, size, line))

    # Recipient: masked name (and the phone's last four where the policy shows them), region, detail, call.
    x = m + f.marker + 16
    room = f.body_right - x
    top = f.code_bottom + 10
    tail = "".join(c for c in label.recipient_phone_tail or "" if c.isdigit())[-4:]
    tail_text = f"尾号{tail}" if tail else ""
    tail_size = f.line_size
    tail_w = round(_width(tail_text, tail_size)) + 24 if tail_text else 0
    name, size = _fit(_clean(label.recipient_name), f.name_size, room - tail_w, f.name_size // 2)
    add(_Text(x, top, size, name))
    if tail_text:
        add(_Text(x + round(_width(name, size)) + 24, top + size - tail_size, tail_size, tail_text))
    top += f.name_size + 10
    pitch = round(f.line_size * _LINE)
    for line in _wrap(_clean(label.recipient_region), f.line_size, room, 1):
        add(_Text(x, top, f.line_size, line))
    top += pitch
    for line in _wrap(_clean(label.recipient_detail), f.line_size, room, f.detail_lines):
        add(_Text(x, top, f.line_size, line))
        top += pitch
    call, size = _fit(_call_line(label.call_number, label.call_extension), f.call_size, room, f.call_size // 2)
    add(_Text(x, f.recipient_bottom - 10 - f.call_size, size, call, True))

    # Sender: masked name and place (a district, never a street).
    top = f.recipient_bottom + 12
    for text in (label.sender_name, label.sender_place):
        line, size = _fit(_clean(text), f.sender_size, room, f.sender_size * 2 // 3)
        add(_Text(x, top, size, line))
        top += round(f.sender_size * 1.4)

    # Items on the left, the QR code (the token) on the right, on the dot grid.
    qr_box = (_QR_SIDE + 2 * _QR_QUIET) * f.qr_module
    items_w = f.body_right - m - qr_box - 16
    top = f.sender_bottom + 10 + f.caption_size + 10
    for line in _wrap(_clean(label.item_summary), f.items_size, items_w, f.items_lines):
        add(_Text(m, top, f.items_size, line))
        top += round(f.items_size * _LINE)
    d.qrs.append(_QR(f.body_right - qr_box + _QR_QUIET * f.qr_module,
                     f.sender_bottom + 8 + _QR_QUIET * f.qr_module, f.qr_module, label.token))

    if f.stub:
        # The customer stub: carrier, waybill number (bars and text), masked name, items. No phone digits,
        # not even the virtual number, and nothing of the address.
        top = _STUB_TOP
        line, size = _fit(carrier, 32, w // 2, 20)
        add(_Text(m, top + 10, size, line))
        module = _code_module(modules, _STUB_MODULE, w - 2 * m - _STUB_TEXT)
        modules_x = m + _C128_QUIET * module
        d.codes.append(_Code(modules_x, top + 66, module, _STUB_HEIGHT, number))
        code_right = modules_x + (modules + _C128_QUIET) * module
        line, size = _fit(number, 30, w - m - code_right - 8, 16)
        add(_Text(code_right + 8, top + 66 + (_STUB_HEIGHT - size) // 2, size, line))
        x = m + round(_width("收件人", 28)) + 16
        line, size = _fit(_clean(label.recipient_name), 28, w - m - x, 18)
        add(_Text(x, top + 204, size, line))
        for n, line in enumerate(_wrap(_clean(label.item_summary), 26, w - m - x, 2)):
            add(_Text(x, top + 248 + n * round(26 * _LINE), 26, line))
    return d


# -- QR mask choice --------------------------------------------------------------------------------------
# segno encodes the token (segments, error correction, module placement); then it scores the 8 data masks
# module by module, ≈ 3.4 ms of its 4.2 ms for a version-6 symbol, most of a label's budget. ISO/IEC 18004
# §7.8.3 asks for the mask with the lowest penalty, so we keep the rule and only do the scoring faster, by
# hand (about 80 lines): rows and columns as integers and strings (XOR, bit counts, regex), mirroring segno's
# scoring so the choice is segno's (tested against it on random tokens, as is every module of the result).
# segno builds the symbol once with mask 0; the other masks are derived from it with the format
# information (§7.9) recomputed. Versions 1-6 only (a token is version 6-M); larger ones are left to segno.

_QR_MASKS = (
    lambda i, j: (i + j) % 2 == 0,
    lambda i, j: i % 2 == 0,
    lambda i, j: j % 3 == 0,
    lambda i, j: (i + j) % 3 == 0,
    lambda i, j: (i // 2 + j // 3) % 2 == 0,
    lambda i, j: (i * j) % 2 + (i * j) % 3 == 0,
    lambda i, j: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
    lambda i, j: ((i + j) % 2 + (i * j) % 3) % 2 == 0,
)
_QR_ALIGNMENT = {1: None, 2: 18, 3: 22, 4: 26, 5: 30, 6: 34}  # versions 2-6: one alignment pattern, centre
_N1_RUNS = re.compile(r"0{5,}|1{5,}")
_BITS = bytes.maketrans(b"\x00\x01", b"01")


class _QRTables(NamedTuple):
    n: int
    region: tuple[int, ...]  # per row, bit set = data module (MSB = column 0)
    region_t: tuple[int, ...]  # the same per column
    format_area: tuple[int, ...]
    format_area_t: tuple[int, ...]
    masks: tuple[tuple[int, ...], ...]
    masks_t: tuple[tuple[int, ...], ...]
    format_cells: tuple[tuple[tuple[int, int], ...], ...]  # bit b of the format word → its (row, col) cells


@cache
def _qr_tables(version: int) -> _QRTables:
    n = 17 + 4 * version
    align = _QR_ALIGNMENT[version]

    def fixed(i: int, j: int) -> bool:  # finders with separators and format areas, timing, alignment
        return (i < 9 and (j < 9 or j >= n - 8)) or (i >= n - 8 and j < 9) or i == 6 or j == 6 \
            or (align is not None and abs(i - align) <= 2 and abs(j - align) <= 2)

    def fmt(i: int, j: int) -> bool:  # the format areas (less the timing modules crossing them)
        return (i == 8 and (j < 9 or j >= n - 8) and j != 6) or (j == 8 and (i < 9 or i >= n - 8) and i != 6)

    def rows(pred: Callable[[int, int], bool], transpose: bool = False) -> tuple[int, ...]:
        return tuple(sum(1 << (n - 1 - j) for j in range(n) if (pred(j, i) if transpose else pred(i, j)))
                     for i in range(n))

    cells: list[list[tuple[int, int]]] = [[] for _ in range(15)]
    for b in range(15):  # ISO/IEC 18004 §7.9.1, figure 25: two copies of the 15-bit word
        cells[b].append((b, 8) if b < 6 else (7, 8) if b == 6 else (8, 8) if b == 7 else (8, 7) if b == 8
                        else (8, 14 - b))
        cells[b].append((8, n - 1 - b) if b < 8 else (n - 15 + b, 8))
    return _QRTables(
        n, rows(lambda i, j: not fixed(i, j)), rows(lambda i, j: not fixed(i, j), True),
        rows(fmt), rows(fmt, True), tuple(rows(m) for m in _QR_MASKS), tuple(rows(m, True) for m in _QR_MASKS),
        tuple(tuple(c) for c in cells))


def _qr_format_word(mask: int) -> int:
    """Error level M (bits 00) and the mask, BCH(15,5) coded and XOR-masked (ISO/IEC 18004 §7.9.1)."""
    data = mask  # M's level indicator is 00
    rem = data
    for _ in range(10):
        rem = (rem << 1) ^ ((rem >> 9) * 0x537)
    return (data << 10 | rem) ^ 0x5412


def _qr_penalty(rows: list[int], cols: list[int], n: int) -> int:
    """ISO/IEC 18004 §7.8.3.1 penalty of a masked symbol without format information, as segno scores it."""
    width = f"0{n}b"
    row_text = [format(r, width) for r in rows]
    col_text = [format(c, width) for c in cols]
    score = 0
    for texts in (row_text, col_text):
        runs = _N1_RUNS.findall(",".join(texts))
        score += sum(map(len, runs)) - 2 * len(runs)  # N1: 3 + (run - 5) per run of 5 or more
        for text in texts:  # N3: 1:1:3:1:1 with 4 light modules before or after (or at an edge)
            idx = text.find("1011101")
            while idx != -1:
                after = idx + 7
                if idx in (0, n - 7) or "1" not in text[max(idx - 4, 0):idx] or "1" not in text[after:after + 4]:
                    score += 40
                else:
                    after = idx + 4
                idx = text.find("1011101", after)
    full = (1 << n) - 1
    for a, b in pairwise(rows):  # N2: 3 per 2 × 2 block of one colour
        same = ~(a ^ b) & full
        score += 3 * (same & (same >> 1) & ~(a ^ (a >> 1))).bit_count()
    dark = sum(r.bit_count() for r in rows)
    return score + 10 * int(abs(dark / (n * n) * 100 - 50) / 5)  # N4


def _qr_rows(token: str) -> list[str]:
    """The QR symbol for `token` (level M) as rows of "0"/"1", with the mask of lowest penalty."""
    code = segno.make(token, error="m", micro=False, boost_error=False, mask=0)
    if code.version not in _QR_ALIGNMENT:
        matrix = segno.make(token, error="m", micro=False, boost_error=False).matrix
        return [bytes(row).translate(_BITS).decode() for row in matrix]
    t = _qr_tables(code.version)
    n = t.n
    rows0 = [int(bytes(row).translate(_BITS), 2) for row in code.matrix]
    cols0 = [int(bytes(col).translate(_BITS), 2) for col in zip(*code.matrix, strict=True)]
    # Undo mask 0 and clear the format areas: the state segno scores each mask in.
    base = [(r & ~f) ^ (m & g) for r, f, m, g in zip(rows0, t.format_area, t.masks[0], t.region, strict=True)]
    base_t = [(c & ~f) ^ (m & g) for c, f, m, g in zip(cols0, t.format_area_t, t.masks_t[0], t.region_t,
                                                       strict=True)]
    best, best_rows = None, base
    for k in range(8):
        rows = [b ^ (m & g) for b, m, g in zip(base, t.masks[k], t.region, strict=True)]
        cols = [b ^ (m & g) for b, m, g in zip(base_t, t.masks_t[k], t.region_t, strict=True)]
        score = _qr_penalty(rows, cols, n)
        if best is None or score < best[0]:
            best, best_rows = (score, k), rows
    word = _qr_format_word(best[1])
    out = list(best_rows)
    for b, places in enumerate(t.format_cells):
        if word >> b & 1:
            for i, j in places:
                out[i] |= 1 << (n - 1 - j)
    out[n - 8] |= 1 << (n - 1 - 8)  # the dark module
    width = f"0{n}b"
    return [format(r, width) for r in out]


_DARK_RUN = re.compile(r"1+")


def _qr_rects(qr: _QR) -> list[tuple[int, int, int, int]]:
    """The QR's dark modules as rectangles: runs along each row, merged down where the next rows repeat the
    same run (a 41 × 41 symbol is ≈ 420 row runs, ≈ 300 rectangles)."""
    m = qr.module
    out: list[tuple[int, int, int, int]] = []
    open_runs: dict[tuple[int, int], int] = {}
    rows = _qr_rows(qr.token)
    for r, row in enumerate(rows):
        runs = {s.span() for s in _DARK_RUN.finditer(row)}
        for run in [run for run in open_runs if run not in runs]:
            start = open_runs.pop(run)
            out.append((qr.x + run[0] * m, qr.top + start * m, (run[1] - run[0]) * m, (r - start) * m))
        for run in runs:
            open_runs.setdefault(run, r)
    end = len(rows)
    for run, start in open_runs.items():
        out.append((qr.x + run[0] * m, qr.top + start * m, (run[1] - run[0]) * m, (end - start) * m))
    return out


# -- PDF --------------------------------------------------------------------------------------------------

def _code_rects(code: _Code) -> list[tuple[int, int, int, int]]:
    out = []
    at = code.top if code.vertical else code.x
    for i, width in enumerate(code128_modules(code.data)):
        if i % 2 == 0:
            out.append((code.x, at, code.height, width * code.module) if code.vertical
                       else (at, code.top, width * code.module, code.height))
        at += width * code.module
    return out


def _rect_ops(rects: Iterable[tuple[int, int, int, int]], height: int) -> str:
    """One filled path of rectangles in dot units (the `cm` scales dots to points), y flipped to PDF's
    bottom-up: integers only, so every edge sits exactly on the dot grid."""
    body = " re\n".join(f"{x} {height - top - h} {w} {h}" for x, top, w, h in rects)
    return f"q {DOT:.12f} 0 0 {DOT:.12f} 0 0 cm\n{body} re\nf Q" if body else ""


def _draw_texts(canvas: Canvas, texts: Iterable[_Text], height: int) -> None:
    """All plain lines in one text object; each bold line (the font has no bold) filled and stroked with a
    line of 1/25 em, inside q … Q: the render mode is graphics state and would carry over to later text."""
    plain = canvas.beginText()
    for x, top, size, text, bold in texts:
        if not text:
            continue
        t = plain
        if bold:
            canvas.saveState()
            canvas.setLineWidth(size * DOT / 25)
            t = canvas.beginText()
            t.setTextRenderMode(2)
        t.setFont(_PDF_FONT, size * DOT)
        t.setTextOrigin(x * DOT, (height - top - _ASCENT * size) * DOT)
        t.textOut(text)
        if bold:
            canvas.drawText(t)
            canvas.restoreState()
    canvas.drawText(plain)


def _check_all(labels: Sequence[LabelData], layout: Layout) -> None:
    if isinstance(labels, LabelData) or not isinstance(labels, Sequence):
        raise TypeError("labels is a sequence of LabelData")
    if not labels:
        raise ValueError("at least one label is needed")
    for label in labels:
        _check(label, layout)


def render_pdf(labels: Sequence[LabelData], layout: Layout) -> bytes:
    """A PDF with one page per label, each page the layout's size in whole dots."""
    layout = Layout(layout)
    _check_all(labels, layout)
    try:
        return _render_pdf(labels, layout)
    except Exception as exc:  # noqa: BLE001  (a library's message could quote label text: keep only its kind)
        raise RuntimeError(f"label rendering failed ({type(exc).__name__})") from None


_rl_config_lock = threading.Lock()


@contextmanager
def _binary_streams() -> Iterator[None]:
    """reportlab wraps every compressed stream in ASCII85 unless told otherwise (a 7-bit-clean file, 25 %
    larger), in pure Python when its optional C accelerator is absent: ≈ 1 ms a label, a fifth of the budget.
    PDF is a binary format. The switch is a module global of reportlab's, so it is flipped only while a
    document is written, under a lock (another reportlab user at that moment would write binary streams
    too, which are as valid)."""
    from reportlab import rl_config

    with _rl_config_lock:
        saved = rl_config.useA85
        rl_config.useA85 = 0
        try:
            yield
        finally:
            rl_config.useA85 = saved


def _render_pdf(labels: Sequence[LabelData], layout: Layout) -> bytes:
    from reportlab.pdfgen.canvas import Canvas

    font = _pdf_font()[0]
    f = _FRAMES[layout]
    out = io.BytesIO()
    with _binary_streams():
        canvas = Canvas(out, pagesize=layout.page_size, invariant=True, pageCompression=1, initialFontName=font,
                        initialFontSize=10)
        _draw_pages(canvas, labels, layout, f)
        canvas.save()
    return out.getvalue()


def _draw_pages(canvas: Canvas, labels: Sequence[LabelData], layout: Layout, f: _Frame) -> None:
    canvas.setTitle("parcelguard waybill labels")
    canvas.setCreator("parcelguard")
    static = _static(layout)
    form = f"pg_static_{layout.value}"
    canvas.beginForm(form)
    canvas.addLiteral(_rect_ops([*static.rules, *(r for box in static.boxes for r in _box_rects(*box))], f.height))
    _draw_texts(canvas, static.texts, f.height)
    canvas.endForm()
    for label in labels:
        d = _compose(label, layout)
        canvas.doForm(form)
        rects = d.rules
        for code in d.codes:
            rects += _code_rects(code)
        for qr in d.qrs:
            rects += _qr_rects(qr)
        canvas.addLiteral(_rect_ops(rects, f.height))
        _draw_texts(canvas, d.texts, f.height)
        canvas.showPage()


def render_png(label: LabelData, layout: Layout, *, dpi: int = DOTS_PER_INCH) -> bytes:
    """A preview: the label's PDF page rasterised at `dpi` (pypdfium2), as a greyscale PNG (grey keeps small
    Chinese text legible on a screen; at 203 dpi the bars and modules are pure black and white)."""
    import pypdfium2 as pdfium

    layout = Layout(layout)
    if not isinstance(dpi, int) or not 50 <= dpi <= 1200:
        raise ValueError("dpi must be an integer from 50 to 1200")
    pdf = render_pdf([label], layout)
    try:
        doc = pdfium.PdfDocument(pdf)
        try:
            image = doc[0].render(scale=dpi / 72, grayscale=True).to_pil()
        finally:
            doc.close()
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=False, dpi=(dpi, dpi))
        return out.getvalue()
    except Exception as exc:  # noqa: BLE001  (as in render_pdf)
        raise RuntimeError(f"label rasterising failed ({type(exc).__name__})") from None


# -- ZPL II -----------------------------------------------------------------------------------------------

# ^FH (hex escapes, indicator "_") keeps a "^" or "~" in a name from being read as a command.
_ZPL_ESCAPES = str.maketrans({"^": "_5E", "~": "_7E", "_": "_5F"})


@cache
def _zpl_font_command(size: int) -> str:
    return f"^A@N,{size},{size},{ZPL_FONT}^FH^FD"


def _zpl_texts(texts: Iterable[_Text], out: list[str], chars: set[str]) -> None:
    for x, top, size, text, bold in texts:
        if not text:
            continue
        chars.update(text)
        field = f"{_zpl_font_command(size)}{text.translate(_ZPL_ESCAPES)}^FS"
        out.append(f"^FO{x},{top}{field}")
        if bold:  # TrueType has no bold on the printer: print it again 2 dots to the right
            out.append(f"^FO{x + 2},{top}{field}")


@cache
def _zpl_static(layout: Layout) -> tuple[str, str, frozenset[str]]:
    """Per layout, once per process: the label's opening commands, its static drawing, and their characters."""
    f = _FRAMES[layout]
    s = _static(layout)
    out: list[str] = []
    chars: set[str] = set()
    for x, top, w, h in s.rules:
        out.append(f"^FO{x},{top}^GB{w},{h},{min(w, h)}^FS")
    for x, top, w, h, t in s.boxes:
        out.append(f"^FO{x},{top}^GB{w},{h},{t}^FS")
    _zpl_texts(s.texts, out, chars)
    head = f"^XA^CI28^PW{f.width}^LL{f.height}^LH0,0"
    return head, "".join(out), frozenset(chars)


def render_zpl(labels: Sequence[LabelData], layout: Layout, *, include_font: bool = True) -> bytes:
    """A ZPL II job, UTF-8: the font subset download (when `include_font`) and one `^XA … ^XZ` per label."""
    layout = Layout(layout)
    _check_all(labels, layout)
    try:
        return _render_zpl(labels, layout, include_font)
    except Exception as exc:  # noqa: BLE001  (as in render_pdf)
        raise RuntimeError(f"label rendering failed ({type(exc).__name__})") from None


def _render_zpl(labels: Sequence[LabelData], layout: Layout, include_font: bool) -> bytes:
    head, static, static_chars = _zpl_static(layout)
    chars: set[str] = set(static_chars)
    body: list[str] = []
    for label in labels:
        d = _compose(label, layout)
        out = [head, static]
        for x, top, w, h in d.rules:
            out.append(f"^FO{x},{top}^GB{w},{h},{min(w, h)}^FS")
        _zpl_texts(d.texts, out, chars)
        for code in d.codes:
            out.append(f"^FO{code.x},{code.top}^BY{code.module}^BC{'R' if code.vertical else 'N'},{code.height},"
                       f"N,N,N^FD{_zpl_code128(code.data)}^FS")
        for qr in d.qrs:
            # ^BQ's origin is the symbol's corner; the quiet zone is the blank space around it.
            out.append(f"^FO{qr.x},{qr.top}^BQN,2,{qr.module}^FDMA,{qr.token}^FS")
        out.append("^XZ\n")
        body.append("".join(out))
    if include_font:
        font = font_subset(chars)
        body.insert(0, f"~DY{ZPL_FONT.removesuffix('.TTF')},A,T,{len(font)},,{font.hex().upper()}\n")
    return "".join(body).encode("utf-8")


# -- demo -------------------------------------------------------------------------------------------------

# 96 fixed bytes in the token's text form (base32, 154 characters): the right shape, not a signed token.
_DEMO_TOKEN = base64.b32encode(b"parcelguard demo label: not a token".ljust(96, b".")).decode("ascii").rstrip("=")


def sample_label(token: str | None = None) -> LabelData:
    """A label with plainly fictitious content (演示快递, 示例路), for docs, previews and benchmarks."""
    return LabelData(
        carrier_name="演示快递", waybill_no="DE4839201746559", sorting_code="310-115-07",
        sender_name="张*", sender_place="北京市 朝阳区", recipient_name="欧阳**",
        recipient_region="上海市 上海市 浦东新区", recipient_detail="示例路2号 *单元 ***",
        call_number="+8657112345678", call_extension="0421", recipient_phone_tail="***5678",
        item_summary="服装 ×2；文件 ×1", token=_DEMO_TOKEN if token is None else token,
        printed_at=datetime(2026, 11, 26, 5, 5, tzinfo=UTC))


__all__ = ["DOTS_PER_INCH", "ZPL_FONT", "LabelData", "Layout", "code128_modules", "code128_plan", "font_subset",
           "render_pdf", "render_png", "render_zpl", "sample_label"]
