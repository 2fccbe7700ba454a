"""An incident report as a PDF to print and file (issue 14): every member of the signed report, the remedy
actions in words, and what a reader needs to match the paper to the signed original: the signing key's id,
the signature, the SHA-256 of the signed bytes and the regulator's receipt. Chinese or English. reportlab's
platypus lays it out; the bundled CJK font is the labels' (registered under the same name, once).
"""

from __future__ import annotations

import hashlib
import io
import threading
from importlib import resources
from typing import Any
from xml.sax.saxutils import escape

from parcelguard.regulator import incident_protocol
from parcelguard.regulator.protocol import canonical

_FONT = "PGCJK"  # the name waybills.labels registers the same bundled font under
_font_lock = threading.Lock()

TEXT = {
    "zh": {"title": "寄递用户个人信息安全事件报告", "carrier": "企业", "incident": "事件编号", "report_id": "报告编号",
           "reported_at": "报告时间", "kind": "事件类型", "opened_at": "发现时间", "contained_at": "控制时间",
           "window": "评估时段", "accounts": "涉及账号", "accounts_contained": "已停用账号", "stations": "涉及网点",
           "reveals": "个人信息查看次数", "subjects": "涉及邮件数", "denied": "被拒绝的查看", "fields": "按字段",
           "actions": "处置措施", "note": "处置说明", "summary": "事件概述", "signed": "签名与回执",
           "key_id": "企业签名密钥", "digest": "签名内容 SHA-256", "signature": "签名", "receipt": "监管回执",
           "no_receipt": "尚未收到回执", "received": "已接收", "none": "无"},
    "en": {"title": "Report of a personal-data incident", "carrier": "Carrier", "incident": "Incident",
           "report_id": "Report id", "reported_at": "Reported", "kind": "Kind", "opened_at": "Opened",
           "contained_at": "Contained", "window": "Assessed window", "accounts": "Accounts involved",
           "accounts_contained": "Accounts disabled", "stations": "Stations", "reveals": "Reveals of personal data",
           "subjects": "Parcels revealed", "denied": "Reveals refused", "fields": "By field", "actions": "Remedy",
           "note": "Remedy note", "summary": "Summary", "signed": "Signature and receipt",
           "key_id": "Carrier's signing key", "digest": "SHA-256 of the signed bytes", "signature": "Signature",
           "receipt": "Regulator's receipt", "no_receipt": "no receipt yet", "received": "received",
           "none": "none"},
}
ACTIONS = {
    "zh": {"accounts_disabled": "停用账号", "tokens_revoked": "吊销登录凭证", "subjects_notified": "告知用户",
           "credentials_reset": "重置凭证", "staff_dismissed": "解除劳动关系", "police_informed": "报告公安机关",
           "retrained": "重新培训", "contract_terminated": "终止合作", "other": "其他"},
    "en": {"accounts_disabled": "accounts disabled", "tokens_revoked": "tokens revoked",
           "subjects_notified": "users notified", "credentials_reset": "credentials reset",
           "staff_dismissed": "staff dismissed", "police_informed": "police informed", "retrained": "staff retrained",
           "contract_terminated": "contract terminated", "other": "other"},
}
assert all(set(names) == set(incident_protocol.REMEDY_ACTIONS) for names in ACTIONS.values())


def _font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    with _font_lock:
        if _FONT not in pdfmetrics.getRegisteredFontNames():
            with resources.as_file(resources.files("parcelguard.waybills").joinpath("fonts", "wqy-microhei.ttc")) as p:
                pdfmetrics.registerFont(TTFont(_FONT, str(p), subfontIndex=0))
    return _FONT


def render(report: dict[str, Any], receipt: dict[str, Any] | None, *, lang: str = "zh") -> bytes:
    """The PDF of a signed report's wire object (and the regulator's receipt, when there is one)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    t, names = TEXT[lang], ACTIONS[lang]
    font = _font()
    body = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=13, wordWrap="CJK")
    small = ParagraphStyle("small", parent=body, fontSize=7.5, leading=10)
    head = ParagraphStyle("head", parent=body, fontSize=15, leading=20, spaceAfter=4 * mm)
    sub = ParagraphStyle("sub", parent=body, fontSize=11, leading=15, spaceBefore=4 * mm, spaceAfter=2 * mm)

    def p(text: object, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(str(text)), style)

    unsigned = {k: v for k, v in report.items() if k != "signature"}
    digest = hashlib.sha256(incident_protocol.REPORT_DOMAIN + canonical(unsigned)).hexdigest()
    fields = ", ".join(f"{k} {v}" for k, v in sorted(report["fields"].items())) or t["none"]
    rows = [
        (t["carrier"], report["carrier"]), (t["incident"], report["incident"]), (t["report_id"], report["report_id"]),
        (t["kind"], report["kind"]), (t["opened_at"], report["opened_at"]),
        (t["contained_at"], report["contained_at"] or t["none"]), (t["reported_at"], report["reported_at"]),
        (t["window"], f"{report['window']['since']} – {report['window']['until']}"),
        (t["accounts"], report["accounts"]), (t["accounts_contained"], report["accounts_contained"]),
        (t["stations"], ", ".join(report["stations"]) or t["none"]), (t["reveals"], report["reveals"]),
        (t["subjects"], report["subjects"]), (t["fields"], fields), (t["denied"], report["denied"]),
        (t["actions"], "、".join(names[a] for a in report["remedy"]["actions"]) if lang == "zh"
         else ", ".join(names[a] for a in report["remedy"]["actions"])),
    ]
    table = Table([[p(k), p(v)] for k, v in rows], colWidths=[45 * mm, 125 * mm])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke)]))
    receipt_text = (f"{t['received']} {receipt['received_at']} · key {receipt['key_id']}" if receipt
                    else t["no_receipt"])
    story = [
        p(t["title"], head), table,
        p(t["summary"], sub), p(report["summary"] or t["none"]),
        p(t["note"], sub), p(report["remedy"]["note"] or t["none"]),
        p(t["signed"], sub),
        p(f"{t['key_id']}: {report['key_id']}", small), p(f"{t['digest']}: {digest}", small),
        p(f"{t['signature']}: {report['signature']}", small), p(f"{t['receipt']}: {receipt_text}", small),
        Spacer(1, 2 * mm),
    ]
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm,
                            bottomMargin=18 * mm, title=f"{report['incident']} {t['title']}",
                            author=report["carrier"], invariant=1)
    doc.build(story)
    return out.getvalue()
