"""Recording staff obligations and partner organisations, and listing who is due (issue 14). Knows nothing
of HTTP.

- A confidentiality agreement or a training is recorded per account: kind, version, the day signed or
  passed, the day it runs out. HQ security and the admin record for anyone of the carrier's staff; a
  station manager for the station's field staff. Each record is an entry of the carrier's audit log
  (subject `user:<id>`, purpose `obligation_<kind>`), so who put whom in force is on the tamper-evident
  record.
- A franchisee (加盟商) or a third party that enters waybill data is an organisation with its security
  clause (version, signed, expiry, the purposes it covers); its staff accounts are attached to it and
  inherit the clause's scope and expiry (`standing.gate_reason`).
- `due` lists the accounts missing an obligation or running out within a number of days: what the
  officers' console shows every morning.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcelguard.accounts.models import PartnerOrganisation, StaffObligation, User
from parcelguard.accounts.staff import FIELD_ROLES
from parcelguard.accounts.standing import BOUND_ROLES, KINDS, Standing, standings_of, today
from parcelguard.audit import service as audit
from parcelguard.core.auth import Actor, Role
from parcelguard.core.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from parcelguard.crypto.keyring import Keyring

RECORDERS = frozenset({Role.HQ_SECURITY, Role.ADMIN, Role.STATION_MANAGER})
READERS = RECORDERS | {Role.AUDITOR}
KEEPERS = frozenset({Role.HQ_SECURITY, Role.ADMIN})  # of organisations and their clauses
ORGANISATION_KINDS = ("franchisee", "third_party")
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
PURPOSE = re.compile(r"^[a-z][a-z_]{1,63}$")
MAX_TERM = timedelta(days=5 * 366)  # an agreement or clause of more than five years is a typing error
DEFAULT_DUE_DAYS = 30


@dataclass(frozen=True)
class Terms:
    """What a signed document says: its version, the day signed, the last day in force."""

    version: str
    signed_on: date
    expires_on: date


def check_terms(terms: Terms, prefix: str = "") -> None:
    """422 `obligation_invalid` naming each bad field: a version of 1-32 letters, digits, dots, dashes or
    underscores; signed no later than today (Beijing); in force through a day on or after it, at most five
    years on."""
    errors = []
    if not VERSION.match(terms.version):
        errors.append(FieldError(pointer=f"{prefix}/version", code="version_format",
                                 detail="1-32 letters, digits, dots, dashes or underscores."))
    if terms.signed_on > today():
        errors.append(FieldError(pointer=f"{prefix}/signed_on", code="signed_in_future",
                                 detail="A document cannot be signed after today."))
    if terms.expires_on < terms.signed_on:
        errors.append(FieldError(pointer=f"{prefix}/expires_on", code="expires_before_signed",
                                 detail="It must run out on or after the day it was signed."))
    elif terms.expires_on - terms.signed_on > MAX_TERM:
        errors.append(FieldError(pointer=f"{prefix}/expires_on", code="term_too_long",
                                 detail="At most five years from the day it was signed."))
    if errors:
        raise Invalid("The document's dates or version are not valid.", code="obligation_invalid", errors=errors)


def record(*, db_session: Session, keyring: Keyring, actor: Actor, user_id: uuid.UUID, kind: str, terms: Terms,
           request_id: str | None = None) -> Standing:
    """Put an account's confidentiality agreement or training on record; answers its standing. Logged."""
    if kind not in KINDS:
        raise Invalid(f"The kind is one of: {', '.join(KINDS)}.", code="obligation_kind", field="/kind")
    check_terms(terms)
    user = _staff(db_session, actor, user_id, RECORDERS)
    db_session.add(StaffObligation(carrier_id=user.carrier_id, user_id=user.id, kind=kind, version=terms.version,
                                   signed_on=terms.signed_on, expires_on=terms.expires_on, recorded_by=actor.user_id))
    db_session.flush()
    audit.log_event(db_session=db_session, keyring=keyring, carrier_id=user.carrier_id, actor=actor,
                    subject=f"user:{user.id}", purpose=f"obligation_{kind}", request_id=request_id)
    [standing] = standings_of(db_session=db_session, carrier_id=user.carrier_id, user_ids=[user.id])
    return standing


def standing(*, db_session: Session, actor: Actor, user_id: uuid.UUID) -> Standing:
    user = _staff(db_session, actor, user_id, READERS)
    [found] = standings_of(db_session=db_session, carrier_id=user.carrier_id, user_ids=[user.id])
    return found


def due(*, db_session: Session, actor: Actor, within_days: int = DEFAULT_DUE_DAYS) -> list[Standing]:
    """Active staff who miss an obligation today or whose first one runs out within `within_days`: the
    carrier's for HQ, the station's field staff and its manager for a station manager; those missing one
    first, then by the day it runs out."""
    carrier_id = _carrier(actor, READERS)
    query = select(User.id).where(User.carrier_id == carrier_id, User.active.is_(True),
                                  User.role.in_([r.value for r in BOUND_ROLES]))
    if actor.role == Role.STATION_MANAGER:
        query = query.where(User.station_id == actor.station_id)
    ids = list(db_session.scalars(query.order_by(User.username)))
    horizon = today() + timedelta(days=max(0, min(within_days, 366)))
    found = [s for s in standings_of(db_session=db_session, carrier_id=carrier_id, user_ids=ids)
             if s.missing or (s.due_on is not None and s.due_on <= horizon)]
    return sorted(found, key=lambda s: (not s.missing, s.due_on or date.max, s.username))


# -- partner organisations --------------------------------------------------------------------------------

