"""The public tracking page (/track): the page form of GET /api/v1/public/track/{waybill_no}. The same
service function (`tracking.public.track`), the same rate limit (TRACK_LIMITS's counters, one for both) and
the same lookup count (`track/lookups`), so the page is no way around any of them.

The form posts the number and the optional phone tail to /track, so the tail never sits in a URL (a
browser's history, a proxy's log, a shared link); `GET /track?no=` takes the number alone, for a link to
share. The answer never holds a name, a phone or an address: the right tail adds the masked recipient line
the API gives, and a wrong tail is answered exactly as an unknown number. The tail is never written back
into the page.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

from parcelguard.core.errors import Invalid, TooManyRequests
from parcelguard.core.ratelimit import client_address, limiter_of
from parcelguard.tracking import public, service
from parcelguard.tracking.api import TRACK_LIMITS
from parcelguard.waybills import numbers
from parcelguard.web import i18n
from parcelguard.web.templating import render

router = APIRouter(include_in_schema=False)

# China Standard Time has had no summer time since 1991: a fixed +08:00 is Asia/Shanghai for any parcel,
# with no tz database to ship (as waybills/labels.py).
BEIJING = timezone(timedelta(hours=8), "CST")
TIME_FORMAT = "%Y-%m-%d %H:%M"
MAX_FIELD_CHARS = 64  # longer is no waybill number (numbers._MAX_INPUT) and no phone tail
# The service's field pointers, as the form's field names.
_FIELD = {"/waybill_no": "no", "/phone_tail": "tail"}
_FALLBACK_ERROR = {"no": "error.waybill_format", "tail": "error.phone_tail_format"}


@dataclass(frozen=True)
class Step:
    """One line of the timeline, in words."""

    at: str  # yyyy-mm-dd HH:MM, Beijing time
    at_iso: str  # for <time datetime>
    city: str
    event: str
    reason: str | None


@dataclass(frozen=True)
class Answer:
    """What the result section shows. `found` is False for an unknown number and for a wrong tail alike:
    the two render the same."""

    waybill_no: str
    found: bool
    status: str  # in words
    steps: list[Step]  # newest first
    recipient: public.PublicRecipient | None  # masked: only with the right tail

    @classmethod
    def of(cls, tracked: public.Tracked, t: Callable[..., str]) -> Answer:
        found = tracked.status != public.NO_RECORD
        steps = [Step(at=beijing(e.at).strftime(TIME_FORMAT), at_iso=beijing(e.at).isoformat(timespec="minutes"),
                      city=e.city, event=_words(t, "track.event.", e.event, "track.event.unknown"),
                      reason=_words(t, "track.reason.", e.reason, "track.reason.other") if e.reason else None)
                 for e in reversed(tracked.events)]
        return cls(waybill_no=tracked.waybill_no, found=found,
                   status=_words(t, "track.status.", tracked.status, "track.status.unknown"),
                   steps=steps if found else [], recipient=tracked.recipient if found else None)


def beijing(moment: datetime) -> datetime:
    """`moment` in Beijing time (a naive one is taken as UTC, as the database stores it)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(BEIJING)


def _words(t: Callable[..., str], prefix: str, code: str, fallback: str) -> str:
    """The message for `prefix + code`; `fallback`'s for a code the catalogue does not know (a status or an
    event added later must not show a message key)."""
    return t(prefix + code) if prefix + code in i18n.ZH else t(fallback)


class _FieldProblem(Exception):
    def __init__(self, field: str, key: str) -> None:
        super().__init__(key)
        self.field, self.key = field, key


def _track_limit(request: Request) -> int | None:
    """Count a lookup on the API route's own counters (TRACK_LIMITS); the seconds to wait when over them.
    A dependency, so it is counted in a short transaction of its own before the lookup reads anything.
    Only a lookup counts: the empty form (GET /track with no number) is free."""
    if request.method == "GET" and not request.query_params.get("no", "").strip():
        return None
    try:
        TRACK_LIMITS.dependency(request)
    except TooManyRequests as exc:
        return int(exc.extensions.get("retry_after", 60))
    return None


Wait = Annotated[int | None, Depends(_track_limit)]


@router.get("/track", response_class=HTMLResponse)
async def track_page(request: Request, wait: Wait) -> HTMLResponse:
    """The form; with `?no=`, the answer for that number (a shared link: the number only, never a tail)."""
    number = request.query_params.get("no", "")
    if not number.strip():
        return _page(request)
    return await _answer(request, wait, number[:MAX_FIELD_CHARS + 1], None)


@router.post("/track", response_class=HTMLResponse)
async def track_form(request: Request, wait: Wait) -> HTMLResponse:
    form = await request.form(max_files=0, max_fields=10)
    number, tail = (form.get(name) for name in ("no", "tail"))
    return await _answer(request, wait, number if isinstance(number, str) else "",
                         tail if isinstance(tail, str) else "")


async def _answer(request: Request, wait: int | None, number: str, tail: str | None) -> HTMLResponse:
    t = i18n.translator(i18n.choose(request).lang)
    if wait is not None:
        return _page(request, status_code=429, notice=t("error.track_rate_limited", seconds=wait),
                     headers={"Retry-After": str(wait)})
    try:
        if not number.strip():
            raise _FieldProblem("no", "error.waybill_missing")
        tracked = await run_in_threadpool(_track, request, number[:MAX_FIELD_CHARS + 1], _tail(tail))
    except _FieldProblem as problem:
        return _page(request, status_code=422, errors={problem.field: t(problem.key)})
    except Invalid as exc:
        field = _FIELD.get(exc.errors[0].pointer if exc.errors else "", "no")
        key = f"error.{exc.code}" if f"error.{exc.code}" in i18n.ZH else _FALLBACK_ERROR[field]
        return _page(request, status_code=422, errors={field: t(key)}, number=_echo(number, exc.code))
    return _page(request, answer=Answer.of(tracked, t), number=tracked.waybill_no)


def _tail(text: str | None) -> str | None:
    """The phone tail as the service takes it: None when left empty; full-width digits and spaces folded."""
    if text is None:
        return None
    folded = "".join(unicodedata.normalize("NFKC", text[:MAX_FIELD_CHARS]).split())
    return folded or None


def _echo(typed: str, code: str) -> str:
    """What to write back into the number field after a refusal: the number with a wrong check digit (it is
    well formed, to be corrected), nothing otherwise: a malformed entry may be a phone number typed in the
    wrong place, and a page never shows one."""
    return numbers.normalise(typed[:MAX_FIELD_CHARS]) if code == numbers.WAYBILL_CHECK_DIGIT else ""


def _track(request: Request, number: str, tail: str | None) -> public.Tracked:
    """public.track, then the lookup counted as the API route counts it (after the read-only session)."""
    state = request.app.state
    with state.sessionmaker() as session:
        found = public.track(db_session=session, waybill_no=number, phone_tail=tail)
    address = client_address(request, state.settings.trusted_proxies)
    service.count_lookup(state.engine, limiter_of(request.app).key("track/lookups", address),
                         miss=found.status == public.NO_RECORD, decoy=found.decoy)
    return found


def _page(request: Request, *, status_code: int = 200, answer: Answer | None = None, number: str = "",
          errors: dict[str, str] | None = None, notice: str | None = None,
          headers: dict[str, str] | None = None) -> HTMLResponse:
    return render(request, "track.html",
                  {"result": answer, "number": number, "errors": errors or {}, "notice": notice,
                   "max_chars": MAX_FIELD_CHARS},
                  status_code=status_code, headers=headers)
