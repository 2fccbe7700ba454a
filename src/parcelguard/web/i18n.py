"""Page languages: Chinese (zh, the default) and English (en).

The messages are two Python dicts keyed by stable message keys, not gettext catalogues: two languages and a
few dozen strings need no extraction or compile step, and a test keeps the two dicts' keys the same. A key
missing from `EN` falls back to `ZH`. `?lang=zh|en` chooses (and sets the cookie `pg_lang` for a year),
else the cookie, else zh.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

DEFAULT = "zh"
LANGUAGES = ("zh", "en")
HTML_LANG = {"zh": "zh-CN", "en": "en"}
COOKIE = "pg_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600

ZH: dict[str, str] = {
    "lang.name": "中文",
    "lang.switch_label": "切换语言",
    "skip.to_main": "跳到正文",
    "site.tagline": "后台实名，前台隐私",
    "nav.check": "核验快递员",
    "footer.privacy": "公开页面不显示任何人的个人信息。",
    "home.title": "parcelguard",
    "home.sub": "后台实名制 + 前台隐私化（real name at the back, privacy at the front）",
    "home.lead": "parcelguard 让实名收寄（real-name intake）与隐私面单（privacy waybills）同时成立："
                 "寄件人的身份经核验后加密封存，只有邮政管理部门能够读取；面单、快递员终端和公开查询都不显示"
                 "任何人的个人信息。每一次访问个人信息都要经过检查，并写入防篡改日志。",
    "home.check_link": "核验快递员身份",
    "home.check_hint": "扫描快递员出示的二维码，确认对方是已注册快递公司的在职快递员。",
    "home.api_link": "接口文档（API reference）",
    "home.openapi_link": "OpenAPI 文档",
    "home.probes": "健康检查：/healthz 表示进程在运行，/readyz 表示数据库可达且已迁移到最新版本。",
    "home.api_prefix": "其余接口都在 /api/v1/ 下；登录：POST /api/v1/auth/token。",
    "check.title": "核验快递员",
    "check.intro": "请快递员出示 parcelguard 快递员二维码，然后用摄像头扫码、拍一张照片，或粘贴二维码中的文字。",
    "check.scan": "用摄像头扫码",
    "check.scan_stop": "停止扫码",
    "check.scan_hint": "把二维码放在画面中央，保持稳定。",
    "check.camera_failed": "无法打开摄像头，请改为拍照或粘贴二维码文字。",
    "check.token_label": "二维码文字",
    "check.token_hint": "粘贴快递员二维码中的文字。",
    "check.photo_label": "或者拍一张二维码的照片",
    "check.photo_hint": "照片只用于读取二维码，不会保存；最大 {mib} MiB。",
    "check.submit": "核验",
    "error.token_missing": "请粘贴二维码中的文字，或拍一张二维码的照片。",
    "error.token_too_long": "这段文字太长，不是快递员二维码。",
    "error.photo_not_image": "这个文件不是图片。请拍一张二维码的照片（JPEG 或 PNG）。",
    "error.photo_no_qr": "照片中找不到可以读取的二维码。请靠近一些、对准并保持稳定后重拍，或粘贴二维码文字。",
    "error.photo_too_large": "照片超过 {mib} MiB，请缩小后再试。",
    "error.rate_limited": "核验请求过于频繁，请 {seconds} 秒后再试。",
    "result.heading": "核验结果",
    "result.genuine_title": "真实快递员",
    "result.genuine_text": "此二维码属于已注册快递公司的在职快递员。",
    "result.not_genuine_title": "不是已注册的快递员",
    "result.not_genuine_text": "此二维码不是已注册快递公司在职快递员的有效二维码。请不要交出包裹或个人信息，"
                               "可以致电快递公司核实。",
    "result.carrier": "快递公司",
    "result.station": "网点",
    "result.courier": "快递员",
    "result.none": "—",
}

EN: dict[str, str] = {
    "lang.name": "English",
    "lang.switch_label": "Switch language",
    "skip.to_main": "Skip to content",
    "site.tagline": "Real name at the back, privacy at the front",
    "nav.check": "Check a courier",
    "footer.privacy": "Public pages show no one's personal data.",
    "home.title": "parcelguard",
    "home.sub": "Real name at the back, privacy at the front (后台实名制 + 前台隐私化).",
    "home.lead": "parcelguard makes real-name intake (实名收寄) and privacy waybills (隐私面单) work together for "
                 "express carriers and their regulator: every sender's identity is verified and sealed so that "
                 "only the regulator can read it, while labels, courier terminals and public look-ups show no "
                 "one's personal data. Every access to personal data is checked and written to a "
                 "tamper-evident log.",
    "home.check_link": "Check that a courier is genuine",
    "home.check_hint": "Scan the QR code a courier shows you to see whether they work for a registered carrier.",
    "home.api_link": "API reference",
    "home.openapi_link": "OpenAPI document",
    "home.probes": "Probes: /healthz says the process is up; /readyz says the database is reachable and migrated.",
    "home.api_prefix": "Everything else lives under /api/v1/; sign in at POST /api/v1/auth/token.",
    "check.title": "Check a courier",
    "check.intro": "Ask the courier to show their parcelguard courier QR code, then scan it with the camera, "
                   "take a photo of it, or paste its text.",
    "check.scan": "Scan with the camera",
    "check.scan_stop": "Stop scanning",
    "check.scan_hint": "Hold the QR code steady in the middle of the picture.",
    "check.camera_failed": "The camera could not be opened; take a photo or paste the code's text instead.",
    "check.token_label": "QR code text",
    "check.token_hint": "Paste the text of the courier's QR code.",
    "check.photo_label": "Or take a photo of the QR code",
    "check.photo_hint": "The photo is only used to read the code and is not kept; at most {mib} MiB.",
    "check.submit": "Check",
    "error.token_missing": "Paste the QR code's text or take a photo of the QR code.",
    "error.token_too_long": "This text is too long to be a courier QR code.",
    "error.photo_not_image": "This file is not an image. Take a photo of the QR code (JPEG or PNG).",
    "error.photo_no_qr": "No readable QR code was found in the photo. Move closer, hold steady and try again, "
                         "or paste the code's text.",
    "error.photo_too_large": "The photo is larger than {mib} MiB; make it smaller and try again.",
    "error.rate_limited": "Too many checks; try again in {seconds} seconds.",
    "result.heading": "Result",
    "result.genuine_title": "Genuine courier",
    "result.genuine_text": "This QR code belongs to an active courier of a registered carrier.",
    "result.not_genuine_title": "Not a genuine courier",
    "result.not_genuine_text": "This QR code is not a genuine courier of a registered carrier. Do not hand over "
                               "parcels or personal details; call the carrier to check.",
    "result.carrier": "Carrier",
    "result.station": "Station",
    "result.courier": "Courier",
    "result.none": "—",
}

MESSAGES: dict[str, dict[str, str]] = {"zh": ZH, "en": EN}


@dataclass(frozen=True)
class Choice:
    """The page's language, and whether the request chose it by `?lang=` (then the cookie is set)."""

    lang: str
    from_query: bool = False

    @property
    def html_lang(self) -> str:
        return HTML_LANG[self.lang]

    @property
    def other(self) -> str:
        return next(code for code in LANGUAGES if code != self.lang)


def choose(request: Request) -> Choice:
    asked = request.query_params.get("lang", "")
    if asked in LANGUAGES:
        return Choice(asked, from_query=True)
    remembered = request.cookies.get(COOKIE, "")
    return Choice(remembered if remembered in LANGUAGES else DEFAULT)


def translate(lang: str, key: str, **values: Any) -> str:
    """The message `key` in `lang` (else in zh; else the key itself, which a test forbids), formatted."""
    text = MESSAGES.get(lang, ZH).get(key) or ZH.get(key, key)
    return text.format(**values) if values else text


def translator(lang: str) -> Callable[..., str]:
    def t(key: str, **values: Any) -> str:
        return translate(lang, key, **values)

    return t


def remember(response: Response, request: Request, choice: Choice) -> None:
    """Set the language cookie when the request chose by `?lang=`."""
    if choice.from_query:
        response.set_cookie(COOKIE, choice.lang, max_age=COOKIE_MAX_AGE, path="/", samesite="lax", httponly=True,
                            secure=request.url.scheme == "https")
