"""The regulator's console (邮政管理部门), on the regulator's own platform with its own sign-in: the
dashboard of records received from every carrier (per carrier, per region and per Beijing day, as bar
charts drawn on the server in SVG with the numbers beside them) and the upload delay percentiles per
carrier against the 30-second rule, late carriers marked. The page reloads itself every few seconds, so
a parcel taken in shows up within the feed's delay.

Lookups by waybill or document number with a stated purpose (written to the lookup log with the query),
and the lookup log with its signed head and a check of the whole chain. The same functions as the
platform's routes (`/api/v1/stats/*`, `/records`, `/records:lookup`, `/lookups`), for the same officials.
The carriers' keys are the next page to build.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from parcelguard.core.auth import Actor, Role, forget_cached_actors
from parcelguard.core.clock import now
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import DomainError
from parcelguard.regulator.platform import figures, lookup_log, officials, rollups, service
from parcelguard.web import i18n, session
from parcelguard.web.templating import render

router = APIRouter(include_in_schema=False)
OfficialPage = Annotated[Actor | None, Depends(session.console(Role.REGULATOR))]
LOGIN = "/login"
RULE_SECONDS = 30  # 实名信息 reach the regulator within 30 s (DESIGN: who uses it)
RELOAD_SECONDS = 10
BAR_WIDTH = 220  # the longest bar, in SVG units


@dataclass(frozen=True)
class Bar:
    key: str
    value: int
    width: int  # of BAR_WIDTH


def bars(rows: list[figures.CountRow]) -> list[Bar]:
    """Rows as bars scaled to the largest (a bar of one record is still a sliver)."""
    top = max((r.records for r in rows), default=0)
    return [Bar(r.key, r.records, max(2, round(BAR_WIDTH * r.records / top)) if top else 0) for r in rows]


@router.get(LOGIN, response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "regulator_login.html", {"errors": {}, "username": ""})


@router.post(LOGIN, response_class=HTMLResponse)
def login(request: Request, db_session: SessionDep, username: Annotated[str, Form(max_length=64)] = "",
          password: Annotated[str, Form(max_length=256)] = "") -> Response:
    """`officials.sign_in`, as the platform's `POST /api/v1/auth/token`."""
    t = i18n.translator(i18n.choose(request).lang)
    errors = {name: t("code.missing") for name, value in (("username", username.strip()), ("password", password))
              if not value}
    if not errors:
        settings = request.app.state.settings
        try:
            issued = officials.sign_in(db_session=db_session, username=username, password=password,
                                       token_ttl=timedelta(seconds=settings.token_ttl_seconds),
                                       max_failures=settings.login_max_failures,
                                       lockout=timedelta(seconds=settings.login_lockout_seconds))
            db_session.commit()
            response = RedirectResponse("/dashboard", status_code=303)
            session.start(response, request, token=issued.token, expires_at=issued.expires_at)
            return response
        except DomainError as exc:
            db_session.rollback()
            key = f"code.{exc.code}"
            errors = {"password": t(key) if t(key) != key else exc.detail}
    return render(request, "regulator_login.html", {"errors": errors, "username": username.strip()},
                  status_code=422)


