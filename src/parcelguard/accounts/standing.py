"""Whether a staff member may touch personal data today: a current confidentiality agreement (保密协议) and a
current training (培训) on record, and, for a franchisee's or a third party's staff, their organisation's
security clause in force and covering the purpose (the 2014 rules on users' personal information: staff
sign confidentiality agreements and are trained; franchise and outsourcing contracts carry security
clauses). The gate asks `gate_reason` before every reveal; the officers' console lists who is due.

Reads only; recording is `obligations`. Dates are Beijing calendar days (UTC+8): an agreement signed on a
day is in force from that day through its expiry day. Of each kind the newest on record counts (by signed
day, then by when it was recorded), so a record with an earlier expiry ends one that ran longer.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcelguard.accounts.models import Carrier, PartnerOrganisation, StaffObligation, User
from parcelguard.core.auth import Role
from parcelguard.core.clock import now

BEIJING = timezone(timedelta(hours=8))
KINDS = ("confidentiality", "training")
# Carrier staff who may reach personal data through the gate; an enterprise customer reads its own parcels
# under its agreement, and the telephony provider's service account routes calls, neither is staff.
BOUND_ROLES = frozenset({Role.COURIER, Role.SORTER, Role.STATION_MANAGER, Role.HQ_SECURITY, Role.AUDITOR,
                         Role.ADMIN})


def today() -> date:
    return now().astimezone(BEIJING).date()


@dataclass(frozen=True)
class Obligation:
    kind: str
    version: str
    signed_on: date
    expires_on: date


@dataclass(frozen=True)
class Clause:
    organisation_id: uuid.UUID
    kind: str  # franchisee | third_party
    name: str
    version: str
    signed_on: date
    expires_on: date
    scope: tuple[str, ...]  # the purposes the clause covers


@dataclass(frozen=True)
class Standing:
    """One account's obligations as of `on`: what is missing (`confidentiality`, `training`, `clause`; an
    expired one is missing too) and the earliest day one of them runs out."""

    user_id: uuid.UUID
    username: str
    role: str
    station_id: uuid.UUID | None
    active: bool
    obligations: dict[str, Obligation]
    clause: Clause | None
    missing: tuple[str, ...]
    due_on: date | None

    @property
    def current(self) -> bool:
        return not self.missing


def gate_reason(*, db_session: Session, carrier_id: uuid.UUID, user_id: uuid.UUID, role: Role,
                purpose: str) -> str | None:
    """None when the account may reveal for `purpose` today, else the gate's reason: `obligations_missing`
    (no current agreement or training, or its organisation's clause is not in force) or `clause_scope`
    (the clause does not cover the purpose). Nothing is required while the carrier has the requirement off
    or of a role that is not carrier staff."""
    if role not in BOUND_ROLES:
        return None
    if not db_session.scalar(select(Carrier.obligations_required).where(Carrier.id == carrier_id)):
        return None
    [standing] = standings_of(db_session=db_session, carrier_id=carrier_id, user_ids=[user_id])
    if standing.missing:
        return "obligations_missing"
    if standing.clause is not None and purpose not in standing.clause.scope:
        return "clause_scope"
    return None


def standings_of(*, db_session: Session, carrier_id: uuid.UUID, user_ids: Sequence[uuid.UUID],
                 on: date | None = None) -> list[Standing]:
    """The standing of each of these accounts of the carrier (in the order given; unknown ones left out)."""
    on = on or today()
    users = {u.id: u for u in db_session.scalars(select(User).where(User.carrier_id == carrier_id,
                                                                    User.id.in_(list(user_ids))))}
    if not users:
        return []
    newest: dict[tuple[uuid.UUID, str], StaffObligation] = {}
    for row in db_session.scalars(select(StaffObligation).where(
            StaffObligation.carrier_id == carrier_id, StaffObligation.user_id.in_(list(users)),
            StaffObligation.signed_on <= on).order_by(StaffObligation.signed_on, StaffObligation.recorded_at)):
        newest[(row.user_id, row.kind)] = row  # the last one read is the newest
    organisations = {o.id: o for o in db_session.scalars(select(PartnerOrganisation).where(
        PartnerOrganisation.id.in_({u.organisation_id for u in users.values() if u.organisation_id})))}
    out = []
    for user_id in user_ids:
        user = users.get(user_id)
        if user is None:
            continue
        held = {kind: Obligation(kind, row.version, row.signed_on, row.expires_on)
                for kind in KINDS if (row := newest.get((user.id, kind))) is not None}
        org = organisations.get(user.organisation_id) if user.organisation_id else None
        clause = None if org is None else Clause(
            organisation_id=org.id, kind=org.kind, name=org.name, version=org.clause_version,
            signed_on=org.clause_signed_on, expires_on=org.clause_expires_on,
            scope=tuple(p for p in org.scope.split(",") if p))
        missing = [kind for kind in KINDS if kind not in held or held[kind].expires_on < on]
        if clause is not None and not clause.signed_on <= on <= clause.expires_on:
            missing.append("clause")
        ends = [o.expires_on for o in held.values()] + ([clause.expires_on] if clause else [])
        out.append(Standing(user_id=user.id, username=user.username, role=user.role, station_id=user.station_id,
                            active=user.active, obligations=held, clause=clause, missing=tuple(missing),
                            due_on=min(ends) if ends else None))
    return out
