"""Server-rendered pages: one Jinja2 environment over the package's templates, and `render`, which adds the
language, the translation function `t` and the security headers to every page.

No build step and no CDN: templates and static files ship inside the package and parcelguard serves them
itself (a carrier's network often has no way out). The Content-Security-Policy allows nothing inline, so a
template holds no <script> body, no <style> and no style="" attribute: styles go in static/app.css and
behaviour in static/*.js.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from parcelguard import __version__
from parcelguard.web import i18n

WEB_DIR = Path(__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
                           "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",  # a page may show a courier's (masked) name: no shared or back-button cache
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
}


def apply_security_headers(response: Response) -> Response:
    """Set the headers every HTML page carries (any page module, templated or not, calls this)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


@cache
def static_url(name: str) -> str:
    """/static/NAME with a digest of its content, so a browser never keeps a stale copy after an upgrade."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


environment = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True, undefined=StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True)
environment.globals.update(static_url=static_url, version=__version__)


def render(request: Request, name: str, context: Mapping[str, Any] | None = None, status_code: int = 200,
           headers: Mapping[str, str] | None = None) -> HTMLResponse:
    """The template `name` as an HTML response in the request's language, with the security headers."""
    choice = i18n.choose(request)
    html = environment.get_template(name).render({
        **(context or {}),
        "lang": choice.lang,
        "html_lang": choice.html_lang,
        "other_lang": choice.other,
        "other_html_lang": i18n.HTML_LANG[choice.other],
        "other_lang_name": i18n.translate(choice.other, "lang.name"),
        "t": i18n.translator(choice.lang),
        "path": request.url.path,
    })
    response = HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))
    apply_security_headers(response)
    i18n.remember(response, request, choice)
    return response
