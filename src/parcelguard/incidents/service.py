"""The incident workflow (issue 14; 寄递服务用户个人信息安全管理规定 2014: remedy a leak and report it): open (from
an alert, a honeytoken or by hand) → contain (disable the accounts, revoke their tokens) → assess (what they
revealed, from the gate's log) → remedy (what was done) → report to the regulator (`reporting`); or dismiss,
with a reason, when it was no leak. HQ security and the admin act; auditors read. Every step is an entry of
the carrier's tamper-evident log (subject `incident:<id>`). Texts are refused when they look like personal
data: they travel to the regulator and are read by auditors. Knows nothing of HTTP.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcelguard.accounts import staff
from parcelguard.audit import service as audit
from parcelguard.audit.alerts import get_alert
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import Conflict, Forbidden, Invalid, NotFound
from parcelguard.core.logging import redact_text
from parcelguard.crypto.keyring import Keyring
from parcelguard.incidents import assessment, opening
from parcelguard.incidents.models import Incident, IncidentAccount, IncidentAlert
from parcelguard.regulator.incident_protocol import MAX_TEXT, REMEDY_ACTIONS

ACTORS = frozenset({Role.HQ_SECURITY, Role.ADMIN})
READERS = ACTORS | {Role.AUDITOR}
STATUSES = ("open", "contained", "assessed", "remedied", "reported", "dismissed")
DEFAULT_LOOKBACK = timedelta(days=90)  # an assessment's window starts this long before the incident opened
MAX_ACCOUNTS = 100


@dataclass(frozen=True)
class View:
    """An incident with the accounts it concerns and its alerts' ids."""

    incident: Incident
    accounts: list[staff.Account]
    disabled: dict[uuid.UUID, datetime | None]
    alert_ids: list[uuid.UUID]


def _carrier(actor: Actor, roles: frozenset[Role]) -> uuid.UUID:
    if actor.role not in roles or actor.carrier_id is None:
        raise Forbidden("Only HQ security and the admin handle incidents; auditors read them.",
                        code="role_forbidden")
    return actor.carrier_id


def require_actor(actor: Actor) -> uuid.UUID:
    """The actor's carrier, when they may act on incidents (403 otherwise)."""
    return _carrier(actor, ACTORS)


def check_text(text: str, pointer: str, *, required: bool = True) -> str:
    """A text an officer wrote for the record: at most `MAX_TEXT` characters and nothing shaped like an ID
    or mobile number (the report goes to the regulator, the log is read by auditors): 422 `text_personal_data`."""
    text = (text or "").strip()
    if required and not text:
        raise Invalid("Say in a few words what happened.", code="text_required", field=pointer)
    if len(text) > MAX_TEXT:
        raise Invalid(f"At most {MAX_TEXT} characters.", code="text_too_long", field=pointer)
    if redact_text(text) != text:
        raise Invalid("The text holds something shaped like an ID or phone number: describe, do not quote.",
                      code="text_personal_data", field=pointer)
    return text


def log_step(db_session: Session, keyring: Keyring, actor: Actor, incident: Incident, step: str,
         request_id: str | None) -> None:
    audit.log_event(db_session=db_session, keyring=keyring, carrier_id=incident.carrier_id, actor=actor,
                    subject=f"incident:{incident.id}", purpose=f"incident_{step}", request_id=request_id)


def open_by_hand(*, db_session: Session, keyring: Keyring, actor: Actor, summary: str, accounts: list[str],
                 alert_id: uuid.UUID | None = None, request_id: str | None = None) -> View:
    """Open an incident: of an alert (its kind, its account among the accounts) or of what an officer saw."""
    carrier_id = _carrier(actor, ACTORS)
    summary = check_text(summary, "/summary")
    if len(accounts) > MAX_ACCOUNTS:
        raise Invalid(f"At most {MAX_ACCOUNTS} accounts.", code="accounts_too_many", field="/accounts")
    named = staff.accounts_of(db_session=db_session, carrier_id=carrier_id, refs=accounts)
    kind, alert_ids, account_ids = "manual", [], [a.user_id for a in named]
    if alert_id is not None:
        alert = get_alert(db_session=db_session, carrier_id=carrier_id, alert_id=alert_id)
        if alert is None:
            raise Invalid("No alert of this carrier has this id.", code="alert_unknown", field="/alert_id")
        held = db_session.scalar(select(IncidentAlert.incident_id).where(IncidentAlert.alert_id == alert_id))
        if held is not None:
            raise Conflict("This alert belongs to an incident already.", code="alert_in_incident",
                           field="/alert_id")
        kind, alert_ids = alert.kind, [alert.id]
        if alert.actor_id is not None and alert.actor_id not in account_ids:
            account_ids.insert(0, alert.actor_id)
    incident = opening.open_incident(db_session=db_session, carrier_id=carrier_id, kind=kind,
                                     source="alert" if alert_ids else "manual", summary=summary,
                                     opened_by=actor.user_id, account_ids=account_ids, alert_ids=alert_ids)
    log_step(db_session, keyring, actor, incident, "open", request_id)
    return _view(db_session, incident)


