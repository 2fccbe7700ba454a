"""Page languages: Chinese (zh, the default) and English (en).

The messages are TOML files of stable message keys, not gettext catalogues: two languages and a few
hundred strings need no extraction or compile step. Each language has `messages/<lang>.toml` and may
have more files `messages/<lang>.<area>.toml` (one per console, so a console's strings live together);
they merge into one catalogue, and a key in two files is an error at import. A test keeps the two
languages' keys the same. A key missing from `EN` falls back to `ZH`. `?lang=zh|en` chooses (and sets
the cookie `pg_lang` for a year), else the cookie, else zh.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

DEFAULT = "zh"
LANGUAGES = ("zh", "en")
HTML_LANG = {"zh": "zh-CN", "en": "en"}
COOKIE = "pg_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600


def _catalogue(lang: str) -> dict[str, str]:
    folder = resources.files(__package__).joinpath("messages")
    names = sorted(f.name for f in folder.iterdir() if f.name == f"{lang}.toml"
                   or (f.name.startswith(f"{lang}.") and f.name.endswith(".toml")))
    merged: dict[str, str] = {}
    for name in names:
        part = tomllib.loads(folder.joinpath(name).read_text("utf-8"))
        twice = sorted(set(part) & set(merged))
        if twice:
            raise ValueError(f"messages/{name} repeats keys of another {lang} file: {', '.join(twice[:5])}")
        merged.update(part)
    return merged


ZH: dict[str, str] = _catalogue("zh")
EN: dict[str, str] = _catalogue("en")
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