def add_organisation(*, db_session: Session, keyring: Keyring, actor: Actor, kind: str, name: str, terms: Terms,
                     scope: Sequence[str], request_id: str | None = None) -> PartnerOrganisation:
    """A franchisee or a third party with its security clause. 409 `organisation_exists` for a name taken."""
    carrier_id = _carrier(actor, KEEPERS)
    name = " ".join(name.split())
    errors = []
    if kind not in ORGANISATION_KINDS:
        errors.append(FieldError(pointer="/kind", code="organisation_kind",
                                 detail=f"One of: {', '.join(ORGANISATION_KINDS)}."))
    if not 2 <= len(name) <= 200:
        errors.append(FieldError(pointer="/name", code="name_format", detail="2-200 characters."))
    purposes = _scope(scope, errors)
    if errors:
        raise Invalid("The organisation is not valid.", code="organisation_invalid", errors=errors)
    check_terms(terms, "/clause")
    if db_session.scalar(select(PartnerOrganisation.id).where(PartnerOrganisation.carrier_id == carrier_id,
                                                              PartnerOrganisation.name == name)) is not None:
        raise Conflict("An organisation of this name is on record.", code="organisation_exists", field="/name")
    row = PartnerOrganisation(carrier_id=carrier_id, kind=kind, name=name, clause_version=terms.version,
                              clause_signed_on=terms.signed_on, clause_expires_on=terms.expires_on,
                              scope=",".join(purposes))
    db_session.add(row)
    db_session.flush()
    audit.log_event(db_session=db_session, keyring=keyring, carrier_id=carrier_id, actor=actor,
                    subject=f"organisation:{row.id}", purpose="organisation_added", request_id=request_id)
    return row


def renew_clause(*, db_session: Session, keyring: Keyring, actor: Actor, organisation_id: uuid.UUID, terms: Terms,
                 scope: Sequence[str], request_id: str | None = None) -> PartnerOrganisation:
    """A new version of an organisation's clause (or its end: an expiry of today or before). Logged."""
    row = _organisation(db_session, actor, organisation_id)
    errors: list[FieldError] = []
    purposes = _scope(scope, errors)
    if errors:
        raise Invalid("The clause is not valid.", code="organisation_invalid", errors=errors)
    check_terms(terms, "/clause")
    row.clause_version, row.clause_signed_on, row.clause_expires_on = terms.version, terms.signed_on, terms.expires_on
    row.scope = ",".join(purposes)
    audit.log_event(db_session=db_session, keyring=keyring, carrier_id=row.carrier_id, actor=actor,
                    subject=f"organisation:{row.id}", purpose="organisation_clause", request_id=request_id)
    return row


def list_organisations(*, db_session: Session, actor: Actor) -> list[PartnerOrganisation]:
    carrier_id = _carrier(actor, READERS)
    return list(db_session.scalars(select(PartnerOrganisation).where(PartnerOrganisation.carrier_id == carrier_id)
                                   .order_by(PartnerOrganisation.name)))


def attach(*, db_session: Session, keyring: Keyring, actor: Actor, user_id: uuid.UUID,
           organisation_id: uuid.UUID | None, request_id: str | None = None) -> Standing:
    """Attach an account to an organisation (its clause then bounds it), or detach it (None). Logged."""
    if actor.role not in KEEPERS:
        raise Forbidden("HQ security and the admin attach staff to organisations.", code="role_not_allowed")
    user = _staff(db_session, actor, user_id, KEEPERS)
    if organisation_id is not None:
        _organisation(db_session, actor, organisation_id)
    user.organisation_id = organisation_id
    db_session.flush()
    audit.log_event(db_session=db_session, keyring=keyring, carrier_id=user.carrier_id, actor=actor,
                    subject=f"user:{user.id}", purpose="organisation_attached" if organisation_id
                    else "organisation_detached", request_id=request_id)
    [found] = standings_of(db_session=db_session, carrier_id=user.carrier_id, user_ids=[user.id])
    return found


# -- scoping ----------------------------------------------------------------------------------------------

def _carrier(actor: Actor, roles: frozenset[Role]) -> uuid.UUID:
    if actor.role not in roles or actor.carrier_id is None:
        raise Forbidden("Your role does not keep staff obligations.", code="role_not_allowed")
    return actor.carrier_id


def _staff(db_session: Session, actor: Actor, user_id: uuid.UUID, roles: frozenset[Role]) -> User:
    """The carrier's staff account `user_id` as `actor` may reach it; 404 `user_unknown` otherwise (a station
    manager reaches the station's field staff and themself)."""
    carrier_id = _carrier(actor, roles)
    user = db_session.get(User, user_id)
    reachable = (user is not None and user.carrier_id == carrier_id and Role(user.role) in BOUND_ROLES
                 and (actor.role != Role.STATION_MANAGER or user.id == actor.user_id
                      or (user.station_id == actor.station_id and Role(user.role) in FIELD_ROLES)))
    if not reachable:
        raise NotFound("No such staff member.", code="user_unknown", field="/user_id")
    assert user is not None
    return user


def _organisation(db_session: Session, actor: Actor, organisation_id: uuid.UUID) -> PartnerOrganisation:
    carrier_id = _carrier(actor, KEEPERS)
    row = db_session.get(PartnerOrganisation, organisation_id)
    if row is None or row.carrier_id != carrier_id:
        raise NotFound("No such organisation.", code="organisation_unknown", field="/organisation_id")
    return row


def _scope(scope: Sequence[str], errors: list[FieldError]) -> list[str]:
    purposes = list(dict.fromkeys(p.strip() for p in scope if p.strip()))
    if not purposes or any(not PURPOSE.match(p) for p in purposes) or len(",".join(purposes)) > 200:
        errors.append(FieldError(pointer="/scope", code="scope_format",
                                 detail="At least one purpose, lowercase words such as pickup or delivery."))
    return purposes