def list_incidents(*, db_session: Session, actor: Actor, status: str | None = None, limit: int = 100) -> list[View]:
    carrier_id = _carrier(actor, READERS)
    query = select(Incident).where(Incident.carrier_id == carrier_id)
    if status == "active":
        query = query.where(Incident.status.in_(opening.OPEN))
    elif status:
        if status not in STATUSES:
            raise Invalid("A status is active or one of: " + ", ".join(STATUSES), code="status_unknown",
                          field="#query/status")
        query = query.where(Incident.status == status)
    incidents = db_session.scalars(query.order_by(Incident.opened_at.desc()).limit(limit)).all()
    return [_view(db_session, i) for i in incidents]


def get(*, db_session: Session, actor: Actor, incident_id: uuid.UUID) -> View:
    return _view(db_session, _incident(db_session, _carrier(actor, READERS), incident_id))


def add_accounts(*, db_session: Session, keyring: Keyring, actor: Actor, incident_id: uuid.UUID,
                 accounts: list[str], request_id: str | None = None) -> View:
    """Name more accounts the incident concerns; it is then no longer contained or assessed until done again."""
    incident = _active(db_session, _carrier(actor, ACTORS), incident_id)
    named = staff.accounts_of(db_session=db_session, carrier_id=incident.carrier_id, refs=accounts)
    held = set(db_session.scalars(select(IncidentAccount.user_id).where(IncidentAccount.incident_id == incident.id)))
    new = [a for a in named if a.user_id not in held]
    if len(held) + len(new) > MAX_ACCOUNTS:
        raise Invalid(f"At most {MAX_ACCOUNTS} accounts.", code="accounts_too_many", field="/accounts")
    for account in new:
        db_session.add(IncidentAccount(incident_id=incident.id, user_id=account.user_id, added_at=now()))
    if new:
        incident.status, incident.contained_at, incident.assessed_at = "open", None, None
        incident.remedied_at = None
        log_step(db_session, keyring, actor, incident, "accounts", request_id)
    db_session.flush()
    return _view(db_session, incident)


def contain(*, db_session: Session, keyring: Keyring, actor: Actor, incident_id: uuid.UUID,
            request_id: str | None = None) -> View:
    """Disable every account of the incident and revoke their tokens (sign-ins end at once; a server's token
    cache forgets within its TTL). An officer cannot contain their own account."""
    incident = _active(db_session, _carrier(actor, ACTORS), incident_id)
    rows = db_session.scalars(select(IncidentAccount).where(IncidentAccount.incident_id == incident.id)).all()
    if any(r.user_id == actor.user_id for r in rows):
        raise Forbidden("An incident about your own account is contained by another officer.",
                        code="contain_self")
    at = now()
    staff.suspend(db_session=db_session, carrier_id=incident.carrier_id, user_ids=[r.user_id for r in rows])
    for row in rows:
        row.disabled_at = row.disabled_at or at
    incident.contained_at, incident.contained_by = at, actor.user_id
    if incident.status == "open":
        incident.status = "contained"
    log_step(db_session, keyring, actor, incident, "contain", request_id)
    db_session.flush()
    return _view(db_session, incident)