@router.post("/logout")
def logout(request: Request, actor: OfficialPage, db_session: SessionDep,
           csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    if actor is not None and session.csrf_ok(request, csrf):
        officials.sign_out(db_session=db_session, actor=actor)
        forget_cached_actors(request, session.token_of(request))
    response = RedirectResponse(LOGIN, status_code=303)
    session.end(response)
    return response


def _dashboard(request: Request, db_session: Session) -> dict[str, object]:
    return {**dashboard_figures(db_session), "csrf": session.csrf_token(request), "reload": RELOAD_SECONDS}


def dashboard_figures(db_session: Session) -> dict[str, object]:
    """Every figure of the dashboard (bench/regulator_dashboard.py times this). The last 24 whole hours (this one so far included) and the last 7 Beijing days (today so far
    included): windows of whole hours, so every figure is read from the running totals (`rollups`), not
    from the records, and the page answers in the same time at 10 million records a day."""
    until = rollups.hour_of(now()) + rollups.HOUR
    win = figures.Window(until - timedelta(hours=24), until)
    today = datetime.combine(now().astimezone(figures.BEIJING).date(), time(), figures.BEIJING)
    week = figures.Window((today - timedelta(days=6)).astimezone(UTC), (today + timedelta(days=1)).astimezone(UTC))
    per_carrier, overall = rollups.delays(db_session=db_session, since=win.since, until=win.until)
    return {
        "since": win.since.astimezone(figures.BEIJING).strftime("%Y-%m-%d %H:%M"),
        "until": win.until.astimezone(figures.BEIJING).strftime("%Y-%m-%d %H:%M"),
        "by_carrier": bars(figures.counts(db_session=db_session, by="carrier", win=win)),
        "by_region": bars(figures.counts(db_session=db_session, by="region", win=win))[:20],
        "by_day": bars(figures.counts(db_session=db_session, by="day", win=week)),
        "delays": per_carrier, "overall": overall, "rule": RULE_SECONDS, "bar_width": BAR_WIDTH,
        "late": {d.carrier for d in per_carrier if d.p99 is not None and d.p99 > RULE_SECONDS},
    }


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, actor: OfficialPage, db_session: SessionDep) -> Response:
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    return render(request, "regulator_dashboard.html", _dashboard(request, db_session),
                  headers={"Refresh": str(RELOAD_SECONDS)})


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse("/dashboard", status_code=303)


# -- lookups, each with a stated purpose, and the lookup log ----------------------------------------------

def _lookup_page(request: Request, *, values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                 result: service.LookupResult | None = None, status_code: int = 200) -> HTMLResponse:
    return render(request, "regulator_lookup.html", {
        "values": values or {}, "errors": errors or {}, "result": result, "csrf": session.csrf_token(request),
        "doc_keys": {k for k in i18n.ZH if k.startswith("doc.")}},
        status_code=status_code, headers={"Cache-Control": "no-store"})


@router.get("/lookup", response_class=HTMLResponse)
def lookup_page(request: Request, actor: OfficialPage) -> Response:
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    return _lookup_page(request, values={"kind": "waybill"})


@router.post("/lookup", response_class=HTMLResponse)
def lookup(request: Request, actor: OfficialPage, db_session: SessionDep,
           kind: Annotated[str, Form(max_length=16)] = "waybill", number: Annotated[str, Form(max_length=64)] = "",
           purpose: Annotated[str, Form(max_length=200)] = "",
           csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    """`service.lookup_by_waybill` or `lookup_by_document`, as `GET /api/v1/records` and
    `POST /api/v1/records:lookup`: written to the lookup log with the query's digest and the purpose, before
    the answer. The console requires the purpose; the number is never written back into the page."""
    if actor is None or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    t = i18n.translator(i18n.choose(request).lang)
    values = {"kind": kind if kind in ("waybill", "document") else "waybill", "purpose": purpose}
    errors = {name: t("code.missing") for name, value in (("number", number.strip()), ("purpose", purpose.strip()))
              if not value}
    if errors:
        return _lookup_page(request, values=values, errors=errors, status_code=422)
    keys = request.app.state.platform_keys
    request_id = getattr(request.state, "request_id", None)
    try:
        if values["kind"] == "waybill":
            result = service.lookup_by_waybill(db_session=db_session, keys=keys, actor=actor, waybill_no=number,
                                               request_id=request_id, purpose=purpose)
        else:
            result = service.lookup_by_document(db_session=db_session, keys=keys, actor=actor, number=number,
                                                request_id=request_id, purpose=purpose)
    except DomainError as exc:
        db_session.rollback()
        field = "purpose" if exc.code == "purpose_format" else "number"
        return _lookup_page(request, values=values, errors={field: exc.detail}, status_code=exc.status)
    return _lookup_page(request, values=values, result=result)


@router.get("/lookups", response_class=HTMLResponse)
def lookups(request: Request, actor: OfficialPage, db_session: SessionDep, verify: str = "") -> Response:
    """The lookup log, newest first, with its signed head (`GET /api/v1/lookups`); `?verify=1` recomputes
    the chain and checks the head's signature (`parcelguard regulator lookups verify`)."""
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    checked = lookup_log.verify(db_session=db_session, keys=request.app.state.platform_keys) if verify else None
    return render(request, "regulator_lookups.html", {
        "head": lookup_log.head(db_session=db_session), "entries": lookup_log.entries(db_session=db_session),
        "checked": checked, "csrf": session.csrf_token(request)})
