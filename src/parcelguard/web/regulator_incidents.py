"""The regulator's console: carriers' incident reports (`/incidents`), per carrier, newest first, with a
carrier filter. Each report shows its counts, what raised it, when it was opened, contained and reported,
what the carrier did (named in words) and its summary; opened, it shows the rest and whether its signature
still verifies from the stored bytes. The same functions as `GET /api/v1/incident-reports`
(`platform.incidents`), for the same officials, signed in as on the rest of the console (`regulator_pages`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from parcelguard.core.db import SessionDep
from parcelguard.core.errors import DomainError
from parcelguard.regulator.platform import carriers, incidents
from parcelguard.web import i18n, session
from parcelguard.web.regulator_keys import message, when
from parcelguard.web.regulator_pages import LOGIN, OfficialPage
from parcelguard.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE = "/incidents"
PAGE_SIZE = 50


@dataclass(frozen=True)
class CarrierReports:
    code: str
    name: str
    reports: list[incidents.ReportView]


def namer(request: Request) -> Callable[[str, str], str]:
    """`name(kind, code)`: a code in words in the page's language (a report's kind, a remedy action, a personal
    field), else the code itself: a carrier may send a kind this console does not know yet."""
    t = i18n.translator(i18n.choose(request).lang)
    places = {"kind": ("regulator.incidents.kind.", "alert."), "action": ("regulator.incidents.action.",),
              "field": ("hq.field.",)}

    def name(kind: str, code: str) -> str:
        for prefix in places[kind]:
            text = t(prefix + code)
            if text != prefix + code:
                return text
        return code

    return name


def grouped(views: list[incidents.ReportView]) -> list[CarrierReports]:
    """The reports by carrier (by code), each carrier's newest first as listed."""
    groups: dict[str, CarrierReports] = {}
    for view in views:
        groups.setdefault(view.carrier, CarrierReports(view.carrier, view.carrier_name, [])).reports.append(view)
    return [groups[code] for code in sorted(groups)]


@router.get(PAGE, response_class=HTMLResponse)
def incidents_page(request: Request, actor: OfficialPage, db_session: SessionDep, carrier: str = "",
                   before: str = "") -> Response:
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    carrier = carrier.strip()[:32]
    error: str | None = None
    views: list[incidents.ReportView] = []
    status = 200
    try:
        cursor = uuid.UUID(before) if before else None
    except ValueError:
        cursor = None
    try:
        views = incidents.list_reports(db_session=db_session, carrier=carrier or None, limit=PAGE_SIZE,
                                       before=cursor)
    except DomainError as exc:
        error, status = message(request, exc.code, exc.detail), exc.status
    older = None
    if len(views) == PAGE_SIZE:
        older = f"{PAGE}?before={views[-1].report_id}" + (f"&carrier={carrier}" if carrier and not error else "")
    return render(request, "regulator_incidents.html", {
        "groups": grouped(views), "carriers": carriers.list_carriers(db_session=db_session),
        "chosen": carrier, "error": error, "older": older, "when": when, "name": namer(request),
        "csrf": session.csrf_token(request)}, status_code=status)