def assess(*, db_session: Session, keyring: Keyring, actor: Actor, incident_id: uuid.UUID,
           since: datetime | None = None, request_id: str | None = None) -> View:
    """Count what the accounts revealed from `since` (default 90 days before the incident opened) to now."""
    incident = _active(db_session, _carrier(actor, ACTORS), incident_id)
    until = now()
    if since is not None and since.tzinfo is None:
        raise Invalid("A time with its offset, e.g. 2026-12-01T00:00:00+08:00.", code="time_offset_missing",
                      field="/since")
    since = since or incident.opened_at - DEFAULT_LOOKBACK
    if since >= until or until - since > timedelta(days=366):
        raise Invalid("The window starts before now and spans at most a year.", code="window_invalid",
                      field="/since")
    account_ids = list(db_session.scalars(select(IncidentAccount.user_id)
                                          .where(IncidentAccount.incident_id == incident.id)))
    found = assessment.assess(db_session=db_session, carrier_id=incident.carrier_id, incident_id=incident.id,
                              account_ids=account_ids, since=since, until=until)
    incident.assessment, incident.assessed_at = found.stored(), until
    if incident.status in ("open", "contained"):
        incident.status = "assessed"
    log_step(db_session, keyring, actor, incident, "assess", request_id)
    db_session.flush()
    return _view(db_session, incident)


def remedy(*, db_session: Session, keyring: Keyring, actor: Actor, incident_id: uuid.UUID, actions: list[str],
           note: str, request_id: str | None = None) -> View:
    """Record what was done about it: action codes (`REMEDY_ACTIONS`) and a note. Needs an assessment."""
    incident = _active(db_session, _carrier(actor, ACTORS), incident_id)
    unknown = [i for i, a in enumerate(actions) if a not in REMEDY_ACTIONS]
    if unknown or not actions:
        raise Invalid("Name what was done with codes from: " + ", ".join(REMEDY_ACTIONS), code="remedy_actions",
                      field=f"/actions/{unknown[0]}" if unknown else "/actions")
    if incident.assessed_at is None:
        raise Conflict("Assess the incident first: the remedy answers what was revealed.",
                       code="incident_not_assessed")
    incident.remedy_actions = list(dict.fromkeys(actions))
    incident.remedy_note = check_text(note, "/note", required=False)
    incident.remedied_at = now()
    incident.status = "remedied"
    log_step(db_session, keyring, actor, incident, "remedy", request_id)
    db_session.flush()
    return _view(db_session, incident)


def dismiss(*, db_session: Session, keyring: Keyring, actor: Actor, incident_id: uuid.UUID, reason: str,
            request_id: str | None = None) -> View:
    """Close an incident that was no leak (a test, a mistaken alert), with the reason; the record stays.
    Contained accounts stay disabled until a manager reinstates them."""
    incident = _active(db_session, _carrier(actor, ACTORS), incident_id)
    incident.dismiss_reason = check_text(reason, "/reason")
    incident.dismissed_at, incident.status = now(), "dismissed"
    log_step(db_session, keyring, actor, incident, "dismiss", request_id)
    db_session.flush()
    return _view(db_session, incident)


def _incident(db_session: Session, carrier_id: uuid.UUID, incident_id: uuid.UUID) -> Incident:
    incident = db_session.scalar(select(Incident).where(Incident.id == incident_id, Incident.carrier_id == carrier_id))
    if incident is None:
        raise NotFound("No such incident.", code="incident_unknown")
    return incident


def _active(db_session: Session, carrier_id: uuid.UUID, incident_id: uuid.UUID) -> Incident:
    incident = _incident(db_session, carrier_id, incident_id)
    if incident.status not in opening.OPEN:
        raise Conflict(f"The incident is {incident.status}: its record is final.", code="incident_closed")
    return incident


def _view(db_session: Session, incident: Incident) -> View:
    rows = db_session.execute(select(IncidentAccount.user_id, IncidentAccount.disabled_at)
                              .where(IncidentAccount.incident_id == incident.id)).all()
    disabled = {user_id: at for user_id, at in rows}
    accounts = staff.accounts_by_id(db_session=db_session, carrier_id=incident.carrier_id, user_ids=list(disabled))
    alert_ids = list(db_session.scalars(select(IncidentAlert.alert_id).where(IncidentAlert.incident_id == incident.id)
                                        .order_by(IncidentAlert.alert_id)))
    return View(incident=incident, accounts=accounts, disabled=disabled, alert_ids=alert_ids)
