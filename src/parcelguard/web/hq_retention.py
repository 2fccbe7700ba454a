"""Data lifetime in the HQ console (/hq/retention, issue 15): what goes when and the proof that it went. Every
class's month the carrier holds keys for, with its retention, the day it goes and whether it is due (at a day
the officer picks, else now) or held by a legal hold, and each class whose rows are deleted (or whose signing
keys expire) with its oldest month still there; where the shredding keys live (kept in the database
itself, shredding does not reach backups taken before: said as a warning); each class's retention with its
default and minimum (read only: the admin sets it over the API); the signed destruction records, each
signature checked here against the carrier's `retention` keys and each linked to its audit-log entry; the
legal holds in force. HQ security and auditors read it alike: nothing on it changes anything.

The page calls `retention.service`, `retention.records` and `retention.holds`, as `GET /api/v1/retention/plan`,
`/settings`, `/records` and `/holds`. None of these objects holds personal data: classes, months, counts and ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, Response

from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.db import SessionDep
from parcelguard.retention import classes, holds, records, service
from parcelguard.web import session
from parcelguard.web.courier_pages import translator_of
from parcelguard.web.hq_incidents import when
from parcelguard.web.templating import render

router = APIRouter(include_in_schema=False)
HqPage = Annotated[Actor | None, Depends(session.hq)]
LOGIN = "/hq/login"
PAGE = "/hq/retention"


@dataclass(frozen=True)
class Setting:
    """A registered class's retention for the carrier, beside its default and minimum."""

    data_class: classes.DataClass
    months: int

    @property
    def changed(self) -> bool:
        return self.months != self.data_class.default_months


@dataclass(frozen=True)
class Shown:
    """A destruction record as the page shows it: its body, and whether its signature verifies."""

    body: dict[str, Any]
    key_id: int
    log_index: int
    verified: bool

    @property
    def mechanism(self) -> str:
        """`shred` (keys destroyed; items are values per column), `delete` (rows deleted; items are rows per table,
        no key named) or `expire` (signing key versions deleted). A record written before row deletion names none:
        shredded."""
        return str(self.body.get("mechanism", "shred"))

    @property
    def data_keys(self) -> int:
        return len(self.body.get("data_key_ids", []))

    @property
    def shred_keys(self) -> int:
        return len(self.body.get("shred_key_ids", []))

    @property
    def signing_keys(self) -> int:
        return len(self.body.get("signing_key_ids", []))


def verdict(wire: dict[str, Any], public_keys: dict[int, bytes]) -> bool:
    """`records.verify`, with a record too broken to check (a field missing, a signature that is not hex) said
    not to verify rather than failing the page."""
    try:
        return records.verify(wire, public_keys)
    except (KeyError, TypeError, ValueError):
        return False


def shown(wire: dict[str, Any], public_keys: dict[int, bytes]) -> Shown:
    body = wire.get("record")
    return Shown(body=body if isinstance(body, dict) else {}, key_id=int(wire.get("key_id") or 0),
                 log_index=int(wire.get("log_index") or 0), verified=verdict(wire, public_keys))


def described(data_class: str) -> classes.DataClass | None:
    """The registered class whose retention applies to keys named `data_class` (a legacy name resolves)."""
    try:
        return classes.class_of(data_class)
    except KeyError:
        return None


def moment_of(day: str) -> datetime | None:
    """`YYYY-MM-DD` as 00:00 UTC of that day (the hour months expire at), else None."""
    try:
        return datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        return None


def _page(request: Request, db_session: Session, actor: Actor, *, day: str = "", at: datetime | None = None,
          errors: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    carrier_id = holds.readable_carrier(actor)
    keyring = request.app.state.keyring
    moment = at or now()
    months = service.plan(db_session=db_session, keyring=keyring, carrier_id=carrier_id)
    rows = service.row_plan(db_session=db_session, carrier_id=carrier_id)
    settings = service.retention_months(db_session=db_session, carrier_id=carrier_id)
    public = keyring.public_keys(db_session=db_session, carrier_id=carrier_id, purpose=records.KEY_PURPOSE)
    # newest first, in the order they were logged (a run's records share their time; the log orders them)
    newest_first = records.listed(db_session=db_session, carrier_id=carrier_id, limit=200, newest_first=True)
    return render(request, "hq_retention.html", {
        "months": [(m, described(m.data_class), m.due(moment)) for m in months],
        "rows": [(m, described(m.data_class), m.due(moment)) for m in rows],
        "due": sum(1 for m in [*months, *rows] if m.due(moment)), "at": moment, "looked_ahead": at is not None,
        "day": day,
        "separate": keyring.keystore.separate, "mechanisms": classes.MECHANISMS,
        "settings": [Setting(c, settings[name]) for name, c in classes.CLASSES.items()],
        "records": [shown(s.wire(), public) for s in newest_first], "retention_keys": len(public),
        "described": described, "holds": holds.listed(db_session=db_session, actor=actor),
        "officer": actor.role == Role.HQ_SECURITY, "errors": errors or {}, "when": when,
        "csrf": session.csrf_token(request)}, status_code=status_code)


@router.get(PAGE, response_class=HTMLResponse)
def retention_page(request: Request, actor: HqPage, db_session: SessionDep, at: str = "") -> Response:
    """The plan (as of `at`, a day, else now), the retention of each class, the records and the holds."""
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    day = at.strip()
    if not day:
        return _page(request, db_session, actor)
    moment = moment_of(day) if len(day) <= 10 else None
    if moment is None:
        return _page(request, db_session, actor, errors={"at": translator_of(request)("hq.retention.at_invalid")},
                     status_code=422)
    return _page(request, db_session, actor, day=moment.date().isoformat(), at=moment)
